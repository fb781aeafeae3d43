/* badtable.c - guests whose function tables the host must refuse: built twice, as dupnames (one
 * name registered twice with different signatures) and ctrlnames (names with control characters).
 */
#include "hyperlight_guest.h"

HLG_RESOURCES(65536, 131072);

static int one(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = 1;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("one", HL_TYPE_I32, HLG_NO_PARAMS, one);
#ifdef BAD_DUPLICATE
    hlg_register("one", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_STRING), one);
#else
    hlg_register("evil\x1b[2J\nfake_function(u32) -> u64", HL_TYPE_I32, HLG_NO_PARAMS, one);
#endif
}
