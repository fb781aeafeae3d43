/* kvm_state.c - the vCPU's CPUID and the complete CPU state every KVM run starts from. */
#include "backend/kvm_state.h"
#include "util/procid.h"

#include <asm/kvm_para.h>
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/errfmt.h"
#include "util/syscount.h"

#define MSR_IA32_TSC 0x10u

struct hl_kvm_state {
    struct kvm_sregs sregs;
    struct kvm_debugregs debug;
    struct kvm_vcpu_events events;
    struct kvm_xcrs xcrs;
    int has_xcrs;
    struct kvm_xsave *xsave; /* NULL: KVM has no XSAVE API, KVM_SET_FPU resets x87/SSE only */
    size_t xsave_size;
    int xsave_shared;        /* xsave is the process's copy (g_xsave), not freed with s */
    struct kvm_fpu fpu;
    int has_tsc_offset;
    uint64_t tsc_offset;
    struct kvm_msrs *msrs; /* the MSRs and their values as created */
};

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = HL_SYS(ioctl(fd, req, arg));
    while (r < 0 && errno == EINTR);
    return r;
}

/* What every vCPU of the process gets from the same KVM, found once and kept: the CPUID table
 * (KVM's supported list, edited below) and the MSRs the host can read and write back (probed one
 * by one on the first vCPU). Creating a sandbox then costs one KVM_SET_CPUID2 and one KVM_GET_MSRS
 * instead of hundreds of ioctls. */
static hl_plock g_cache_lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static struct kvm_cpuid2 *g_cpuid;
static uint32_t *g_msr_indices[2]; /* [1]: with the MSR filter in place */
static uint32_t g_msr_count[2];

static hl_status set_cpuid(int kvm_fd, int vcpu_fd, struct kvm_cpuid2 *c, hl_error *err)
{
    int r = xioctl(vcpu_fd, KVM_SET_CPUID2, c);
    if (r < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_SET_CPUID2 failed: %s", strerror(errno));
    /* without it (kernels before 5.10) a guest may still enable the PV MSRs: the per-run
     * MSR reset below turns them off again before the next run */
    struct kvm_enable_cap cap = {.cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = {1}};
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) > 0 &&
        xioctl(vcpu_fd, KVM_ENABLE_CAP, &cap) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_ENABLE_CAP(ENFORCE_PV_FEATURE_CPUID) failed: %s",
                         strerror(errno));
    return HL_OK;
}

hl_status hl_kvm_set_cpuid(int kvm_fd, int vcpu_fd, hl_error *err)
{
    hl_plock_lock(&g_cache_lock);
    struct kvm_cpuid2 *cached = g_cpuid;
    hl_plock_unlock(&g_cache_lock);
    if (cached) /* never freed once set */
        return set_cpuid(kvm_fd, vcpu_fd, cached, err);
    for (uint32_t n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
        if (!c) return hl_errorf(err, HL_E_NOMEM, "out of memory");
        c->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            for (uint32_t i = 0; i < c->nent; i++) {
                struct kvm_cpuid_entry2 *e = &c->entries[i];
                if (e->function == KVM_CPUID_FEATURES)
                    e->eax = e->edx = 0; /* no paravirtual feature */
                else if (e->function == 1)
                    e->ecx &= ~(1u << 5); /* no VMX: nested virtualisation is KVM attack surface */
                else if (e->function == 0x80000001)
                    e->ecx &= ~(1u << 2); /* no SVM */
                else if (e->function == 0x8000000A)
                    e->eax = e->ebx = e->ecx = e->edx = 0; /* SVM features */
            }
            hl_status st = set_cpuid(kvm_fd, vcpu_fd, c, err);
            hl_plock_lock(&g_cache_lock);
            if (!st && !g_cpuid) {
                g_cpuid = c; /* kept for the process's life */
                c = NULL;
            }
            hl_plock_unlock(&g_cache_lock);
            free(c);
            return st;
        }
        int e = errno;
        free(c);
        if (e != E2BIG)
            return hl_errorf(err, HL_E_BACKEND, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
    }
    return hl_errorf(err, HL_E_BACKEND, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

/* MSRs a guest can write that KVM's index list does not name: MTRRs (variable pairs, fixed
 * ranges, default type) and a few architectural ones listed for certainty. */
static const uint32_t extra_msrs[] = {
    0x3B,  0x48,  0x174, 0x175, 0x176, 0x1A0, 0x1D9, 0x250, 0x258, 0x259,
    0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F, 0x277, 0x2FF,
};

static int msr_listed(const struct kvm_msrs *m, uint32_t index)
{
    for (uint32_t i = 0; i < m->nmsrs; i++)
        if (m->entries[i].index == index) return 1;
    return 0;
}

/* Adds `index` with its current value when the host can both read it and write that value back. */
static void probe_msr(int vcpu_fd, struct kvm_msrs *m, uint32_t index)
{
    if (index == MSR_IA32_TSC || msr_listed(m, index)) /* the TSC is reset through its offset */
        return;
    union {
        struct kvm_msrs hdr; /* followed by its one entry */
        uint64_t words[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)) / 8];
    } one;
    memset(&one, 0, sizeof(one));
    one.hdr.nmsrs = 1;
    one.hdr.entries[0].index = index;
    if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) != 1 || ioctl(vcpu_fd, KVM_SET_MSRS, &one) != 1) return;
    m->entries[m->nmsrs++] = one.hdr.entries[0];
}

