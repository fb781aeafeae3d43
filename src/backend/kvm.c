/* kvm.c - the RunInHypervisor backend: one KVM VM with one vCPU in 64-bit long mode per sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/kvm_internal.h"
#include "backend/kvm_state.h"
#include "backend/perms.h"
#include "backend/x86_64.h"
#include "util/errfmt.h"
#include "util/syscount.h"

#define PAGE HL_KVM_PAGE
#define KVM_BASE 0x200000ull /* guest physical = virtual address of the sandbox's first byte */

int hl_kvm_ioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = HL_SYS(ioctl(fd, req, arg));
    while (r < 0 && errno == EINTR && req != KVM_RUN);
    return r;
}
#define xioctl hl_kvm_ioctl

static hl_status open_kvm(int *out, hl_error *err)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        const char *why = e == ENOENT   ? "there is no /dev/kvm (no hardware virtualisation here, or the kvm modules are not loaded)"
                          : e == EACCES ? "permission denied on /dev/kvm (add the user to the `kvm` group)"
                                        : strerror(e);
        return hl_errorf(err, HL_E_BACKEND,
                         "RunInHypervisor needs KVM, but %s. Options: execution_mode = \"RunInProcess\" to debug "
                         "without isolation, or `hyperlight-vm -- COMMAND` to run on KVM inside an emulated VM",
                         why);
    }
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        close(fd);
        return hl_errorf(err, HL_E_BACKEND, "/dev/kvm speaks API version %d; version %d is needed", version,
                         KVM_API_VERSION);
    }
    static const struct {
        int cap;
        const char *name;
    } caps[] = {{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
                {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"}};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
            close(fd);
            return hl_errorf(err, HL_E_BACKEND, "this KVM lacks %s, which RunInHypervisor needs (kernel too old?)",
                             caps[i].name);
        }
    *out = fd;
    return HL_OK;
}

static void long_mode_sregs(struct kvm_sregs *s, uint64_t pt_gpa, uint64_t sys_gpa)
{
    struct kvm_segment code = {.base = 0, .limit = 0xFFFFFFFF, .selector = HL_X86_SEL_CODE, .type = 11,
                               .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
    struct kvm_segment data = {.base = 0, .limit = 0xFFFFFFFF, .selector = HL_X86_SEL_DATA, .type = 3,
                               .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
    s->cs = code;
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->tr = (struct kvm_segment){.base = sys_gpa + HL_X86_TSS_OFFSET, .limit = HL_X86_TSS_SIZE - 1,
                                 .selector = HL_X86_SEL_TSS, .type = 11, .present = 1, .s = 0};
    s->gdt.base = sys_gpa;
    s->gdt.limit = HL_X86_GDT_SIZE - 1;
    s->idt.base = sys_gpa + PAGE;
    s->idt.limit = HL_X86_IDT_ENTRIES * 16 - 1;
    s->cr3 = pt_gpa;
    s->cr4 = (1u << 5) | (1u << 9) | (1u << 10);               /* PAE, OSFXSR, OSXMMEXCPT */
    s->cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31); /* PE MP ET NE WP PG */
    /* LME, LMA, NXE, and SCE: `syscall` reaches the guest runtime's entry (it sets LSTAR) */
    s->efer = (1u << 0) | (1u << 8) | (1u << 10) | (1u << 11);
}

static void kvm_destroy(hl_backend *b)
{
    if (!b)
        return;
    hl_kvm_debug_free(b);
    if (b->run && b->run != MAP_FAILED)
        munmap(b->run, b->run_size);
    if (b->vcpu >= 0)
        close(b->vcpu);
    if (b->keeper >= 0)
        close(b->keeper);
    if (b->vm >= 0)
        close(b->vm);
    if (b->kvm >= 0)
        close(b->kvm);
    hl_kvm_state_free(b->state0);
    free(b->bitmap);
    free(b->clear_bits);
    free(b->streak);
    free(b->seen);
    free((void *)b->host_bits);
    free(b);
}

/* The page tables (identity map of the sandbox with each page's permissions), then in the
 * region's last three pages the GDT and TSS, the IDT and the exception stubs. */
static hl_status kvm_build_system(const hl_layout *l, const hl_elf_info *elf, uint8_t *system, hl_error *err)
{
    const hl_layout_region *pt = &l->region[HL_REGION_PAGE_TABLES];
    uint64_t npages = l->total_size / PAGE;
    if (pt->size < HL_X86_SYS_PAGES * PAGE)
        return hl_errorf(err, HL_E_LAYOUT, "the page tables do not fit their region");
    uint8_t *perms = malloc(npages ? npages : 1);
    if (!perms)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    hl_backend_page_perms(l, elf, 1, perms);
    uint64_t sys_off = pt->size - HL_X86_SYS_PAGES * PAGE; /* within the region */
    size_t used = hl_x86_build_page_tables(system, sys_off, l->base + pt->offset, l->base, perms, npages);
    free(perms);
    if (!used)
        return hl_errorf(err, HL_E_LAYOUT, "the page tables do not fit their region");
    uint64_t sys_gpa = l->base + pt->offset + sys_off;
    uint64_t kstack_top = l->base + l->region[HL_REGION_KERNEL_STACK].offset + l->region[HL_REGION_KERNEL_STACK].size;
    hl_x86_build_gdt_tss(system + sys_off, sys_gpa, kstack_top);
    hl_x86_build_idt(system + sys_off + PAGE, sys_gpa + 2 * PAGE);
    hl_x86_build_exception_stubs(system + sys_off + 2 * PAGE, HL_PORT_EXCEPTION);
    hl_x86_build_entry(system + sys_off + 2 * PAGE);
    return HL_OK;
}

#define HL_CR3_PWT 0x8ull /* page-level write-through of the PML4: no effect on what it maps */

/* The signal mask of the thread while it is inside KVM_RUN: mask (bit n-1 for signal n). */
static int set_guest_sigmask(struct hl_backend *b, uint64_t mask)
{
    _Alignas(8) uint8_t smbuf[sizeof(struct kvm_signal_mask) + sizeof(mask)];
    struct kvm_signal_mask *sm = (struct kvm_signal_mask *)smbuf;
    sm->len = sizeof(mask);
    memcpy(sm->sigset, &mask, sizeof(mask));
    if (xioctl(b->vcpu, KVM_SET_SIGNAL_MASK, sm) < 0)
        return -1;
    b->guest_sigmask = mask;
    return 0;
}

/* Every run starts with a CR3 other than the one the last run ended with (the same tables, the
 * write-through bit alternating; see kvm_run), so that KVM resets the vCPU's MMU context and
 * flushes the guest's TLB: a guest that changed a page-table entry, used it and wrote it back
 * without a flush would otherwise keep that translation into the next call (KVM flushes only
 * when the reset changes CR0, CR3, CR4 or EFER). The MMU reset lets go of KVM's root of the nested
 * page tables, and a TDP MMU without upstream commit edbdb43fc96b (Linux 6.4; some stable
 * kernels have it backported, Debian 12's 6.1 among them) frees a root no vCPU holds: every page
 * would fault again at every call. Where keeper_needed() finds that, this second vCPU, run once
 * and never again, holds it. */
static hl_status start_keeper(hl_backend *b, hl_error *err)
{
    if ((b->keeper = ioctl(b->vm, KVM_CREATE_VCPU, 1)) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_CREATE_VCPU (the second vCPU) failed: %s", strerror(errno));
    /* the same CPUID: the root's level follows the guest's physical address width. It runs as
     * created, in real mode at the reset vector, outside the sandbox's memory: KVM loads the root
     * before it enters, and the fetch then ends the run (an emulation failure, whatever it is). */
    hl_status st = hl_kvm_set_cpuid(b->kvm, b->keeper, err);
    if (st) return st;
    for (int tries = 0; HL_SYS(ioctl(b->keeper, KVM_RUN, 0)) < 0 && (errno == EINTR || errno == EAGAIN) && tries < 64;
         tries++)
        ;
    return HL_OK;
}

int64_t hl_kvm_stat(int fd, const char *name)
{
    struct kvm_stats_header h;
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.name_size == 0 || h.name_size > 256 ||
        h.num_desc == 0 || h.num_desc > 4096)
        return -1;
    size_t each = sizeof(struct kvm_stats_desc) + h.name_size;
    char *d = malloc(each * h.num_desc);
    if (!d)
        return -1;
    int64_t v = -1;
    if (pread(fd, d, each * h.num_desc, h.desc_offset) == (ssize_t)(each * h.num_desc))
        for (uint32_t i = 0; i < h.num_desc; i++) {
            struct kvm_stats_desc *s = (struct kvm_stats_desc *)(d + i * each);
            uint64_t val;
            if (strnlen(s->name, h.name_size) < h.name_size && strcmp(s->name, name) == 0 && s->size == 1 &&
                pread(fd, &val, sizeof(val), (off_t)h.data_offset + s->offset) == (ssize_t)sizeof(val)) {
                v = (int64_t)(val & INT64_MAX);
                break;
            }
        }
    free(d);
    return v;
}

int hl_kvm_roots_kept(int vcpu, struct kvm_run *run, const struct kvm_sregs *sregs, uint64_t hlt_gpa,
                      void (*between)(void *), void *ctx)
{
    int stats = ioctl(vcpu, KVM_GET_STATS_FD, NULL);
    if (stats < 0)
        return -1;
    int64_t fixed[3] = {hl_kvm_stat(stats, "pf_fixed"), -1, -1};
    for (int i = 0; i < 2 && fixed[i] >= 0; i++) {
        struct kvm_sregs s = *sregs;
        s.cr3 = i ? sregs->cr3 ^ HL_CR3_PWT : sregs->cr3; /* the second run resets the MMU: kvm_run */
        struct kvm_regs r = {.rip = hlt_gpa, .rflags = 2};
        if (i && between)
            between(ctx);
        run->kvm_dirty_regs = 0;
        if (xioctl(vcpu, KVM_SET_SREGS, &s) < 0 || xioctl(vcpu, KVM_SET_REGS, &r) < 0)
            break;
        int rc, tries = 0;
        while ((rc = ioctl(vcpu, KVM_RUN, 0)) < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 64)
            ;
        if (rc < 0 || run->exit_reason != KVM_EXIT_HLT)
            break;
        fixed[i + 1] = hl_kvm_stat(stats, "pf_fixed");
    }
    close(stats);
    /* the first run mapped its page (a fault); the second, after the reset, found it still mapped:
     * the root outlived the reset */
    if (fixed[1] <= fixed[0] || fixed[2] < fixed[1])
        return -1;
    return fixed[2] == fixed[1];
}

void (*hl_kvm_probe_between)(int vm);

static void probe_between(void *ctx) { hl_kvm_probe_between(*(const int *)ctx); }

/* A VM of its own with one vCPU (id), which holds it: the returned descriptor (-1 on failure).
 * With kept, the vCPU first answers hl_kvm_roots_kept (into *kept) in real mode on one page of
 * hlt, which is then taken away again. */
static int scratch_vcpu(int kvm, int id, int *kept)
{
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return -1;
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, id);
    int size = kept ? ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0) : 0;
    uint8_t *page = MAP_FAILED;
    struct kvm_run *run = MAP_FAILED;
    if (vcpu >= 0 && size > 0)
        page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED)
        run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run != MAP_FAILED) {
        memset(page, 0xF4, PAGE);
        struct kvm_userspace_memory_region slot = {.slot = 0, .memory_size = PAGE,
                                                   .userspace_addr = (uint64_t)(uintptr_t)page};
        struct kvm_sregs s;
        if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) == 0) {
            if (xioctl(vcpu, KVM_GET_SREGS, &s) == 0) {
                s.cs.base = 0;
                s.cs.selector = 0;
                *kept = hl_kvm_roots_kept(vcpu, run, &s, 0, hl_kvm_probe_between ? probe_between : NULL, &vm);
            }
            slot.memory_size = 0;
            xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot);
        }
    }
    if (run != MAP_FAILED)
        munmap(run, (size_t)size);
    if (page != MAP_FAILED)
        munmap(page, PAGE);
    close(vm);
    return vcpu;
}

