/* capi.c - a guest written against Hyperlight's C guest API, built with hyperlight-cc --hyperlight-capi. */
#include <stddef.h>

#include "hyperlight_guest.h"

int twice(int x) { return 2 * x; }
HYPERLIGHT_WRAP_FUNCTION(twice, Int, 1, Int)

void hyperlight_main(void) { HYPERLIGHT_REGISTER_FUNCTION("twice", twice); }

hl_Vec *c_guest_dispatch_function(const hl_FunctionCall *call) { return NULL; }
