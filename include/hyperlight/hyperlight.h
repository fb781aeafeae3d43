/* hyperlight.h - the umbrella header: every public header of the host library. */
#ifndef HYPERLIGHT_HYPERLIGHT_H
#define HYPERLIGHT_HYPERLIGHT_H

/* A host program includes this one header and links -lhyperlight (pkg-config hyperlight, or the
 * CMake target hyperlight::hyperlight). Each header can also be included on its own.
 *
 * The public API (exported from libhyperlight.so, ABI-stable within a major version, see
 * docs/abi.md):
 *   version.h        HL_VERSION_* macros, hl_version(), hl_version_number()
 *   export.h         HL_API and the struct_size rule for structs callers allocate
 *   error.h          hl_status, hl_error
 *   diag.h           diagnostics with source spans, rendered like rustc's
 *   config.h         hl_config, its setters and getters, host policy, hyperfile loading
 *   config_fields.h  the X-macro table of settings (HL_CONFIG_FIELDS) that config.h expands into
 *                    hl_config, hl_config_field and the named setters; public on purpose so a
 *                    host can generate its own code per setting. Rows are only ever appended.
 *   config_export.h  the hyperfile template, JSON Schema, reference and JSON/TOML dumps
 *   sandbox.h        sandboxes: create, register host functions, initialise, call, destroy
 *   toml.h           the generic TOML 1.0.0 / 1.1.0 parser with source positions
 *
 *   abi.h            the host/guest ABI (PEB layout, message encoding, ports, hl_type). The host
 *                    API uses only hl_type and HL_MAX_PARAMS from it (sandbox.h includes it); the
 *                    rest is for guests, which get it through the guest SDK. It declares no
 *                    functions and has its own version, HL_ABI_VERSION, independent of the
 *                    library's (a guest built for ABI 1 runs on any library that speaks ABI 1).
 * Internal headers live under src/ and are not installed. */
#include "hyperlight/config.h"
#include "hyperlight/config_export.h"
#include "hyperlight/config_fields.h"
#include "hyperlight/diag.h"
#include "hyperlight/error.h"
#include "hyperlight/export.h"
#include "hyperlight/sandbox.h"
#include "hyperlight/toml.h"
#include "hyperlight/version.h"

#endif
