/* export_internal.h - helpers shared by the writers of config_export.h. */
#ifndef HL_CONFIG_EXPORT_INTERNAL_H
#define HL_CONFIG_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hyperlight/config.h"

/* Writes s as a JSON string literal, quotes included. */
void hl_export_json_string(FILE *out, const char *s);

/* A value of the field as a TOML literal: 16384, "1000ms", "RunInHypervisor". */
void hl_export_toml_value(const hl_field_info *info, uint64_t value, char *buf, size_t size);

/* Field f of cfg as a TOML literal (a PATH as a quoted string). */
void hl_export_toml_field(const hl_config *cfg, hl_config_field f, char *buf, size_t size);

/* A value for people: "16 KiB (16384)", "256 B", "1000 ms", "RunInHypervisor", "0 (from the
 * guest binary)". */
void hl_export_human_value(const hl_field_info *info, uint64_t value, char *buf, size_t size);

/* The table's range for people, as diagnostics word it (hl_format_range): "256 B to 64 MiB",
 * "1 ms to 65535 ms", "0 (from the guest binary), or 16 KiB to 512 MiB". */
void hl_export_human_range(const hl_field_info *info, char *buf, size_t size);

/* The field's type as written in a hyperfile: "size", "duration" or "execution mode", and the
 * forms the hyperfile accepts for it. */
const char *hl_export_type_name(const hl_field_info *info);
const char *hl_export_type_forms(const hl_field_info *info);

/* 0 when the stream has seen no error, else -1. */
int hl_export_status(FILE *out);

#endif
