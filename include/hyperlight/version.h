/* version.h - the library's version: macros for compile time, functions for run time. */
#ifndef HYPERLIGHT_VERSION_H
#define HYPERLIGHT_VERSION_H

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one place the version is written: CMakeLists.txt reads these three lines into project(),
 * so the soname (libhyperlight.so.MAJOR), the package version and the CLI's --version all follow
 * from here. Semantic versioning: MAJOR changes on any ABI break (and with it the soname),
 * MINOR when the API grows compatibly, PATCH for fixes (docs/abi.md). */
#define HL_VERSION_MAJOR 0
#define HL_VERSION_MINOR 1
#define HL_VERSION_PATCH 0

#define HL_VERSION_STR_(x)  #x
#define HL_VERSION_XSTR_(x) HL_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define HL_VERSION_STRING                                                                          \
    HL_VERSION_XSTR_(HL_VERSION_MAJOR)                                                             \
    "." HL_VERSION_XSTR_(HL_VERSION_MINOR) "." HL_VERSION_XSTR_(HL_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0: compare with `>=` in #if. */
#define HL_VERSION_NUMBER (HL_VERSION_MAJOR * 10000 + HL_VERSION_MINOR * 100 + HL_VERSION_PATCH)

/* The version of the library the program runs with, which may be newer than the headers it was
 * compiled with (HL_VERSION_STRING): "0.1.0". A program can refuse a library older than its
 * headers with `hl_version_number() < HL_VERSION_NUMBER`. */
HL_API const char *hl_version(void);
/* The same as a number: MAJOR * 10000 + MINOR * 100 + PATCH (HL_VERSION_NUMBER of the library). */
HL_API unsigned hl_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
