/* gdbserver.c - the gdb remote stub's server: listens on 127.0.0.1:PORT, talks to one debugger on
 * its own thread (the protocol engine of gdbstub.c runs there), and hands stops and resumes to and
 * from the target's (the sandbox's) thread.
 *
 * The target is RUNNING (inside a run), STOPPED (its thread waits in begin_run or stop for the
 * debugger to resume it) or IDLE (between runs). A debugger that attaches while the target is
 * IDLE holds it there: the next run waits at its start until the debugger resumes. The engine's
 * target operations run on this thread only while the target is STOPPED or held, when nothing
 * else uses the vCPU. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/gdbstub.h"
#include "util/errfmt.h"
#include "util/procid.h"

enum { T_IDLE, T_RUNNING, T_STOPPED };

struct hl_gdb_server {
    int lfd, cfd, efd; /* listening socket, the debugger's, an eventfd that wakes the thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t made_in; /* the process whose thread serves (util/procid.h) */
    hl_gdb_server_hooks hooks;
    hl_gdb_target_ops eng_ops;
    uint64_t text_seg;
    /* all below under mu */
    int tstate;
    int stop_posted; /* the target stopped; the debugger has not been told */
    hl_gdb_stop_info stop;
    int resumed; /* the debugger resumed the target: `resume` is for it */
    hl_gdb_resume resume;
    int attached;       /* a debugger is connected */
    int attached_once;  /* one has been */
    int attach_pending; /* attached while the target ran: its stop is the attach's, not reported */
    int hold;           /* the debugger holds the target between runs */
    int interrupt_sig;  /* asked the running target to stop: SIGINT (0x03) or SIGTRAP (attach) */
    int send_failed;
    int quit;
    hl_gdb eng;
};

static void wake(hl_gdb_server *s)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(s->efd, &one, sizeof(one));
    while (r < 0 && errno == EINTR);
}

/* ---- the engine's target: the hooks, refused while the vCPU may be running ---- */

static int vcpu_idle(const hl_gdb_server *s) { return s->tstate == T_STOPPED || s->hold; }

static int eng_get_regs(void *ctx, hl_gdb_regs *r)
{
    hl_gdb_server *s = ctx;
    return vcpu_idle(s) ? s->hooks.ops.get_regs(s->hooks.ctx, r) : -1;
}

static int eng_set_regs(void *ctx, const hl_gdb_regs *r)
{
    hl_gdb_server *s = ctx;
    return vcpu_idle(s) ? s->hooks.ops.set_regs(s->hooks.ctx, r) : -1;
}

static size_t eng_read_mem(void *ctx, uint64_t addr, uint8_t *buf, size_t len)
{
    hl_gdb_server *s = ctx;
    return vcpu_idle(s) ? s->hooks.ops.read_mem(s->hooks.ctx, addr, buf, len) : 0;
}

static int eng_write_mem(void *ctx, uint64_t addr, const uint8_t *buf, size_t len)
{
    hl_gdb_server *s = ctx;
    return vcpu_idle(s) ? s->hooks.ops.write_mem(s->hooks.ctx, addr, buf, len) : -1;
}

