/* kvm_state.h - the vCPU's CPUID and the complete CPU state every KVM run starts from. */
#ifndef HL_KVM_STATE_H
#define HL_KVM_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "hyperlight/error.h"

typedef struct hl_kvm_state hl_kvm_state;

/* Gives the vCPU KVM's supported CPUID less nested virtualisation (VMX, SVM: a large part of KVM a
 * guest need not reach) and less the paravirtual features (kvmclock, steal time, async page
 * faults, PV EOI: each makes KVM write into guest memory behind the host's back), and has KVM
 * enforce the latter, so their MSRs and hypercalls fault. */
hl_status hl_kvm_set_cpuid(int kvm_fd, int vcpu_fd, hl_error *err);

/* Limits the guest's MSR accesses (KVM_X86_SET_MSR_FILTER, a VM ioctl; Linux 5.10+): reads of
 * the architectural, x86-64 and AMD ranges are allowed, writes only to the MSRs the guest runtime
 * sets (STAR, LSTAR, CSTAR, SFMASK, FS and GS base); every other access is a #GP in the guest.
 * Then a call can change no other MSR, and the per-run reset needs only those (and the kernel GS
 * base, which `swapgs` changes). *installed says whether the filter is in place (0 on a KVM
 * without it: then every MSR is reset). */
hl_status hl_kvm_msr_filter(int kvm_fd, int vm_fd, int *installed, hl_error *err);

/* Records the state of a freshly created vCPU (after its CPUID is set) that every run is reset to:
 * `sregs` (long mode), XSAVE area (x87, SSE, AVX... with FCW 0x37F and MXCSR 0x1F80), XCR0, debug
 * registers with breakpoints off, no pending event, the TSC offset, and every MSR that KVM lets
 * the host read and write back (what a ring-0 guest could otherwise use to leave a value behind).
 * With msr_filtered (hl_kvm_msr_filter installed), only the MSRs the guest can still change, and
 * no TSC offset (the guest cannot write the TSC). */
hl_status hl_kvm_state_save(hl_kvm_state **out, int kvm_fd, int vcpu_fd,
                            const struct kvm_sregs *sregs, int msr_filtered, hl_error *err);

/* What the entry stub resets instead of the ioctls (x86_64.h: hl_x86_build_entry): XCR0 and the
 * XSAVE state; and STAR, LSTAR, CSTAR, SFMASK and the kernel GS base (HL_X86_ENTRY_MSRS). */
#define HL_KVM_STUB_XSTATE 1u
#define HL_KVM_STUB_MSRS 2u
/* The registers KVM_RUN can set itself from the run area (KVM_CAP_SYNC_REGS). */
#define HL_KVM_SYNC_RESET (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

/* Puts the vCPU back to the saved state with general registers `regs` and CR3 `cr3` (0: the
 * saved one), but for what `by_stub` (HL_KVM_STUB_*) leaves to the entry stub the run starts at.
 * With `sync` (the vCPU's run area, when KVM has KVM_CAP_SYNC_REGS for HL_KVM_SYNC_RESET) the
 * general and special registers and the pending events go through it: the next KVM_RUN sets them,
 * three ioctls fewer (on failure they are left there: the caller withdraws them). */
hl_status hl_kvm_state_reset(const hl_kvm_state *s, int vcpu_fd, const struct kvm_regs *regs, uint64_t cr3,
                             unsigned by_stub, struct kvm_run *sync, hl_error *err);

/* Whether the entry stub can reset the MSRs (HL_KVM_STUB_MSRS): an AMD host (where those writes do
 * not exit), the MSR filter in place (the reset is exactly STAR, LSTAR, CSTAR, SFMASK and the
 * kernel GS base), all five 0 in the saved state and so the GS base, and the stub used at all. */
int hl_kvm_state_stub_msrs(const hl_kvm_state *s);

/* The XCR0 every run starts with when the entry stub can reset the XSAVE state (CR4.OSXSAVE is
 * on in the saved state and KVM has XSAVE), else 0. */
uint64_t hl_kvm_state_stub_xcr0(const hl_kvm_state *s);

/* The special registers every run starts with (long mode, the sandbox's own tables). */
const struct kvm_sregs *hl_kvm_state_sregs(const hl_kvm_state *s);

void hl_kvm_state_free(hl_kvm_state *s);

#endif
