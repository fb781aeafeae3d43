/* test_gdb.c - gdb itself (batch mode) debugging gdbguest, as docs/debugging.md tells a
 * guest author to:
 *  - RunInHypervisor: a host process runs the sandbox with gdb_port set; `gdb GUEST` with
 *    `target remote 127.0.0.1:PORT` breaks in a guest function, shows the call chain, rip,
 *    a local and globals, finishes, steps, watches a global with a hardware watchpoint, lets the
 *    call end, and stops at the faulting line of a crashing guest;
 *  - RunInProcess: gdb runs the host process, loads the guest's symbols with the command
 *    hl_sandbox_gdb_command() gives (`add-symbol-file ... -o OFFSET`), breaks in the guest with a
 *    hardware breakpoint and shows the call chain and variables.
 * Every check is on gdb's exact output lines. $HL_TEST_GDB is the gdb (CTest: gdb-minimal's, from the
 * fixture gdb.vm.fetch). */
#include "rt.h"

#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT 47700
#define SOURCE HL_SOURCE_DIR "/guest/tests/gdbguest.c"

/* ---- the guest's lines, from their GDB-LINE markers ---- */

static int line_of(const char *marker)
{
    FILE *f = fopen(SOURCE, "r");
    if (!f) fail_msg("cannot read %s: %s", SOURCE, strerror(errno));
    char buf[512], want[128];
    snprintf(want, sizeof(want), "GDB-LINE: %s */", marker);
    int n = 0, found = 0;
    while (fgets(buf, sizeof(buf), f)) {
        n++;
        if (strstr(buf, want)) {
            found = n;
            break;
        }
    }
    fclose(f);
    if (!found) fail_msg("no marker `%s` in %s", marker, SOURCE);
    return found;
}

/* ---- the guest's symbols ---- */

static uint64_t sym(const char *name)
{
    FILE *f = fopen(rt_guest("gdbguest"), "rb");
    assert_non_null(f);
    static uint8_t img[1 << 21];
    size_t len = fread(img, 1, sizeof(img), f);
    fclose(f);
    assert_true(len > 64);
#define U64(o) (*(const uint64_t *)(const void *)(img + (o)))
#define U32(o) (*(const uint32_t *)(const void *)(img + (o)))
#define U16(o) (*(const uint16_t *)(const void *)(img + (o)))
    uint64_t shoff = U64(0x28);
    for (unsigned i = 0; i < U16(0x3C); i++) {
        size_t sh = (size_t)shoff + (size_t)i * U16(0x3A);
        if (U32(sh + 4) != 2) continue;
        size_t strsh = (size_t)shoff + (size_t)U32(sh + 0x28) * U16(0x3A);
        for (size_t s = (size_t)U64(sh + 0x18); s + 24 <= U64(sh + 0x18) + U64(sh + 0x20); s += 24)
            if (strcmp((const char *)img + U64(strsh + 0x18) + U32(s), name) == 0) return U64(s + 8);
    }
    fail_msg("no symbol %s", name);
    return 0;
}

/* ---- running a program and reading all it prints ---- */

/* Runs argv with stdout and stderr into *out (malloc'd, NUL-terminated); returns its exit status
 * (or -1), killing it after timeout_s. */
static int run_capture(char *const argv[], char **out, int timeout_s)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    double end = rt_now_ms() + timeout_s * 1000.0;
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        int left = (int)(end - rt_now_ms());
        int r = left > 0 ? poll(&pf, 1, left) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (len + 4096 >= cap) buf = realloc(buf, cap *= 2);
        assert_non_null(buf);
        if (r == 0) {
            kill(pid, SIGKILL);
            len += (size_t)snprintf(buf + len, cap - len, "\n[killed after %d s]\n", timeout_s);
            break;
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) len += (size_t)snprintf(buf + len, cap - len, "\n[read: %s]\n", strerror(errno));
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        char tail[96];
        snprintf(tail, sizeof(tail), "\n[%s exited: %s %d]\n", argv[0], WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        buf = realloc(buf, len + sizeof(tail));
        assert_non_null(buf);
        strcpy(buf + len, tail);
    }
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- checking output lines in order ---- */

