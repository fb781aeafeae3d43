/* simpleguest.c - the test guest: echoes every type, state, heap, stack, loops, aborts, panics, faults. */
#include "hyperlight_guest.h"

HLG_RESOURCES(65536, 131072);

static int64_t g_static = 7; /* set at load, changed by set_static, restored after every call */

#define ECHO(NAME, FIELD)                                                                          \
    static int NAME(const hlg_value *a, hlg_value *r)                                              \
    {                                                                                              \
        r->u.FIELD = a[0].u.FIELD;                                                                 \
        return 0;                                                                                  \
    }
ECHO(echo_i32, i32)
ECHO(echo_u32, u32)
ECHO(echo_i64, i64)
ECHO(echo_u64, u64)
ECHO(echo_f32, f32)
ECHO(echo_f64, f64)
ECHO(echo_bool, b)
ECHO(echo_string, str)
ECHO(echo_bytes, str)

static int add(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = a[0].u.i32 + a[1].u.i32;
    return 0;
}

static int print(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = hlg_printf("%s", a[0].u.str.ptr);
    return 0;
}

static int print_fmt(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = hlg_printf("int %d, neg %i, hex %#x, str '%5s', pad [%-4d], u64 %llu, float %.3f\n", a[0].u.i32,
                          -a[0].u.i32, (unsigned)a[0].u.i32, "ab", 7, (unsigned long long)a[1].u.u64, a[2].u.f64);
    return 0;
}

static int set_static(const hlg_value *a, hlg_value *r)
{
    g_static = a[0].u.i64;
    return 0;
}

static int get_static(const hlg_value *a, hlg_value *r)
{
    r->u.i64 = g_static;
    return 0;
}

/* Allocates n bytes, touches them, keeps them (until the snapshot is restored). */
static int allocate(const hlg_value *a, hlg_value *r)
{
    uint8_t *p = malloc((size_t)a[0].u.u64);
    if (!p)
        return hlg_error(HL_GERR_MALLOC_FAILED, "malloc(%llu) failed: the heap has %llu bytes free",
                         (unsigned long long)a[0].u.u64, (unsigned long long)hlg_heap_free());
    memset(p, 0xAB, (size_t)a[0].u.u64);
    r->u.u64 = (uint64_t)(uintptr_t)p;
    return 0;
}

static int heap_free(const hlg_value *a, hlg_value *r)
{
    r->u.u64 = hlg_heap_free();
    return 0;
}

static int calloc_realloc(const hlg_value *a, hlg_value *r)
{
    uint32_t *p = calloc(16, sizeof(uint32_t));
    if (!p)
        return hlg_error(HL_GERR_MALLOC_FAILED, "calloc failed");
    for (int i = 0; i < 16; i++)
        if (p[i])
            return hlg_error(HL_GERR_GUEST_ERROR, "calloc memory not zeroed");
    p[15] = 42;
    p = realloc(p, 4096 * sizeof(uint32_t));
    if (!p || p[15] != 42)
        return hlg_error(HL_GERR_GUEST_ERROR, "realloc lost data");
    free(p);
    r->u.u32 = 42;
    return 0;
}

static __attribute__((noinline)) uint32_t deep(uint32_t n)
{
    volatile char pad[256]; /* used after the recursive call: the frame cannot be elided */
    pad[n % 256] = 1;
    if (n == 0)
        return 0;
    uint32_t below = deep(n - 1);
    return below + pad[n % 256];
}

static int recurse(const hlg_value *a, hlg_value *r)
{
    r->u.u32 = deep(a[0].u.u32);
    return 0;
}

/* Uses n bytes of stack at once (a variable-length array, probed page by page). */
static __attribute__((noinline)) uint64_t use_stack(uint64_t n)
{
    volatile uint8_t big[n];
    for (uint64_t i = 0; i < n; i += 4096)
        big[i] = (uint8_t)i;
    if (n)
        big[n - 1] = 1;
    return n ? big[0] + n : 0;
}

static int stack_alloc(const hlg_value *a, hlg_value *r)
{
    r->u.u64 = use_stack(a[0].u.u64);
    return 0;
}

static int spin(const hlg_value *a, hlg_value *r)
{
    for (volatile uint64_t i = 0;; i++)
        ;
    return 0;
}

static int abort_with(const hlg_value *a, hlg_value *r) { hlg_abort(a[0].u.u32, a[1].u.str.ptr); }

static int panic(const hlg_value *a, hlg_value *r) { hlg_panic("panic: %s", a[0].u.str.ptr); }

