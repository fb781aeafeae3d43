/* rt.h - helpers shared by the runtime suite: mode and guests from the environment, sandboxes, checks. */
#ifndef HL_TESTS_RUNTIME_RT_H
#define HL_TESTS_RUNTIME_RT_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

/* The suite is written once for both execution modes. HL_TEST_MODE ("inproc", the default, or
 * "kvm") picks the mode every sandbox gets; HL_GUEST_DIR (default HL_BINARY_DIR "/guests") says
 * where the test guests are, so the same binaries can run inside an emulated VM. */
hl_execution_mode rt_mode(void);
/* "inproc" or "kvm" */
const char *rt_mode_tag(void);
/* The path of a test guest, e.g. rt_guest("simpleguest"); valid until the next call on the thread. */
const char *rt_guest(const char *name);
/* The HIP's sample hyperfile, read in place. */
/* The HIP's sample: $HL_SAMPLE_HYPERFILE (set for runs inside the emulated VM), else beside the
 * repository. NULL when it is absent outside CI (the test skips); under CI=true absence fails. */
const char *rt_sample_hyperfile(void);

/* Loads a hyperfile string over the defaults, with `execution_mode` set to the suite's mode
 * first (the text must not set it itself). Fails the test, showing the diagnostics, on error. */
#define rt_config(cfg, toml) rt_config_at(__FILE__, __LINE__, (cfg), (toml), NULL)
#define rt_config_profile(cfg, toml, profile) rt_config_at(__FILE__, __LINE__, (cfg), (toml), (profile))
void rt_config_at(const char *file, int line, hl_config *cfg, const char *toml, const char *profile);

/* Creates and initialises a sandbox from a guest name and a hyperfile string ("" for defaults)
 * or a config; fails the test on any error. */
#define rt_sandbox(guest, toml) rt_sandbox_at(__FILE__, __LINE__, (guest), (toml))
#define rt_sandbox_cfg(guest, cfg) rt_sandbox_cfg_at(__FILE__, __LINE__, (guest), (cfg))
hl_sandbox *rt_sandbox_at(const char *file, int line, const char *guest, const char *toml);
hl_sandbox *rt_sandbox_cfg_at(const char *file, int line, const char *guest, const hl_config *cfg);

/* Argument lists: rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))) or RT_NOARGS. */
#define RT_ARGS(...) (const hl_value[]){__VA_ARGS__}, sizeof((const hl_value[]){__VA_ARGS__}) / sizeof(hl_value)
#define RT_NOARGS NULL, 0

/* A call that must succeed; returns its result (STRING/BYTES valid until the next call). */
#define rt_ok(sb, fn, ...) rt_ok_at(__FILE__, __LINE__, (sb), (fn), __VA_ARGS__)
hl_value rt_ok_at(const char *file, int line, hl_sandbox *sb, const char *fn, const hl_value *args, size_t n);

/* A call that must fail with status, guest_code (checked unless RT_ANY_CODE) and a message that
 * contains phrase (unless NULL). Returns the error for further checks. */
#define RT_ANY_CODE 0xFFFFFFFFu
#define rt_fails(sb, fn, st, code, phrase, ...) rt_fails_at(__FILE__, __LINE__, (sb), (fn), (st), (code), (phrase), __VA_ARGS__)
hl_error rt_fails_at(const char *file, int line, hl_sandbox *sb, const char *fn, hl_status st, unsigned code,
                     const char *phrase, const hl_value *args, size_t n);

/* Asserts that hay contains needle. */
#define rt_contains(hay, needle) rt_contains_at(__FILE__, __LINE__, (hay), (needle))
void rt_contains_at(const char *file, int line, const char *hay, const char *needle);
/* Asserts that a STRING/BYTES value has exactly these bytes. */
#define rt_buf_eq(v, type, data, len) rt_buf_eq_at(__FILE__, __LINE__, (v), (type), (data), (len))
void rt_buf_eq_at(const char *file, int line, hl_value v, hl_type type, const void *data, size_t len);

/* Monotonic time in milliseconds (fractional) and a sleep. */
double rt_now_ms(void);
void rt_sleep_ms(unsigned ms);

/* Captures what the guest prints (hl_sandbox_set_print(sb, rt_print_capture, &cap)). */
typedef struct rt_print {
    char text[65536];
    size_t len;
    unsigned chunks;
} rt_print;
void rt_print_capture(void *user, const char *text, size_t len);

/* What `heap_free` reports in a fresh sandbox with a heap of `heap` bytes: all of it but the guest
 * runtime's page map (one byte per page, at the heap's top: a page per 16 MiB). */
uint64_t rt_heap_free_initial(uint64_t heap);

/* A string of n characters 'a'..'z' repeated (caller frees). */
char *rt_pattern(size_t n, size_t shift);

/* Host functions for callbackguest: host_add(i32, i32) -> i32; host_fail(i32 n) -> i32 fails
 * with a message of n letters 'A'..'Z' repeated (rt_expected_exception writes them); host_spin(u32
 * ms) -> void busy-loops for ms milliseconds. */
typedef struct rt_hosts {
    unsigned add_calls, fail_calls;
    atomic_int spinning, spins_done;
} rt_hosts;
void rt_register_hosts(hl_sandbox *sb, rt_hosts *h);
void rt_expected_exception(char *buf, size_t n);
/* A callbackguest sandbox from a hyperfile string with those host functions registered. */
#define rt_callback_sandbox(toml, h) rt_callback_sandbox_at(__FILE__, __LINE__, (toml), (h))
hl_sandbox *rt_callback_sandbox_at(const char *file, int line, const char *toml, rt_hosts *h);

/* The text of msg after marker (the test fails when marker is absent). */
#define rt_after(msg, marker) rt_after_at(__FILE__, __LINE__, (msg), (marker))
const char *rt_after_at(const char *file, int line, const char *msg, const char *marker);

/* In a worker thread (cmocka's asserts are for the main thread): unless cond holds, formats the
 * failure into w->failure (a char array) for the main thread to report, and ends the thread. */
#define RT_THREAD_CHECK(w, cond, ...)                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf((w)->failure, sizeof((w)->failure), __VA_ARGS__);                             \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

/* Runs a cmocka group with the mode in its name ("runtime.inproc.calls"). */
#define rt_run(name, tests) _cmocka_run_group_tests(rt_group_name(name), (tests), sizeof(tests) / sizeof((tests)[0]), NULL, NULL)
const char *rt_group_name(const char *name);

#endif
