/* runtime.c - the guest runtime: entry, function registry, dispatch, errors, aborts, host calls. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_internal.h"
#include "hyperlight_guest.h"

/* stdio is linked only when the guest uses it */
#pragma weak fflush

#define MAX_FUNCS 128

typedef struct guest_fn {
    const char *name;
    uint32_t name_len;
    hlg_fn fn;
    uint8_t ret, argc;
    uint8_t params[HL_MAX_PARAMS];
} guest_fn;

hl_peb *hlg_g_peb;
#define g_peb hlg_g_peb
static guest_fn g_funcs[MAX_FUNCS];
static int g_nfuncs;
static int g_error_set;          /* hlg_error() was called during this call */
static int g_host_failed;        /* a host call of this call failed with a host exception */
static uint64_t g_host_result_off; /* where the host puts a host function's result in `input` */

void hlg_dispatch(hl_peb *peb);
/* Weak: NULL unless the guest (or a layer it links) defines it. */
int hlg_fallback_dispatch(const char *name, int argc, const hlg_value *args, hlg_value *ret)
    __attribute__((weak));

static inline uint64_t align8(uint64_t x) { return (x + 7u) & ~(uint64_t)7u; }

const hl_peb *hlg_peb(void) { return g_peb; }

static const char *type_name(uint32_t t)
{
    static const char *const names[HL_TYPE_COUNT] = {"void", "i32", "u32",  "i64",    "u64",
                                                     "f32",  "f64", "bool", "string", "bytes"};
    return t < HL_TYPE_COUNT ? names[t] : "unknown";
}

void hlg_signal_host(uint32_t port)
{
    if (g_peb->run_mode == HL_RUN_IN_PROCESS) {
        void (*call)(uint64_t, uint32_t) = (void (*)(uint64_t, uint32_t))(uintptr_t)g_peb->host_call;
        call(g_peb->host_call_ctx, port);
        return;
    }
    __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"((uint16_t)port) : "memory");
}
#define signal_host hlg_signal_host

/* The end of initialisation or of a call: `hlt` under KVM; in-process the caller returns. */
static void finish(void)
{
    if (g_peb->run_mode == HL_RUN_IN_PROCESS)
        return;
    for (;;)
        __asm__ volatile("hlt" ::: "memory");
}

int hlg_error(int code, const char *fmt, ...)
{
    hl_region r = g_peb->guest_error;
    g_error_set = 1;
    if (r.size < sizeof(hl_guest_error_hdr) + 1)
        return code;
    hl_guest_error_hdr *h = (hl_guest_error_hdr *)(uintptr_t)r.addr;
    char *msg = (char *)(h + 1);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, r.size - sizeof(*h), fmt, ap);
    va_end(ap);
    uint64_t cap = r.size - sizeof(*h) - 1;
    h->code = (uint64_t)code;
    h->len = (uint32_t)((uint64_t)n < cap ? (uint64_t)n : cap);
    return code;
}

void hlg_abort_msg(uint32_t code, const char *msg, uint32_t len)
{
    hl_region r = g_peb->panic_context;
    if (r.size >= sizeof(hl_message_hdr) + 1) {
        hl_message_hdr *h = (hl_message_hdr *)(uintptr_t)r.addr;
        uint64_t cap = r.size - sizeof(*h) - 1;
        if (len > cap)
            len = (uint32_t)cap;
        char *dst = (char *)(h + 1);
        if (msg != dst)
            memmove(dst, msg, len);
        dst[len] = '\0';
        h->len = len;
        h->code = code;
    }
    signal_host(HL_PORT_ABORT);
    for (;;) /* the host never resumes an aborted call */
        __asm__ volatile("" ::: "memory");
}

void hlg_abort(uint32_t code, const char *message)
{
    hlg_abort_msg(code, message ? message : "", message ? (uint32_t)strlen(message) : 0);
}

void hlg_panic(const char *fmt, ...)
{
    hl_region r = g_peb->panic_context;
    uint32_t len = 0;
    char *dst = (char *)(uintptr_t)r.addr + sizeof(hl_message_hdr);
    if (r.size >= sizeof(hl_message_hdr) + 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(dst, r.size - sizeof(hl_message_hdr), fmt, ap);
        va_end(ap);
        uint64_t cap = r.size - sizeof(hl_message_hdr) - 1;
        len = (uint32_t)((uint64_t)n < cap ? (uint64_t)n : cap);
    }
    hlg_abort_msg(HL_PANIC_CODE, dst, len);
}

