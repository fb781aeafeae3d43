/* codec.c - encodes calls/results for guests and decodes what guests wrote, checking every byte. */
#include "sandbox/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errfmt.h"
#include "util/bytes.h"


static int is_var(uint32_t t) { return t == HL_TYPE_STRING || t == HL_TYPE_BYTES; }

void hl_buf_free(hl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *hl_buf_set(hl_buf *b, const void *src, size_t n)
{
    if (n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < n + 1)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return NULL;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data, src, n);
    b->data[n] = 0;
    b->len = n;
    return b->data;
}

static uint64_t value_size(const hl_value *v)
{
    if (is_var(v->type))
        return sizeof(hl_msg_value) + hl_align8((uint64_t)v->u.buf.len + 1);
    return sizeof(hl_msg_value) + (v->type == HL_TYPE_VOID ? 0 : 8);
}

uint64_t hl_codec_call_size(const char *name, const hl_value *args, size_t nargs)
{
    uint64_t n = hl_align8(sizeof(hl_msg_call) + strlen(name) + 1);
    for (size_t i = 0; i < nargs; i++)
        n += value_size(&args[i]);
    return n;
}

static void put_value(uint8_t *p, const hl_value *v)
{
    hl_msg_value h = {(uint32_t)v->type, 0};
    if (is_var(v->type)) {
        h.len = (uint32_t)v->u.buf.len;
        memcpy(p, &h, sizeof(h));
        if (h.len)
            memcpy(p + sizeof(h), v->u.buf.ptr, h.len);
        memset(p + sizeof(h) + h.len, 0, hl_align8((uint64_t)h.len + 1) - h.len);
        return;
    }
    uint64_t raw = 0;
    switch (v->type) {
    case HL_TYPE_VOID: memcpy(p, &h, sizeof(h)); return;
    case HL_TYPE_I32: raw = (uint64_t)(int64_t)v->u.i32; break;
    case HL_TYPE_U32: raw = v->u.u32; break;
    case HL_TYPE_BOOL: raw = v->u.b ? 1 : 0; break;
    case HL_TYPE_F32: memcpy(&raw, &v->u.f32, 4); break;
    case HL_TYPE_F64: memcpy(&raw, &v->u.f64, 8); break;
    default: raw = v->u.u64; break;
    }
    h.len = 8;
    memcpy(p, &h, sizeof(h));
    memcpy(p + sizeof(h), &raw, 8);
}

hl_status hl_codec_write_call(uint8_t *buf, uint64_t size, const char *name, const hl_value *args,
                              size_t nargs, const char *what, uint64_t *len, hl_error *err)
{
    size_t name_len = strlen(name);
    if (name_len > HL_MAX_NAME_LEN)
        return hl_errorf(err, HL_E_INVALID_ARG, "function name `%.40s...` is longer than %d bytes", name,
                         HL_MAX_NAME_LEN);
    if (nargs > HL_MAX_PARAMS)
        return hl_errorf(err, HL_E_INVALID_ARG, "%zu arguments given, at most %d are supported", nargs,
                         HL_MAX_PARAMS);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == HL_TYPE_VOID || (unsigned)args[i].type >= HL_TYPE_COUNT ||
            (is_var(args[i].type) && args[i].u.buf.len > UINT32_MAX - 16))
            return hl_errorf(err, HL_E_INVALID_ARG, "argument %zu has an invalid type or size", i + 1);
    uint64_t need = hl_codec_call_size(name, args, nargs);
    if (need > size || need > UINT32_MAX)
        return hl_errorf(err, HL_E_TOO_LARGE,
                         "the call to `%s` needs %llu bytes, more than %s (%llu bytes): raise %s", name,
                         (unsigned long long)need, what, (unsigned long long)size, what);
    hl_msg_call c = {HL_MSG_CALL_MAGIC, (uint32_t)need, (uint32_t)name_len, (uint32_t)nargs};
    memcpy(buf, &c, sizeof(c));
    uint64_t off = sizeof(c);
    memcpy(buf + off, name, name_len);
    memset(buf + off + name_len, 0, hl_align8(off + name_len + 1) - off - name_len);
    off = hl_align8(off + name_len + 1);
    for (size_t i = 0; i < nargs; i++) {
        put_value(buf + off, &args[i]);
        off += value_size(&args[i]);
    }
    *len = need;
    return HL_OK;
}