/* KVM switches virtualisation on in every CPU when the system's first VM is made and off when the
 * last one goes, and patches the kernel's code (a static key) when the first vCPU without an
 * in-kernel APIC is made and again when the last one goes. Under emulation that is 15 of a 20 ms
 * create and half a destroy; natively less, but still work for every CPU. A process that makes
 * its sandboxes one after another would pay it at each. So from its first KVM sandbox until the
 * process ends (the library is never unloaded: src/CMakeLists.txt), it keeps one idle vCPU of a
 * VM without memory: one close-on-exec file descriptor, "anon_inode:kvm-vcpu:2" (never 0, 1 or
 * 2, even in a process that closed its standard streams: the sandbox's /dev/kvm descriptor and
 * this function's own and the VM's are open when it is made).
 * HL_KVM_ANCHOR=0: not, for a process that makes one sandbox (the CLI) and for benchmarks; then
 * no probe either (below), every sandbox gets the keeper.
 *
 * Its first runs answer, once per process, whether a sandbox needs the keeper (start_keeper):
 * HL_KVM_KEEPER=1 or 0 decides instead (tests). A probe that could not tell is not kept: later
 * sandboxes get the keeper and ask again in a VM of their own, up to three times. */
#define ANCHOR_ID 2
static int g_anchor = -1; /* never read again: it only has to stay open */
static pthread_once_t g_anchor_once = PTHREAD_ONCE_INIT;
static atomic_int g_verdict; /* 0: not known, 1: the keeper is needed, 2: it is not */
static atomic_int g_probes;

