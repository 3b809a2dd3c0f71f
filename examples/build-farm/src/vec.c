#include "vec.h"
#include <stdlib.h>

int vec_push(struct vec *v, double x) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    double *items = realloc(v->items, cap * sizeof *items);
    if (!items) return -1;
    v->items = items;
    v->cap = cap;
  }
  v->items[v->len++] = x;
  return 0;
}

double vec_sum(const struct vec *v) {
  double s = 0;
  for (size_t i = 0; i < v->len; i++) s += v->items[i];
  return s;
}