hl_status hl_codec_write_result(uint8_t *buf, uint64_t size, uint32_t status, const hl_value *v,
                                const char *what, hl_error *err)
{
    uint64_t need = sizeof(hl_msg_result) + (status == 0 ? value_size(v) : 0);
    if (need > size || need > UINT32_MAX)
        return hl_errorf(err, HL_E_TOO_LARGE, "a result of %llu bytes does not fit in %s (%llu bytes): raise %s",
                         (unsigned long long)need, what, (unsigned long long)size, what);
    hl_msg_result r = {HL_MSG_RESULT_MAGIC, (uint32_t)need, status, 0};
    memcpy(buf, &r, sizeof(r));
    if (status == 0)
        put_value(buf + sizeof(r), v);
    return HL_OK;
}

/* Decodes one value from a host copy p[*off .. end). */
static int get_value(const uint8_t *p, uint64_t *off, uint64_t end, hl_value *v)
{
    hl_msg_value h;
    if (*off > end || end - *off < sizeof(h))
        return -1;
    memcpy(&h, p + *off, sizeof(h));
    uint64_t room = end - *off - sizeof(h);
    const uint8_t *d = p + *off + sizeof(h);
    memset(v, 0, sizeof(*v));
    v->type = (hl_type)h.type;
    if (h.type >= HL_TYPE_COUNT)
        return -1;
    if (is_var(h.type)) {
        if (h.len >= room || hl_align8((uint64_t)h.len + 1) > room || (h.type == HL_TYPE_STRING && d[h.len] != 0))
            return -1;
        v->u.buf.ptr = d;
        v->u.buf.len = h.len;
        *off += sizeof(h) + hl_align8((uint64_t)h.len + 1);
        return 0;
    }
    if (h.type == HL_TYPE_VOID) {
        if (h.len != 0)
            return -1;
        *off += sizeof(h);
        return 0;
    }
    if (h.len != 8 || room < 8)
        return -1;
    uint64_t raw;
    memcpy(&raw, d, 8);
    switch (h.type) {
    case HL_TYPE_I32: v->u.i32 = (int32_t)(uint32_t)raw; break;
    case HL_TYPE_U32: v->u.u32 = (uint32_t)raw; break;
    case HL_TYPE_BOOL: v->u.b = (raw & 0xFF) != 0; break;
    case HL_TYPE_F32: memcpy(&v->u.f32, d, 4); break;
    case HL_TYPE_F64: memcpy(&v->u.f64, d, 8); break;
    default: v->u.u64 = raw; break;
    }
    *off += sizeof(h) + 8;
    return 0;
}

/* Copies a message whose header says total_len (at offset 4) into store, checking the bounds. */
static const uint8_t *copy_message(const uint8_t *buf, uint64_t size, uint32_t magic, uint32_t min_len,
                                   hl_buf *store, uint32_t *total, hl_error *err)
{
    uint32_t hdr[2];
    if (size < min_len) {
        hl_errorf(err, HL_E_GUEST_PROTOCOL, "the guest's message buffer is too small");
        return NULL;
    }
    memcpy(hdr, buf, sizeof(hdr));
    if (hdr[0] != magic || hdr[1] < min_len || hdr[1] > size) {
        hl_errorf(err, HL_E_GUEST_PROTOCOL,
                  "the guest wrote a malformed message (magic %#x, length %u, buffer %llu bytes)", hdr[0], hdr[1],
                  (unsigned long long)size);
        return NULL;
    }
    const uint8_t *p = hl_buf_set(store, buf, hdr[1]);
    if (!p)
        hl_errorf(err, HL_E_NOMEM, "out of memory copying a guest message");
    *total = hdr[1];
    return p;
}

