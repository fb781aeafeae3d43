/* fnshare.h - one copy per process of the guest function tables its sandboxes read: equal tables
 * (the same guest, initialised the same way) are kept once, with a count of their users. */
#ifndef HL_SANDBOX_FNSHARE_H
#define HL_SANDBOX_FNSHARE_H

#include <stddef.h>

#include "hyperlight/sandbox.h"

typedef struct hl_fn_share hl_fn_share;

/* Takes fns[n] and the names block they point into (malloc'd, as hl_codec_read_fn_table makes
 * them): returns the process's equal table, with the ones given freed, or keeps the given as a
 * new one. *fns and *names are updated to the table to use, owned by the returned share. NULL
 * (everything left as it was, still the caller's) when out of memory. */
hl_fn_share *hl_fn_share_take(hl_function_info **fns, size_t n, char **names);
/* One user less; the last frees the table. NULL is a no-op. */
void hl_fn_share_drop(hl_fn_share *s);

#endif
