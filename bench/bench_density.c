/* bench_density.c - host memory per initialised sandbox: PSS and RSS of N live sandboxes, N = 1, 100, 1000. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

/* One reading of the process's memory, in KiB (/proc/self/smaps_rollup), and its thread count.
 * PSS leaves out the pages of a memfd that no mapping has in its page tables at the moment (a
 * sealed snapshot's pages that no call has read since its restore dropped them, say), yet they
 * are memory: `memfd` is what the process's memfds hold, mapped or not, and `total` the PSS with
 * its memfd share replaced by that (each memfd belongs to this process alone). */
typedef struct memory {
    long long pss, rss, anon, shmem, memfd, total;
    long threads;
} memory;

static long long memfd_kib(void)
{
    long long kib = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = '\0';
        struct stat st;
        if (strncmp(target, "/memfd:", 7) == 0 && fstat(atoi(e->d_name), &st) == 0)
            kib += (long long)st.st_blocks / 2; /* 512-byte blocks */
    }
    closedir(d);
    return kib;
}

static long long field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? atoll(p + strlen(name)) : -1;
}

static int read_memory(memory *m)
{
    char buf[4096];
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    m->pss = field(buf, "\nPss:");
    m->rss = field(buf, "\nRss:");
    m->anon = field(buf, "\nPss_Anon:");
    m->shmem = field(buf, "\nPss_Shmem:");
    m->memfd = memfd_kib();
    m->total = m->pss - m->shmem + m->memfd;
    m->threads = 0;
    DIR *d = opendir("/proc/self/task");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            m->threads += e->d_name[0] != '.';
        closedir(d);
    }
    return m->pss < 0 ? -1 : 0;
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--mode inproc|kvm] [--guests DIR] [--counts N,N,...]\n"
            "       %s --snapshot FILE [--counts N,N,...]\n"
            "Creates and initialises N sandboxes of simpleguest (default settings), calls `nothing`\n"
            "once on each (a call with restore), and reports the process's PSS and RSS growth per\n"
            "sandbox (from /proc/self/smaps_rollup), for each N in turn (default 1,100,1000).\n"
            "With --snapshot, the N sandboxes are made from the snapshot FILE (`hyperlight snapshot`\n"
            "writes one; its mode is the snapshot's), opened once before the first reading.\n",
            argv0, argv0);
}

int main(int argc, char **argv)
{
    const char *mode = "inproc", *guests = NULL, *counts = "1,100,1000", *snapshot = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc)
            snapshot = argv[++i];
        else if (strcmp(argv[i], "--guests") == 0 && i + 1 < argc)
            guests = argv[++i];
        else if (strcmp(argv[i], "--counts") == 0 && i + 1 < argc)
            counts = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    bool kvm = strcmp(mode, "kvm") == 0;
    if (!kvm && strcmp(mode, "inproc") != 0) {
        usage(stderr, argv[0]);
        return 2;
    }
    hl_snapshot *snap = NULL;
    if (snapshot) {
        hl_error err = HL_ERROR_INIT;
        if (hl_snapshot_open(&snap, snapshot, &err) != HL_OK) {
            fprintf(stderr, "bench_density: %s\n", err.message);
            return 1;
        }
        kvm = hl_snapshot_mode(snap) == HL_MODE_RUN_IN_HYPERVISOR;
    }
    char guest[PATH_MAX];
    snprintf(guest, sizeof guest, "%s/simpleguest", guests ? guests : ".");
    if (snapshot)
        snprintf(guest, sizeof guest, "%s (snapshot)", snapshot);
    else if (access(guest, R_OK) != 0) {
        fprintf(stderr, "bench_density: %s: %s (give --guests DIR)\n", guest, strerror(errno));
        return 1;
    }
    /* 1000 sandboxes hold 1000 threads and 2000+ file descriptors */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    hl_config cfg;
    hl_config_init(&cfg);
    hl_config_set_execution_mode(&cfg, kvm ? HL_MODE_RUN_IN_HYPERVISOR : HL_MODE_RUN_IN_PROCESS);
    if (snap)
        hl_snapshot_get_config(snap, &cfg);
    hl_config_set_max_initialization_time(&cfg, 60000);
    hl_config_set_max_execution_time(&cfg, 60000);

    printf("bench_density: mode %s, guest %s\n", kvm ? "RunInHypervisor (KVM)" : "RunInProcess", guest);
    printf("host memory of N live, initialised sandboxes, each called once (growth of the process's\n"
           "PSS and RSS from /proc/self/smaps_rollup, and of its memory: the PSS with the memfds counted\n"
           "whole, mapped or not; KiB per sandbox = growth / N)\n\n");
    printf("%6s  %12s  %12s  %12s  %12s  %12s  %14s  %12s  %12s  %8s\n", "N", "memory KiB", "per sandbox",
           "PSS KiB", "per sandbox", "RSS/sandbox", "anon/shmem PSS", "guest memory", "dirtied KiB", "threads");
    uint64_t guest_kib = 0;
    for (const char *p = counts; *p;) {
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (end == p || n == 0) {
            usage(stderr, argv[0]);
            return 2;
        }
        p = *end == ',' ? end + 1 : end;
        hl_sandbox **sb = calloc(n, sizeof *sb);
        if (!sb) return 1;
        memory before, after;
        read_memory(&before);
        uint64_t dirtied = 0; /* pages the call dirtied (and the restore copied back), all sandboxes */
        for (unsigned long i = 0; i < n; i++) {
            hl_error err = HL_ERROR_INIT;
            hl_value result;
            if ((snap ? hl_sandbox_create_from_snapshot(&sb[i], snap, &cfg, &err)
                      : hl_sandbox_create(&sb[i], guest, &cfg, &err)) != HL_OK ||
                hl_sandbox_initialize(sb[i], &err) != HL_OK ||
                hl_sandbox_call(sb[i], "nothing", NULL, 0, &result, &err) != HL_OK) {
                fprintf(stderr, "bench_density: sandbox %lu of %lu: %s\n", i + 1, n, err.message);
                return 1;
            }
            guest_kib = hl_sandbox_layout(sb[i])->total_size / 1024;
            hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
            hl_sandbox_get_stats(sb[i], &st);
            dirtied += st.last_restore_pages;
        }
        if (read_memory(&after) != 0) {
            fprintf(stderr, "bench_density: cannot read /proc/self/smaps_rollup\n");
            return 1;
        }
        long long dp = after.pss - before.pss, dr = after.rss - before.rss;
        char split[32];
        snprintf(split, sizeof split, "%lld/%lld", (after.anon - before.anon) / (long long)n,
                 (after.shmem - before.shmem) / (long long)n);
        long long dt = after.total - before.total;
        printf("%6lu  %12lld  %12.1f  %12lld  %12.1f  %12.1f  %14s  %12llu  %12.1f  %8ld\n", n, dt,
               (double)dt / (double)n, dp, (double)dp / (double)n, (double)dr / (double)n, split, (unsigned long long)guest_kib, (double)dirtied * 4.0 / (double)n,
               after.threads);
        fflush(stdout);
        for (unsigned long i = 0; i < n; i++)
            hl_sandbox_destroy(sb[i]);
        free(sb);
    }
    printf("\n(per sandbox: KiB of host memory one more initialised sandbox costs; guest memory: the\n"
           "sandbox's size in KiB, of which only the pages it touched are resident; dirtied: KiB of\n"
           "pages the call dirtied per sandbox, which its restore copied back, or dropped)\n");
    hl_snapshot_close(snap);
    return 0;
}