hl_status hl_codec_read_result(const uint8_t *buf, uint64_t size, hl_buf *store, uint32_t *status,
                               hl_value *out, hl_error *err)
{
    uint32_t total;
    const uint8_t *p = copy_message(buf, size, HL_MSG_RESULT_MAGIC, sizeof(hl_msg_result), store, &total, err);
    if (!p)
        return err ? err->status : HL_E_GUEST_PROTOCOL;
    hl_msg_result r;
    memcpy(&r, p, sizeof(r));
    *status = r.status;
    if (r.status)
        return HL_OK;
    uint64_t off = sizeof(r);
    if (get_value(p, &off, total, out) != 0)
        return hl_errorf(err, HL_E_GUEST_PROTOCOL, "the guest wrote a malformed result value");
    return HL_OK;
}

hl_status hl_codec_read_call(const uint8_t *buf, uint64_t size, hl_buf *store, const char **name,
                             hl_value *args, size_t *nargs, hl_error *err)
{
    uint32_t total;
    const uint8_t *p = copy_message(buf, size, HL_MSG_CALL_MAGIC, sizeof(hl_msg_call), store, &total, err);
    if (!p)
        return err ? err->status : HL_E_GUEST_PROTOCOL;
    hl_msg_call c;
    memcpy(&c, p, sizeof(c));
    if (c.name_len == 0 || c.name_len > HL_MAX_NAME_LEN || sizeof(c) + (uint64_t)c.name_len + 1 > total ||
        c.argc > HL_MAX_PARAMS)
        return hl_errorf(err, HL_E_GUEST_PROTOCOL, "the guest wrote a malformed host call (name length %u, %u arguments)",
                         c.name_len, c.argc);
    char *n = (char *)store->data + sizeof(c);
    n[c.name_len] = '\0'; /* our copy: terminate it whatever the guest wrote */
    if (memchr(n, 0, c.name_len))
        return hl_errorf(err, HL_E_GUEST_PROTOCOL, "the guest wrote a host function name with a NUL byte");
    uint64_t off = hl_align8(sizeof(c) + c.name_len + 1);
    for (uint32_t i = 0; i < c.argc; i++)
        if (get_value(p, &off, total, &args[i]) != 0 || args[i].type == HL_TYPE_VOID)
            return hl_errorf(err, HL_E_GUEST_PROTOCOL, "the guest wrote a malformed argument %u for `%s`", i + 1, n);
    *name = n;
    *nargs = c.argc;
    return HL_OK;
}

/* Copies the message after a header of hdr_size bytes, at most `claimed` bytes of it and never past
 * the region; "" when even the header does not fit. */
static const char *read_counted(const uint8_t *buf, uint64_t size, size_t hdr_size, uint64_t claimed, hl_buf *store,
                                size_t *len)
{
    uint64_t cap = size >= hdr_size ? size - hdr_size : 0;
    uint64_t n = claimed < cap ? claimed : cap;
    const char *s = (const char *)hl_buf_set(store, buf + (size >= hdr_size ? hdr_size : 0), n);
    *len = s ? n : 0;
    return s ? s : "";
}

const char *hl_codec_read_message(const uint8_t *buf, uint64_t size, hl_buf *store, uint32_t *code, size_t *len)
{
    hl_message_hdr h = {0, 0};
    if (size >= sizeof(h))
        memcpy(&h, buf, sizeof(h));
    *code = h.code;
    return read_counted(buf, size, sizeof(h), h.len, store, len);
}

const char *hl_codec_read_guest_error(const uint8_t *buf, uint64_t size, hl_buf *store, uint64_t *code,
                                      size_t *len)
{
    hl_guest_error_hdr h = {0, 0, 0};
    if (size >= sizeof(h))
        memcpy(&h, buf, sizeof(h));
    *code = h.code;
    return read_counted(buf, size, sizeof(h), h.len, store, len);
}

