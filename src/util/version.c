/* version.c - the library's run-time version, from the headers it was compiled with. */
#include "hyperlight/version.h"

_Static_assert(HL_VERSION_MINOR < 100 && HL_VERSION_PATCH < 100,
               "HL_VERSION_NUMBER gives MINOR and PATCH two decimal digits each");

const char *hl_version(void)
{
    return HL_VERSION_STRING;
}

unsigned hl_version_number(void)
{
    return HL_VERSION_NUMBER;
}