static const char *g_also; /* printed with a failure too: the other program's output */

typedef struct lines {
    const char *text;
    const char *at; /* where the next expectation starts looking */
    const char *what;
} lines;

/* The next line (from l->at on) that matches the extended regex; fills up to 4 groups. */
static void expect(lines *l, const char *re, regmatch_t *m)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE) != 0) fail_msg("bad regex %s", re);
    regmatch_t local[5];
    regmatch_t *g = m ? m : local;
    int r = regexec(&rx, l->at, 5, g, 0);
    regfree(&rx);
    if (r != 0) {
        /* stderr: cmocka's print_error cuts long text */
        fprintf(stderr, "---- %s printed:\n%s---- end\n", l->what, l->text);
        if (g_also && g_also != l->text) fprintf(stderr, "---- and the other:\n%s---- end\n", g_also);
        fail_msg("%s: no line matching /%s/ after offset %zu", l->what, re, (size_t)(l->at - l->text));
    }
    for (int i = 1; i < 5; i++)
        if (g[i].rm_so >= 0) {
            g[i].rm_so += (regoff_t)(l->at - l->text);
            g[i].rm_eo += (regoff_t)(l->at - l->text);
        }
    l->at += g[0].rm_eo;
}

static uint64_t group_hex(const lines *l, const regmatch_t *g)
{
    return strtoull(l->text + g->rm_so, NULL, 16);
}

static const char *gdb_path(void)
{
    const char *g = getenv("HL_TEST_GDB");
    if (!g || !*g) fail_msg("HL_TEST_GDB is not set: the path of gdb (the fixture gdb.vm.fetch puts one in build/gdb-vm)");
    return g;
}

static char *write_script(const char *text)
{
    static char path[] = "/tmp/hl-gdb-cmds.XXXXXX";
    strcpy(path, "/tmp/hl-gdb-cmds.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* ---- RunInHypervisor: the remote stub ---- */

/* The host: a sandbox with the stub on `port`, compute(7) then crash(0); prints the results. */
static void host_kvm(unsigned port, int ready)
{
    hl_config cfg;
    hl_config_init(&cfg);
    hl_config_set_gdb_port(&cfg, port);
    hl_sandbox *sb;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, rt_guest("gdbguest"), &cfg, &err) || hl_sandbox_initialize(sb, &err)) {
        printf("host: %s\n", err.message);
        _exit(1);
    }
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    hl_sandbox_debug_info(sb, &info);
    printf("host: load offset %#llx\n", (unsigned long long)info.load_offset);
    fflush(stdout);
    if (ready >= 0 && write(ready, "R", 1) != 1) _exit(1);
    hl_value v;
    if (hl_sandbox_call(sb, "compute", (hl_value[]){hl_i32(7)}, 1, &v, &err) == HL_OK)
        printf("host: compute(7) = %d\n", v.u.i32);
    else
        printf("host: compute(7) failed: %s\n", err.message);
    fflush(stdout);
    if (hl_sandbox_call(sb, "crash", (hl_value[]){hl_u64(0)}, 1, &v, &err) == HL_OK)
        printf("host: crash(0) returned\n");
    else
        printf("host: crash(0): %s: %s\n", hl_status_str(err.status), err.message);
    fflush(stdout);
    hl_sandbox_destroy(sb);
    _exit(0);
}

/* ---- RunInProcess: gdb attached to the host process ---- */

/* gdb breaks here, once the sandbox exists, to read the commands the host wrote. */
__attribute__((noinline)) void hl_test_debug_ready(void) { __asm__ volatile(""); }

/* The in-process host gdb runs: writes hl_sandbox_gdb_command()'s lines to `cmds`, then calls
 * compute(7). */
