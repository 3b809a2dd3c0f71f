#include <stddef.h>

static void swap(int *a, int *b) { int t = *a; *a = *b; *b = t; }

void insertion_sort(int *xs, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && xs[j - 1] > xs[j]; j--) swap(&xs[j - 1], &xs[j]);
}