/* The MSRs found by an earlier vCPU, read in one KVM_GET_MSRS: 1, or 0 when there are none yet
 * or this vCPU does not read them all (then they are probed again). */
static int cached_msrs(hl_kvm_state *s, int vcpu_fd, int filtered)
{
    hl_plock_lock(&g_cache_lock);
    uint32_t n = g_msr_count[filtered];
    const uint32_t *idx = g_msr_indices[filtered];
    hl_plock_unlock(&g_cache_lock);
    if (!idx)
        return 0;
    s->msrs = calloc(1, sizeof(*s->msrs) + (n ? n : 1) * sizeof(struct kvm_msr_entry));
    if (!s->msrs)
        return 0;
    s->msrs->nmsrs = n;
    for (uint32_t i = 0; i < n; i++)
        s->msrs->entries[i].index = idx[i];
    if (n && HL_SYS(ioctl(vcpu_fd, KVM_GET_MSRS, s->msrs)) != (int)n) {
        free(s->msrs);
        s->msrs = NULL;
        return 0;
    }
    return 1;
}

static void cache_msrs(const struct kvm_msrs *m, int filtered)
{
    hl_plock_lock(&g_cache_lock);
    if (!g_msr_indices[filtered]) {
        uint32_t *idx = malloc((m->nmsrs ? m->nmsrs : 1) * sizeof(*idx));
        if (idx) {
            for (uint32_t i = 0; i < m->nmsrs; i++)
                idx[i] = m->entries[i].index;
            g_msr_count[filtered] = m->nmsrs;
            g_msr_indices[filtered] = idx; /* kept for the process's life */
        }
    }
    hl_plock_unlock(&g_cache_lock);
}

/* What the filter lets the guest write (all in 0xC0000000-0xC0001FFF), and what the reset must
 * then still put back: those but FS and GS base (part of sregs), and the kernel GS base. */
static const uint32_t guest_writable_msrs[] = {0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,
                                               0xC0000100, 0xC0000101};
static const uint32_t filtered_reset_msrs[] = {0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,
                                               0xC0000102};

