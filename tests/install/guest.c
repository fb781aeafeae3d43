/* guest.c - the install test's guest: one function that calls back into the host, built from an install prefix only. */
#include <stdio.h>
#include <string.h>

#include "hyperlight_guest.h"

static char out[128];

/* sum(a, b) -> "sum a+b=N": N comes from the host's host_add, so both directions are crossed. */
static int sum(const hlg_value *a, hlg_value *r)
{
    hlg_value args[2] = {a[0], a[1]}, got;
    int rc = hlg_call_host("host_add", HL_TYPE_I32, &got, 2, args);
    if (rc != 0) return hlg_error(rc, "host_add failed: %s", hlg_host_exception(NULL));
    int n = snprintf(out, sizeof out, "sum %d+%d=%d", (int)a[0].u.i32, (int)a[1].u.i32, (int)got.u.i32);
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)n;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("sum", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_I32), sum);
}
