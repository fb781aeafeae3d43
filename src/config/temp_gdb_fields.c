/* temp_gdb_fields.c - TEMP (branch gdb, dropped on merge): the gdb settings main adds through the
 * field table, as plain setters so the stub can be built and tested before that lands. */
#include <stddef.h>

#include "hyperlight/config.h"

static int holds(const hl_config *cfg, size_t end)
{
    return cfg && cfg->struct_size >= end;
}

hl_set_result hl_config_set_gdb_port(hl_config *cfg, uint64_t port)
{
    if (!holds(cfg, offsetof(hl_config, gdb_port) + sizeof(uint64_t))) return HL_SET_BAD_FIELD;
    if (port > 65535) return HL_SET_TOO_LARGE;
    cfg->gdb_port = port;
    return HL_SET_OK;
}

hl_set_result hl_config_set_gdb_stop(hl_config *cfg, uint64_t when)
{
    if (!holds(cfg, offsetof(hl_config, gdb_stop) + sizeof(uint64_t))) return HL_SET_BAD_FIELD;
    if (when > HL_GDB_STOP_INITIALIZATION) return HL_SET_BAD_FIELD;
    cfg->gdb_stop = when;
    return HL_SET_OK;
}