hl_status hl_kvm_msr_filter(int kvm_fd, int vm_fd, int *installed, hl_error *err)
{
    *installed = 0;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0) return HL_OK;
    static uint8_t all[0x2000 / 8], writable[0x2000 / 8];
    memset(all, 0xFF, sizeof all);
    memset(writable, 0, sizeof writable);
    for (size_t i = 0; i < sizeof guest_writable_msrs / sizeof guest_writable_msrs[0]; i++) {
        uint32_t bit = guest_writable_msrs[i] - 0xC0000000u;
        writable[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
    struct kvm_msr_filter f;
    memset(&f, 0, sizeof f);
    f.flags = KVM_MSR_FILTER_DEFAULT_DENY;
    const struct {
        uint32_t flags, base;
        uint8_t *bitmap;
    } ranges[] = {
        {KVM_MSR_FILTER_READ, 0x00000000u, all},  /* architectural (Intel-numbered) */
        {KVM_MSR_FILTER_READ, 0xC0000000u, all},  /* x86-64 */
        {KVM_MSR_FILTER_READ, 0xC0010000u, all},  /* AMD */
        {KVM_MSR_FILTER_WRITE, 0xC0000000u, writable},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        f.ranges[i].flags = ranges[i].flags;
        f.ranges[i].base = ranges[i].base;
        f.ranges[i].nmsrs = 0x2000;
        f.ranges[i].bitmap = ranges[i].bitmap;
    }
    if (xioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_X86_SET_MSR_FILTER failed: %s", strerror(errno));
    *installed = 1;
    return HL_OK;
}

/* Keeps in m only the MSRs listed in keep (order kept). */
static void keep_only(struct kvm_msrs *m, const uint32_t *keep, size_t nkeep)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->nmsrs; i++)
        for (size_t k = 0; k < nkeep; k++)
            if (m->entries[i].index == keep[k]) {
                m->entries[n++] = m->entries[i];
                break;
            }
    m->nmsrs = n;
}

static hl_status save_msrs(hl_kvm_state *s, int kvm_fd, int vcpu_fd, int filtered, hl_error *err)
{
    if (cached_msrs(s, vcpu_fd, filtered))
        return HL_OK;
    if (filtered) { /* the guest can change no other MSR: only those are probed (5, not ~140) */
        size_t n = sizeof filtered_reset_msrs / sizeof filtered_reset_msrs[0];
        if (!(s->msrs = calloc(1, sizeof(*s->msrs) + n * sizeof(struct kvm_msr_entry))))
            return hl_errorf(err, HL_E_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            probe_msr(vcpu_fd, s->msrs, filtered_reset_msrs[i]);
        cache_msrs(s->msrs, 1);
        return HL_OK;
    }
    struct kvm_msr_list probe = {.nmsrs = 0};
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return hl_errorf(err, HL_E_BACKEND, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(errno));
    uint32_t n = probe.nmsrs;
    struct kvm_msr_list *list = calloc(1, sizeof(*list) + (n + 16) * sizeof(uint32_t));
    uint32_t cap = n + 16 + 32 + (uint32_t)(sizeof(extra_msrs) / sizeof(extra_msrs[0]));
    s->msrs = calloc(1, sizeof(*s->msrs) + cap * sizeof(struct kvm_msr_entry));
    if (!list || !s->msrs) {
        free(list);
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    }
    list->nmsrs = n + 16;
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
        int e = errno;
        free(list);
        return hl_errorf(err, HL_E_BACKEND, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(e));
    }
    for (uint32_t i = 0; i < list->nmsrs && s->msrs->nmsrs < cap; i++)
        probe_msr(vcpu_fd, s->msrs, list->indices[i]);
    free(list);
    for (size_t i = 0; i < sizeof(extra_msrs) / sizeof(extra_msrs[0]) && s->msrs->nmsrs < cap; i++)
        probe_msr(vcpu_fd, s->msrs, extra_msrs[i]);
    for (uint32_t v = 0; v < 16 && s->msrs->nmsrs + 2 <= cap; v++) { /* variable-range MTRR pairs */
        probe_msr(vcpu_fd, s->msrs, 0x200 + 2 * v);
        probe_msr(vcpu_fd, s->msrs, 0x201 + 2 * v);
    }
    cache_msrs(s->msrs, 0);
    return HL_OK;
}

/* Guest code starts as under an ordinary OS: CR4.OSXSAVE on and XCR0 enabling every user state
 * component the vCPU offers that needs no permission (x87, SSE, AVX, the AVX-512 trio, PKRU),
 * so that a guest compiled for AVX runs as it does in-process. Without it (the vCPU's XCR0 as
 * created, x87 only) AVX instructions fault. The per-run reset puts XCR0 back, and XSAVE's image
 * puts every component's state back (the ones not in it to their initial state). Left as created
 * when the vCPU has no XSAVE or KVM refuses the value. */
