/* kvm.c - the RunInHypervisor backend (KVM). Until it lands, it explains what to use instead. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "util/errfmt.h"

static hl_status kvm_create(hl_backend **out, const hl_mem *mem, const hl_layout *layout, const hl_elf_info *elf,
                            hl_io_handler io, void *io_ctx, uint64_t *base, hl_error *err)
{
    (void)out, (void)mem, (void)layout, (void)elf, (void)io, (void)io_ctx, (void)base;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return hl_errorf(err, HL_E_BACKEND,
                         "RunInHypervisor needs /dev/kvm, which cannot be opened (%s): set execution_mode = "
                         "\"RunInProcess\" to debug without isolation, or run the tests in the emulated VM "
                         "(scripts/vm-test.sh)",
                         strerror(errno));
    close(fd);
    return hl_errorf(err, HL_E_BACKEND,
                     "RunInHypervisor: the KVM backend is not part of this build yet; use execution_mode = "
                     "\"RunInProcess\"");
}

static void kvm_nothing(hl_backend *b) { (void)b; }

const hl_backend_ops hl_backend_kvm = {
    .name = "kvm",
    .fixed_base = 0x200000,
    .create = kvm_create,
    .prepare = kvm_nothing,
    .cancel = kvm_nothing,
    .destroy = kvm_nothing,
};
