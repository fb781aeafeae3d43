/* spininit.c - a test guest whose initialisation never ends (max_initialization_time must stop it). */
#include "hyperlight_guest.h"

static int nothing(const hlg_value *a, hlg_value *r) { return 0; }

void hyperlight_main(void)
{
    hlg_register("nothing", HL_TYPE_VOID, HLG_NO_PARAMS, nothing);
    for (volatile uint64_t i = 0;; i++)
        ;
}