static void enable_xsave(hl_kvm_state *s, int vcpu_fd)
{
    uint32_t xsave_bit = 0;
    uint64_t offered = 0;
    hl_plock_lock(&g_cache_lock);
    for (uint32_t i = 0; g_cpuid && i < g_cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &g_cpuid->entries[i];
        if (e->function == 1)
            xsave_bit = e->ecx & (1u << 26);
        else if (e->function == 0xD && e->index == 0)
            offered = ((uint64_t)e->edx << 32) | e->eax;
    }
    hl_plock_unlock(&g_cache_lock);
    uint64_t want = offered & (0x7ull | 0xE0ull | 0x200ull);
    if (!xsave_bit || !(want & 1))
        return;
    if ((want & 0xE0ull) != 0xE0ull || !(want & 4))
        want &= ~0xE0ull; /* AVX-512 only whole, and on top of AVX */
    if (!(want & 2))
        want &= ~4ull; /* AVX on top of SSE */
    for (uint32_t i = 0; i < s->xcrs.nr_xcrs; i++) {
        if (s->xcrs.xcrs[i].xcr != 0)
            continue;
        uint64_t was = s->xcrs.xcrs[i].value;
        s->xcrs.xcrs[i].value = want;
        if (xioctl(vcpu_fd, KVM_SET_XCRS, &s->xcrs) < 0) {
            s->xcrs.xcrs[i].value = was;
            return;
        }
        s->sregs.cr4 |= 1ull << 18; /* OSXSAVE */
        return;
    }
}

/* The XSAVE image every vCPU starts from is, as a rule, the same for all of the process's vCPUs:
 * one copy, kept for the process's life, for every state whose image equals it (4 KiB or more
 * less per sandbox). */
static struct kvm_xsave *g_xsave;
static size_t g_xsave_size;

static void share_xsave(hl_kvm_state *s)
{
    hl_plock_lock(&g_cache_lock);
    if (!g_xsave) {
        g_xsave = s->xsave;
        g_xsave_size = s->xsave_size;
        s->xsave_shared = 1;
    } else if (g_xsave_size == s->xsave_size && memcmp(g_xsave, s->xsave, s->xsave_size) == 0) {
        free(s->xsave);
        s->xsave = g_xsave;
        s->xsave_shared = 1;
    }
    hl_plock_unlock(&g_cache_lock);
}