static void host_inproc(const char *cmds)
{
    hl_config cfg;
    hl_config_init(&cfg);
    hl_config_set_execution_mode(&cfg, HL_MODE_RUN_IN_PROCESS);
    hl_config_set_gdb_port(&cfg, 1); /* RunInProcess: no socket; no time limits */
    hl_sandbox *sb;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, rt_guest("gdbguest"), &cfg, &err)) {
        printf("host: %s\n", err.message);
        exit(1);
    }
    char text[8192];
    hl_sandbox_gdb_command(sb, text, sizeof(text));
    FILE *f = fopen(cmds, "w");
    if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
        printf("host: cannot write %s\n", cmds);
        exit(1);
    }
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    hl_sandbox_debug_info(sb, &info);
    printf("host: load offset %#llx\n", (unsigned long long)info.load_offset);
    fflush(stdout);
    hl_test_debug_ready();
    hl_value v;
    if (hl_sandbox_initialize(sb, &err) != HL_OK)
        printf("host: initialize: %s\n", err.message);
    else if (hl_sandbox_call(sb, "compute", (hl_value[]){hl_i32(7)}, 1, &v, &err) == HL_OK)
        printf("host: compute(7) = %d\n", v.u.i32);
    else
        printf("host: compute(7) failed: %s\n", err.message);
    fflush(stdout);
    hl_sandbox_destroy(sb);
    exit(0);
}

/* What gdb stops at to see whether this machine's CPU delivers hardware breakpoints. */
__attribute__((noinline)) void hl_test_hbreak_target(void) { __asm__ volatile(""); }

/* In-process gdb uses hardware breakpoints for the guest's read-only code. Some virtual machines
 * never deliver them (their hypervisor does not pass the debug registers through): gdb then runs
 * past every one. 1 when an `hbreak` stops this program here. */
static int hardware_breakpoints_work(const char *self)
{
    char *script = write_script("set pagination off\nbreak main\nrun\nhbreak hl_test_hbreak_target\ncontinue\n");
    char *argv[] = {(char *)gdb_path(), "-nx", "-batch", "-x", script, "--args", (char *)self, "--hbreak-probe", NULL};
    char *out;
    run_capture(argv, &out, 60);
    unlink(script);
    int ok = strstr(out, "Breakpoint 2, hl_test_hbreak_target") != NULL;
    if (!ok) fprintf(stderr, "---- gdb printed:\n%s---- end\n", out);
    free(out);
    return ok;
}

