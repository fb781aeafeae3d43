/* hostcall.c - host functions: registration, and serving the guest's port writes (calls, logs, aborts). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/structsize.h"

static hl_status register_fn(hl_sandbox *sb, const char *name, hl_type ret, const hl_type *params,
                             size_t nparams, hl_host_fn fn, void *user, hl_error *err);

hl_status hl_sandbox_register(hl_sandbox *sb, const char *name, hl_type ret, const hl_type *params,
                              size_t nparams, hl_host_fn fn, void *user, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    if (!sb || !name || !fn || (nparams && !params))
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_register: NULL argument");
    hl_status st = hl_sb_enter(sb, "hl_sandbox_register", err);
    if (st) return st;
    st = register_fn(sb, name, ret, params, nparams, fn, user, err);
    hl_sb_leave(sb);
    return st;
}

static hl_status register_fn(hl_sandbox *sb, const char *name, hl_type ret, const hl_type *params,
                             size_t nparams, hl_host_fn fn, void *user, hl_error *err)
{
    if (sb->state != SB_CREATED)
        return hl_errorf(err, HL_E_STATE, "host function `%s` must be registered before hl_sandbox_initialize", name);
    size_t len = strlen(name);
    if (len == 0 || len > HL_MAX_NAME_LEN)
        return hl_errorf(err, HL_E_INVALID_ARG, "a host function name has 1 to %d bytes", HL_MAX_NAME_LEN);
    if (nparams > HL_MAX_PARAMS)
        return hl_errorf(err, HL_E_INVALID_ARG, "host function `%s` has %zu parameters; at most %d are supported",
                         name, nparams, HL_MAX_PARAMS);
    if ((unsigned)ret >= HL_TYPE_COUNT)
        return hl_errorf(err, HL_E_INVALID_ARG, "host function `%s` has an invalid return type", name);
    for (size_t i = 0; i < nparams; i++)
        if (params[i] == HL_TYPE_VOID || (unsigned)params[i] >= HL_TYPE_COUNT)
            return hl_errorf(err, HL_E_INVALID_ARG, "parameter %zu of host function `%s` has an invalid type", i + 1,
                             name);
    for (size_t i = 0; i < sb->nhostfns; i++)
        if (strcmp(sb->hostfns[i].name, name) == 0)
            return hl_errorf(err, HL_E_INVALID_ARG, "host function `%s` is already registered", name);
    if (sb->nhostfns == sb->caphostfns) {
        size_t cap = sb->caphostfns ? sb->caphostfns * 2 : 8;
        host_fn *n = realloc(sb->hostfns, cap * sizeof(*n));
        if (!n)
            return hl_errorf(err, HL_E_NOMEM, "out of memory");
        sb->hostfns = n;
        sb->caphostfns = cap;
    }
    host_fn *h = &sb->hostfns[sb->nhostfns];
    memset(h, 0, sizeof(*h));
    if (!(h->name = strdup(name)))
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    h->info.name = h->name;
    h->info.ret = ret;
    h->info.nparams = nparams;
    for (size_t i = 0; i < nparams; i++)
        h->info.params[i] = params[i];
    h->fn = fn;
    h->user = user;
    sb->nhostfns++;
    return HL_OK;
}

void hl_sb_free_hostfns(hl_sandbox *sb)
{
    for (size_t i = 0; i < sb->nhostfns; i++)
        free(sb->hostfns[i].name);
    free(sb->hostfns);
    sb->hostfns = NULL;
    sb->nhostfns = sb->caphostfns = 0;
}

int hl_host_call_fail(hl_host_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof(call->message), fmt, ap);
    va_end(ap);
    call->failed = 1;
    return -1;
}

void *hl_host_call_alloc(hl_host_call *call, size_t size)
{
    if (call->nallocs == sizeof(call->allocs) / sizeof(call->allocs[0]))
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        call->allocs[call->nallocs++] = p;
    return p;
}

/* The host exception region: a header and the message (read-only to the guest). */
static void write_host_exception(hl_sandbox *sb, const char *msg)
{
    uint8_t *r = sb_region(sb, HL_REGION_HOST_EXCEPTION);
    uint64_t size = sb_region_size(sb, HL_REGION_HOST_EXCEPTION);
    uint64_t limit = sb->cfg->host_exception_size < size ? sb->cfg->host_exception_size : size;
    if (limit < sizeof(hl_message_hdr) + 1)
        return;
    size_t len = strlen(msg);
    if (len > limit - sizeof(hl_message_hdr) - 1)
        len = limit - sizeof(hl_message_hdr) - 1; /* truncated to host_exception_size */
    hl_message_hdr h = {(uint32_t)len, 0};
    uint64_t off = sb->layout.region[HL_REGION_HOST_EXCEPTION].offset, n = sizeof(h) + len + 1;
    /* through a backend's view, the guest's permissions: opened for the host's write */
    if (sb->mem.host_in_view && sb->ops->host_access(sb->be, off, n, 1) != 0)
        return; /* cannot happen short of memory; the guest reads the last message */
    memcpy(r, &h, sizeof(h));
    memcpy(r + sizeof(h), msg, len);
    r[sizeof(h) + len] = 0;
    if (sb->mem.host_in_view)
        sb->ops->host_access(sb->be, off, n, 0);
    hl_sb_host_wrote(sb, off, n);
}

