#include <stdio.h>
#include "vec.h"

int main(void) {
  struct vec v = {0};
  for (int i = 1; i <= 10; i++) vec_push(&v, i);
  printf("%.0f\n", vec_sum(&v));
  return 0;
}
