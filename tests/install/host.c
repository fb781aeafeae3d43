/* host.c - the install test's host: loads a hyperfile, registers a host function, calls a guest, built from an install prefix only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hyperlight/config.h>
#include <hyperlight/diag.h>
#include <hyperlight/sandbox.h>

static int host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call;
    (void)nargs;
    ++*(int *)user;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static int fail(const char *what, const hl_error *err)
{
    fprintf(stderr, "installhost: %s: %s: %s\n", what, hl_status_str(err->status), err->message);
    return 1;
}

/* installhost HYPERFILE GUEST MODE: prints the guest's sum(2, 40), then sum(-1, 1), and the
 * number of host calls. */
int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: installhost HYPERFILE GUEST RunInProcess|RunInHypervisor\n");
        return 2;
    }
    hl_config cfg;
    hl_config_init(&cfg);
    hl_diag_list *diags = hl_diag_list_new();
    if (diags == NULL) return 1;
    if (hl_config_load_file(&cfg, argv[1], NULL, diags) != HL_OK) {
        hl_diag_render_text(diags, stderr, false);
        hl_diag_list_free(diags);
        return 1;
    }
    hl_diag_list_free(diags);

    hl_error err = HL_ERROR_INIT;
    if (hl_config_set_text(&cfg, "execution_mode", argv[3], HL_ORIGIN_HOST, &err) != HL_OK)
        return fail("execution_mode", &err);

    hl_sandbox *sb = NULL;
    if (hl_sandbox_create(&sb, argv[2], &cfg, &err) != HL_OK) return fail("create", &err);
    int calls = 0;
    const hl_type params[] = {HL_TYPE_I32, HL_TYPE_I32};
    int rc = 1;
    if (hl_sandbox_register(sb, "host_add", HL_TYPE_I32, params, 2, host_add, &calls, &err) != HL_OK) {
        fail("register", &err);
        goto out;
    }
    if (hl_sandbox_initialize(sb, &err) != HL_OK) {
        fail("initialize", &err);
        goto out;
    }
    const int pairs[][2] = {{2, 40}, {-1, 1}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        hl_value args[2] = {hl_i32(pairs[i][0]), hl_i32(pairs[i][1])}, result;
        if (hl_sandbox_call(sb, "sum", args, 2, &result, &err) != HL_OK) {
            fail("call sum", &err);
            goto out;
        }
        printf("%.*s\n", (int)result.u.buf.len, (const char *)result.u.buf.ptr);
    }
    printf("host calls: %d\n", calls);
    rc = 0;
out:
    hl_sandbox_destroy(sb);
    return rc;
}
