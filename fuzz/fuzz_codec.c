/* fuzz_codec.c - libFuzzer target: arbitrary bytes as a guest-written buffer, through every codec reader. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/sandbox/codec.h" /* the fuzz targets get only the public include path */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blob(const hl_value *v) { return v->type == HL_TYPE_STRING || v->type == HL_TYPE_BYTES; }

static int same_value(const hl_value *a, const hl_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case HL_TYPE_VOID: return 1;
    case HL_TYPE_I32: return a->u.i32 == b->u.i32;
    case HL_TYPE_U32: return a->u.u32 == b->u.u32;
    case HL_TYPE_BOOL: return a->u.b == b->u.b;
    case HL_TYPE_F32: return memcmp(&a->u.f32, &b->u.f32, 4) == 0;
    case HL_TYPE_STRING:
    case HL_TYPE_BYTES:
        return a->u.buf.len == b->u.buf.len && (a->u.buf.len == 0 || memcmp(a->u.buf.ptr, b->u.buf.ptr, a->u.buf.len) == 0);
    default: return a->u.u64 == b->u.u64;
    }
}

/* A decoded call re-encodes and decodes to the same name and values. */
static void round_trip_call(const char *name, const hl_value *args, size_t n)
{
    uint64_t need = hl_codec_call_size(name, args, n), len = 0;
    uint8_t *buf = malloc(need);
    hl_error err = HL_ERROR_INIT;
    if (!buf || hl_codec_write_call(buf, need, name, args, n, "input_data_size", &len, &err) != HL_OK || len != need)
        abort();
    hl_buf store = {0};
    const char *name2;
    hl_value args2[HL_MAX_PARAMS];
    size_t n2;
    if (hl_codec_read_call(buf, need, &store, &name2, args2, &n2, &err) != HL_OK)
        abort();
    if (strcmp(name, name2) != 0 || n2 != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!same_value(&args[i], &args2[i]))
            abort();
    hl_buf_free(&store);
    free(buf);
}

/* A decoded result re-encodes and decodes to the same status and value. */
static void round_trip_result(uint32_t status, const hl_value *v)
{
    uint8_t *buf = malloc(64 + (is_blob(v) ? v->u.buf.len : 0));
    uint64_t size = 64 + (is_blob(v) ? v->u.buf.len : 0);
    hl_error err = HL_ERROR_INIT;
    if (!buf || hl_codec_write_result(buf, size, status, v, "output_data_size", &err) != HL_OK)
        abort();
    hl_buf store = {0};
    uint32_t status2 = 0;
    hl_value v2;
    if (hl_codec_read_result(buf, size, &store, &status2, &v2, &err) != HL_OK || status2 != status)
        abort();
    if (status == 0 && !same_value(v, &v2))
        abort();
    hl_buf_free(&store);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hl_error err = HL_ERROR_INIT;
    hl_buf store = {0};
    hl_value v[HL_MAX_PARAMS];
    uint32_t status = 0;
    hl_status st = hl_codec_read_result(data, size, &store, &status, &v[0], &err);
    if (st != HL_OK && st != HL_E_GUEST_PROTOCOL)
        abort();
    if (st == HL_OK && status == 0 && (unsigned)v[0].type >= HL_TYPE_COUNT)
        abort();
    if (st == HL_OK)
        round_trip_result(status, &v[0]);

    const char *name = NULL;
    size_t n = 0;
    st = hl_codec_read_call(data, size, &store, &name, v, &n, &err);
    if (st != HL_OK && st != HL_E_GUEST_PROTOCOL)
        abort();
    if (st == HL_OK) {
        if (n > HL_MAX_PARAMS || strlen(name) == 0 || strlen(name) > HL_MAX_NAME_LEN)
            abort();
        round_trip_call(name, v, n);
    }

    hl_function_info *fns = NULL;
    char *names = NULL;
    st = hl_codec_read_fn_table(data, size, &fns, &n, &names, &err);
    if (st != HL_OK && st != HL_E_GUEST_PROTOCOL && st != HL_E_TOO_LARGE)
        abort();
    for (size_t i = 0; st == HL_OK && i < n; i++) {
        size_t len = strlen(fns[i].name);
        if (len == 0 || len > HL_MAX_NAME_LEN || fns[i].nparams > HL_MAX_PARAMS || fns[i].ret >= HL_TYPE_COUNT)
            abort();
    }
    free(fns);
    free(names);

    uint32_t code;
    size_t len;
    const char *msg = hl_codec_read_message(data, size, &store, &code, &len);
    if (!msg || len > size || msg[len] != 0)
        abort();
    uint64_t gcode;
    msg = hl_codec_read_guest_error(data, size, &store, &gcode, &len);
    if (!msg || len > size || msg[len] != 0)
        abort();
    hl_buf_free(&store);
    return 0;
}
