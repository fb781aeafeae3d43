/* file.h - reading a whole file into memory, bounded, for the hyperfile loader and guest loading. */
#ifndef HL_UTIL_FILE_H
#define HL_UTIL_FILE_H

#include <stddef.h>

/* Reads `path` into a fresh malloc'd buffer (NUL-terminated; free it), at most limit + 1 bytes,
 * so that a caller can tell a file over its limit (*len > limit) without reading all of it.
 * Returns 0, or an errno value: the open or read error, EISDIR for a directory, ENOMEM. */
int hl_read_file(const char *path, size_t limit, char **out, size_t *len);

#endif