static int fail_with(const hlg_value *a, hlg_value *r)
{
    return hlg_error(a[0].u.i32, "%s", a[1].u.str.ptr);
}

static int write_readonly(const hlg_value *a, hlg_value *r)
{
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)hlg_peb()->host_exception.addr;
    p[0] = 1;
    return 0;
}

static int null_deref(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = *(volatile int32_t *)(uintptr_t)a[0].u.u64;
    return 0;
}

static int huge_output(const hlg_value *a, hlg_value *r)
{
    uint32_t n = a[0].u.u32;
    char *p = malloc(n ? n : 1);
    if (!p)
        return hlg_error(HL_GERR_MALLOC_FAILED, "no heap for %u bytes", n);
    for (uint32_t i = 0; i < n; i++)
        p[i] = (char)('a' + i % 26);
    r->u.str.ptr = p;
    r->u.str.len = n;
    return 0;
}

/* The PEB's view of one setting, to check that the host applied it. */
static int region_size(const hlg_value *a, hlg_value *r)
{
    const hl_peb *p = hlg_peb();
    const char *k = a[0].u.str.ptr;
    const hl_region *regs[] = {&p->input, &p->output, &p->host_function_definitions, &p->host_exception,
                               &p->guest_error, &p->panic_context, &p->heap, &p->stack, &p->kernel_stack};
    const char *names[] = {"input", "output", "host_function_definitions", "host_exception", "guest_error",
                           "panic_context", "heap", "stack", "kernel_stack"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(k, names[i]) == 0) {
            r->u.u64 = regs[i]->size;
            return 0;
        }
    return hlg_error(HL_GERR_GUEST_ERROR, "no region `%s`", k);
}

static int sum_bytes(const hlg_value *a, hlg_value *r)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < a[0].u.str.len; i++)
        s += (uint8_t)a[0].u.str.ptr[i];
    r->u.u64 = s;
    return 0;
}

static int dirty_pages(const hlg_value *a, hlg_value *r)
{
    const hl_peb *p = hlg_peb();
    uint64_t n = a[0].u.u64, pages = p->heap.size / 4096;
    if (n > pages)
        return hlg_error(HL_GERR_GUEST_ERROR, "only %llu heap pages", (unsigned long long)pages);
    for (uint64_t i = 0; i < n; i++)
        ((volatile uint8_t *)(uintptr_t)p->heap.addr)[i * 4096 + 64] = (uint8_t)(i + 1);
    r->u.u64 = n;
    return 0;
}

static int nothing(const hlg_value *a, hlg_value *r) { return 0; }

/* CPU exceptions on purpose (KVM reports each with its vector). */
static int divide_by_zero(const hlg_value *a, hlg_value *r)
{
    volatile int32_t zero = a[0].u.i32;
    r->u.i32 = 100 / zero;
    return 0;
}

static int invalid_opcode(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("ud2");
    return 0;
}

static int breakpoint(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("int3");
    return 0;
}

/* Executes a `ret` copied into the heap (KVM: no-execute, so #PF) or onto the stack. */
static int exec_data(const hlg_value *a, hlg_value *r)
{
    static volatile uint8_t *heap_code;
    volatile uint8_t stack_code[16];
    uint8_t *code = a[0].u.b ? (uint8_t *)malloc(16) : (uint8_t *)stack_code;
    if (!code)
        return hlg_error(HL_GERR_MALLOC_FAILED, "no heap");
    heap_code = code;
    code[0] = 0xC3; /* ret */
    ((void (*)(void))(uintptr_t)heap_code)();
    return 0;
}

/* Writes to an I/O port the host does not serve. */
static int unknown_port(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"((uint16_t)a[0].u.u32) : "memory");
    return 0;
}

/* Throws away the IDT and faults: an exception that cannot be delivered ends as a triple fault. */
static int triple_fault(const hlg_value *a, hlg_value *r)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = {0, 0};
    __asm__ volatile("lidt %0\n\tint3" : : "m"(idtr) : "memory");
    return 0;
}

/* KVM only (ring 0): the debug-register isolation check (test_debug_registers_reset).
 * `arm_breakpoint` points DR0-DR3 at `breakpoint_target`, which nothing else calls, enables all
 * four as execute breakpoints (DR7 = 0x55) and returns that address; `debug_register(n)` reads
 * DRn as the next call sees it. The target has a body of its own, so that identical-code folding
 * cannot merge it with `nothing`: a breakpoint left behind must not fire in unrelated calls. */
