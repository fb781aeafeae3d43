/* procshare.h - one copy per process of what many sandboxes hold alike: the guest function
 * tables they read (the same guest, initialised the same way) and their configurations. Equal
 * ones are kept once, with a count of their users. */
#ifndef HL_SANDBOX_PROCSHARE_H
#define HL_SANDBOX_PROCSHARE_H

#include <stddef.h>

#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

typedef struct hl_fn_share hl_fn_share;

/* Takes fns[n] and the names block they point into (malloc'd, as hl_codec_read_fn_table makes
 * them): returns the process's equal table, with the ones given freed, or keeps the given as a
 * new one. *fns and *names are updated to the table to use, owned by the returned share. NULL
 * (everything left as it was, still the caller's) when out of memory. */
hl_fn_share *hl_fn_share_take(hl_function_info **fns, size_t n, char **names);
/* One user less; the last frees the table. NULL is a no-op. */
void hl_fn_share_drop(hl_fn_share *s);

/* The process's copy of a configuration byte for byte equal to *cfg (made when there is none),
 * read-only; NULL when out of memory. Each take is dropped once. */
const hl_config *hl_cfg_share_take(const hl_config *cfg);
void hl_cfg_share_drop(const hl_config *cfg);

#endif
