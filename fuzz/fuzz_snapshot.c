/* fuzz_snapshot.c - libFuzzer target: the snapshot file parser (hl_snap_parse) on any bytes, from memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/snapshot.h" /* src/ is on this target's include path (fuzz/CMakeLists.txt) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.hls"
#define PAGE 4096u

/* What the parser promises about a file it accepts. */
static void check_accepted(const hl_snapshot *s, const uint8_t *file, size_t len)
{
    const hl_layout *l = &s->layout;
    if (l->total_size == 0 || l->total_size % PAGE || l->total_size > HL_CONFIG_MAX_TOTAL_MEMORY ||
        s->image_off % PAGE || s->image_off + l->total_size != len)
        abort();
    uint64_t end = 0, stored = 0;
    for (int r = 0; r < HL_REGION_COUNT; r++) { /* regions tile the memory in order */
        if (l->region[r].offset != end || l->region[r].size == 0 || l->region[r].size % PAGE)
            abort();
        end += l->region[r].size;
    }
    if (end != l->total_size)
        abort();
    for (size_t i = 0; i < s->nruns; i++) {
        if (s->runs[i].count == 0 || s->runs[i].first + s->runs[i].count > l->total_size / PAGE ||
            (i && s->runs[i].first <= s->runs[i - 1].first + s->runs[i - 1].count))
            abort();
        stored += s->runs[i].count;
    }
    if (stored != s->stored_pages)
        abort();
    uint64_t code = l->base + l->region[HL_REGION_CODE].offset;
    if (s->dispatch < code || s->dispatch - code >= l->region[HL_REGION_CODE].size)
        abort();
    for (size_t i = 0; i < s->nguestfns; i++)
        if (!s->guestfns[i].name || !s->guestfns[i].name[0] || s->guestfns[i].nparams > HL_MAX_PARAMS)
            abort();
    for (size_t i = 0; i < s->nhostfns; i++)
        if (!s->hostfns[i].name || !s->hostfns[i].name[0] || s->hostfns[i].nparams > HL_MAX_PARAMS)
            abort();
    if (s->cfg.execution_mode != (uint64_t)s->mode)
        abort();
    (void)file;
}

/* The first byte is the control byte: bit 0 recomputes every checksum first (so that mutated
 * metadata reaches the checks behind them); bit 1 parses a copy cut one byte short too (it must
 * be refused). The rest is the file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t len = size - 1;
    uint8_t *file = malloc(len ? len : 1);
    if (!file)
        return 0;
    memcpy(file, data + 1, len);
    if (ctl & 1)
        hl_snap_rehash(file, len);
    hl_snapshot s;
    memset(&s, 0, sizeof(s));
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_snap_parse(&s, file, len, -1, NAME, &err);
    if (memchr(err.message, 0, sizeof(err.message)) == NULL)
        abort();
    if (st == HL_OK) {
        check_accepted(&s, file, len);
        if (ctl & 2 && len) {
            hl_snapshot t;
            memset(&t, 0, sizeof(t));
            if (hl_snap_parse(&t, file, len - 1, -1, NAME, &err) != HL_E_CONFIG)
                abort();
            hl_snap_free_parsed(&t);
        }
    } else if (st != HL_E_NOMEM &&
               (st != HL_E_CONFIG || strncmp(err.message, "snapshot `" NAME "`: ", sizeof("snapshot `" NAME "`: ") - 1))) {
        abort(); /* every refusal is HL_E_CONFIG and names the file */
    }
    hl_snap_free_parsed(&s);
    free(file);
    return 0;
}