static int probe_wanted(int kvm)
{
    const char *force = getenv("HL_KVM_KEEPER");
    if (force && (strcmp(force, "1") == 0 || strcmp(force, "0") == 0)) {
        atomic_store(&g_verdict, force[0] == '1' ? 1 : 2);
        return 0;
    }
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0) { /* before Linux 5.14 */
        atomic_store(&g_verdict, 1);
        return 0;
    }
    return atomic_fetch_add(&g_probes, 1) < 3;
}

static void record(int kept)
{
    if (kept >= 0)
        atomic_store(&g_verdict, kept ? 2 : 1);
}

static int g_no_anchor;

/* Without the idle vCPU no probe either: the keeper, unless HL_KVM_KEEPER says otherwise. */
static void no_probe(int kvm)
{
    (void)probe_wanted(kvm); /* applies HL_KVM_KEEPER */
    int unknown = 0;
    atomic_compare_exchange_strong(&g_verdict, &unknown, 1);
}

static void make_anchor(void)
{
    const char *no = getenv("HL_KVM_ANCHOR");
    g_no_anchor = no && strcmp(no, "0") == 0;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return;
    if (g_no_anchor) {
        no_probe(kvm);
    } else {
        int kept = -1;
        g_anchor = scratch_vcpu(kvm, ANCHOR_ID, probe_wanted(kvm) ? &kept : NULL);
        record(kept);
    }
    close(kvm);
}

static int keeper_needed(int kvm)
{
    pthread_once(&g_anchor_once, make_anchor);
    int v = atomic_load(&g_verdict);
    if (!v) {
        if (g_no_anchor) /* make_anchor could not open /dev/kvm */
            no_probe(kvm);
        else if (probe_wanted(kvm)) {
            int kept = -1, vcpu = scratch_vcpu(kvm, 0, &kept);
            if (vcpu >= 0)
                close(vcpu);
            record(kept);
        }
        v = atomic_load(&g_verdict);
    }
    return v != 2;
}

static hl_status kvm_create(hl_backend **out, const hl_mem *mem, const hl_layout *l, const hl_elf_info *elf,
                            hl_io_handler io, void *io_ctx, uint64_t *base, hl_error *err)
{
    struct hl_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    b->kvm = b->vm = b->vcpu = b->keeper = -1;
    b->host = mem->host;
    b->size = mem->size;
    b->base = KVM_BASE;
    b->io = io;
    b->io_ctx = io_ctx;
    b->thread = pthread_self();
    b->signal = hl_backend_cancel_signal();
    hl_status st = open_kvm(&b->kvm, err);
    if (st)
        goto fail;
    pthread_once(&g_anchor_once, make_anchor); /* before this sandbox's VM, which then costs less */
    if (l->base != KVM_BASE) {
        st = hl_errorf(err, HL_E_LAYOUT, "a KVM sandbox starts at guest address %#llx, not %#llx",
                       (unsigned long long)KVM_BASE, (unsigned long long)l->base);
        goto fail;
    }
    /* the long-mode structures, in the page tables region (already there in a snapshot file's
     * memory, checked when it was opened) */
    const hl_layout_region *pt = &l->region[HL_REGION_PAGE_TABLES];
    uint64_t npages = mem->size / PAGE;
    if (!mem->prebuilt && (st = kvm_build_system(l, elf, mem->host + pt->offset, err)))
        goto fail;
    uint64_t sys_off = pt->offset + pt->size - HL_X86_SYS_PAGES * PAGE;
    uint64_t sys_gpa = b->base + sys_off;
    uint64_t kstack_top = b->base + l->region[HL_REGION_KERNEL_STACK].offset + l->region[HL_REGION_KERNEL_STACK].size;

    if ((b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0)) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_CREATE_VM failed: %s", strerror(errno));
        goto fail;
    }
    struct kvm_userspace_memory_region region = {.slot = 0, .flags = KVM_MEM_LOG_DIRTY_PAGES,
                                                 .guest_phys_addr = b->base, .memory_size = mem->size,
                                                 .userspace_addr = (uint64_t)(uintptr_t)mem->host};
    /* before the slot: restore protects again only what it chooses (see kvm_restore) */
    struct kvm_enable_cap manual = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                                    .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
    b->manual_protect = ioctl(b->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0 &&
                        xioctl(b->vm, KVM_ENABLE_CAP, &manual) == 0;
    if (xioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
        goto fail;
    }
    if ((b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0)) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_CREATE_VCPU failed: %s", strerror(errno));
        goto fail;
    }
    /* KVM_RUN's mask: the creating thread's without the cancel signal (kvm_run follows the
     * calling thread's) */
    if (set_guest_sigmask(b, hl_backend_guest_sigmask(NULL)) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_SET_SIGNAL_MASK failed: %s", strerror(errno));
        goto fail;
    }
    int run_size = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
        goto fail;
    }
    b->run_size = (size_t)run_size;
    b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
    if (b->run == MAP_FAILED) {
        st = hl_errorf(err, HL_E_BACKEND, "mapping the vCPU's run area failed: %s", strerror(errno));
        goto fail;
    }
    if ((st = hl_kvm_set_cpuid(b->kvm, b->vcpu, err)))
        goto fail;
    struct kvm_sregs sregs;
    if (xioctl(b->vcpu, KVM_GET_SREGS, &sregs) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_GET_SREGS failed: %s", strerror(errno));
        goto fail;
    }
    long_mode_sregs(&sregs, b->base + pt->offset, sys_gpa);
    int msr_filtered;
    if ((st = hl_kvm_msr_filter(b->kvm, b->vm, &msr_filtered, err)) ||
        (st = hl_kvm_state_save(&b->state0, b->kvm, b->vcpu, &sregs, msr_filtered, err)))
        goto fail;
    b->stubs_gpa = sys_gpa + 2 * PAGE;
    b->stub_xcr0 = hl_kvm_state_stub_xcr0(b->state0);
    if (b->stub_xcr0)
        b->stub = HL_KVM_STUB_XSTATE | (hl_kvm_state_stub_msrs(b->state0) ? HL_KVM_STUB_MSRS : 0);
    int sync = ioctl(b->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    b->sync_regs = sync > 0 && (sync & HL_KVM_SYNC_RESET) == HL_KVM_SYNC_RESET;
    if (b->sync_regs) /* every exit leaves the special registers there: where the run left CR3 */
        b->run->kvm_valid_regs = KVM_SYNC_X86_SREGS;
    if (keeper_needed(b->kvm) && (st = start_keeper(b, err)))
        goto fail;
    b->kstack_top = kstack_top;
    b->pt_gpa = b->base + pt->offset;
    b->bitmap_bytes = ((npages + 63) / 64) * 8;
    if (!(b->bitmap = calloc(1, b->bitmap_bytes)) || !(b->host_bits = calloc(1, b->bitmap_bytes)) ||
        (b->manual_protect && (!(b->clear_bits = calloc(1, b->bitmap_bytes)) || !(b->streak = calloc(1, npages)) ||
                               !(b->seen = calloc(npages, sizeof(uint32_t)))))) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
        goto fail;
    }
    *base = b->base;
    *out = b;
    return HL_OK;
