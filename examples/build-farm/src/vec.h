#ifndef VEC_H
#define VEC_H
#include <stddef.h>
struct vec { double *items; size_t len, cap; };
int vec_push(struct vec *v, double x);
double vec_sum(const struct vec *v);
#endif