int hlg_register(const char *name, hl_type ret, int argc, const hl_type *params, hlg_fn fn)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > HL_MAX_NAME_LEN || argc < 0 || argc > HL_MAX_PARAMS ||
        ret >= HL_TYPE_COUNT)
        return HL_GERR_UNSUPPORTED_PARAMETER_TYPE;
    if (g_nfuncs == MAX_FUNCS)
        return HL_GERR_TOO_MANY_GUEST_FUNCTIONS;
    guest_fn *f = &g_funcs[g_nfuncs];
    for (int i = 0; i < argc; i++) {
        if (params[i] == HL_TYPE_VOID || params[i] >= HL_TYPE_COUNT)
            return HL_GERR_UNSUPPORTED_PARAMETER_TYPE;
        f->params[i] = (uint8_t)params[i];
    }
    f->name = name;
    f->name_len = (uint32_t)len;
    f->fn = fn;
    f->ret = (uint8_t)ret;
    f->argc = (uint8_t)argc;
    g_nfuncs++;
    return 0;
}

/* Writes a table of functions (the guest's, at the end of initialisation) into `output`. */
static void write_function_table(void)
{
    hl_region r = g_peb->output;
    uint64_t need = sizeof(hl_host_fn_table) + (uint64_t)g_nfuncs * sizeof(hl_fn_def);
    for (int i = 0; i < g_nfuncs; i++)
        need += g_funcs[i].name_len + 1;
    hl_host_fn_table *t = (hl_host_fn_table *)(uintptr_t)r.addr;
    if (r.size < sizeof(*t))
        return;
    t->magic = HL_MSG_GUESTFN_MAGIC;
    t->count = (uint32_t)g_nfuncs;
    t->total_len = (uint32_t)need;
    if (need > r.size)
        return; /* the host reports that the table does not fit in output_data_size */
    hl_fn_def *d = (hl_fn_def *)(t + 1);
    char *names = (char *)(d + g_nfuncs);
    for (int i = 0; i < g_nfuncs; i++) {
        memset(&d[i], 0, sizeof(d[i]));
        d[i].name_off = (uint32_t)(names - (char *)t);
        d[i].name_len = g_funcs[i].name_len;
        d[i].ret = g_funcs[i].ret;
        d[i].argc = g_funcs[i].argc;
        memcpy(d[i].params, g_funcs[i].params, HL_MAX_PARAMS);
        memcpy(names, g_funcs[i].name, g_funcs[i].name_len + 1);
        names += g_funcs[i].name_len + 1;
    }
}

/* The end of initialisation (start.c runs the C library's start-up around hyperlight_main). */
void hlg_init_done(void);
void hlg_init_done(void)
{
    write_function_table();
    g_peb->dispatch_function = (uint64_t)(uintptr_t)&hlg_dispatch;
}

uint64_t hlg_host_result_offset(void);
uint64_t hlg_host_result_offset(void) { return g_host_result_off; }

size_t hlg_heap_free(void) { return (size_t)hlg_mem_free(); }

void hlg_finish(void);
void hlg_finish(void) { finish(); }

/* Decodes one value at buf[*off] (bounded by end); returns 0 or an error code. */
static int decode_value(const uint8_t *buf, uint64_t *off, uint64_t end, hlg_value *v)
{
    if (end - *off < sizeof(hl_msg_value))
        return HL_GERR_UNKNOWN;
    const hl_msg_value *h = (const hl_msg_value *)(buf + *off);
    const uint8_t *p = (const uint8_t *)(h + 1);
    uint64_t room = end - *off - sizeof(*h);
    v->type = (hl_type)h->type;
    switch (h->type) {
    case HL_TYPE_VOID:
        break;
    case HL_TYPE_I32: case HL_TYPE_U32: case HL_TYPE_I64: case HL_TYPE_U64:
    case HL_TYPE_F32: case HL_TYPE_F64: case HL_TYPE_BOOL:
        if (h->len != 8 || room < 8)
            return HL_GERR_UNKNOWN;
        memcpy(&v->u, p, 8);
        if (h->type == HL_TYPE_BOOL)
            v->u.b = p[0] != 0;
        break;
    case HL_TYPE_STRING: case HL_TYPE_BYTES:
        if (h->len >= room || (h->type == HL_TYPE_STRING && p[h->len] != 0))
            return HL_GERR_UNKNOWN;
        v->u.str.ptr = (const char *)p;
        v->u.str.len = h->len;
        break;
    default:
        return HL_GERR_UNSUPPORTED_PARAMETER_TYPE;
    }
    *off += sizeof(*h) + align8(h->len + (h->type == HL_TYPE_STRING || h->type == HL_TYPE_BYTES));
    return 0;
}