fail:
    kvm_destroy(b);
    return st;
}

static void kvm_fill_peb(hl_backend *b, hl_peb *peb)
{
    (void)b;
    peb->run_mode = HL_RUN_HYPERVISOR;
    peb->host_call = 0;
    peb->host_call_ctx = 0;
}

/* On the thread about to run the guest (the caller's): cancel() and the debugger signal it. */
static void kvm_prepare(hl_backend *b)
{
    b->thread = pthread_self();
    atomic_store(&b->cancel_req, 0);
    b->run->immediate_exit = 0;
}

static void kvm_cancel(hl_backend *b)
{
    atomic_store(&b->cancel_req, 1);
    b->run->immediate_exit = 1;
    pthread_kill(b->thread, b->signal);
}

static void stopped(hl_run_result *res, hl_stop stop, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stopped(hl_run_result *res, hl_stop stop, const char *fmt, ...)
{
    res->stop = stop;
    res->vector = HL_VECTOR_NONE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
    va_end(ap);
}

/* The FXSAVE image of KVM's x87/SSE state from KVM_GET_FPU, when KVM_GET_XSAVE fails: KVM gives
 * neither MXCSR nor MXCSR_MASK there (both stay 0). */
static void fxsave_of(const struct kvm_fpu *f, uint8_t fx[512])
{
    memset(fx, 0, 512);
    memcpy(fx + 0, &f->fcw, 2);
    memcpy(fx + 2, &f->fsw, 2);
    fx[4] = f->ftwx;
    memcpy(fx + 6, &f->last_opcode, 2);
    memcpy(fx + 8, &f->last_ip, 8);
    memcpy(fx + 16, &f->last_dp, 8);
    memcpy(fx + 32, f->fpr, sizeof(f->fpr));   /* ST0-ST7, 16 bytes each */
    memcpy(fx + 160, f->xmm, sizeof(f->xmm)); /* XMM0-XMM15 */
}

/* The vCPU's registers now (it is stopped): general registers from `regs`, segments and their
 * bases from `sregs`, the x87/SSE state from the legacy area of KVM_GET_XSAVE (which is the FXSAVE
 * image, components in their initial state filled in by KVM), else from KVM_GET_FPU. */
static void regs_of(struct hl_backend *b, const struct kvm_regs *regs, const struct kvm_sregs *sregs,
                    hl_cpu_regs *out)
{
    memset(out, 0, sizeof(*out));
    out->rax = regs->rax, out->rbx = regs->rbx, out->rcx = regs->rcx, out->rdx = regs->rdx;
    out->rsi = regs->rsi, out->rdi = regs->rdi, out->rbp = regs->rbp, out->rsp = regs->rsp;
    out->r8 = regs->r8, out->r9 = regs->r9, out->r10 = regs->r10, out->r11 = regs->r11;
    out->r12 = regs->r12, out->r13 = regs->r13, out->r14 = regs->r14, out->r15 = regs->r15;
    out->rip = regs->rip, out->rflags = regs->rflags;
    out->cs = sregs->cs.selector, out->ss = sregs->ss.selector, out->ds = sregs->ds.selector;
    out->es = sregs->es.selector, out->fs = sregs->fs.selector, out->gs = sregs->gs.selector;
    out->fs_base = sregs->fs.base, out->gs_base = sregs->gs.base;
    struct kvm_xsave xsave; /* 4 KiB: enough (only AMX needs more, and the backend never asks KVM for it) */
    struct kvm_fpu fpu;
    if (xioctl(b->vcpu, KVM_GET_XSAVE, &xsave) == 0) {
        memcpy(out->fxsave, xsave.region, sizeof(out->fxsave));
        out->has_fxsave = 1;
    } else if (xioctl(b->vcpu, KVM_GET_FPU, &fpu) == 0) {
        fxsave_of(&fpu, out->fxsave);
        out->has_fxsave = 1;
    }
}

/* Fills res->regs from the stopped vCPU (unless the exit's handler did already). */
static void capture_regs(struct hl_backend *b, hl_run_result *res)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    if (res->has_regs || b->run->kvm_dirty_regs) /* a reset no KVM_RUN took: the guest never ran */
        return;
    if (xioctl(b->vcpu, KVM_GET_REGS, &regs) < 0 || xioctl(b->vcpu, KVM_GET_SREGS, &sregs) < 0)
        return;
    regs_of(b, &regs, &sregs, &res->regs);
    res->has_regs = 1;
}

/* An `out` to the exception port. Only the host's stub may report an exception, and only with the
 * frame the CPU pushed on the kernel stack (IST1): anything else is a forged report. What is
 * verified: the `out` is the stub's own for its vector, al holds that vector, rsp is exactly the
 * frame the CPU made less the stub's push of rax, and the frame's code segment is the sandbox's.
 * A page fault's address is given only under the sandbox's own page tables (CR3), with an error
 * code the CPU can produce. The registers of a genuine report are the faulting instruction's:
 * rip, rsp, rflags, cs and ss from the frame, rax from the stub's push, the rest as they are (the
 * stub changes nothing else). */
