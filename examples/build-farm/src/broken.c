/* Does not compile: the build farm reports the exit code and the error, and the job still succeeds. */
int broken(void) {
  return undeclared_identifier;
}