hl_status hl_kvm_state_save(hl_kvm_state **out, int kvm_fd, int vcpu_fd,
                            const struct kvm_sregs *sregs, int msr_filtered, hl_error *err)
{
    hl_kvm_state *s = calloc(1, sizeof(*s));
    if (!s) return hl_errorf(err, HL_E_NOMEM, "out of memory");
    s->sregs = *sregs;
    hl_status st = HL_OK;
    if (xioctl(vcpu_fd, KVM_GET_DEBUGREGS, &s->debug) < 0 ||
        xioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &s->events) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "reading the vCPU's initial state failed: %s",
                       strerror(errno));
        goto fail;
    }
    s->debug.dr7 = 0x400;
    s->debug.dr6 = 0xFFFF0FF0;
    memset(s->debug.db, 0, sizeof(s->debug.db));
    memset(&s->fpu, 0, sizeof(s->fpu));
    s->fpu.fcw = 0x37F;
    s->fpu.mxcsr = 0x1F80;
    if (xioctl(vcpu_fd, KVM_SET_FPU, &s->fpu) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_SET_FPU failed: %s", strerror(errno));
        goto fail;
    }
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
        int size2 = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
        size_t size =
            size2 > (int)sizeof(struct kvm_xsave) ? (size_t)size2 : sizeof(struct kvm_xsave);
        s->xsave_size = size;
        if (!(s->xsave = calloc(1, size))) {
            st = hl_errorf(err, HL_E_NOMEM, "out of memory");
            goto fail;
        }
        if (xioctl(vcpu_fd, size2 > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, s->xsave) < 0) {
            st = hl_errorf(err, HL_E_BACKEND, "KVM_GET_XSAVE failed: %s", strerror(errno));
            goto fail;
        }
        /* XSTATE_BV (the header after the 512-byte legacy area) as created says x87 and SSE are
         * in their initial state, and KVM then leaves MXCSR alone on KVM_SET_XSAVE: mark both
         * present, so that the legacy area (FCW 0x37F, MXCSR 0x1F80, zero registers) is loaded */
        uint64_t xstate_bv;
        memcpy(&xstate_bv, (uint8_t *)s->xsave->region + 512, 8);
        xstate_bv |= 3;
        memcpy((uint8_t *)s->xsave->region + 512, &xstate_bv, 8);
        /* PKRU (component 9) likewise: with its bit clear KVM_SET_XSAVE leaves the vCPU's PKRU as
         * the last run left it (a guest sets CR4.PKE and runs WRPKRU), and the next call could
         * read it. Marked present with its initial value 0 when this KVM takes that (it refuses
         * components the vCPU does not offer: then the image stays as it was). The component's
         * offset in KVM's (standard-format) image is the host's, from CPUID leaf 0xD. */
        unsigned pk_size, pk_off, ecx, edx;
        if (__get_cpuid_count(0xD, 9, &pk_size, &pk_off, &ecx, &edx) && pk_size >= 4 && pk_off >= 576 &&
            (size_t)pk_off + 4 <= size) {
            uint8_t *img = (uint8_t *)s->xsave->region, old_pkru[4];
            memcpy(old_pkru, img + pk_off, 4);
            memset(img + pk_off, 0, 4);
            memcpy(img + 512, &(uint64_t){xstate_bv | (1ull << 9)}, 8);
            if (xioctl(vcpu_fd, KVM_SET_XSAVE, s->xsave) < 0) {
                memcpy(img + pk_off, old_pkru, 4);
                memcpy(img + 512, &xstate_bv, 8);
            }
        }
    }
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
        if (xioctl(vcpu_fd, KVM_GET_XCRS, &s->xcrs) < 0) {
            st = hl_errorf(err, HL_E_BACKEND, "KVM_GET_XCRS failed: %s", strerror(errno));
            goto fail;
        }
        s->has_xcrs = 1;
        enable_xsave(s, vcpu_fd);
    }
    struct kvm_device_attr tsc = {.group = KVM_VCPU_TSC_CTRL,
                                  .attr = KVM_VCPU_TSC_OFFSET,
                                  .addr = (uint64_t)(uintptr_t)&s->tsc_offset};
    s->has_tsc_offset = ioctl(vcpu_fd, KVM_HAS_DEVICE_ATTR, &tsc) == 0 &&
                        xioctl(vcpu_fd, KVM_GET_DEVICE_ATTR, &tsc) == 0;
    if ((st = save_msrs(s, kvm_fd, vcpu_fd, msr_filtered != 0, err))) goto fail;
    if (msr_filtered) { /* the guest can change no other MSR, nor the TSC */
        keep_only(s->msrs, filtered_reset_msrs, sizeof filtered_reset_msrs / sizeof filtered_reset_msrs[0]);
        s->has_tsc_offset = 0;
    } else if (!s->has_tsc_offset) { /* kernels before 5.16: a host write of 0 restarts the TSC at 0 */
        struct kvm_msr_entry *e = &s->msrs->entries[s->msrs->nmsrs++];
        memset(e, 0, sizeof(*e));
        e->index = MSR_IA32_TSC;
    }
    if (s->xsave)
        share_xsave(s);
    *out = s;
    return HL_OK;
fail:
    hl_kvm_state_free(s);
    return st;
}

uint64_t hl_kvm_state_stub_xcr0(const hl_kvm_state *s)
{
    if (!s->has_xcrs || !s->xsave || !(s->sregs.cr4 & (1ull << 18)))
        return 0;
    for (uint32_t i = 0; i < s->xcrs.nr_xcrs; i++)
        if (s->xcrs.xcrs[i].xcr == 0)
            return s->xcrs.xcrs[i].value;
    return 0;
}