/* Encodes v at buf[*off]; returns 0, or -1 when it does not fit before end. */
static int encode_value(uint8_t *buf, uint64_t *off, uint64_t end, const hlg_value *v)
{
    uint32_t len = 0;
    int var = v->type == HL_TYPE_STRING || v->type == HL_TYPE_BYTES;
    if (var)
        len = v->u.str.len;
    else if (v->type != HL_TYPE_VOID)
        len = 8;
    uint64_t need = sizeof(hl_msg_value) + align8((uint64_t)len + (uint64_t)var);
    if (*off > end || end - *off < need)
        return -1;
    hl_msg_value *h = (hl_msg_value *)(buf + *off);
    h->type = (uint32_t)v->type;
    h->len = len;
    uint8_t *p = (uint8_t *)(h + 1);
    if (var) {
        if (len)
            memcpy(p, v->u.str.ptr, len);
        p[len] = 0;
    } else if (len) {
        uint64_t raw = 0;
        switch (v->type) {
        case HL_TYPE_I32: raw = (uint64_t)(int64_t)v->u.i32; break;
        case HL_TYPE_U32: raw = v->u.u32; break;
        case HL_TYPE_BOOL: raw = v->u.b ? 1 : 0; break;
        case HL_TYPE_F32: memcpy(&raw, &v->u.f32, 4); break;
        default: memcpy(&raw, &v->u, 8); break;
        }
        memcpy(p, &raw, 8);
    }
    *off += need;
    return 0;
}

static int write_result(const char *name, const hlg_value *ret);

/* A call to a name with no function (unknown, or registered with fn NULL) goes to the guest's
 * hlg_fallback_dispatch with its arguments decoded but unchecked. */
static int dispatch_fallback(const hl_msg_call *c, const guest_fn *f)
{
    const uint8_t *buf = (const uint8_t *)c;
    const char *name = (const char *)(c + 1);
    if (name[c->name_len] != 0 || strlen(name) != c->name_len || c->argc > HL_MAX_PARAMS)
        return hlg_error(HL_GERR_UNKNOWN, "malformed call message in the input buffer");
    hlg_value args[HL_MAX_PARAMS];
    uint64_t off = align8(sizeof(*c) + c->name_len + 1);
    for (uint32_t i = 0; i < c->argc; i++) {
        int rc = decode_value(buf, &off, c->total_len, &args[i]);
        if (rc == 0 && args[i].type == HL_TYPE_VOID) rc = HL_GERR_UNSUPPORTED_PARAMETER_TYPE;
        if (rc == HL_GERR_UNSUPPORTED_PARAMETER_TYPE)
            return hlg_error(rc, "parameter %u of `%s` has an unsupported type", i + 1, name);
        if (rc) return hlg_error(rc, "malformed parameter %u of `%s`", i + 1, name);
    }
    hlg_value ret;
    memset(&ret, 0, sizeof(ret));
    ret.type = f ? (hl_type)f->ret : HL_TYPE_VOID;
    int rc = hlg_fallback_dispatch(name, (int)c->argc, args, &ret);
    if (rc) {
        if (!g_error_set) hlg_error(rc, "guest function `%s` failed with code %d", name, rc);
        return rc;
    }
    if (ret.type >= HL_TYPE_COUNT)
        return hlg_error(HL_GERR_GUEST_ERROR, "`%s` returned an invalid type %u", name,
                         (unsigned)ret.type);
    return write_result(name, &ret);
}

