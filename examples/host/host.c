/* host.c - the example embedding host: hyperfile + profile + host policy, host functions, many calls, every error shown. */
/*
 * Build it with pkg-config (one line, from wherever hyperlight is installed):
 *
 *     cc -std=c11 -O2 host.c -o host $(pkg-config --cflags --libs hyperlight)
 *
 * or with CMake through find_package(hyperlight): see CMakeLists.txt beside this file, which
 * also builds the guest (../guest/demoguest.c) with hyperlight-cc. Run it:
 *
 *     ./host GUEST [HYPERFILE [PROFILE]]
 *     ./host guests/demoguest demo.toml debug     # the debug profile runs in-process
 *
 * docs/embedding.md walks through this file. It exits 0 when every call did what it should
 * (including the failures it provokes on purpose), 1 otherwise, 2 for a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hyperlight/hyperlight.h>

#ifndef EXAMPLE_HYPERFILE
#define EXAMPLE_HYPERFILE "demo.toml" /* CMakeLists.txt passes the full path of examples/demo.toml */
#endif

/* ---- errors: every failure is printed the way the hyperlight CLI prints it ---- */

/* A library error (hl_error): the message, then a note with the status and any guest code. */
static void print_error(const char *what, const hl_error *err)
{
    fprintf(stderr, "error: %s: %s\n", what, err->message[0] ? err->message : hl_status_str(err->status));
    if (err->status == HL_E_GUEST_ERROR)
        fprintf(stderr, "  = note: %s, code %u (%s)\n", hl_status_str(err->status), err->guest_code,
                hl_guest_error_name(err->guest_code));
    else if (err->status == HL_E_GUEST_ABORT || err->status == HL_E_GUEST_FAULT)
        fprintf(stderr, "  = note: %s, code %u\n", hl_status_str(err->status), err->guest_code);
    else
        fprintf(stderr, "  = note: %s\n", hl_status_str(err->status));
}

/* Hyperfile diagnostics (errors and warnings), rendered like rustc with the source line and
 * carets under the exact span; coloured on a terminal. */
static void print_diags(const hl_diag_list *diags)
{
    hl_diag_render_text(diags, stderr, isatty(fileno(stderr)) == 1);
    size_t errors = hl_diag_error_count(diags);
    if (errors)
        fprintf(stderr, "error: could not load the hyperfile (%zu error%s)\n", errors, errors == 1 ? "" : "s");
}

/* ---- host functions: the guest calls these by name ---- */

typedef struct greeter {
    const char *salutation;
    unsigned calls;
} greeter;

/* host_greeting(string name) -> string. Runs on the sandbox's thread while the guest waits. The
 * result must outlive this function: hl_host_call_alloc memory lives until it is copied into
 * the guest. An empty name is refused: the guest sees the message as a host exception. */
static int host_greeting(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)nargs; /* checked by the library against the registered parameters */
    greeter *g = user;
    g->calls++;
    const char *name = args[0].u.buf.ptr;
    if (args[0].u.buf.len == 0)
        return hl_host_call_fail(call, "a greeting needs a name");
    size_t n = strlen(g->salutation) + 2 + args[0].u.buf.len + 1;
    char *text = hl_host_call_alloc(call, n);
    if (!text)
        return hl_host_call_fail(call, "out of memory");
    snprintf(text, n, "%s, %s", g->salutation, name);
    *result = hl_string(text);
    return 0;
}

/* The guest's printf output (word_count prints) arrives here; the library itself prints nothing. */
static void print_guest(void *user, const char *text, size_t len)
{
    fprintf((FILE *)user, "%.*s", (int)len, text);
}

/* ---- configuration: defaults from code, a hyperfile (and a profile) over them, under a policy ---- */

