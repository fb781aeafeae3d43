/* procshare.c - one copy per process of equal guest function tables and configurations (procshare.h). */
#include "sandbox/procshare.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash64.h"
#include "util/procid.h"

struct hl_fn_share {
    hl_fn_share *next;
    size_t refs;
    uint64_t hash;
    hl_function_info *fns;
    size_t n;
    char *names;
};

static hl_plock g_lock = HL_PLOCK_INIT;
static hl_fn_share *g_tables;

/* Over every name and type, in order: equal tables hash equal. */
static uint64_t table_hash(const hl_function_info *fns, size_t n)
{
    uint64_t h = hl_hash64(&n, sizeof n, 0);
    for (size_t i = 0; i < n; i++) {
        h = hl_hash64(fns[i].name, strlen(fns[i].name) + 1, h);
        h = hl_hash64(&fns[i].ret, sizeof fns[i].ret, h);
        h = hl_hash64(&fns[i].nparams, sizeof fns[i].nparams, h);
        h = hl_hash64(fns[i].params, fns[i].nparams * sizeof fns[i].params[0], h);
    }
    return h;
}

static int same_table(const hl_function_info *a, const hl_function_info *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || a[i].ret != b[i].ret || a[i].nparams != b[i].nparams ||
            memcmp(a[i].params, b[i].params, a[i].nparams * sizeof a[i].params[0]) != 0)
            return 0;
    return 1;
}

hl_fn_share *hl_fn_share_take(hl_function_info **fns, size_t n, char **names)
{
    uint64_t h = table_hash(*fns, n);
    hl_plock_lock(&g_lock);
    hl_fn_share *s = g_tables;
    while (s && !(s->hash == h && s->n == n && same_table(s->fns, *fns, n)))
        s = s->next;
    if (s) {
        s->refs++;
        hl_plock_unlock(&g_lock);
        free(*fns);
        free(*names);
    } else {
        s = calloc(1, sizeof *s);
        if (!s) {
            hl_plock_unlock(&g_lock);
            return NULL;
        }
        *s = (hl_fn_share){.next = g_tables, .refs = 1, .hash = h, .fns = *fns, .n = n, .names = *names};
        g_tables = s;
        hl_plock_unlock(&g_lock);
    }
    *fns = s->fns;
    *names = s->names;
    return s;
}

void hl_fn_share_drop(hl_fn_share *s)
{
    if (!s) return;
    hl_plock_lock(&g_lock);
    int last = --s->refs == 0;
    if (last) {
        hl_fn_share **p = &g_tables;
        while (*p != s)
            p = &(*p)->next;
        *p = s->next;
    }
    hl_plock_unlock(&g_lock);
    if (last) {
        free(s->fns);
        free(s->names);
        free(s);
    }
}

/* ---- configurations ---- */

typedef struct cfg_share {
    struct cfg_share *next;
    size_t refs;
    uint64_t hash;
    hl_config cfg; /* what hl_cfg_share_take returns points here */
} cfg_share;

static cfg_share *g_cfgs;

const hl_config *hl_cfg_share_take(const hl_config *cfg)
{
    uint64_t h = hl_hash64(cfg, sizeof *cfg, 0);
    hl_plock_lock(&g_lock);
    cfg_share *s = g_cfgs;
    while (s && !(s->hash == h && memcmp(&s->cfg, cfg, sizeof *cfg) == 0))
        s = s->next;
    if (!s && (s = malloc(sizeof *s)) != NULL) {
        memcpy(&s->cfg, cfg, sizeof *cfg);
        s->refs = 0;
        s->hash = h;
        s->next = g_cfgs;
        g_cfgs = s;
    }
    if (s)
        s->refs++;
    hl_plock_unlock(&g_lock);
    return s ? &s->cfg : NULL;
}

void hl_cfg_share_drop(const hl_config *cfg)
{
    if (!cfg) return;
    cfg_share *s = (cfg_share *)(void *)((char *)(uintptr_t)cfg - offsetof(cfg_share, cfg));
    hl_plock_lock(&g_lock);
    int last = --s->refs == 0;
    if (last) {
        cfg_share **p = &g_cfgs;
        while (*p != s)
            p = &(*p)->next;
        *p = s->next;
    }
    hl_plock_unlock(&g_lock);
    if (last)
        free(s);
}
