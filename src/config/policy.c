/* policy.c - allowed values: the table's ranges and the host's policy (locks, caps, no RunInProcess). */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "util/structsize.h"

/* The first release's hl_policy: every policy a program can hold is at least this large. */
#define HL_POLICY_SIZE_V1 sizeof(hl_policy)

bool hl_policy_valid(const hl_policy *policy)
{
    /* a policy from a newer header that sets anything this library does not know could be
     * stricter than what the library would enforce: refused */
    return policy != NULL && hl_struct_size_ok(policy->struct_size, HL_POLICY_SIZE_V1) &&
           hl_struct_tail_zero(policy, policy->struct_size, sizeof *policy);
}

bool hl_value_check_range(const hl_field_info *info, uint64_t value, uint64_t min, uint64_t max,
                          bool allow_auto, const char *who, hl_value_problem *pb)
{
    if (allow_auto && (info->flags & (HL_FIELD_ZERO_IS_AUTO | HL_FIELD_ZERO_IS_OFF)) && value == 0)
        return true;
    if (value >= min && value <= max)
        return true;
    char shown[64], range[160], help[200];
    hl_format_human(info, value, shown, sizeof shown);
    hl_format_range(info, min, max, allow_auto, range, sizeof range);
    snprintf(help, sizeof help, "allowed%s: %s", who, range);
    if (info->type == HL_FIELD_ENUM)
        hl_problem_set(pb, help, "%s \"%s\" is not allowed%s",
                       info->id == HL_CFG_EXECUTION_MODE ? "execution mode" : "value", shown, who);
    else
        hl_problem_set(pb, help, "`%s` is too %s: %s", info->key, value < min ? "small" : "large",
                       shown);
    return false;
}

hl_status hl_policy_init_sized(hl_policy *policy, size_t struct_size)
{
    if (policy == NULL || !hl_struct_size_ok(struct_size, HL_POLICY_SIZE_V1))
        return HL_E_INVALID_ARG;
    memset(policy, 0, struct_size); /* members a newer header appended: zero, "as before" */
    policy->struct_size = struct_size;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)i);
        policy->cap_min[i] = info->min;
        policy->cap_max[i] = info->max;
    }
    policy->locked = 0;
    policy->forbid_in_process = false;
    return HL_OK;
}

hl_status hl_policy_lock(hl_policy *policy, hl_config_field f)
{
    if (!hl_policy_valid(policy) || (unsigned)f >= HL_CFG_FIELD_COUNT) return HL_E_INVALID_ARG;
    policy->locked |= (uint64_t)1 << f;
    return HL_OK;
}

hl_status hl_policy_cap(hl_policy *policy, hl_config_field f, uint64_t min, uint64_t max)
{
    const hl_field_info *info = hl_config_field_info(f);
    if (!hl_policy_valid(policy) || info == NULL) return HL_E_INVALID_ARG;
    if (info->type == HL_FIELD_PATH) return HL_E_INVALID_ARG; /* a path has no range to narrow */
    if (min > max || min < info->min || max > info->max)
        return HL_E_RANGE;
    policy->cap_min[f] = min;
    policy->cap_max[f] = max;
    return HL_OK;
}

hl_status hl_policy_forbid_in_process(hl_policy *policy)
{
    if (!hl_policy_valid(policy)) return HL_E_INVALID_ARG;
    policy->forbid_in_process = true;
    return HL_OK;
}

hl_status hl_policy_forbid_debugging(hl_policy *policy)
{
    if (!hl_policy_valid(policy)) return HL_E_INVALID_ARG;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++)
        if (hl_config_field_info((hl_config_field)i)->flags & HL_FIELD_DEBUG)
            policy->locked |= (uint64_t)1 << i;
    return HL_OK;
}

bool hl_policy_is_locked(const hl_policy *policy, hl_config_field f)
{
    return policy != NULL && (unsigned)f < HL_CFG_FIELD_COUNT && (policy->locked >> f) & 1u;
}

void hl_policy_range(const hl_policy *policy, const hl_field_info *info, uint64_t *min,
                     uint64_t *max, bool *capped)
{
    *min = info->min;
    *max = info->max;
    *capped = false;
    if (policy == NULL)
        return;
    uint64_t lo = policy->cap_min[info->id], hi = policy->cap_max[info->id];
    /* a policy filled by hand may hold nonsense: never widen the table's range */
    if (lo > *min)
        *min = lo;
    if (hi < *max)
        *max = hi;
    if (*min > *max)
        *min = *max;
    *capped = *min != info->min || *max != info->max;
}

hl_policy_verdict hl_policy_check(const hl_policy *policy, const hl_field_info *info,
                                  uint64_t value, hl_value_problem *pb)
{
    uint64_t min, max;
    bool capped;
    if (info->id == HL_CFG_EXECUTION_MODE && value == HL_MODE_RUN_IN_PROCESS && policy != NULL &&
        policy->forbid_in_process) {
        hl_problem_set(pb,
                       "this host runs every guest in a hypervisor for isolation: remove the line "
                       "or write \"RunInHypervisor\"",
                       "`RunInProcess` is forbidden by the host");
        return HL_POLICY_FORBIDDEN;
    }
    hl_policy_range(policy, info, &min, &max, &capped);
    /* 0 ("from the guest binary") escapes no cap: it is allowed only when the range is the
     * table's; 0 that turns a feature off is always allowed */
    bool zero_ok = !capped || (info->flags & HL_FIELD_ZERO_IS_OFF);
    if (!hl_value_check_range(info, value, min, max, zero_ok, capped ? " by the host" : "", pb))
        return capped ? HL_POLICY_CAPPED : HL_POLICY_OUT_OF_RANGE;
    return HL_POLICY_OK;
}