static int load_config(hl_config *cfg, const char *hyperfile, const char *profile)
{
    hl_config_init(cfg); /* every hl_config starts here (it also sets struct_size) */
    /* The host's own defaults, from code; the hyperfile may override them (within the policy). */
    hl_config_set_max_execution_time(cfg, 1000);
    hl_config_set_heap_size_override(cfg, 4u << 20);

    /* The host policy: what an end user's hyperfile may not change. A hyperfile that sets a
     * locked key, or a value outside a cap, fails to load with a diagnostic at that key. */
    hl_policy policy;
    hl_policy_init(&policy);
    hl_policy_cap(&policy, HL_CFG_MAX_EXECUTION_TIME, 1, 10000); /* 1 ms to 10 s */
    hl_policy_cap(&policy, HL_CFG_HEAP_SIZE_OVERRIDE, 64u << 10, 64u << 20);
    /* No debugger port and no core files from an end user's hyperfile: a gdb stub or a core
     * dump exposes the guest's memory, so only the host (code, or HL_EXAMPLE_ALLOW_DEBUGGING=1
     * in this example) may turn them on. */
    const char *allow = getenv("HL_EXAMPLE_ALLOW_DEBUGGING");
    if (allow == NULL || strcmp(allow, "1") != 0)
        hl_policy_forbid_debugging(&policy);
    /* A production host would also pin what its users must not touch, e.g.
     *     hl_policy_lock(&policy, HL_CFG_FUNCTION_DEFINITION_SIZE);
     *     hl_policy_forbid_in_process(&policy);   (no unisolated guests from a hyperfile)
     * This one leaves both open so that demo.toml's debug profile runs without KVM. */

    hl_load_options opt = HL_LOAD_OPTIONS_INIT;
    opt.profile = profile; /* NULL: the top level only */
    opt.policy = &policy;
    hl_diag_list *diags = hl_diag_list_new();
    if (!diags) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    hl_status st = hl_config_load_file(cfg, hyperfile, &opt, diags);
    if (st != HL_OK || hl_diag_count(diags) > 0) /* warnings are shown too */
        print_diags(diags);
    hl_diag_list_free(diags);
    return st == HL_OK ? 0 : -1;
}

/* ---- calls ---- */

static unsigned unexpected;

/* "fibonacci(10)", "greet(\"embedder\")": how the calls are shown. */
static void show_call(FILE *out, const char *fn, const hl_value *args, size_t nargs)
{
    fprintf(out, "%s(", fn);
    for (size_t i = 0; i < nargs; i++) {
        if (i)
            fputs(", ", out);
        if (args[i].type == HL_TYPE_STRING)
            fprintf(out, "\"%.*s\"", (int)args[i].u.buf.len, (const char *)args[i].u.buf.ptr);
        else if (args[i].type == HL_TYPE_U32)
            fprintf(out, "%u", args[i].u.u32);
        else
            fprintf(out, "<%s>", hl_type_name(args[i].type));
    }
    fputc(')', out);
}

/* Calls fn and checks the outcome: HL_OK, or the failure provoked on purpose (a status and, for
 * a guest error, Hyperlight's error code). */
static void call(hl_sandbox *sb, const char *fn, const hl_value *args, size_t nargs, hl_status want_status,
                 unsigned want_code)
{
    hl_error err = HL_ERROR_INIT;
    hl_value r;
    hl_status st = hl_sandbox_call(sb, fn, args, nargs, &r, &err);
    if (st != HL_OK) {
        print_error(fn, &err);
        if (st != want_status || err.guest_code != want_code)
            unexpected++;
        return;
    }
    if (want_status != HL_OK)
        unexpected++;
    /* A STRING or BYTES result points into the library's memory until this thread's next call
     * on sb: print it (or copy it) now. */
    show_call(stdout, fn, args, nargs);
    switch (r.type) {
    case HL_TYPE_STRING: printf(" -> \"%.*s\"\n", (int)r.u.buf.len, (const char *)r.u.buf.ptr); break;
    case HL_TYPE_U32: printf(" -> %u\n", r.u.u32); break;
    case HL_TYPE_U64: printf(" -> %llu\n", (unsigned long long)r.u.u64); break;
    default: printf(" -> (%s)\n", hl_type_name(r.type)); break;
    }
}

