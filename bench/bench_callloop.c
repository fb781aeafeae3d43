/* bench_callloop.c - one kind of guest call in a loop, for a profiler (bench/profile-kvm-call.sh).
 *
 * usage: bench_callloop [--mode kvm|inproc] --guests DIR [--calls N] [--restore] [--host-call]
 *
 * Calls simpleguest's `nothing` (or, with --host-call, callbackguest's `add_via_host`, one host
 * call each) N times: inside one call context (no restore between calls), or with --restore a
 * restore after every call, as hl_sandbox_call does by default. Prints the mean time per call;
 * the point is what a profiler sees meanwhile, not the figure (bench_sandbox and bench_ab time). */
#include <hyperlight/hyperlight.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    result->type = HL_TYPE_I32;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static void die(const char *what, const hl_error *e)
{
    fprintf(stderr, "bench_callloop: %s: %s\n", what, e->message);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *mode = "kvm", *guests = NULL;
    long calls = 20000;
    int restore = 0, host_call = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
        else if (!strcmp(argv[i], "--guests") && i + 1 < argc) guests = argv[++i];
        else if (!strcmp(argv[i], "--calls") && i + 1 < argc) calls = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--restore")) restore = 1;
        else if (!strcmp(argv[i], "--host-call")) host_call = 1;
        else {
            fprintf(stderr, "usage: bench_callloop [--mode kvm|inproc] --guests DIR [--calls N] [--restore] [--host-call]\n");
            return 2;
        }
    }
    if (!guests || calls <= 0 || (strcmp(mode, "kvm") && strcmp(mode, "inproc"))) {
        fprintf(stderr, "bench_callloop: --guests DIR is required, --calls must be positive, --mode kvm or inproc\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", guests, host_call ? "callbackguest" : "simpleguest");
    hl_config cfg;
    hl_config_init(&cfg);
    hl_config_set_execution_mode(&cfg, strcmp(mode, "kvm") ? HL_MODE_RUN_IN_PROCESS : HL_MODE_RUN_IN_HYPERVISOR);
    hl_error e = HL_ERROR_INIT;
    hl_sandbox *sb = NULL;
    if (hl_sandbox_create(&sb, path, &cfg, &e) != HL_OK) die("creating the sandbox", &e);
    const hl_type params[2] = {HL_TYPE_I32, HL_TYPE_I32};
    if (host_call && hl_sandbox_register(sb, "host_add", HL_TYPE_I32, params, 2, host_add, NULL, &e) != HL_OK)
        die("registering host_add", &e);
    if (hl_sandbox_initialize(sb, &e) != HL_OK) die("initialising", &e);
    if (!restore && hl_sandbox_context_begin(sb, &e) != HL_OK) die("opening a call context", &e);
    const hl_value args[2] = {hl_i32(2), hl_i32(3)};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < calls; i++) {
        hl_value v;
        if (hl_sandbox_call(sb, host_call ? "add_via_host" : "nothing", host_call ? args : NULL, host_call ? 2 : 0, &v,
                            &e) != HL_OK)
            die("calling", &e);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / (double)calls;
    printf("%s, %s%s: %ld calls, %.1f us per call\n", mode, host_call ? "add_via_host (1 host call)" : "nothing",
           restore ? ", with restore" : ", no restore (in a call context)", calls, us);
    hl_sandbox_destroy(sb);
    return 0;
}
