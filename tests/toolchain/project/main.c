/* main.c - the toolchain test's guest: two files, -I, -D, -O2, -g, -lm, built by hyperlight-cc. */
#include <stdio.h>

#include "hyperlight_guest.h"
#include "util.h"

#ifndef GREETING
#error "-D did not reach the compiler"
#endif

static char out[128];

static int greet(const hlg_value *a, hlg_value *r)
{
    int n = snprintf(out, sizeof(out), "%s: %s, hypot %.1f", GREETING, a[0].u.str.ptr, hypotenuse(3, 4));
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)n;
    return 0;
}

/* Copies n bytes into a 16-byte stack buffer: past 16 the canary is smashed. */
static int smash(const hlg_value *a, hlg_value *r)
{
    volatile char buf[16];
    for (uint32_t i = 0; i < a[0].u.u32; i++)
        buf[i] = 'x';
    r->u.u32 = buf[0];
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("greet", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), greet);
    hlg_register("smash", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32), smash);
}
