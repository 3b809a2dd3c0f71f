/* Compiles, with a diagnostic under -Wall: the build farm collects it. */
int unused_variable(void) {
  int unused = 42;
  return 0;
}