hl_status hl_codec_write_fn_table(uint8_t *buf, uint64_t size, uint32_t magic, const hl_function_info *fns,
                                  size_t n, const char *what, hl_error *err)
{
    uint64_t need = sizeof(hl_host_fn_table) + (uint64_t)n * sizeof(hl_fn_def);
    for (size_t i = 0; i < n; i++)
        need += strlen(fns[i].name) + 1;
    if (need > size || need > UINT32_MAX)
        return hl_errorf(err, HL_E_TOO_LARGE,
                         "the table of %zu host functions needs %llu bytes, more than %s (%llu bytes): raise %s", n,
                         (unsigned long long)need, what, (unsigned long long)size, what);
    hl_host_fn_table t = {magic, (uint32_t)n, (uint32_t)need, 0};
    memcpy(buf, &t, sizeof(t));
    uint64_t name_off = sizeof(t) + (uint64_t)n * sizeof(hl_fn_def);
    for (size_t i = 0; i < n; i++) {
        hl_fn_def d;
        memset(&d, 0, sizeof(d));
        size_t len = strlen(fns[i].name);
        d.name_off = (uint32_t)name_off;
        d.name_len = (uint32_t)len;
        d.ret = (uint8_t)fns[i].ret;
        d.argc = (uint8_t)fns[i].nparams;
        for (size_t k = 0; k < fns[i].nparams; k++)
            d.params[k] = (uint8_t)fns[i].params[k];
        memcpy(buf + sizeof(t) + i * sizeof(d), &d, sizeof(d));
        memcpy(buf + name_off, fns[i].name, len + 1);
        name_off += len + 1;
    }
    return HL_OK;
}

/* Whose table is read, for messages: the guest's (written at initialisation: a protocol error),
 * or one from a file (`what` names it: every problem is HL_E_CONFIG). */
typedef struct table_src {
    const char *what; /* NULL: the guest's */
    uint32_t magic;
} table_src;

static hl_status table_err(const table_src *src, hl_error *err, hl_status guest_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static hl_status table_err(const table_src *src, hl_error *err, hl_status guest_status, const char *fmt, ...)
{
    char msg[HL_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return hl_errorf(err, src->what ? HL_E_CONFIG : guest_status, "%s", msg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const hl_function_info *const *)a)->name, (*(const hl_function_info *const *)b)->name);
}

/* Names are printable (no control characters: they reach terminals and logs) and unique (a call
 * by name must have one signature). Sorting keeps the duplicate check O(n log n). */
static hl_status check_names(const table_src *src, const hl_function_info *fns, uint32_t n, hl_error *err)
{
    const char *whose = src->what ? src->what : "the guest's function";
    for (uint32_t i = 0; i < n; i++)
        for (const unsigned char *p = (const unsigned char *)fns[i].name; *p; p++)
            if (*p < 0x20 || *p == 0x7F)
                return table_err(src, err, HL_E_GUEST_PROTOCOL,
                                 "%s %u's name has a control character (byte %#x at offset %u): "
                                 "names must be printable",
                                 whose, i + 1, *p, (unsigned)(p - (const unsigned char *)fns[i].name));
    const hl_function_info **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        return hl_errorf(err, HL_E_NOMEM, "out of memory checking %s table", src->what ? src->what : "the guest's function");
    for (uint32_t i = 0; i < n; i++)
        sorted[i] = &fns[i];
    qsort(sorted, n, sizeof(*sorted), by_name);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            unsigned a = (unsigned)(sorted[i - 1] - fns) + 1, b = (unsigned)(sorted[i] - fns) + 1;
            hl_status st = src->what
                               ? table_err(src, err, HL_E_CONFIG, "%s table has `%s` twice (entries %u and %u)", src->what,
                                           sorted[i]->name, a < b ? a : b, a < b ? b : a)
                               : hl_errorf(err, HL_E_GUEST_PROTOCOL,
                                           "the guest registers `%s` twice (functions %u and %u): each name must be unique",
                                           sorted[i]->name, a < b ? a : b, a < b ? b : a);
            free(sorted);
            return st;
        }
    free(sorted);
    return HL_OK;
}

