/* demoguest.c - the example guest `make demo` runs: a few small functions built on the guest SDK. */
#include <string.h>

#include "hyperlight_guest.h"

HLG_RESOURCES(65536, 131072);

/* Counts the words of a string and prints a greeting through the host. */
static int word_count(const hlg_value *a, hlg_value *r)
{
    const char *s = a[0].u.str.ptr;
    uint32_t words = 0;
    for (uint32_t i = 0; i < a[0].u.str.len; i++)
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
            words++;
    hlg_printf("guest: \"%s\" has %u words\n", s, words);
    r->u.u32 = words;
    return 0;
}

static int fibonacci(const hlg_value *a, hlg_value *r)
{
    if (a[0].u.u32 > 93)
        return hlg_error(HL_GERR_GUEST_ERROR, "fibonacci(%u) does not fit in 64 bits (at most 93)", a[0].u.u32);
    uint64_t x = 0, y = 1;
    for (uint32_t i = 0; i < a[0].u.u32; i++) {
        uint64_t t = x + y;
        x = y;
        y = t;
    }
    r->u.u64 = x;
    return 0;
}

/* Reverses a string into a heap buffer. */
static int reverse(const hlg_value *a, hlg_value *r)
{
    uint32_t n = a[0].u.str.len;
    char *out = malloc(n + 1);
    if (!out)
        return hlg_error(HL_GERR_MALLOC_FAILED, "no heap for %u bytes", n);
    for (uint32_t i = 0; i < n; i++)
        out[i] = a[0].u.str.ptr[n - 1 - i];
    out[n] = 0;
    r->u.str.ptr = out;
    r->u.str.len = n;
    return 0;
}

/* Asks the host for a greeting (the host function `host_greeting`, which the embedding host
 * registers: examples/host/host.c) and returns it. A host failure comes back as the guest's
 * error, with the host's message. */
static int greet(const hlg_value *a, hlg_value *r)
{
    hlg_value got;
    int rc = hlg_call_host("host_greeting", HL_TYPE_STRING, &got, 1, a);
    if (rc)
        return hlg_error(rc, "host_greeting failed: %s", hlg_host_exception(NULL));
    /* the host's result lives until the next host call: keep a copy */
    char *out = malloc(got.u.str.len + 1);
    if (!out)
        return hlg_error(HL_GERR_MALLOC_FAILED, "no heap for %u bytes", got.u.str.len);
    memcpy(out, got.u.str.ptr, got.u.str.len);
    out[got.u.str.len] = 0;
    r->u.str.ptr = out;
    r->u.str.len = got.u.str.len;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("word_count", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_STRING), word_count);
    hlg_register("fibonacci", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), fibonacci);
    hlg_register("reverse", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), reverse);
    hlg_register("greet", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), greet);
}