/* Answers the guest's host call: a result, or an error status (with a host exception message). */
static void answer(hl_sandbox *sb, uint32_t status, const hl_value *v, const char *exception)
{
    uint64_t off = sb->host_result_off, size = sb_region_size(sb, HL_REGION_INPUT);
    uint64_t limit = sb->cfg->input_data_size < size ? sb->cfg->input_data_size : size;
    hl_error e;
    hl_error_empty(&e);
    if (exception)
        write_host_exception(sb, exception);
    if (off >= limit)
        return; /* no room at all: the guest reads a stale header and reports the failure */
    uint8_t *in = sb_region(sb, HL_REGION_INPUT) + off;
    if (hl_codec_write_result(in, limit - off, status, v, "input_data_size", &e) != HL_OK) {
        char msg[HL_ERROR_MESSAGE_MAX + 64];
        snprintf(msg, sizeof(msg), "%s", e.message);
        write_host_exception(sb, msg);
        hl_codec_write_result(in, limit - off, HL_GERR_HOST_FUNCTION_ERROR, NULL, "input_data_size", &e);
    }
    hl_msg_result r; /* what was just written: the result, or the error header alone */
    memcpy(&r, in, sizeof(r));
    hl_sb_host_wrote(sb, sb->layout.region[HL_REGION_INPUT].offset + off, r.total_len);
}

int hl_sb_io_fail(hl_sandbox *sb, hl_status st, const char *msg)
{
    sb->io_status = st;
    snprintf(sb->io_message, sizeof(sb->io_message), "%s", msg);
    return 1;
}

static int serve_call(hl_sandbox *sb)
{
    const char *name;
    hl_value args[HL_MAX_PARAMS];
    size_t nargs = 0;
    hl_error e;
    hl_error_empty(&e);
    if (hl_codec_read_call(sb_region(sb, HL_REGION_OUTPUT), sb->cfg->output_data_size, &sb->call_store, &name, args,
                           &nargs, &e) != HL_OK)
        return hl_sb_io_fail(sb, e.status, e.message);
    host_fn *h = NULL;
    for (size_t i = 0; i < sb->nhostfns; i++)
        if (strcmp(sb->hostfns[i].name, name) == 0)
            h = &sb->hostfns[i];
    char msg[512];
    if (!h) { /* Hyperlight: HostFunctionNotFound(name), sent to the guest as HostFunctionError */
        snprintf(msg, sizeof(msg), "host function `%s` is not registered", name);
        answer(sb, HL_GERR_HOST_FUNCTION_ERROR, NULL, msg);
        return 0;
    }
    if (nargs != h->info.nparams) {
        snprintf(msg, sizeof(msg), "host function `%s` takes %zu parameters, got %zu", name, h->info.nparams, nargs);
        answer(sb, HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS, NULL, msg);
        return 0;
    }
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type != h->info.params[i]) {
            snprintf(msg, sizeof(msg), "parameter %zu of host function `%s` is %s, got %s", i + 1, name,
                     hl_type_name(h->info.params[i]), hl_type_name(args[i].type));
            answer(sb, HL_GERR_PARAMETER_TYPE_MISMATCH, NULL, msg);
            return 0;
        }
    hl_host_call call; /* its message is written only when the call fails: not cleared (1 KiB) */
    call.sb = sb;
    call.failed = 0;
    call.nallocs = 0;
    call.message[0] = '\0';
    hl_value result;
    memset(&result, 0, sizeof(result));
    result.type = h->info.ret;
    int rc = h->fn(&call, args, nargs, &result, h->user);
    /* it forked, and this is the child: the guest must not go on, and nothing of it may be
     * touched (its memory is the parent's; run_guest says why) */
    if (hl_sb_forked(sb)) {
        for (size_t i = 0; i < call.nallocs; i++)
            free(call.allocs[i]);
        return HL_IO_ABANDON;
    }
    if (rc != 0 || call.failed) {
        if (!call.failed)
            snprintf(call.message, sizeof(call.message), "host function `%s` failed with code %d", name, rc);
        answer(sb, HL_GERR_HOST_FUNCTION_ERROR, NULL, call.message);
    } else if (result.type != h->info.ret) {
        snprintf(msg, sizeof(msg), "host function `%s` returned %s instead of %s", name, hl_type_name(result.type),
                 hl_type_name(h->info.ret));
        answer(sb, HL_GERR_HOST_FUNCTION_ERROR, NULL, msg);
    } else {
        answer(sb, 0, &result, NULL);
    }
    for (size_t i = 0; i < call.nallocs; i++)
        free(call.allocs[i]);
    return 0;
}

static int serve_log(hl_sandbox *sb)
{
    const uint8_t *out = sb_region(sb, HL_REGION_OUTPUT);
    uint64_t size = sb->cfg->output_data_size;
    hl_msg_log h;
    if (size < sizeof(h))
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest logged with an output buffer too small for a log header");
    memcpy(&h, out, sizeof(h));
    if (h.magic != HL_MSG_LOG_MAGIC || h.len > size - sizeof(h))
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest wrote a malformed log message");
    const uint8_t *text = hl_buf_set(&sb->msg_store, out + sizeof(h), h.len);
    if (text && sb->print)
        sb->print(sb->print_user, (const char *)text, h.len);
    return hl_sb_forked(sb) ? HL_IO_ABANDON : 0; /* the print function forked: as in serve_call */
}

int hl_sb_io(void *ctx, uint32_t port)
{
    hl_sandbox *sb = ctx;
    switch (port) {
    case HL_PORT_CALL_FUNCTION:
        return serve_call(sb);
    case HL_PORT_LOG:
        return serve_log(sb);
    case HL_PORT_ABORT:
        return 1;
    case HL_PORT_SERVICE:
        return hl_sb_serve_service(sb);
    default: {
        char msg[96];
        snprintf(msg, sizeof(msg), "the guest wrote to unknown I/O port %u", port);
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, msg);
    }
    }
}