#define ARGS(...) (const hl_value[]){__VA_ARGS__}, sizeof((const hl_value[]){__VA_ARGS__}) / sizeof(hl_value)

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s GUEST [HYPERFILE [PROFILE]]\n", argv[0]);
        return 2;
    }
    const char *guest = argv[1];
    const char *hyperfile = argc > 2 ? argv[2] : EXAMPLE_HYPERFILE;
    const char *profile = argc > 3 ? argv[3] : NULL;
    printf("libhyperlight %s\n", hl_version());

    /* The cancel signal: SIGRTMIN+5 unless changed, once for the process, before the first
     * sandbox. An application that uses SIGRTMIN+5 itself moves the library elsewhere: */
    hl_error err = HL_ERROR_INIT;
    if (hl_set_cancel_signal(SIGRTMIN + 2, &err) != HL_OK) {
        print_error("hl_set_cancel_signal", &err);
        return 1;
    }

    hl_config cfg;
    if (load_config(&cfg, hyperfile, profile) != 0)
        return 1;
    printf("mode %s, max_execution_time %llu ms\n", hl_execution_mode_name((hl_execution_mode)cfg.execution_mode),
           (unsigned long long)cfg.max_execution_time);

    /* Create (loads and lays out the guest; with RunInHypervisor this is where a missing
     * /dev/kvm is reported), register host functions, then initialise (runs hyperlight_main). */
    hl_sandbox *sb = NULL;
    if (hl_sandbox_create(&sb, guest, &cfg, &err) != HL_OK) {
        print_error("create", &err);
        return 1;
    }
    greeter hello = {"hello", 0};
    const hl_type str[] = {HL_TYPE_STRING};
    int rc = 1;
    if (hl_sandbox_register(sb, "host_greeting", HL_TYPE_STRING, str, 1, host_greeting, &hello, &err) != HL_OK) {
        print_error("register host_greeting", &err);
        goto out;
    }
    hl_sandbox_set_print(sb, print_guest, stdout);
    if (hl_sandbox_initialize(sb, &err) != HL_OK) {
        print_error("initialize", &err);
        goto out;
    }
    if (hl_sandbox_mode(sb) == HL_MODE_RUN_IN_PROCESS)
        fprintf(stderr, "warning: RunInProcess: the guest is not isolated from this process (for debugging only)\n");
    for (size_t i = 0; i < hl_sandbox_function_count(sb); i++)
        printf("guest function %s\n", hl_sandbox_function(sb, i)->name);

    /* Many calls: each starts from the snapshot taken at initialisation. */
    for (uint32_t n = 0; n <= 90; n += 10)
        call(sb, "fibonacci", ARGS(hl_u32(n)), HL_OK, 0);
    call(sb, "word_count", ARGS(hl_string("calls into a micro-VM")), HL_OK, 0);
    call(sb, "reverse", ARGS(hl_string("stressed")), HL_OK, 0);
    call(sb, "greet", ARGS(hl_string("embedder")), HL_OK, 0);
    /* Failures on purpose, each printed with its diagnostic (Hyperlight's error codes): */
    call(sb, "fibonacci", ARGS(hl_u32(100)), HL_E_GUEST_ERROR, 15);   /* GuestError: the guest refuses */
    call(sb, "greet", ARGS(hl_string("")), HL_E_GUEST_ERROR, 17);     /* HostFunctionError */
    call(sb, "fibonacci", ARGS(hl_string("ten")), HL_E_GUEST_ERROR, 14); /* parameter type mismatch */
    call(sb, "no_such_function", NULL, 0, HL_E_GUEST_ERROR, 4);       /* GuestFunctionNotFound */

    hl_sandbox_stats stats = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &stats);
    printf("%llu calls, host_greeting called %u times, %u unexpected outcomes\n",
           (unsigned long long)stats.calls, hello.calls, unexpected);
    rc = unexpected ? 1 : 0;
out:
    hl_sandbox_destroy(sb); /* after this, no host function or print function runs again */
    return rc;
}