/* gdb runs the host; the guest's symbols come from the commands the host wrote. */
static void test_gdb_inproc(void **state)
{
    (void)state;
    if (rt_mode() != HL_MODE_RUN_IN_PROCESS) {
        skip();
        return;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    if (!hardware_breakpoints_work(self)) {
        fprintf(stderr, "this machine does not deliver hardware breakpoints (gdb ran past an hbreak in a plain "
                        "program): the in-process gdb session cannot be tried here\n");
        skip();
        return;
    }
    char sym_cmds[] = "/tmp/hl-gdb-sym.XXXXXX";
    int fd = mkstemp(sym_cmds);
    assert_true(fd >= 0);
    close(fd);
    char cmds[4096];
    snprintf(cmds, sizeof(cmds),
             "set pagination off\nset confirm off\nset width 0\n"
             "break hl_test_debug_ready\nrun\nsource %s\n"
             "break leaf\ncontinue\nbt 3\nprint x\nprint counter\nprint motto\n"
             "finish\nstep\nwatch counter\ncontinue\ndelete\ncontinue\n",
             sym_cmds);
    char *script = write_script(cmds);
    char *out;
    char *argv[] = {(char *)gdb_path(), "-nx", "-batch", "-x", script, "--args", self, "--host-inproc", sym_cmds, NULL};
    int st = run_capture(argv, &out, 300);
    unlink(script);
    unlink(sym_cmds);
    lines l = {out, out, "gdb"};
    regmatch_t g[5];
    char re[512];
    expect(&l, "^host: load offset 0x([0-9a-f]+)$", g);
    uint64_t off = group_hex(&l, &g[1]);
    snprintf(re, sizeof(re), "^add symbol table from file \".*/gdbguest\" with all sections offset by 0x%llx$",
             (unsigned long long)off);
    expect(&l, re, NULL);
    /* the guest runs on the caller's (the only) thread: gdb names no thread */
    snprintf(re, sizeof(re), "^Breakpoint 2, leaf \\(x=8\\) at .*gdbguest\\.c:%d$",
             line_of("leaf-doubled"));
    expect(&l, re, NULL);
    expect(&l, "^#0  leaf \\(x=8\\) at .*gdbguest\\.c:[0-9]+$", NULL);
    snprintf(re, sizeof(re), "^#1  0x[0-9a-f]+ in middle \\(x=7\\) at .*gdbguest\\.c:%d$", line_of("middle-call"));
    expect(&l, re, NULL);
    snprintf(re, sizeof(re), "^#2  0x[0-9a-f]+ in compute \\(args=0x[0-9a-f]+, ret=0x[0-9a-f]+\\) at .*gdbguest\\.c:%d$",
             line_of("compute-middle"));
    expect(&l, re, NULL);
    expect(&l, "^\\$1 = 8$", NULL);
    expect(&l, "^\\$2 = 5$", NULL);
    expect(&l, "^\\$3 = \"debug me\"$", NULL);
    expect(&l, "^Value returned is \\$4 = 17$", NULL);
    snprintf(re, sizeof(re), "^%d\t +return r \\* 3;", line_of("middle-return"));
    expect(&l, re, NULL);
    expect(&l, "^Hardware watchpoint 3: counter$", NULL);
    expect(&l, "^Old value = 21$", NULL);
    expect(&l, "^New value = 72$", NULL);
    expect(&l, "^host: compute\\(7\\) = 123$", NULL);
    expect(&l, "^\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]$", NULL);
    assert_int_equal(st, 0);
    free(out);
}

static void test_gdb_remote(void **state)
{
    (void)state;
    if (rt_mode() != HL_MODE_RUN_IN_HYPERVISOR) {
        skip();
        return;
    }
    unsigned port = PORT + 1;
    int ready[2], out[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(out), 0);
    fflush(NULL);
    pid_t host = fork();
    assert_true(host >= 0);
    if (host == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(out[0]);
        close(ready[0]);
        host_kvm(port, ready[1]);
    }
    close(out[1]);
    close(ready[1]);
    char r;
    assert_int_equal(read(ready[0], &r, 1), 1); /* listening, initialised: the call waits for gdb */
    close(ready[0]);

    char cmds[4096];
    snprintf(cmds, sizeof(cmds),
             "set pagination off\nset confirm off\nset width 0\n"
             "target remote 127.0.0.1:%u\n"
             "break *leaf\ncontinue\ninfo registers rip\nbt\ndelete\n"
             "break gdbguest.c:%d\ncontinue\nprint doubled\nprint counter\nprint motto\n"
             "finish\nstep\n"
             "watch counter\ncontinue\ndelete\n"
             "continue\n"      /* compute ends; the next call, crash, stops at its fault */
             "bt\ncontinue\n", /* the call ends with its error; the host exits */
             port, line_of("leaf-counter"));
    char *script = write_script(cmds);
    char *gdb_out;
    char *argv[] = {(char *)gdb_path(), "-nx", "-batch", "-x", script, (char *)rt_guest("gdbguest"), NULL};
    int gst = run_capture(argv, &gdb_out, 600);
    unlink(script);
    /* the host's output */
    char host_out[8192];
    size_t hl = 0;
    ssize_t n;
    while ((n = read(out[0], host_out + hl, sizeof(host_out) - 1 - hl)) > 0) hl += (size_t)n;
    host_out[hl] = '\0';
    close(out[0]);
    int status;
    waitpid(host, &status, 0);

    g_also = gdb_out;
    lines h = {host_out, host_out, "the host"};
    regmatch_t g[5];
    expect(&h, "^host: load offset 0x([0-9a-f]+)$", g);
    uint64_t off = group_hex(&h, &g[1]);
    expect(&h, "^host: compute\\(7\\) = 123$", NULL);
    expect(&h, "^host: crash\\(0\\): guest fault: the guest faulted in the call to `crash`: #PF page fault "
               "\\(vector 14, error code 0x2: write of an unmapped page\\) at address 0 \\(below the sandbox: a "
               "NULL pointer\\?\\), rip 0x[0-9a-f]+$", NULL);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    g_also = host_out;
    lines l = {gdb_out, gdb_out, "gdb"};
    char re[512];
    /* break *leaf: rip is leaf's address, as the ELF and the load offset say */
    expect(&l, "^Breakpoint 1 at 0x[0-9a-f]+: file .*gdbguest\\.c, line [0-9]+\\.$", NULL);
    expect(&l, "^Breakpoint 1, leaf \\(x=-?[0-9]+\\) at .*gdbguest\\.c:[0-9]+$", NULL);
    expect(&l, "^rip +0x([0-9a-f]+) +0x([0-9a-f]+) <leaf>$", g);
    assert_int_equal(group_hex(&l, &g[1]), off + sym("leaf"));
    /* the call chain, by name */
    expect(&l, "^#0  leaf \\(x=-?[0-9]+\\) at .*gdbguest\\.c:[0-9]+$", NULL);
    snprintf(re, sizeof(re), "^#1  0x[0-9a-f]+ in middle \\(x=7\\) at .*gdbguest\\.c:%d$", line_of("middle-call"));
    expect(&l, re, NULL);
    snprintf(re, sizeof(re), "^#2  0x[0-9a-f]+ in compute \\(args=0x[0-9a-f]+, ret=0x[0-9a-f]+\\) at .*gdbguest\\.c:%d$",
             line_of("compute-middle"));
    expect(&l, re, NULL);
    /* a line breakpoint, a local and two globals */
    snprintf(re, sizeof(re), "^Breakpoint 2, leaf \\(x=8\\) at .*gdbguest\\.c:%d$", line_of("leaf-counter"));
    expect(&l, re, NULL);
    expect(&l, "^\\$1 = 16$", NULL);
    expect(&l, "^\\$2 = 5$", NULL);
    expect(&l, "^\\$3 = \"debug me\"$", NULL);
    /* finish: the value leaf returns */
    snprintf(re, sizeof(re), "^0x[0-9a-f]+ in middle \\(x=7\\) at .*gdbguest\\.c:%d$", line_of("middle-call"));
    expect(&l, re, NULL);
    expect(&l, "^Value returned is \\$4 = 17$", NULL);
    /* step: to middle's next line */
    snprintf(re, sizeof(re), "^%d\t +return r \\* 3;", line_of("middle-return"));
    expect(&l, re, NULL);
    /* a hardware watchpoint on counter fires in compute */
    expect(&l, "^Hardware watchpoint 3: counter$", NULL);
    expect(&l, "^Hardware watchpoint 3: counter$", NULL);
    expect(&l, "^Old value = 21$", NULL);
    expect(&l, "^New value = 72$", NULL);
    /* the crash stops at its faulting line, before the call ends */
    expect(&l, "^Program received signal SIGSEGV, Segmentation fault\\.$", NULL);
    snprintf(re, sizeof(re), "^(0x[0-9a-f]+ in )?poke \\(p=0x0, value=42\\) at .*gdbguest\\.c:%d$", line_of("poke-store"));
    expect(&l, re, NULL);
    snprintf(re, sizeof(re), "^%d\t +\\*p = value;", line_of("poke-store"));
    expect(&l, re, NULL);
    snprintf(re, sizeof(re), "^#1  0x[0-9a-f]+ in crash \\(args=0x[0-9a-f]+, ret=0x[0-9a-f]+\\) at .*gdbguest\\.c:%d$",
             line_of("crash-poke"));
    expect(&l, re, NULL);
    /* the sandbox is destroyed: gdb hears the target exited */
    expect(&l, "^\\[Inferior 1 \\(.*\\) exited normally\\]$", NULL);
    assert_int_equal(gst, 0);
    free(gdb_out);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--host") == 0) /* the host alone, to try gdb by hand */
        host_kvm((unsigned)atoi(argv[2]), -1);
    if (argc == 3 && strcmp(argv[1], "--host-inproc") == 0) /* what gdb runs in-process */
        host_inproc(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--hbreak-probe") == 0) {
        hl_test_hbreak_target();
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gdb_remote),
        cmocka_unit_test(test_gdb_inproc),
    };
    return rt_run("gdb", tests);
}