static void exception(struct hl_backend *b, const struct kvm_run *r, hl_run_result *res)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    uint8_t al = *((const uint8_t *)r + r->io.data_offset);
    if (xioctl(b->vcpu, KVM_GET_REGS, &regs) < 0 || xioctl(b->vcpu, KVM_GET_SREGS, &sregs) < 0) {
        stopped(res, HL_STOP_FAULT, "an exception whose registers could not be read: %s",
                strerror(errno));
        return;
    }
    uint64_t v = (regs.rip - b->stubs_gpa) / HL_X86_STUB_STRIDE;
    uint64_t frame_at = b->kstack_top - 48; /* error code, rip, cs, rflags, rsp, ss */
    uint64_t stub_rsp = frame_at - 8;       /* the stub's push of rax */
    if (regs.rip < b->stubs_gpa || v >= HL_X86_IDT_ENTRIES ||
        regs.rip != b->stubs_gpa + v * HL_X86_STUB_STRIDE + hl_x86_stub_out_offset((unsigned)v) ||
        r->io.size != 1 || r->io.count != 1 || al != v) {
        stopped(res, HL_STOP_PROTOCOL,
                "forged exception report: port %u written with %u from rip %#llx, not from the "
                "host's exception stub",
                (unsigned)r->io.port, (unsigned)al, (unsigned long long)regs.rip);
        return;
    }
    uint64_t saved[7]; /* rax, then the frame: error code, rip, cs, rflags, rsp, ss */
    if (regs.rsp != stub_rsp) {
        stopped(res, HL_STOP_PROTOCOL,
                "forged exception report: vector %u's stub ran with rsp %#llx, not on the CPU's "
                "exception frame (%#llx)",
                (unsigned)v, (unsigned long long)regs.rsp, (unsigned long long)stub_rsp);
        return;
    }
    memcpy(saved, b->host + (stub_rsp - b->base), sizeof(saved));
    const uint64_t *frame = saved + 1;
    if (frame[2] != HL_X86_SEL_CODE || (v == 14 && frame[0] > 0xFFFF)) {
        stopped(res, HL_STOP_PROTOCOL,
                "forged exception report: vector %u with an impossible frame (cs %#llx, error code "
                "%#llx)",
                (unsigned)v, (unsigned long long)frame[2], (unsigned long long)frame[0]);
        return;
    }
    res->stop = HL_STOP_FAULT;
    res->vector = (uint32_t)v;
    res->error_code = frame[0];
    res->rip = frame[1];
    regs_of(b, &regs, &sregs, &res->regs);
    res->regs.rax = saved[0];
    res->regs.rip = frame[1];
    res->regs.cs = frame[2];
    res->regs.rflags = frame[3];
    res->regs.rsp = frame[4];
    res->regs.ss = frame[5];
    res->has_regs = 1;
    if (v == 14 && (sregs.cr3 & ~0xFFFull) == b->pt_gpa) {
        res->fault_addr = sregs.cr2;
        res->has_fault_addr = 1;
    }
    if (v == 14)
        snprintf(res->detail, sizeof(res->detail), "%s (vector 14, error code %#llx: %s %s%s)%s",
                 hl_x86_vector_name(14), (unsigned long long)res->error_code,
                 (res->error_code & 16)  ? "instruction fetch"
                 : (res->error_code & 2) ? "write"
                                         : "read",
                 (res->error_code & 1) ? "denied by page permissions" : "of an unmapped page",
                 (res->error_code & 8) ? ", reserved bit set" : "",
                 res->has_fault_addr ? "" : " under page tables of the guest's own");
    else
        snprintf(res->detail, sizeof(res->detail), "%s (vector %u, error code %#llx)",
                 hl_x86_vector_name((unsigned)v), (unsigned)v, (unsigned long long)res->error_code);
}

static unsigned long long guest_rip(struct hl_backend *b)
{
    struct kvm_regs regs;
    return xioctl(b->vcpu, KVM_GET_REGS, &regs) == 0 ? (unsigned long long)regs.rip : 0;
}

/* The guest's instruction at rip is sysenter or sysexit (after any prefixes): invalid in 64-bit
 * mode on AMD CPUs (#UD), which KVM tries to emulate for migrated Intel guests and gives up on. */
static int sysenter_at(struct hl_backend *b, uint64_t rip)
{
    uint8_t code[8];
    if (rip < b->base || rip - b->base > b->size - sizeof(code))
        return 0;
    memcpy(code, b->host + (rip - b->base), sizeof(code));
    size_t i = 0;
    while (i < 4 && (code[i] == 0x66 || code[i] == 0xF2 || code[i] == 0xF3 || (code[i] & 0xF0) == 0x40))
        i++;
    return code[i] == 0x0F && (code[i + 1] == 0x34 || code[i + 1] == 0x35);
}

/* A KVM internal error is the guest's fault when the guest caused it (an exception it made
 * undeliverable, an instruction the CPU rejects in this mode); an ordinary instruction that this
 * KVM could not emulate means the KVM is unusable (e.g. a paravirtual KVM without SSE emulation). */
static hl_status internal_error(struct hl_backend *b, const struct kvm_run *r, hl_run_result *res, hl_error *err)
{
    unsigned long long rip = guest_rip(b);
    switch (r->internal.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        if (!sysenter_at(b, rip))
            return hl_errorf(err, HL_E_BACKEND,
                             "KVM could not emulate the guest's instruction at rip %#llx (KVM internal error, "
                             "suberror 1): this KVM cannot run sandboxes",
                             rip);
        stopped(res, HL_STOP_FAULT, "%s (vector 6): sysenter/sysexit is invalid in 64-bit mode",
                hl_x86_vector_name(6));
        res->vector = 6;
        res->rip = rip;
        return HL_OK;
    case KVM_INTERNAL_ERROR_SIMUL_EX:
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        stopped(res, HL_STOP_FAULT, "%s at rip %#llx (KVM internal error, suberror %u)",
                r->internal.suberror == KVM_INTERNAL_ERROR_SIMUL_EX
                    ? "an exception while the CPU was delivering another"
                    : "an exception or interrupt that could not be delivered",
                rip, r->internal.suberror);
        return HL_OK;
    default:
        return hl_errorf(err, HL_E_BACKEND, "KVM internal error (suberror %u) at guest rip %#llx",
                         r->internal.suberror, rip);
    }
}

/* KVM completes an I/O or MMIO exit only when KVM_RUN is called again: an exit the host abandons
 * would otherwise resume in the next run, with the next call's registers, at the instruction after
 * it (and a string I/O would repeat for ever). One KVM_RUN with immediate_exit completes what is
 * pending without entering the guest, before the memory is restored; a completion that needs
 * another exit (a string instruction's next batch) is completed too. When that fails the vCPU
 * cannot be trusted to start clean: HL_E_POISONED makes the sandbox unusable. */
