/* kvm_smoke.c - proves /dev/kvm works: one VM, one vCPU, four bytes of real-mode code that add, out and hlt. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_MEM_SIZE 0x10000u /* 64 KiB of guest memory at guest physical address 0 */
#define CODE_ADDR 0x1000u
#define TEST_PORT 0x10u

/* add al, bl ; out dx, al ; hlt */
static const uint8_t guest_code[] = {0x00, 0xd8, 0xee, 0xf4};

static int fail(const char *what)
{
    fprintf(stderr, "kvm_smoke: FAIL: %s: %s\n", what, strerror(errno));
    return 1;
}

static const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    default: return "another exit";
    }
}

/* Runs the vCPU once and prints the exit; returns the exit reason, or -1 if KVM_RUN failed. */
static int run_once(int vcpu, const struct kvm_run *run)
{
    if (ioctl(vcpu, KVM_RUN, 0) < 0)
        return -1;
    printf("kvm_smoke: KVM_RUN -> %s (%u)\n", exit_name(run->exit_reason), run->exit_reason);
    return (int)run->exit_reason;
}

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("open /dev/kvm");
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    printf("kvm_smoke: KVM_GET_API_VERSION = %d\n", api);
    if (api != 12) {
        fprintf(stderr, "kvm_smoke: FAIL: expected API version 12\n");
        return 1;
    }

    int vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap guest memory");
    memcpy(mem + CODE_ADDR, guest_code, sizeof guest_code);
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = GUEST_MEM_SIZE,
        .userspace_addr = (uint64_t)(uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");
    printf("kvm_smoke: VM created, %u KiB at guest address 0\n", GUEST_MEM_SIZE / 1024);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        return fail("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");

    /* Real mode, code segment based at 0, so CS:IP = 0:CODE_ADDR. */
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return fail("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = CODE_ADDR, .rflags = 0x2, .rax = 2, .rbx = 3, .rdx = TEST_PORT};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS");

    int reason = run_once(vcpu, run);
    if (reason < 0)
        return fail("KVM_RUN (first)");
    if (reason != KVM_EXIT_IO) {
        fprintf(stderr, "kvm_smoke: FAIL: expected KVM_EXIT_IO first\n");
        return 1;
    }
    const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
    printf("kvm_smoke: io %s port 0x%x size %u count %u data %u\n",
           run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port, run->io.size,
           run->io.count, data[0]);
    if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != TEST_PORT || run->io.size != 1 ||
        run->io.count != 1 || data[0] != 5) {
        fprintf(stderr, "kvm_smoke: FAIL: expected out of 1 byte, value 5 (2 + 3), to port 0x%x\n",
                TEST_PORT);
        return 1;
    }

    reason = run_once(vcpu, run);
    if (reason < 0)
        return fail("KVM_RUN (second)");
    if (reason != KVM_EXIT_HLT) {
        fprintf(stderr, "kvm_smoke: FAIL: expected KVM_EXIT_HLT second\n");
        return 1;
    }
    if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
        return fail("KVM_GET_REGS");
    printf("kvm_smoke: halted with rip 0x%llx\n", (unsigned long long)regs.rip);
    if (regs.rip != CODE_ADDR + sizeof guest_code) {
        fprintf(stderr, "kvm_smoke: FAIL: expected rip 0x%zx after hlt\n", CODE_ADDR + sizeof guest_code);
        return 1;
    }

    munmap(run, (size_t)run_size);
    munmap(mem, GUEST_MEM_SIZE);
    close(vcpu);
    close(vm);
    close(kvm);
    printf("kvm_smoke: PASS\n");
    return 0;
}
