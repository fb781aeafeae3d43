/* gdbguest.c - the guest the gdb stub's tests debug (built with -g -O0): globals, locals, a call
 * chain, a fault, a loop and an int3 of its own. The tests find lines by the GDB-LINE markers. */
#include <stdint.h>

#include "hyperlight_guest.h"

int counter = 5;                 /* the global the tests watch */
const char motto[] = "debug me"; /* a global they print */
volatile uint64_t spins;         /* spin's progress */

__attribute__((noinline)) int leaf(int x)
{
    int doubled = x * 2;         /* GDB-LINE: leaf-doubled */
    counter = counter + doubled; /* GDB-LINE: leaf-counter */
    return doubled + 1;          /* GDB-LINE: leaf-return */
}

__attribute__((noinline)) int middle(int x)
{
    int r = leaf(x + 1); /* GDB-LINE: middle-call */
    return r * 3;        /* GDB-LINE: middle-return */
}

/* compute(7): leaf(8) makes counter 21 and returns 17, middle 51, counter 72, the result 123 */
static int compute(const hlg_value *args, hlg_value *ret)
{
    int n = args[0].u.i32;
    int v = middle(n);     /* GDB-LINE: compute-middle */
    counter = counter + v; /* GDB-LINE: compute-counter */
    ret->u.i32 = v + counter;
    return 0;
}

__attribute__((noinline)) void poke(volatile int *p, int value)
{
    *p = value; /* GDB-LINE: poke-store */
}

/* crash(): a NULL store two frames down */
static int crash(const hlg_value *args, hlg_value *ret)
{
    poke((volatile int *)(uintptr_t)args[0].u.u64, 42); /* GDB-LINE: crash-poke */
    ret->u.i32 = 0;
    return 0;
}

/* spin(n): n loop turns (0: for ever), then the count */
static int spin(const hlg_value *args, hlg_value *ret)
{
    uint64_t n = args[0].u.u64;
    for (spins = 0; n == 0 || spins < n; spins++) /* GDB-LINE: spin-loop */
        ;
    ret->u.u64 = spins;
    return 0;
}

/* get_counter(): the global, to see what a call left (nothing: every call starts from the snapshot) */
static int get_counter(const hlg_value *args, hlg_value *ret)
{
    ret->u.i32 = counter;
    return 0;
}

/* trap(): the guest's own int3 */
static int trap(const hlg_value *args, hlg_value *ret)
{
    __asm__ volatile("int3");
    ret->u.i32 = counter;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("compute", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), compute);
    hlg_register("crash", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U64), crash);
    hlg_register("spin", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), spin);
    hlg_register("get_counter", HL_TYPE_I32, HLG_NO_PARAMS, get_counter);
    hlg_register("trap", HL_TYPE_I32, HLG_NO_PARAMS, trap);
}