hl_status hl_kvm_discard_pending(struct hl_backend *b, hl_error *err)
{
    b->run->kvm_dirty_regs = 0; /* a reset no KVM_RUN took (the run was cancelled before it) */
    for (int i = 0; i < 64; i++) {
        b->run->immediate_exit = 1;
        if (b->run->exit_reason == KVM_EXIT_IO)
            memset((uint8_t *)b->run + b->run->io.data_offset, 0,
                   (size_t)b->run->io.size * b->run->io.count <=
                           b->run_size - b->run->io.data_offset
                       ? (size_t)b->run->io.size * b->run->io.count
                       : 0);
        else if (b->run->exit_reason == KVM_EXIT_MMIO)
            memset(b->run->mmio.data, 0, sizeof(b->run->mmio.data));
        int r = HL_SYS(ioctl(b->vcpu, KVM_RUN, 0));
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) return HL_OK; /* nothing left pending */
        if (r < 0)
            return hl_errorf(err, HL_E_POISONED, "completing the guest's last exit failed: %s",
                             strerror(errno));
    }
    return hl_errorf(err, HL_E_POISONED,
                     "the guest's last exit could not be completed (64 more exits)");
}

/* The guest halted in an exception stub whose first byte the debugger made a hlt. */
static int trapped(struct hl_backend *b, hl_kvm_dx *dx)
{
    if (xioctl(b->vcpu, KVM_GET_REGS, &dx->regs) < 0) return 0;
    uint64_t at = dx->regs.rip - 1;
    return dx->regs.rip > b->stubs_gpa && at < b->stubs_gpa + HL_X86_IDT_ENTRIES * HL_X86_STUB_STRIDE &&
           (at - b->stubs_gpa) % HL_X86_STUB_STRIDE == 0;
}

/* The debugger asked to stop the guest (a cancellation goes first). */
static int kicked(struct hl_backend *b, hl_kvm_dx *dx)
{
    if (!dx || atomic_load(&b->cancel_req) || !atomic_exchange(dx->kick, 0)) return 0;
    b->run->immediate_exit = atomic_load(&b->cancel_req);
    dx->kind = HL_DX_INTERRUPT;
    return 1;
}

