/* gdbstub.h - a GDB Remote Serial Protocol stub: the protocol engine (gdbstub.c, no I/O of its own,
 * driven through an ops table so it is tested with a fake target) and the server that listens on
 * 127.0.0.1 and hands stops between the sandbox thread and the debugger (gdbserver.c). */
#ifndef HL_BACKEND_GDBSTUB_H
#define HL_BACKEND_GDBSTUB_H

#include <stddef.h>
#include <stdint.h>

#include "hyperlight/error.h"

/* The largest packet the stub accepts and sends (payload bytes), advertised in qSupported. */
#define HL_GDB_PACKET_SIZE 0x4000u
#define HL_GDB_MAX_SW_BREAKPOINTS 64u
#define HL_GDB_HW_SLOTS 4u /* DR0-DR3 */

/* The registers of the target description, in its order (gdb's regnums 0..58):
 * rax rbx rcx rdx rsi rdi rbp rsp r8..r15 (0-15), rip (16), eflags (17), cs ss ds es fs gs
 * (18-23), st0..st7 (24-31), fctrl fstat ftag fiseg fioff foseg fooff fop (32-39), xmm0..xmm15
 * (40-55), mxcsr (56), fs_base gs_base (57, 58). */
#define HL_GDB_NREGS 59
typedef struct hl_gdb_regs {
    uint64_t gpr[16];
    uint64_t rip;
    uint32_t eflags;
    uint32_t seg[6];
    uint8_t st[8][10]; /* 80-bit extended, ST(0) first */
    uint32_t fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop; /* ftag: the full 16-bit tag word */
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    uint64_t fs_base, gs_base;
} hl_gdb_regs;

/* GDB's signal numbers (they are gdb's own, not the host's). */
#define HL_GDB_SIGINT 2
#define HL_GDB_SIGILL 4
#define HL_GDB_SIGTRAP 5
#define HL_GDB_SIGABRT 6
#define HL_GDB_SIGFPE 8
#define HL_GDB_SIGKILL 9
#define HL_GDB_SIGBUS 10
#define HL_GDB_SIGSEGV 11

/* Why the target stopped, for the stop reply. */
typedef enum hl_gdb_why {
    HL_GDB_WHY_SIGNAL,  /* a signal only (an interrupt, a fault, a step) */
    HL_GDB_WHY_SWBREAK, /* a Z0 breakpoint at the stop's pc ("swbreak") */
    HL_GDB_WHY_HWBREAK, /* a Z1 breakpoint ("hwbreak") */
    HL_GDB_WHY_WATCH,   /* a Z2 watchpoint at addr ("watch") */
    HL_GDB_WHY_RWATCH,  /* Z3 ("rwatch") */
    HL_GDB_WHY_AWATCH,  /* Z4 ("awatch") */
    HL_GDB_WHY_EXITED,  /* the target is gone: "W00" */
} hl_gdb_why;

typedef struct hl_gdb_stop_info {
    int signal; /* HL_GDB_SIG*, for every why but EXITED */
    hl_gdb_why why;
    uint64_t addr; /* the watched address that triggered (WATCH, RWATCH, AWATCH) */
} hl_gdb_stop_info;

/* What the target does for the engine. Memory addresses are the target's virtual addresses. */
typedef struct hl_gdb_target_ops {
    /* 0, or -1 when the registers cannot be read (or written) now */
    int (*get_regs)(void *ctx, hl_gdb_regs *regs);
    int (*set_regs)(void *ctx, const hl_gdb_regs *regs);
    /* copies up to len bytes from addr; returns how many, from the start, were readable */
    size_t (*read_mem)(void *ctx, uint64_t addr, uint8_t *buf, size_t len);
    /* writes all len bytes and returns 0, or writes nothing and returns -1 when any is not mapped */
    int (*write_mem)(void *ctx, uint64_t addr, const uint8_t *buf, size_t len);
    /* sends bytes to the debugger */
    void (*send)(void *ctx, const void *data, size_t len);
} hl_gdb_target_ops;

/* A hardware breakpoint or watchpoint (Z1..Z4) in one of the four slots. */
typedef struct hl_gdb_hw {
    int type;     /* 0: free; 1: execute (Z1), 2: write (Z2), 3: read (Z3), 4: access (Z4) */
    uint64_t addr;
    unsigned len; /* 1 for Z1; 1, 2, 4 or 8 for watchpoints, addr aligned to it */
} hl_gdb_hw;

/* What a packet asks of the target. */
typedef enum hl_gdb_action {
    HL_GDB_ACT_NONE,
    HL_GDB_ACT_CONTINUE,
    HL_GDB_ACT_STEP,
    HL_GDB_ACT_DETACH,    /* D: breakpoints are gone; the target runs on without the debugger */
    HL_GDB_ACT_KILL,      /* k, vKill */
    HL_GDB_ACT_INTERRUPT, /* 0x03 while the target runs */
} hl_gdb_action;

