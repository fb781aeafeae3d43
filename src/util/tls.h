/* tls.h - the library's thread-local variables, reached without a call. */
#ifndef HL_TLS_H
#define HL_TLS_H

/* A shared library's thread-local variables are found through __tls_get_addr by default, a call
 * at each use (several per guest call), which may also allocate on a thread's first use (not
 * async-signal-safe). The initial-exec model reaches them at a fixed offset from the thread
 * pointer. It takes static TLS space, which the C library
 * reserves a little of for libraries opened with dlopen: only for these few words. */
#define HL_TLS_IE __attribute__((tls_model("initial-exec")))

#endif