static int dispatch_call(void)
{
    hl_region in = g_peb->input;
    const uint8_t *buf = (const uint8_t *)(uintptr_t)in.addr;
    const hl_msg_call *c = (const hl_msg_call *)buf;
    if (in.size < sizeof(*c) || c->magic != HL_MSG_CALL_MAGIC || c->total_len > in.size ||
        c->total_len < sizeof(*c) || c->name_len > HL_MAX_NAME_LEN ||
        sizeof(*c) + c->name_len + 1 > c->total_len)
        return hlg_error(HL_GERR_UNKNOWN, "malformed call message in the input buffer");
    g_host_result_off = align8(c->total_len);
    const char *name = (const char *)(c + 1);
    if (c->name_len == 0)
        return hlg_error(HL_GERR_FUNCTION_NAME_NOT_PROVIDED, "no guest function name given");
    guest_fn *f = 0;
    for (int i = 0; i < g_nfuncs; i++)
        if (g_funcs[i].name_len == c->name_len && memcmp(g_funcs[i].name, name, c->name_len) == 0) {
            f = &g_funcs[i];
            break;
        }
    if ((!f || !f->fn) && hlg_fallback_dispatch) return dispatch_fallback(c, f);
    if (!f || !f->fn)
        return hlg_error(HL_GERR_FUNCTION_NOT_FOUND, "guest function `%.*s` not found", (int)c->name_len, name);
    if (c->argc != f->argc)
        return hlg_error(HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS, "guest function `%s` takes %d parameter%s, got %u",
                         f->name, f->argc, f->argc == 1 ? "" : "s", c->argc);
    hlg_value args[HL_MAX_PARAMS];
    uint64_t off = align8(sizeof(*c) + c->name_len + 1);
    for (uint32_t i = 0; i < c->argc; i++) {
        int rc = decode_value(buf, &off, c->total_len, &args[i]);
        if (rc == HL_GERR_UNSUPPORTED_PARAMETER_TYPE)
            return hlg_error(rc, "parameter %u of `%s` has an unsupported type", i + 1, f->name);
        if (rc)
            return hlg_error(rc, "malformed parameter %u of `%s`", i + 1, f->name);
        if (args[i].type != f->params[i])
            return hlg_error(HL_GERR_PARAMETER_TYPE_MISMATCH, "parameter %u of `%s` is %s, got %s", i + 1,
                             f->name, type_name(f->params[i]), type_name(args[i].type));
    }
    hlg_value ret;
    memset(&ret, 0, sizeof(ret));
    ret.type = (hl_type)f->ret;
    int rc = f->fn(args, &ret);
    if (fflush) /* buffered stdout/stderr reach the host before the result takes `output` */
        fflush(NULL);
    if (rc) {
        if (!g_error_set && rc == HL_GERR_HOST_FUNCTION_ERROR && g_host_failed)
            hlg_error(rc, "guest function `%s` failed: %s", f->name, hlg_host_exception(0));
        else if (!g_error_set)
            hlg_error(rc, "guest function `%s` failed with code %d", f->name, rc);
        return rc;
    }
    ret.type = (hl_type)f->ret;
    return write_result(f->name, &ret);
}

/* Writes a successful call's result into `output`; returns 0 or an error code. */
static int write_result(const char *name, const hlg_value *ret)
{
    hl_region out = g_peb->output;
    uint8_t *obuf = (uint8_t *)(uintptr_t)out.addr;
    uint64_t ooff = sizeof(hl_msg_result);
    if (out.size < ooff || encode_value(obuf, &ooff, out.size, ret) != 0)
        return hlg_error(
            HL_GERR_GUEST_ERROR,
            "the result of `%s` (%u bytes) does not fit in output_data_size (%llu bytes)", name,
            ret->u.str.len, (unsigned long long)out.size);
    hl_msg_result *r = (hl_msg_result *)obuf;
    r->magic = HL_MSG_RESULT_MAGIC;
    r->total_len = (uint32_t)ooff;
    r->status = 0;
    r->reserved = 0;
    return 0;
}

void hlg_dispatch(hl_peb *peb)
{
    /* The outermost guest frame: the host enters here (KVM: with a zero return address), so a
     * debugger's or a core's backtrace ends here rather than at a frame `0x0 in ??` */
    __asm__ volatile(".cfi_undefined rip");
    g_peb = peb;
    hlg_arm_cpu();
    g_error_set = 0;
    g_host_failed = 0;
    int rc = dispatch_call();
    if (rc) {
        hl_region out = peb->output;
        if (out.size >= sizeof(hl_msg_result)) {
            hl_msg_result *r = (hl_msg_result *)(uintptr_t)out.addr;
            r->magic = HL_MSG_RESULT_MAGIC;
            r->total_len = sizeof(*r);
            r->status = (uint32_t)rc;
            r->reserved = 0;
        }
    }
    finish();
}

