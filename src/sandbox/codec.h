/* codec.h - the host's side of the message encoding in abi.h; everything read is bounds-checked. */
#ifndef HL_SANDBOX_CODEC_H
#define HL_SANDBOX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "hyperlight/sandbox.h"

/* A growable host buffer; decoded strings point into it. */
typedef struct hl_buf {
    uint8_t *data;
    size_t len, cap;
} hl_buf;

void hl_buf_free(hl_buf *b);
/* Makes b hold a copy of n bytes; returns its data or NULL when memory runs out. */
uint8_t *hl_buf_set(hl_buf *b, const void *src, size_t n);

/* Bytes a call message needs. */
uint64_t hl_codec_call_size(const char *name, const hl_value *args, size_t nargs);

/* Encodes a call into buf (size bytes). `what` names the region's key for the error, e.g.
 * "input_data_size". On success *len is the message's total length. */
hl_status hl_codec_write_call(uint8_t *buf, uint64_t size, const char *name, const hl_value *args,
                              size_t nargs, const char *what, uint64_t *len, hl_error *err);

/* Encodes a result (status 0 with value v, or an error status with no value). */
hl_status hl_codec_write_result(uint8_t *buf, uint64_t size, uint32_t status, const hl_value *v,
                                const char *what, hl_error *err);

/* Decodes a result the guest wrote (untrusted): copies the message into store first, so the guest
 * cannot change it while it is read. *status is the guest's status; on 0, *out the value. */
hl_status hl_codec_read_result(const uint8_t *buf, uint64_t size, hl_buf *store, uint32_t *status,
                               hl_value *out, hl_error *err);

/* Decodes a call the guest wrote (untrusted), copying it into store. name points into store. */
hl_status hl_codec_read_call(const uint8_t *buf, uint64_t size, hl_buf *store, const char **name,
                             hl_value *args, size_t *nargs, hl_error *err);

/* Reads a length-prefixed message region (host exception, panic context, log) the guest may have
 * written: returns the text copied into store (NUL-terminated, truncated to the region) and
 * its length; *code gets the header's code. Never fails: garbage reads as an empty message. */
const char *hl_codec_read_message(const uint8_t *buf, uint64_t size, hl_buf *store, uint32_t *code, size_t *len);

/* Reads the guest error region: code and message (into store). */
const char *hl_codec_read_guest_error(const uint8_t *buf, uint64_t size, hl_buf *store, uint64_t *code,
                                      size_t *len);

/* Encodes a function table (host functions for the guest). */
hl_status hl_codec_write_fn_table(uint8_t *buf, uint64_t size, uint32_t magic, const hl_function_info *fns,
                                  size_t n, const char *what, hl_error *err);

/* Decodes the guest's function table (untrusted) into a fresh array of n entries whose names live
 * in *names (caller frees both with free()). */
hl_status hl_codec_read_fn_table(const uint8_t *buf, uint64_t size, hl_function_info **fns, size_t *n,
                                 char **names, hl_error *err);

/* The same for a table from elsewhere (a snapshot file's): `magic` is expected, `what` names the
 * table in messages ("the snapshot's host function table"), and every problem is HL_E_CONFIG. */
hl_status hl_codec_parse_fn_table(const uint8_t *buf, uint64_t size, uint32_t magic, const char *what,
                                  hl_function_info **fns, size_t *n, char **names, hl_error *err);

/* Bytes hl_codec_write_fn_table needs for a table. */
uint64_t hl_codec_fn_table_size(const hl_function_info *fns, size_t n);

#endif