typedef struct hl_gdb {
    const hl_gdb_target_ops *ops;
    void *ctx;
    uint64_t text_seg; /* qOffsets: where the guest ELF's first loadable segment is */
    int running;          /* resumed and not stopped since: 0x03 interrupts, c/s are ignored */
    int no_ack;           /* QStartNoAckMode */
    /* the packet being received */
    int state;
    uint8_t sum;
    char sum_text[2];
    size_t len;
    int overflow;
    char pkt[HL_GDB_PACKET_SIZE + 1];
    /* breakpoints: the engine's own table; the target applies it while it runs */
    uint64_t sw[HL_GDB_MAX_SW_BREAKPOINTS];
    size_t nsw;
    hl_gdb_hw hw[HL_GDB_HW_SLOTS];
    unsigned hw_generation; /* bumped on every change of hw[] */
    hl_gdb_stop_info last_stop;
    /* a resume may give a signal (C, S) and a new pc (c ADDR, s ADDR) */
    int resume_signal;
    int resume_has_pc;
    uint64_t resume_pc;
    /* the last packet sent (resent on '-') */
    char *last;
    size_t last_len;
    char out[2 * HL_GDB_PACKET_SIZE + 8]; /* a reply being built, then framed into `last` */
    char frame[2 * HL_GDB_PACKET_SIZE + 8];
} hl_gdb;

/* text_seg: the address where the guest ELF's first PT_LOAD segment was loaded (qOffsets answers
 * TextSeg=: gdb relocates every segment of the file by the same amount, a PIE's case). */
void hl_gdb_init(hl_gdb *g, const hl_gdb_target_ops *ops, void *ctx, uint64_t text_seg);
/* Feeds bytes from the debugger. Stops after a packet that asks for an action (or an 0x03 that
 * interrupts) and returns it; *used says how many bytes were consumed (the rest must be fed
 * again). HL_GDB_ACT_NONE when all were consumed. CONTINUE and STEP set `running`. */
hl_gdb_action hl_gdb_input(hl_gdb *g, const uint8_t *data, size_t len, size_t *used);
/* The target stopped: remembers why (for `?`), clears `running` and sends the stop reply. */
void hl_gdb_report_stop(hl_gdb *g, const hl_gdb_stop_info *stop);
/* Whether addr holds a Z0 breakpoint. */
int hl_gdb_has_sw_breakpoint(const hl_gdb *g, uint64_t addr);
/* Forgets every breakpoint and watchpoint (detach). */
void hl_gdb_clear_breakpoints(hl_gdb *g);
/* The signal a CPU exception vector stops with (SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS), the same
 * choice as core dumps make. */
int hl_gdb_signal_of_vector(unsigned vector);

/* The target description (qXfer:features:read:target.xml), NUL-terminated. */
extern const char hl_gdb_target_xml[];

/* ---- the server (gdbserver.c) ---- */

typedef struct hl_gdb_server hl_gdb_server;

/* What the target gives the server. ops (send is not used: the server sends) run on the server's
 * thread, only while the target is stopped or between runs (the vCPU is idle then). */
typedef struct hl_gdb_server_hooks {
    hl_gdb_target_ops ops;
    void *ctx;
    /* on the server's thread: make the running guest stop (an 0x03, or a debugger attaching) */
    void (*interrupt)(void *ctx);
    /* on the target's thread: the debugger holds the guest (1) or lets it go (0) */
    void (*pause)(void *ctx, int paused);
} hl_gdb_server_hooks;

/* How the debugger resumed a stopped target. */
typedef struct hl_gdb_resume {
    hl_gdb_action action; /* CONTINUE, STEP, DETACH (also: the debugger went away) or KILL */
    int signal;           /* C/S: the signal to deliver (0: none) */
    int has_pc;           /* c ADDR / s ADDR */
    uint64_t pc;
} hl_gdb_resume;

/* Listens on 127.0.0.1:port (SO_REUSEADDR, one debugger at a time) and starts the server's
 * thread. HL_E_IO naming the address and the reason (e.g. in use) on failure. */
hl_status hl_gdb_server_start(hl_gdb_server **out, uint16_t port, uint64_t text_seg,
                              const hl_gdb_server_hooks *hooks, hl_error *err);
/* Ends the thread and closes the sockets; a debugger waiting for the target hears it exited. */
void hl_gdb_server_destroy(hl_gdb_server *s);

/* ---- on the target's thread ---- */

/* A run begins. Waits while a debugger holds the target between runs (the stop it saw then is
 * this entry's). With wait_attach, and when no debugger has attached yet, first waits for one
 * and reports this entry to it as a stop (SIGTRAP); a pending 0x03 is reported here too.
 * Returns 1 when the target stopped (*r says how it was resumed), 0 when the run goes on. */
int hl_gdb_server_begin_run(hl_gdb_server *s, int wait_attach, hl_gdb_resume *r);
/* The run is over. An interrupt that came too late for it, or stop_signal (non-zero: a step
 * that ran off the end of the run), is a stop between runs. */
void hl_gdb_server_end_run(hl_gdb_server *s, int stop_signal);
/* Whether a debugger is attached now. */
int hl_gdb_server_attached(hl_gdb_server *s);
/* The signal of an interrupt the server asked for (SIGINT for 0x03, SIGTRAP for an attach), and
 * forgets it; 0 when none. */
int hl_gdb_server_take_interrupt(hl_gdb_server *s);
/* The target stopped: reports it and waits until the debugger resumes it (*r). Without a
 * debugger, returns at once with DETACH. */
void hl_gdb_server_stop(hl_gdb_server *s, const hl_gdb_stop_info *stop, hl_gdb_resume *r);
/* The breakpoint tables as the debugger left them: up to max Z0 addresses (returns their
 * number) and the four hardware slots. */
size_t hl_gdb_server_breakpoints(hl_gdb_server *s, uint64_t *sw, size_t max, hl_gdb_hw hw[HL_GDB_HW_SLOTS]);

#endif
