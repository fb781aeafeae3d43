/* services.c - what the guest's C library needs from the host besides host functions: time, randomness. */
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sandbox/sandbox_internal.h"

/* A service request (HL_PORT_SERVICE): the guest's clock_gettime and getrandom. The answer goes
 * where a host function's result would (host_result_off in `input`); a request the host cannot
 * answer, or one that does not fit, is a protocol error that ends the call. */
int hl_sb_serve_service(hl_sandbox *sb)
{
    hl_msg_service q;
    if (sb->cfg->output_data_size < sizeof(q))
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest's service request does not fit output_data_size");
    memcpy(&q, sb_region(sb, HL_REGION_OUTPUT), sizeof(q));
    uint64_t off = sb->host_result_off, limit = sb->cfg->input_data_size;
    if (q.magic != HL_MSG_SERVICE_MAGIC || off > limit || limit - off < sizeof(q) + (uint64_t)q.len)
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest wrote a malformed service request");
    uint8_t *a = sb_region(sb, HL_REGION_INPUT) + off;
    hl_msg_service ans = {HL_MSG_SERVICE_MAGIC, q.kind, q.len, 0};
    switch (q.kind) {
    case HL_SERVICE_CLOCK_REALTIME:
    case HL_SERVICE_CLOCK_MONOTONIC: {
        if (q.len != 8)
            return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest asked for a clock in other than 8 bytes");
        struct timespec t;
        clock_gettime(q.kind == HL_SERVICE_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, &t);
        uint64_t ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
        memcpy(a + sizeof(ans), &ns, 8);
        break;
    }
    case HL_SERVICE_RANDOM:
        if (q.len > HL_SERVICE_RANDOM_MAX)
            return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest asked for more than 256 random bytes at once");
        for (uint32_t done = 0; done < q.len;) {
            ssize_t n = getrandom(a + sizeof(ans) + done, q.len - done, 0);
            if (n <= 0)
                return hl_sb_io_fail(sb, HL_E_BACKEND, "getrandom failed on the host");
            done += (uint32_t)n;
        }
        break;
    default:
        return hl_sb_io_fail(sb, HL_E_GUEST_PROTOCOL, "the guest asked for an unknown service");
    }
    memcpy(a, &ans, sizeof(ans));
    hl_sb_host_wrote(sb, sb->layout.region[HL_REGION_INPUT].offset + off, sizeof(ans) + q.len);
    return 0;
}