hl_status hl_kvm_run_loop(struct hl_backend *b, hl_run_result *res, hl_error *err, hl_kvm_dx *dx)
{
    for (;;) {
        if (atomic_load(&b->cancel_req)) {
            res->stop = HL_STOP_CANCELLED;
            return HL_OK;
        }
        if (dx && atomic_load(dx->kick) && kicked(b, dx)) return HL_OK;
        if (HL_SYS(ioctl(b->vcpu, KVM_RUN, 0)) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (kicked(b, dx)) return HL_OK;
                /* a cancel (the loop ends), or a stray one: a cancel signal left pending by an
                 * earlier run, blocked outside KVM_RUN, would interrupt every KVM_RUN: gone */
                if (!atomic_load(&b->cancel_req)) hl_backend_drain_cancel();
                continue;
            }
            return hl_errorf(err, HL_E_BACKEND, "KVM_RUN failed: %s", strerror(errno));
        }
        struct kvm_run *r = b->run;
        switch (r->exit_reason) {
        case KVM_EXIT_HLT:
            if (dx && dx->stubs_armed && trapped(b, dx)) {
                dx->kind = HL_DX_TRAP;
                return HL_OK;
            }
            res->stop = HL_STOP_HALT;
            return HL_OK;
        case KVM_EXIT_DEBUG:
            if (dx) {
                dx->kind = HL_DX_DEBUG;
                return HL_OK;
            }
            stopped(res, HL_STOP_FAULT, "unexpected KVM exit reason %u", (unsigned)r->exit_reason);
            return HL_OK;
        case KVM_EXIT_IO:
            if (r->io.direction != KVM_EXIT_IO_OUT) {
                stopped(res, HL_STOP_FAULT, "the guest read from I/O port %u",
                        (unsigned)r->io.port);
                if (dx) dx->kind = HL_DX_MMIO;
                return HL_OK;
            }
            if (r->io.port == HL_PORT_EXCEPTION) {
                exception(b, r, res);
                return HL_OK;
            }
            if (r->io.size != 1 || r->io.count != 1) {
                stopped(res, HL_STOP_PROTOCOL,
                        "the guest wrote %u x %u bytes to I/O port %u (one byte is the protocol)",
                        (unsigned)r->io.count, (unsigned)r->io.size, (unsigned)r->io.port);
                return HL_OK;
            }
            int io = b->io(b->io_ctx, r->io.port);
            if (io != 0) {
                res->stop = HL_STOP_ABORT;
                if (io == HL_IO_ABANDON)
                    b->abandoned = 1; /* a forked child: the run area is the parent's too */
                else if (dx)
                    dx->kind = HL_DX_ABORT;
                return HL_OK;
            }
            break;
        case KVM_EXIT_MMIO:
            stopped(res, HL_STOP_FAULT, "the guest accessed address %#llx, outside its memory",
                    (unsigned long long)r->mmio.phys_addr);
            if (dx) dx->kind = HL_DX_MMIO;
            return HL_OK;
        case KVM_EXIT_SHUTDOWN:
            stopped(res, HL_STOP_FAULT, "%s",
                    "triple fault (an exception while handling an exception)");
            return HL_OK;
        case KVM_EXIT_FAIL_ENTRY:
            return hl_errorf(err, HL_E_BACKEND,
                             "KVM could not enter the guest (hardware reason %#llx)",
                             (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
        case KVM_EXIT_INTERNAL_ERROR:
            return internal_error(b, r, res, err);
        default:
            stopped(res, HL_STOP_FAULT, "unexpected KVM exit reason %u", (unsigned)r->exit_reason);
            return HL_OK;
        }
    }
}

static hl_status finish_run(hl_backend *b, hl_run_result *res, hl_status st, hl_error *err);

/* A reset that no KVM_RUN will take (it failed half-way, or the run could not start): nothing of
 * it is applied later, and the run area says again where the guest left CR3 (the next run's
 * choice of CR3 is made from it: it must differ from the vCPU's real one). */
static void withdraw_reset(hl_backend *b, uint64_t left)
{
    b->run->kvm_dirty_regs = 0;
    if (b->sync_regs && !b->dbg)
        b->run->s.regs.sregs.cr3 = left;
}

static hl_status kvm_run(hl_backend *b, uint64_t entry, uint64_t arg, uint64_t stack_top,
                         hl_run_result *res, hl_error *err)
{
    memset(res, 0, sizeof(*res));
    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = entry;
    regs.rsp = stack_top - 8; /* as after a call: rsp + 8 is 16-byte aligned */
    regs.rdi = arg;
    regs.rflags = 2;
    /* the entry stub resets XCR0 and the XSAVE state (x86_64.h); not under a debugger, whose
     * loader and breakpoints expect the run to start at the entry itself */
    unsigned by_stub = b->dbg ? 0 : b->stub;
    if (by_stub) {
        regs.rip = b->stubs_gpa + HL_X86_ENTRY_OFFSET;
        regs.r8 = b->stub_xcr0;
        regs.r9 = entry;
        regs.r10 = by_stub & HL_KVM_STUB_MSRS ? HL_X86_ENTRY_MSRS : 0;
    }
    /* a CR3 other than the one the last run ended with: KVM then flushes the guest's TLB (see
     * start_keeper). Not under a debugger, which compares the registers with the saved ones. */
    uint64_t cr3 = 0, left = 0;
    if (!b->dbg) {
        struct kvm_sregs now;
        if (b->sync_regs)
            left = b->run->s.regs.sregs.cr3; /* kvm_valid_regs: as the last KVM_RUN left it */
        else if (xioctl(b->vcpu, KVM_GET_SREGS, &now) == 0)
            left = now.cr3;
        else
            return hl_errorf(err, HL_E_BACKEND, "KVM_GET_SREGS failed: %s", strerror(errno));
        cr3 = left == b->pt_gpa ? b->pt_gpa | HL_CR3_PWT : b->pt_gpa;
    }
    /* not under a debugger: its runs go through KVM_RUN several times, and it reads and sets the
     * registers itself in between */
    hl_status st = hl_kvm_state_reset(b->state0, b->vcpu, &regs, cr3, by_stub,
                                      b->sync_regs && !b->dbg ? b->run : NULL, err);
    if (st) {
        withdraw_reset(b, left);
        return st;
    }
    /* CR8 (the task priority) too: without an in-kernel APIC, KVM_RUN sets it from the run area
     * after the special registers, and the last exit left the guest's value there */
    b->run->cr8 = hl_kvm_state_sregs(b->state0)->cr8;
    b->run->exit_reason = KVM_EXIT_UNKNOWN;
    /* the cancel signal is blocked on this thread while the run lasts, except inside KVM_RUN
     * (KVM_SET_SIGNAL_MASK): host functions' system calls are never cut short by it */
    sigset_t cancel, caller;
    sigemptyset(&cancel);
    sigaddset(&cancel, b->signal);
    HL_SYS(pthread_sigmask(SIG_BLOCK, &cancel, &caller));
    /* inside KVM_RUN the thread has the vCPU's mask, set for the thread that created the sandbox:
     * the caller's own (another thread's may differ) with the cancel signal open, or a signal the
     * caller blocks would be delivered to it while the guest runs. Set again only when it differs
     * (no system call when the same threads keep calling). */
    uint64_t want = hl_backend_guest_sigmask(&caller);
    if (want != b->guest_sigmask && set_guest_sigmask(b, want) < 0) {
        st = hl_errorf(err, HL_E_BACKEND, "KVM_SET_SIGNAL_MASK failed: %s", strerror(errno));
        withdraw_reset(b, left);
        HL_SYS(pthread_sigmask(SIG_SETMASK, &caller, NULL));
        return st;
    }
    st = b->dbg ? hl_kvm_debug_run(b, res, err) : hl_kvm_run_loop(b, res, err, NULL);
    if (!b->abandoned)
        st = finish_run(b, res, st, err);
    HL_SYS(pthread_sigmask(SIG_SETMASK, &caller, NULL));
    return st;
}

/* How the run ended, made final: the registers where it stopped, the exit completed. */
static hl_status finish_run(hl_backend *b, hl_run_result *res, hl_status st, hl_error *err)
{
    if (res->stop == HL_STOP_HALT && !st) /* hlt leaves nothing pending */
        return b->dbg ? hl_kvm_debug_end(b, err) : HL_OK;
    if (!st)
        capture_regs(b, res); /* where the guest stopped, before the exit is completed */
    /* every other end abandons the guest where it stopped */
    hl_status dst = hl_kvm_discard_pending(b, st ? NULL : err);
    if (b->dbg) {
        hl_status est = hl_kvm_debug_end(b, st || dst ? NULL : err);
        if (!dst) dst = est;
    }
    b->run->immediate_exit = atomic_load(&b->cancel_req);
    return st ? st : dst;
}

static int kvm_current_regs(hl_backend *b, hl_cpu_regs *out)
{
    hl_run_result r;
    r.has_regs = 0;
    capture_regs(b, &r);
    if (r.has_regs)
        *out = r.regs;
    return r.has_regs;
}

static hl_status get_dirty_log(struct hl_backend *b, hl_error *err)
{
    struct kvm_dirty_log log = {.slot = 0};
    log.dirty_bitmap = b->bitmap;
    if (xioctl(b->vm, KVM_GET_DIRTY_LOG, &log) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_GET_DIRTY_LOG failed: %s", strerror(errno));
    return HL_OK;
}

/* Manual protection: protects again (and forgets) the pages set in bits, whose words [wfirst,
 * wend) are the ones that may have bits set (KVM wants a range starting at a multiple of 64). */
static hl_status clear_dirty_log(struct hl_backend *b, uint64_t *bits, size_t wfirst, size_t wend, hl_error *err)
{
    uint64_t npages = b->size / PAGE, end = (uint64_t)wend * 64 < npages ? (uint64_t)wend * 64 : npages;
    struct kvm_clear_dirty_log c = {.slot = 0, .first_page = (uint64_t)wfirst * 64};
    c.num_pages = (uint32_t)(end - c.first_page);
    c.dirty_bitmap = bits + wfirst;
    if (xioctl(b->vm, KVM_CLEAR_DIRTY_LOG, &c) < 0)
        return hl_errorf(err, HL_E_POISONED, "KVM_CLEAR_DIRTY_LOG failed: %s", strerror(errno));
    return HL_OK;
}

/* From now on every page the guest writes is logged: the log is emptied (and, with manual
 * protection, every page it named protected again). */
static hl_status kvm_track_dirty(hl_backend *b, hl_error *err)
{
    hl_status st = get_dirty_log(b, err);
    if (!st && b->manual_protect)
        st = clear_dirty_log(b, b->bitmap, 0, b->bitmap_bytes / 8, err);
    return st;
}

/* Runs of at least this many dirty pages are dropped rather than copied when that is allowed:
 * a dropped page costs a fault (a nested page fault, under nested virtualisation a VM exit of
 * tens of microseconds) when the guest touches it again, a copied one costs a memcpy and stays
 * mapped; dropping long runs gives their memory back (docs/PERFORMANCE.md). */
#define DROP_RUN_PAGES 4096 /* 16 MiB: a call that wrote that much pays the faults in proportion */

/* With manual protection: page, left writable so far, is protected again at the end of this
 * restore and must earn being hot afresh; [*cfirst, *cend) are the words of clear_bits that may
 * have bits set. */
static void protect_again(struct hl_backend *b, uint64_t page, size_t *cfirst, size_t *cend)
{
    b->streak[page] = 0;
    b->clear_bits[page / 64] |= 1ull << (page % 64);
    if (page / 64 < *cfirst) *cfirst = page / 64;
    if (page / 64 + 1 > *cend) *cend = page / 64 + 1;
}

/* Restores the run [first, first + count): copies it from the snapshot, or drops it. */
static hl_status restore_run(struct hl_backend *b, const uint8_t *snapshot, int may_drop, uint64_t first,
                             uint64_t count, size_t *cfirst, size_t *cend, hl_error *err)
{
    if (may_drop && count >= DROP_RUN_PAGES) {
        if (HL_SYS(madvise(b->host + first * PAGE, count * PAGE, MADV_DONTNEED)) != 0)
            return hl_errorf(err, HL_E_POISONED, "dropping %llu dirty pages failed: %s",
                             (unsigned long long)count, strerror(errno));
        /* a page this restore made hot (page_hot) maps the file again now: left writable, it
         * would be reported dirty and copied back, a private copy again, at every restore */
        for (uint64_t p = first; b->manual_protect && p < first + count; p++)
            if (b->streak[p] == HL_KVM_HOT)
                protect_again(b, p, cfirst, cend);
        return HL_OK;
    }
    memcpy(b->host + first * PAGE, snapshot + first * PAGE, count * PAGE);
    return HL_OK;
}

/* With manual protection: whether page, found dirty, is hot (left writable, copied back at every
 * restore) or is to be protected again (its bit set in clear_bits). */
static int page_hot(struct hl_backend *b, uint64_t page)
{
    if (b->streak[page] == HL_KVM_HOT)
        return 1;
    b->streak[page] = b->seen[page] + 1 == b->restores ? (uint8_t)(b->streak[page] + 1) : 1;
    b->seen[page] = b->restores;
    if (b->streak[page] >= HL_KVM_HOT_AFTER) {
        b->streak[page] = HL_KVM_HOT; /* left writable from now on */
        return 0;                     /* (this once it was written with a fault: copy it as usual) */
    }
    b->clear_bits[page / 64] |= 1ull << (page % 64);
    return 0;
}

static hl_status kvm_restore(hl_backend *b, const uint8_t *snapshot, int may_drop, uint64_t *pages,
                             hl_error *err)
{
    hl_status st = get_dirty_log(b, err);
    if (st)
        return st;
    int demote = 0;
    if (b->manual_protect && ++b->restores % HL_KVM_HOT_PERIOD == 0) {
        demote = 1; /* every hot page is protected again below and must earn it afresh */
        b->restores++; /* never 0 (seen[] starts at 0) */
    }
    uint64_t n = 0, run_first = 0, run_len = 0; /* a run of consecutive dirty pages */
    size_t nwords = b->bitmap_bytes / 8, cfirst = nwords, cend = 0; /* the words of clear_bits set */
    for (size_t w = 0; w < nwords; w++) {
        /* a plain load first: the exchange (a locked instruction) only for words with bits set */
        uint64_t host = atomic_load_explicit(&b->host_bits[w], memory_order_relaxed);
        uint64_t bits = b->bitmap[w] | (host ? atomic_exchange(&b->host_bits[w], 0) : 0);
        while (bits) {
            uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (b->manual_protect && page_hot(b, page)) {
                /* written or not (it is not protected, the log cannot tell): copied back, which
                 * costs half of comparing it with the snapshot first (docs/PERFORMANCE.md) */
                memcpy(b->host + page * PAGE, snapshot + page * PAGE, PAGE);
                n++;
                if (demote)
                    protect_again(b, page, &cfirst, &cend);
                continue;
            }
            n++;
            if (run_len && page == run_first + run_len) {
                run_len++;
                continue;
            }
            if (run_len && (st = restore_run(b, snapshot, may_drop, run_first, run_len, &cfirst, &cend, err)))
                return st;
            run_first = page;
            run_len = 1;
        }
        if (b->manual_protect && b->clear_bits[w]) { /* (page_hot sets bits of word w only) */
            if (w < cfirst) cfirst = w;
            if (w + 1 > cend) cend = w + 1;
        }
    }
    if (run_len && (st = restore_run(b, snapshot, may_drop, run_first, run_len, &cfirst, &cend, err)))
        return st;
    *pages += n;
    if (b->manual_protect) {
        /* the copies above happen before the pages are protected again: a write after the
         * protection is logged, and nothing writes in between (the guest is not running) */
        if (cend > cfirst) { /* none when every dirty page was hot: no ioctl */
            st = clear_dirty_log(b, b->clear_bits, cfirst, cend, err);
            memset(b->clear_bits + cfirst, 0, (cend - cfirst) * 8);
        }
    }
    return st;
}

void hl_kvm_mark_dirty(hl_backend *b, uint64_t page)
{
    if (page < b->size / PAGE) /* atomic: the debugger's thread marks pages too */
        atomic_fetch_or(&b->host_bits[page / 64], 1ull << (page % 64));
}

static hl_status kvm_debug_start(hl_backend *b, const hl_debug_setup *setup, hl_error *err)
{
    return hl_kvm_debug_start(b, setup, err);
}

const hl_backend_ops hl_backend_kvm = {
    .name = "kvm",
    .cow_restore = 1,
    .thread_move_costly = 1,
    .fixed_base = KVM_BASE,
    .create = kvm_create,
    .build_system = kvm_build_system,
    .fill_peb = kvm_fill_peb,
    .prepare = kvm_prepare,
    .run = kvm_run,
    .cancel = kvm_cancel,
    .track_dirty = kvm_track_dirty,
    .mark_dirty = hl_kvm_mark_dirty,
    .restore = kvm_restore,
    .current_regs = kvm_current_regs,
    .destroy = kvm_destroy,
    .debug_start = kvm_debug_start,
};