static hl_status read_table(const table_src *src, const uint8_t *buf, uint64_t size, hl_function_info **fns, size_t *n,
                            char **names, hl_error *err)
{
    *fns = NULL;
    *n = 0;
    *names = NULL;
    hl_host_fn_table t;
    const char *what = src->what;
    if (size < sizeof(t))
        return what ? table_err(src, err, HL_E_CONFIG, "%s table is shorter than its header (%llu bytes)", what,
                                (unsigned long long)size)
                    : hl_errorf(err, HL_E_GUEST_PROTOCOL, "output_data_size is too small for the guest's function table");
    memcpy(&t, buf, sizeof(t));
    if (t.magic != src->magic)
        return what ? table_err(src, err, HL_E_CONFIG, "%s table has the wrong magic number (%#x)", what, t.magic)
                    : hl_errorf(err, HL_E_GUEST_PROTOCOL,
                                "the guest did not write its function table (is it built with the Hyperlight guest SDK?)");
    if (t.total_len > size)
        return what ? table_err(src, err, HL_E_CONFIG, "%s table says it has %u bytes, more than its %llu", what, t.total_len,
                                (unsigned long long)size)
                    : hl_errorf(err, HL_E_TOO_LARGE,
                                "the guest's table of %u functions needs %u bytes, more than output_data_size (%llu bytes): raise output_data_size",
                                t.count, t.total_len, (unsigned long long)size);
    if (t.total_len < sizeof(t) || t.count > (t.total_len - sizeof(t)) / sizeof(hl_fn_def))
        return table_err(src, err, HL_E_GUEST_PROTOCOL, "%s table is malformed", what ? what : "the guest's function");
    uint8_t *copy = malloc(t.total_len + 1);
    hl_function_info *out = calloc(t.count ? t.count : 1, sizeof(*out));
    if (!copy || !out) {
        free(copy);
        free(out);
        return hl_errorf(err, HL_E_NOMEM, "out of memory reading %s table", what ? what : "the guest's function");
    }
    memcpy(copy, buf, t.total_len);
    copy[t.total_len] = 0;
    for (uint32_t i = 0; i < t.count; i++) {
        hl_fn_def d;
        memcpy(&d, copy + sizeof(t) + (uint64_t)i * sizeof(d), sizeof(d));
        if (d.name_len == 0 || d.name_len > HL_MAX_NAME_LEN || d.name_off < sizeof(t) ||
            (uint64_t)d.name_off + d.name_len >= t.total_len || copy[d.name_off + d.name_len] != 0 ||
            memchr(copy + d.name_off, 0, d.name_len) || d.argc > HL_MAX_PARAMS || d.ret >= HL_TYPE_COUNT) {
            free(copy);
            free(out);
            return table_err(src, err, HL_E_GUEST_PROTOCOL, "entry %u of %s table is malformed", i,
                             what ? what : "the guest's function");
        }
        out[i].name = (const char *)copy + d.name_off;
        out[i].ret = (hl_type)d.ret;
        out[i].nparams = d.argc;
        for (uint32_t k = 0; k < d.argc; k++) {
            if (d.params[k] == HL_TYPE_VOID || d.params[k] >= HL_TYPE_COUNT) {
                free(copy);
                free(out);
                return table_err(src, err, HL_E_GUEST_PROTOCOL, "entry %u of %s table has a bad parameter type", i,
                                 what ? what : "the guest's function");
            }
            out[i].params[k] = (hl_type)d.params[k];
        }
    }
    hl_status st = check_names(src, out, t.count, err);
    if (st) {
        free(copy);
        free(out);
        return st;
    }
    *fns = out;
    *n = t.count;
    *names = (char *)copy;
    return HL_OK;
}

hl_status hl_codec_read_fn_table(const uint8_t *buf, uint64_t size, hl_function_info **fns, size_t *n,
                                 char **names, hl_error *err)
{
    table_src src = {NULL, HL_MSG_GUESTFN_MAGIC};
    return read_table(&src, buf, size, fns, n, names, err);
}

hl_status hl_codec_parse_fn_table(const uint8_t *buf, uint64_t size, uint32_t magic, const char *what,
                                  hl_function_info **fns, size_t *n, char **names, hl_error *err)
{
    table_src src = {what, magic};
    return read_table(&src, buf, size, fns, n, names, err);
}

uint64_t hl_codec_fn_table_size(const hl_function_info *fns, size_t n)
{
    uint64_t size = sizeof(hl_host_fn_table) + (uint64_t)n * sizeof(hl_fn_def);
    for (size_t i = 0; i < n; i++)
        size += strlen(fns[i].name) + 1;
    return size;
}