static void eng_send(void *ctx, const void *data, size_t len)
{
    hl_gdb_server *s = ctx;
    const char *p = data;
    while (len && s->cfd >= 0 && !s->send_failed) {
        ssize_t n = send(s->cfd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            s->send_failed = 1;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* ---- the debugger's connection ---- */

static void drop_client(hl_gdb_server *s, int tell_exit)
{
    if (s->cfd < 0) return;
    if (tell_exit && s->eng.running && !s->send_failed) {
        hl_gdb_stop_info exited = {0, HL_GDB_WHY_EXITED, 0};
        hl_gdb_report_stop(&s->eng, &exited);
    }
    shutdown(s->cfd, SHUT_RDWR);
    close(s->cfd);
    s->cfd = -1;
    s->attached = 0;
    s->attach_pending = 0;
    s->hold = 0;
    s->interrupt_sig = 0;
    s->send_failed = 0;
    hl_gdb_clear_breakpoints(&s->eng);
    if (s->tstate == T_STOPPED && !s->resumed) { /* the target goes on without a debugger */
        s->resume = (hl_gdb_resume){HL_GDB_ACT_DETACH, 0, 0, 0};
        s->resumed = 1;
        pthread_cond_broadcast(&s->cv);
    }
}

static void accept_client(hl_gdb_server *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    if (s->cfd >= 0) { /* one debugger at a time */
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->cfd = fd;
    s->attached = 1;
    s->attached_once = 1;
    s->send_failed = 0;
    hl_gdb_init(&s->eng, &s->eng_ops, s, s->text_seg);
    if (s->tstate == T_STOPPED) { /* waiting for us: its stop is the one gdb asks about */
        s->eng.last_stop = s->stop;
        s->stop_posted = 0;
    } else if (s->tstate == T_IDLE) { /* between runs: held until the debugger resumes */
        s->hold = 1;
        s->eng.last_stop = (hl_gdb_stop_info){HL_GDB_SIGTRAP, HL_GDB_WHY_SIGNAL, 0};
    } else { /* running: stop it; gdb's packets wait until it has stopped */
        s->attach_pending = 1;
        s->eng.running = 1;
        s->interrupt_sig = HL_GDB_SIGTRAP;
        s->hooks.interrupt(s->hooks.ctx);
    }
}

/* Tells the debugger about a stop the target posted (an attach's stop silently: gdb asks). */
static void deliver_stop(hl_gdb_server *s)
{
    if (!s->stop_posted || !s->attached) return;
    s->stop_posted = 0;
    if (s->attach_pending) {
        s->attach_pending = 0;
        s->eng.last_stop = s->stop;
        s->eng.running = 0;
    } else {
        hl_gdb_report_stop(&s->eng, &s->stop);
    }
}

static void resume_target(hl_gdb_server *s, hl_gdb_action a)
{
    s->resume = (hl_gdb_resume){a, s->eng.resume_signal, s->eng.resume_has_pc, s->eng.resume_pc};
    if (s->tstate == T_STOPPED || s->hold) {
        s->hold = 0;
        s->resumed = 1;
        pthread_cond_broadcast(&s->cv);
    }
    if (a == HL_GDB_ACT_DETACH || a == HL_GDB_ACT_KILL) drop_client(s, 0);
}

static void feed(hl_gdb_server *s, const uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n && s->cfd >= 0) {
        size_t used;
        hl_gdb_action a = hl_gdb_input(&s->eng, buf + off, n - off, &used);
        off += used;
        if (a == HL_GDB_ACT_INTERRUPT) {
            if (s->tstate == T_RUNNING) {
                s->interrupt_sig = HL_GDB_SIGINT;
                s->hooks.interrupt(s->hooks.ctx);
            } else if (s->tstate == T_IDLE && !s->hold) { /* between runs: stop there */
                s->hold = 1;
                s->stop = (hl_gdb_stop_info){HL_GDB_SIGINT, HL_GDB_WHY_SIGNAL, 0};
                hl_gdb_report_stop(&s->eng, &s->stop);
            }
        } else if (a != HL_GDB_ACT_NONE) {
            resume_target(s, a);
        }
    }
    if (s->send_failed) drop_client(s, 0);
}

static void *server_main(void *arg)
{
    hl_gdb_server *s = arg;
    uint8_t buf[4096];
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        deliver_stop(s);
        struct pollfd p[3] = {{s->efd, POLLIN, 0}, {s->lfd, POLLIN, 0}, {s->cfd, POLLIN, 0}};
        nfds_t np = s->cfd >= 0 && !s->attach_pending ? 3 : 2;
        pthread_mutex_unlock(&s->mu);
        int r = poll(p, np, -1);
        pthread_mutex_lock(&s->mu);
        if (r < 0) continue; /* EINTR: every signal is blocked here, but be safe */
        if (p[0].revents) {
            uint64_t v;
            while (read(s->efd, &v, sizeof(v)) > 0)
                ;
        }
        if (s->quit) break;
        if (p[1].revents & POLLIN) accept_client(s);
        if (np == 3 && s->cfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            int fd = s->cfd; /* only this thread closes it */
            pthread_mutex_unlock(&s->mu);
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            pthread_mutex_lock(&s->mu);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0)
                drop_client(s, 0); /* gdb went away: the target goes on */
            else
                feed(s, buf, (size_t)n);
        }
    }
    drop_client(s, 1);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

hl_status hl_gdb_server_start(hl_gdb_server **out, uint16_t port, uint64_t text_seg,
                              const hl_gdb_server_hooks *hooks, hl_error *err)
{
    hl_gdb_server *s = calloc(1, sizeof(*s));
    if (!s) return hl_errorf(err, HL_E_NOMEM, "out of memory");
    s->lfd = s->cfd = s->efd = -1;
    s->hooks = *hooks;
    s->text_seg = text_seg;
    s->eng_ops = (hl_gdb_target_ops){eng_get_regs, eng_set_regs, eng_read_mem, eng_write_mem, eng_send};
    hl_gdb_init(&s->eng, &s->eng_ops, s, text_seg);
    s->tstate = T_IDLE;
    hl_status st = HL_OK;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never another address */
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 1) != 0) {
        int e = errno;
        st = hl_errorf(err, HL_E_IO, "gdb_port %u: cannot listen on 127.0.0.1:%u: %s%s", (unsigned)port,
                       (unsigned)port, strerror(e),
                       e == EADDRINUSE ? " (another program or sandbox listens there: choose another gdb_port)"
                       : e == EACCES   ? " (ports under 1024 need privileges: choose another gdb_port)"
                                       : "");
        goto fail;
    }
    if ((s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        st = hl_errorf(err, HL_E_IO, "gdb_port %u: eventfd failed: %s", (unsigned)port, strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* the server's thread takes no signal (the process's are for its other threads) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    s->made_in = hl_process_id();
    int rc = pthread_create(&s->thread, NULL, server_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        st = hl_errorf(err, HL_E_NOMEM, "gdb_port %u: could not start the debugger's thread (error %d)",
                       (unsigned)port, rc);
        goto fail;
    }
    *out = s;
    return HL_OK;
fail:
    if (s->lfd >= 0) close(s->lfd);
    if (s->efd >= 0) close(s->efd);
    free(s);
    return st;
}

void hl_gdb_server_destroy(hl_gdb_server *s)
{
    if (!s) return;
    if (s->made_in != hl_process_id()) { /* a forked child: the thread and its lock are the parent's */
        close(s->lfd);
        close(s->efd);
        if (s->cfd >= 0) close(s->cfd);
        free(s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_mutex_unlock(&s->mu);
    wake(s);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- the target's side ---- */

/* Waits (the caller holds mu) until the debugger resumes the target; time limits pause meanwhile. */
static void wait_resume(hl_gdb_server *s, hl_gdb_resume *r)
{
    pthread_mutex_unlock(&s->mu);
    if (s->hooks.pause) s->hooks.pause(s->hooks.ctx, 1);
    pthread_mutex_lock(&s->mu);
    while (!s->resumed && !s->quit)
        pthread_cond_wait(&s->cv, &s->mu);
    *r = s->resumed ? s->resume : (hl_gdb_resume){HL_GDB_ACT_DETACH, 0, 0, 0};
    s->resumed = 0;
    pthread_mutex_unlock(&s->mu);
    if (s->hooks.pause) s->hooks.pause(s->hooks.ctx, 0);
    pthread_mutex_lock(&s->mu);
}

/* Posts a stop for the server to report (the caller holds mu). */
static void post_stop(hl_gdb_server *s, const hl_gdb_stop_info *stop)
{
    s->tstate = T_STOPPED;
    s->stop = *stop;
    s->stop_posted = 1;
    s->interrupt_sig = 0;
    wake(s);
}

int hl_gdb_server_begin_run(hl_gdb_server *s, int wait_attach, hl_gdb_resume *r)
{
    int stopped = 1;
    pthread_mutex_lock(&s->mu);
    if (s->resumed && !s->hold) { /* resumed between runs, before this run came */
        *r = s->resume;
        s->resumed = 0;
    } else if (wait_attach && !s->attached_once) {
        post_stop(s, &(hl_gdb_stop_info){HL_GDB_SIGTRAP, HL_GDB_WHY_SIGNAL, 0});
        wait_resume(s, r);
    } else if (s->hold) {
        s->tstate = T_STOPPED; /* its stop was reported when the hold began */
        wait_resume(s, r);
    } else if (s->interrupt_sig && s->attached) {
        post_stop(s, &(hl_gdb_stop_info){s->interrupt_sig, HL_GDB_WHY_SIGNAL, 0});
        wait_resume(s, r);
    } else {
        stopped = 0;
    }
    s->tstate = T_RUNNING;
    pthread_mutex_unlock(&s->mu);
    return stopped;
}

void hl_gdb_server_end_run(hl_gdb_server *s, int stop_signal)
{
    pthread_mutex_lock(&s->mu);
    s->tstate = T_IDLE;
    int sig = s->interrupt_sig ? s->interrupt_sig : stop_signal;
    if (sig && s->attached) { /* too late for the run: a stop between runs */
        s->hold = 1;
        s->stop = (hl_gdb_stop_info){sig, HL_GDB_WHY_SIGNAL, 0};
        s->stop_posted = 1;
        s->interrupt_sig = 0;
        wake(s);
    }
    pthread_mutex_unlock(&s->mu);
}

int hl_gdb_server_attached(hl_gdb_server *s)
{
    pthread_mutex_lock(&s->mu);
    int a = s->attached;
    pthread_mutex_unlock(&s->mu);
    return a;
}

int hl_gdb_server_take_interrupt(hl_gdb_server *s)
{
    pthread_mutex_lock(&s->mu);
    int sig = s->attached ? s->interrupt_sig : 0;
    s->interrupt_sig = 0;
    pthread_mutex_unlock(&s->mu);
    return sig;
}

void hl_gdb_server_stop(hl_gdb_server *s, const hl_gdb_stop_info *stop, hl_gdb_resume *r)
{
    pthread_mutex_lock(&s->mu);
    if (!s->attached) {
        *r = (hl_gdb_resume){HL_GDB_ACT_DETACH, 0, 0, 0};
    } else {
        post_stop(s, stop);
        wait_resume(s, r);
    }
    s->tstate = T_RUNNING;
    pthread_mutex_unlock(&s->mu);
}

size_t hl_gdb_server_breakpoints(hl_gdb_server *s, uint64_t *sw, size_t max, hl_gdb_hw hw[HL_GDB_HW_SLOTS])
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->eng.nsw < max ? s->eng.nsw : max;
    memcpy(sw, s->eng.sw, n * sizeof(*sw));
    memcpy(hw, s->eng.hw, sizeof(s->eng.hw));
    pthread_mutex_unlock(&s->mu);
    return n;
}
