#include <ctype.h>
#include <string.h>

void str_upper(char *s) { for (; *s; s++) *s = (char)toupper((unsigned char)*s); }

size_t str_count(const char *s, char c) {
  size_t n = 0;
  for (; *s; s++) if (*s == c) n++;
  return n;
}

int str_starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }
