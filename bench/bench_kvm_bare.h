/* bench_kvm_bare.h - the bare KVM baseline for bench_sandbox: a minimal VM on /dev/kvm. */
#ifndef HL_BENCH_KVM_BARE_H
#define HL_BENCH_KVM_BARE_H

#include <stddef.h>
#include <stdint.h>

/* Each function runs `warmup` untimed rounds, then fills ns[0..iters) with one timing per round.
 * On failure they return -1 with the reason in why (a KVM call and its errno). */

/* "VM create + HLT": open /dev/kvm, create a VM with one 64 KiB memory slot and one vCPU in real
 * mode, run it until its one instruction, `hlt`, exits to us (create_ns); then close and unmap
 * everything (destroy_ns). */
int bench_kvm_bare_create_hlt(size_t warmup, size_t iters, uint64_t *create_ns,
                              uint64_t *destroy_ns, char *why, size_t why_size);

/* "port-I/O round trip": one vCPU loops on `out dx, al`; each timing is one KVM_RUN, that is
 * resuming the guest, the `out` and its exit back to us. */
int bench_kvm_bare_port_io(size_t warmup, size_t iters, uint64_t *ns, char *why, size_t why_size);

/* The same round trip one at a time, to interleave with other timings (bench_ab): open the VM,
 * time one KVM_RUN per step (-1 on failure, with the reason), close it. */
typedef struct bench_kvm_bare bench_kvm_bare;
bench_kvm_bare *bench_kvm_bare_io_open(char *why, size_t why_size);
int64_t bench_kvm_bare_io_step(bench_kvm_bare *v, char *why, size_t why_size);
void bench_kvm_bare_io_close(bench_kvm_bare *v);

#endif
