/* config_export.h - documents generated from the field table; configs written as JSON/TOML. */
#ifndef HYPERLIGHT_CONFIG_EXPORT_H
#define HYPERLIGHT_CONFIG_EXPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "hyperlight/config.h"

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every function here writes to a stream the caller owns and returns 0, or -1 when a write
 * fails (the stream's error indicator tells why; hl_config_write_toml also when it cannot get
 * 8 KiB of memory, with errno ENOMEM). Nothing is written anywhere else. The output
 * follows from HL_CONFIG_FIELDS alone: a new row in the table appears in all of them. */

/* A documented hyperfile: a header comment, `hyperfile_version = 1`, then every key with a
 * comment giving its meaning, type, default, allowed range and the reason for the bounds, set to
 * its default value (so that loading the template yields exactly hl_config_init()'s values), and
 * a commented-out example `[sandbox.NAME]` profile. `hyperlight init` prints this. */
HL_API int hl_config_write_template(FILE *out);

/* A JSON Schema (draft 2020-12) of the hyperfile as a JSON document (what TOML editors such as
 * Taplo and Even Better TOML read): `hyperfile_version` (const 1), every key (sizes: an integer
 * in range or a string with a unit; durations: integer milliseconds in range or a string with a
 * unit; execution_mode: an enum), and `sandbox`, an object of profiles that take the same keys.
 * additionalProperties is false everywhere. Ranges of strings with units are checked by the
 * loader, not by the schema. `hyperlight schema` prints this. */
HL_API int hl_config_write_schema(FILE *out);

/* A Markdown reference of every key: a summary table, then one section per key with its type,
 * unit, default, range, the reason for the bounds and its doc line. docs/hyperfile.md holds a
 * copy between its GENERATED KEYS markers, checked by a test. */
HL_API int hl_config_write_reference(FILE *out);

/* The effective configuration as one JSON object keyed by the hyperfile keys in table order:
 * sizes as integer bytes, durations as integer milliseconds, execution_mode as its string:
 *     {"input_data_size": 16384, ..., "execution_mode": "RunInHypervisor"}
 * With with_origin, every value becomes an object that says where it came from:
 *     {"value": 4096, "origin": "default"}
 *     {"value": 4096, "origin": "hyperfile", "file": "h.toml", "line": 4}
 *     {"value": 4096, "origin": "profile", "profile": "ci", "file": "h.toml", "line": 12}
 *     {"value": 4096, "origin": "host"}
 * ("file" and "line" appear only when known). Ends with a newline. */
HL_API int hl_config_write_json(const hl_config *cfg, FILE *out, bool with_origin);

/* The effective configuration as a hyperfile: `hyperfile_version = 1` then one `key = value`
 * line per field (sizes as integer bytes, durations as "NNNms", the mode as its string), so that
 * loading the output gives the same values. With with_origin each line ends with a comment:
 * `# default`, `# from h.toml:4`, `# from h.toml:12 [sandbox.ci]` or `# set by host`. */
HL_API int hl_config_write_toml(const hl_config *cfg, FILE *out, bool with_origin);

#ifdef __cplusplus
}
#endif
#endif