static volatile uint32_t target_calls;
static __attribute__((noinline)) int breakpoint_target(const hlg_value *a, hlg_value *r)
{
    target_calls++;
    return 0;
}

static int arm_breakpoint(const hlg_value *a, hlg_value *r)
{
    uint64_t target = (uint64_t)(uintptr_t)&breakpoint_target, dr7 = 0x55; /* L0-L3, execute */
    __asm__ volatile("mov %0, %%dr0\n\tmov %0, %%dr1\n\tmov %0, %%dr2\n\tmov %0, %%dr3\n\tmov %1, %%dr7"
                     :
                     : "r"(target), "r"(dr7));
    r->u.u64 = target;
    return 0;
}

static int debug_register(const hlg_value *a, hlg_value *r)
{
    uint64_t v;
    switch (a[0].u.u32) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
    case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
    case 7: __asm__ volatile("mov %%dr7, %0" : "=r"(v)); break;
    default: return hlg_error(HL_GERR_GUEST_ERROR, "no debug register DR%u", a[0].u.u32);
    }
    r->u.u64 = v;
    return 0;
}

/* Reads `offset` bytes past the end of the sandbox's memory. */
static int read_outside(const hlg_value *a, hlg_value *r)
{
    const hl_peb *p = hlg_peb();
    r->u.i32 = *(volatile int32_t *)(uintptr_t)(p->base + p->total_size + a[0].u.u64);
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("echo_i32", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), echo_i32);
    hlg_register("echo_u32", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32), echo_u32);
    hlg_register("echo_i64", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_I64), echo_i64);
    hlg_register("echo_u64", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), echo_u64);
    hlg_register("echo_f32", HL_TYPE_F32, HLG_PARAMS(HL_TYPE_F32), echo_f32);
    hlg_register("echo_f64", HL_TYPE_F64, HLG_PARAMS(HL_TYPE_F64), echo_f64);
    hlg_register("echo_bool", HL_TYPE_BOOL, HLG_PARAMS(HL_TYPE_BOOL), echo_bool);
    hlg_register("echo_string", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), echo_string);
    hlg_register("echo_bytes", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_BYTES), echo_bytes);
    hlg_register("add", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_I32), add);
    hlg_register("print", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_STRING), print);
    hlg_register("print_fmt", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_U64, HL_TYPE_F64), print_fmt);
    hlg_register("set_static", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_I64), set_static);
    hlg_register("get_static", HL_TYPE_I64, HLG_NO_PARAMS, get_static);
    hlg_register("allocate", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), allocate);
    hlg_register("heap_free", HL_TYPE_U64, HLG_NO_PARAMS, heap_free);
    hlg_register("calloc_realloc", HL_TYPE_U32, HLG_NO_PARAMS, calloc_realloc);
    hlg_register("recurse", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32), recurse);
    hlg_register("stack_alloc", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), stack_alloc);
    hlg_register("spin", HL_TYPE_VOID, HLG_NO_PARAMS, spin);
    hlg_register("abort_with", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_STRING), abort_with);
    hlg_register("panic", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_STRING), panic);
    hlg_register("fail_with", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_STRING), fail_with);
    hlg_register("write_readonly", HL_TYPE_VOID, HLG_NO_PARAMS, write_readonly);
    hlg_register("read_address", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U64), null_deref);
    hlg_register("huge_output", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U32), huge_output);
    hlg_register("region_size", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_STRING), region_size);
    hlg_register("sum_bytes", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_BYTES), sum_bytes);
    hlg_register("dirty_pages", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), dirty_pages);
    hlg_register("nothing", HL_TYPE_VOID, HLG_NO_PARAMS, nothing);
    hlg_register("divide_by_zero", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), divide_by_zero);
    hlg_register("invalid_opcode", HL_TYPE_VOID, HLG_NO_PARAMS, invalid_opcode);
    hlg_register("breakpoint", HL_TYPE_VOID, HLG_NO_PARAMS, breakpoint);
    hlg_register("exec_data", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_BOOL), exec_data);
    hlg_register("unknown_port", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), unknown_port);
    hlg_register("triple_fault", HL_TYPE_VOID, HLG_NO_PARAMS, triple_fault);
    hlg_register("read_outside", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U64), read_outside);
    hlg_register("arm_breakpoint", HL_TYPE_U64, HLG_NO_PARAMS, arm_breakpoint);
    hlg_register("debug_register", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), debug_register);
    hlg_register("breakpoint_target", HL_TYPE_VOID, HLG_NO_PARAMS, breakpoint_target);
}