hl_status hl_kvm_state_reset(const hl_kvm_state *s, int vcpu_fd, const struct kvm_regs *regs, uint64_t cr3,
                             unsigned by_stub, struct kvm_run *sync, hl_error *err)
{
    const char *what = NULL;
    struct kvm_sregs sregs = s->sregs;
    if (cr3) sregs.cr3 = cr3;
    struct kvm_device_attr tsc = {.group = KVM_VCPU_TSC_CTRL,
                                  .attr = KVM_VCPU_TSC_OFFSET,
                                  .addr = (uint64_t)(uintptr_t)&s->tsc_offset};
    if (sync) { /* KVM_RUN applies them before it enters (and before it completes a pending exit) */
        sync->s.regs.regs = *regs;
        sync->s.regs.sregs = sregs;
        sync->s.regs.events = s->events;
        sync->kvm_dirty_regs = HL_KVM_SYNC_RESET;
    }
    /* XCR0 before XSAVE: KVM refuses XSAVE components that XCR0 does not enable */
    if (s->has_xcrs && !(by_stub & HL_KVM_STUB_XSTATE) && xioctl(vcpu_fd, KVM_SET_XCRS, (void *)&s->xcrs) < 0)
        what = "KVM_SET_XCRS";
    else if (!sync && xioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        what = "KVM_SET_SREGS";
    else if (!sync && xioctl(vcpu_fd, KVM_SET_REGS, (void *)regs) < 0)
        what = "KVM_SET_REGS";
    else if (!(by_stub & HL_KVM_STUB_XSTATE) && (s->xsave ? xioctl(vcpu_fd, KVM_SET_XSAVE, s->xsave) < 0
                                                          : xioctl(vcpu_fd, KVM_SET_FPU, (void *)&s->fpu) < 0))
        what = "KVM_SET_XSAVE";
    else if (xioctl(vcpu_fd, KVM_SET_DEBUGREGS, (void *)&s->debug) < 0)
        what = "KVM_SET_DEBUGREGS";
    else if (!sync && xioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, (void *)&s->events) < 0)
        what = "KVM_SET_VCPU_EVENTS";
    else if (!(by_stub & HL_KVM_STUB_MSRS) && s->msrs->nmsrs &&
             HL_SYS(ioctl(vcpu_fd, KVM_SET_MSRS, s->msrs)) != (int)s->msrs->nmsrs)
        what = "KVM_SET_MSRS";
    else if (s->has_tsc_offset &&
             xioctl(vcpu_fd, KVM_SET_DEVICE_ATTR, &tsc) < 0) /* after TSC_ADJUST */
        what = "KVM_SET_DEVICE_ATTR(TSC_OFFSET)";
    if (what)
        return hl_errorf(err, HL_E_BACKEND, "resetting the vCPU failed: %s: %s", what, strerror(errno));
    return HL_OK;
}

/* AMD's (and Hygon's) SVM lets the guest write STAR, LSTAR, CSTAR and SFMASK without an exit;
 * Intel's VMX exits on each (KVM keeps them as user-return MSRs), four exits against one ioctl. */
static int svm_host(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return (b == 0x68747541 && d == 0x69746E65 && c == 0x444D4163) || /* AuthenticAMD */
           (b == 0x6F677948 && d == 0x6E65476E && c == 0x656E6975);   /* HygonGenuine */
}

int hl_kvm_state_stub_msrs(const hl_kvm_state *s)
{
    if (!svm_host() || !hl_kvm_state_stub_xcr0(s) || s->sregs.gs.base != 0 ||
        s->msrs->nmsrs != sizeof filtered_reset_msrs / sizeof filtered_reset_msrs[0])
        return 0;
    unsigned seen = 0; /* which of the five, in whatever order KVM listed them */
    for (uint32_t i = 0; i < s->msrs->nmsrs; i++)
        for (unsigned k = 0; k < sizeof filtered_reset_msrs / sizeof filtered_reset_msrs[0]; k++)
            if (s->msrs->entries[i].index == filtered_reset_msrs[k] && s->msrs->entries[i].data == 0)
                seen |= 1u << k;
    return seen == (1u << (sizeof filtered_reset_msrs / sizeof filtered_reset_msrs[0])) - 1;
}

const struct kvm_sregs *hl_kvm_state_sregs(const hl_kvm_state *s) { return &s->sregs; }

void hl_kvm_state_free(hl_kvm_state *s)
{
    if (!s) return;
    if (!s->xsave_shared)
        free(s->xsave);
    free(s->msrs);
    free(s);
}