static const hl_fn_def *find_host_fn(const char *name, uint32_t len)
{
    hl_region r = g_peb->host_function_definitions;
    const hl_host_fn_table *t = (const hl_host_fn_table *)(uintptr_t)r.addr;
    if (r.size < sizeof(*t) || t->magic != HL_MSG_HOSTFN_MAGIC)
        return 0;
    const hl_fn_def *d = (const hl_fn_def *)(t + 1);
    for (uint32_t i = 0; i < t->count; i++)
        if (d[i].name_len == len && memcmp((const char *)t + d[i].name_off, name, len) == 0)
            return &d[i];
    return 0;
}

int hlg_call_host(const char *name, hl_type ret_type, hlg_value *ret, int argc, const hlg_value *args)
{
    uint32_t len = (uint32_t)strlen(name);
    /* A name the host did not register still goes to the host, which answers HostFunctionError
     * with a host exception naming it (as Hyperlight's host reports HostFunctionNotFound). */
    const hl_fn_def *d = find_host_fn(name, len);
    if (d && argc != d->argc) return HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS;
    for (int i = 0; d && i < argc; i++)
        if (args[i].type != d->params[i])
            return HL_GERR_PARAMETER_TYPE_MISMATCH;
    if (d && ret_type != d->ret) return HL_GERR_PARAMETER_TYPE_MISMATCH;
    if (!d && (len == 0 || len > HL_MAX_NAME_LEN)) /* a name no host can register */
        return HL_GERR_FUNCTION_NOT_FOUND;
    if (argc < 0 || argc > HL_MAX_PARAMS) return HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS;
    hl_region out = g_peb->output;
    uint8_t *obuf = (uint8_t *)(uintptr_t)out.addr;
    uint64_t off = align8(sizeof(hl_msg_call) + len + 1);
    if (out.size < off)
        return hlg_error(HL_GERR_GUEST_ERROR, "host call `%s` does not fit in output_data_size", name);
    hl_msg_call *c = (hl_msg_call *)obuf;
    memset(obuf + sizeof(*c), 0, off - sizeof(*c));
    memcpy(obuf + sizeof(*c), name, len);
    for (int i = 0; i < argc; i++)
        if (encode_value(obuf, &off, out.size, &args[i]) != 0)
            return hlg_error(HL_GERR_GUEST_ERROR, "the arguments of host call `%s` do not fit in output_data_size (%llu bytes)",
                             name, (unsigned long long)out.size);
    c->magic = HL_MSG_CALL_MAGIC;
    c->total_len = (uint32_t)off;
    c->name_len = len;
    c->argc = (uint32_t)argc;
    signal_host(HL_PORT_CALL_FUNCTION);
    hl_region in = g_peb->input;
    const uint8_t *ibuf = (const uint8_t *)(uintptr_t)in.addr;
    uint64_t roff = g_host_result_off;
    if (roff > in.size || in.size - roff < sizeof(hl_msg_result))
        return HL_GERR_UNKNOWN;
    const hl_msg_result *r = (const hl_msg_result *)(ibuf + roff);
    if (r->magic != HL_MSG_RESULT_MAGIC || r->total_len > in.size - roff)
        return HL_GERR_UNKNOWN;
    if (r->status) {
        if (r->status == HL_GERR_HOST_FUNCTION_ERROR) g_host_failed = 1;
        return (int)r->status;
    }
    uint64_t voff = roff + sizeof(*r);
    hlg_value v;
    if (decode_value(ibuf, &voff, roff + r->total_len, &v) != 0 || v.type != ret_type)
        return HL_GERR_PARAMETER_TYPE_MISMATCH;
    if (ret)
        *ret = v;
    return 0;
}

const char *hlg_host_exception(uint32_t *len)
{
    hl_region r = g_peb->host_exception;
    const hl_message_hdr *h = (const hl_message_hdr *)(uintptr_t)r.addr;
    if (r.size < sizeof(*h) + 1 || h->len > r.size - sizeof(*h) - 1) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = h->len;
    return (const char *)(h + 1);
}

int hlg_printf(const char *fmt, ...)
{
    hl_region out = g_peb->output;
    if (out.size < sizeof(hl_msg_log) + 1)
        return 0;
    hl_msg_log *h = (hl_msg_log *)(uintptr_t)out.addr;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)(h + 1), out.size - sizeof(*h), fmt, ap);
    va_end(ap);
    uint64_t cap = out.size - sizeof(*h) - 1;
    h->magic = HL_MSG_LOG_MAGIC;
    h->len = (uint32_t)((uint64_t)n < cap ? (uint64_t)n : cap);
    signal_host(HL_PORT_LOG);
    return (int)h->len;
}
