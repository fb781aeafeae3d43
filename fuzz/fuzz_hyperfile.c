/* fuzz_hyperfile.c - libFuzzer target: the hyperfile loader and the diagnostics renderers on any input. */
#include "hyperlight/config.h"
#include "hyperlight/diag.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* the first byte picks a profile, a policy and whether to render */
    uint8_t ctl = data[0];
    hl_policy policy;
    hl_policy_init(&policy);
    if (ctl & 1)
        hl_policy_forbid_in_process(&policy);
    if (ctl & 2)
        hl_policy_lock(&policy, HL_CFG_MAX_EXECUTION_TIME);
    if (ctl & 4)
        hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 1024, 1024 * 1024);
    hl_load_options opt = {sizeof(hl_load_options), (ctl & 8) ? "dev" : NULL,
                           (ctl & 7) ? &policy : NULL};

    hl_config cfg, before;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = hl_diag_list_new();
    if (!diags)
        return 0;
    hl_status st = hl_config_load_string(&cfg, (const char *)data + 1, size - 1, "fuzz.toml", &opt, diags);
    if (st != HL_OK && !hl_config_equal(&cfg, &before, NULL))
        __builtin_trap(); /* a failed load must leave the config untouched */
    if (st == HL_OK && hl_diag_error_count(diags) != 0)
        __builtin_trap(); /* success with errors */
    if (st != HL_OK && st != HL_E_NOMEM && hl_diag_error_count(diags) == 0)
        __builtin_trap(); /* failure without a word */
    if (ctl & 16) {
        FILE *sink = fopen("/dev/null", "w");
        if (sink) {
            hl_diag_render_text(diags, sink, (ctl & 32) != 0);
            hl_diag_render_json(diags, sink);
            fclose(sink);
        }
    }
    hl_diag_list_free(diags);
    return 0;
}
