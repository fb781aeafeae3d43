/* config.c - the config model from the field table: defaults, setters, getters, comparison, totals. */
#include "hyperlight/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "util/structsize.h"

#define HL_UNIT_SIZE "bytes"
#define HL_UNIT_DURATION "ms"
#define HL_UNIT_ENUM NULL
#define HL_UNIT_INTEGER NULL
#define HL_UNIT_PATH NULL

_Static_assert(HL_CFG_FIELD_COUNT <= HL_CONFIG_MAX_FIELDS, "hl_config's per-field arrays are full");
_Static_assert(HL_CONFIG_MAX_FIELDS <= 64, "hl_policy.locked is a 64-bit mask");

static const hl_field_info fields[HL_CFG_FIELD_COUNT] = {
#define HL_X_(ID, key_, type_, flags_, def_, min_, max_, choices_, doc_, why_)                     \
    {.id = HL_CFG_##ID,                                                                            \
     .key = #key_,                                                                                 \
     .type = HL_FIELD_##type_,                                                                     \
     .flags = (flags_),                                                                            \
     .def = (uint64_t)(def_),                                                                      \
     .min = (uint64_t)(min_),                                                                      \
     .max = (uint64_t)(max_),                                                                      \
     .unit = HL_UNIT_##type_,                                                                      \
     .doc = doc_,                                                                                  \
     .why_min = why_,                                                                              \
     .choices = choices_,                                                                          \
     .nchoices = HL_FIELD_##type_ == HL_FIELD_ENUM ? (size_t)((max_) - (min_) + 1) : 0},
    HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
};

size_t hl_config_field_count(void)
{
    return HL_CFG_FIELD_COUNT;
}

const hl_field_info *hl_config_field_info(hl_config_field f)
{
    if ((unsigned)f >= HL_CFG_FIELD_COUNT)
        return NULL;
    return &fields[f];
}

const hl_field_info *hl_config_field_find(const char *key)
{
    if (key == NULL)
        return NULL;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

/* The storage of field f in cfg: a uint64_t, or for a PATH (text_slot) a char array. */
#define HL_NUMBER_SLOT_SIZE(key) &cfg->key
#define HL_NUMBER_SLOT_DURATION(key) &cfg->key
#define HL_NUMBER_SLOT_ENUM(key) &cfg->key
#define HL_NUMBER_SLOT_INTEGER(key) &cfg->key
#define HL_NUMBER_SLOT_PATH(key) NULL
#define HL_TEXT_SLOT_SIZE(key) NULL
#define HL_TEXT_SLOT_DURATION(key) NULL
#define HL_TEXT_SLOT_ENUM(key) NULL
#define HL_TEXT_SLOT_INTEGER(key) NULL
#define HL_TEXT_SLOT_PATH(key) cfg->key
static uint64_t *slot(hl_config *cfg, hl_config_field f)
{
    switch (f) {
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why)                              \
    case HL_CFG_##ID:                                                                              \
        return HL_NUMBER_SLOT_##type(key);
        HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
    default:
        return NULL;
    }
}

char *hl_config_text_slot(hl_config *cfg, hl_config_field f)
{
    switch (f) {
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why)                              \
    case HL_CFG_##ID:                                                                              \
        return HL_TEXT_SLOT_##type(key);
        HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
    default:
        return NULL;
    }
}

/* The end of field f's value in hl_config: a caller's struct holds f when struct_size reaches it.
 */
static size_t value_end(hl_config_field f)
{
    static const size_t end[HL_CFG_FIELD_COUNT] = {
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why)                              \
    [HL_CFG_##ID] = offsetof(hl_config, key) + sizeof(((hl_config *)0)->key),
        HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
    };
    return end[f];
}

/* The smallest hl_config any header can have had: the members before the values and one value. */
#define HL_CONFIG_SIZE_MIN (offsetof(hl_config, input_data_size) + sizeof(uint64_t))

bool hl_config_valid(const hl_config *cfg)
{
    return cfg != NULL && hl_struct_size_ok(cfg->struct_size, HL_CONFIG_SIZE_MIN);
}

bool hl_config_holds(const hl_config *cfg, hl_config_field f)
{
    return (unsigned)f < HL_CFG_FIELD_COUNT && cfg->struct_size >= value_end(f);
}

hl_status hl_config_init_sized(hl_config *cfg, size_t struct_size)
{
    if (cfg == NULL || !hl_struct_size_ok(struct_size, HL_CONFIG_SIZE_MIN)) return HL_E_INVALID_ARG;
    hl_config full;
    memset(&full, 0, sizeof full);
    full.struct_size = struct_size;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++)
        if (slot(&full, (hl_config_field)i) != NULL) /* a PATH's default is "" */
            *slot(&full, (hl_config_field)i) = fields[i].def;
    /* members a newer header appended are zero: the library knows nothing to put there */
    if (struct_size > sizeof full) memset((char *)cfg + sizeof full, 0, struct_size - sizeof full);
    memcpy(cfg, &full, struct_size < sizeof full ? struct_size : sizeof full);
    return HL_OK;
}

hl_status hl_config_import(hl_config *full, const hl_config *cfg)
{
    if (!hl_config_valid(cfg)) return HL_E_INVALID_ARG;
    hl_config_init_sized(full, sizeof *full);
    memcpy(full, cfg, cfg->struct_size < sizeof *full ? cfg->struct_size : sizeof *full);
    full->struct_size = cfg->struct_size;
    return HL_OK;
}

void hl_config_export(hl_config *cfg, const hl_config *full)
{
    size_t n = cfg->struct_size < sizeof *full ? cfg->struct_size : sizeof *full;
    size_t keep = cfg->struct_size;
    memcpy(cfg, full, n);
    cfg->struct_size = keep;
}

hl_set_result hl_config_set(hl_config *cfg, hl_config_field f, uint64_t value)
{
    const hl_field_info *info = hl_config_field_info(f);
    if (!hl_config_valid(cfg) || info == NULL || !hl_config_holds(cfg, f) ||
        info->type == HL_FIELD_PATH)
        return HL_SET_BAD_FIELD;
    if (info->type == HL_FIELD_ENUM && (value < info->min || value > info->max))
        return HL_SET_BAD_FIELD;
    if (value > info->max)
        return HL_SET_TOO_LARGE;
    hl_set_result result = HL_SET_OK;
    if (info->type == HL_FIELD_DURATION && value == 0) {
        value = info->def;
        result = HL_SET_DEFAULTED;
    } else if (value == 0 && (info->flags & (HL_FIELD_ZERO_IS_AUTO | HL_FIELD_ZERO_IS_OFF))) {
        result = HL_SET_OK;
    } else if (value < info->min) {
        value = info->min;
        result = HL_SET_RAISED;
    }
    *slot(cfg, f) = value;
    cfg->origin[f] = HL_ORIGIN_HOST;
    cfg->origin_line[f] = 0;
    return result;
}

uint64_t hl_config_get(const hl_config *cfg, hl_config_field f)
{
    if (!hl_config_valid(cfg) || (unsigned)f >= HL_CFG_FIELD_COUNT || fields[f].type == HL_FIELD_PATH)
        return 0;
    if (!hl_config_holds(cfg, f))
        return fields[f].def; /* a program built before the field existed gets its default */
    return *slot((hl_config *)cfg, f);
}

bool hl_path_text_ok(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
            return false;
    return true;
}

hl_set_result hl_config_set_string(hl_config *cfg, hl_config_field f, const char *text)
{
    const hl_field_info *info = hl_config_field_info(f);
    if (!hl_config_valid(cfg) || info == NULL || !hl_config_holds(cfg, f) ||
        info->type != HL_FIELD_PATH)
        return HL_SET_BAD_FIELD;
    size_t len = text ? strlen(text) : 0;
    if (len > info->max) return HL_SET_TOO_LARGE;
    if (!hl_path_text_ok(text, len)) return HL_SET_BAD_FIELD;
    char *dst = hl_config_text_slot(cfg, f);
    if (len) memcpy(dst, text, len);
    dst[len] = '\0';
    cfg->origin[f] = HL_ORIGIN_HOST;
    cfg->origin_line[f] = 0;
    return HL_SET_OK;
}

const char *hl_config_get_string(const hl_config *cfg, hl_config_field f)
{
    if (!hl_config_valid(cfg) || (unsigned)f >= HL_CFG_FIELD_COUNT || fields[f].type != HL_FIELD_PATH)
        return NULL;
    if (!hl_config_holds(cfg, f)) return ""; /* the default */
    return hl_config_text_slot((hl_config *)cfg, f);
}

#define HL_SET_CALL_SIZE hl_config_set
#define HL_SET_CALL_DURATION hl_config_set
#define HL_SET_CALL_ENUM hl_config_set
#define HL_SET_CALL_INTEGER hl_config_set
#define HL_SET_CALL_PATH hl_config_set_string
#define HL_GET_CALL_SIZE hl_config_get
#define HL_GET_CALL_DURATION hl_config_get
#define HL_GET_CALL_ENUM hl_config_get
#define HL_GET_CALL_INTEGER hl_config_get
#define HL_GET_CALL_PATH hl_config_get_string
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why)                              \
    hl_set_result hl_config_set_##key(hl_config *cfg, HL_FIELD_CTYPE_##type value)                 \
    {                                                                                              \
        return HL_SET_CALL_##type(cfg, HL_CFG_##ID, value);                                        \
    }                                                                                              \
    HL_FIELD_CTYPE_##type hl_config_get_##key(const hl_config *cfg)                                \
    {                                                                                              \
        return HL_GET_CALL_##type(cfg, HL_CFG_##ID);                                               \
    }
HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_

/* Appends s to the NUL-terminated buf, cutting it to fit. */
static void append(char *buf, size_t size, const char *s)
{
    size_t used = strlen(buf), n = strlen(s);
    if (used + 1 >= size)
        return;
    if (n > size - used - 1)
        n = size - used - 1;
    memcpy(buf + used, s, n);
    buf[used + n] = '\0';
}

/* Copies err's message from a problem: "message (help)". */
static hl_status fail(hl_error *err, hl_status status, const hl_value_problem *pb)
{
    if (err != NULL) {
        err->status = status;
        err->message[0] = '\0';
        append(err->message, sizeof err->message, pb->message);
        if (pb->help[0]) {
            append(err->message, sizeof err->message, " (");
            append(err->message, sizeof err->message, pb->help);
            append(err->message, sizeof err->message, ")");
        }
    }
    return status;
}

hl_status hl_config_set_text(hl_config *cfg, const char *key, const char *text, hl_origin origin,
                             hl_error *err)
{
    hl_value_problem pb;
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    if (err != NULL) {
        err->status = HL_OK;
        err->message[0] = '\0';
    }
    if (!hl_config_valid(cfg)) {
        hl_problem_set(&pb, "initialise it with hl_config_init()",
                       "hl_config_set_text: the hl_config was not initialised");
        return fail(err, HL_E_INVALID_ARG, &pb);
    }
    if (key == NULL || text == NULL || (unsigned)origin > HL_ORIGIN_HOST) {
        hl_problem_set(&pb, NULL, "hl_config_set_text: a NULL argument or a bad origin");
        return fail(err, HL_E_INVALID_ARG, &pb);
    }
    const hl_field_info *info = hl_config_field_find(key);
    if (info == NULL) {
        const char *names[HL_CFG_FIELD_COUNT];
        for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++)
            names[i] = fields[i].key;
        const char *near = hl_suggest(key, strlen(key), names, HL_CFG_FIELD_COUNT);
        char quoted[96], help[128] = "";
        hl_quote(key, strlen(key), 48, quoted, sizeof quoted);
        if (near != NULL)
            snprintf(help, sizeof help, "did you mean `%s`?", near);
        hl_problem_set(&pb, help[0] ? help : "`hyperlight config` lists the keys",
                       "unknown configuration key %s", quoted);
        return fail(err, HL_E_UNKNOWN_KEY, &pb);
    }
    if (!hl_config_holds(cfg, info->id)) {
        hl_problem_set(&pb, "rebuild the program against this version's hyperlight/config.h",
                       "`%s` is newer than the program's hl_config", info->key);
        return fail(err, HL_E_INVALID_ARG, &pb);
    }
    if (info->type == HL_FIELD_PATH) {
        if (!hl_path_check(info, text, strlen(text), &pb))
            return fail(err, strlen(text) > info->max ? HL_E_RANGE : HL_E_CONFIG, &pb);
        memcpy(hl_config_text_slot(cfg, info->id), text, strlen(text) + 1);
        cfg->origin[info->id] = (uint8_t)origin;
        cfg->origin_line[info->id] = 0;
        return HL_OK;
    }
    uint64_t value;
    if (!hl_value_parse_text(info, text, strlen(text), &value, &pb))
        return fail(err, HL_E_CONFIG, &pb);
    if (!hl_value_check_range(info, value, info->min, info->max, true, "", &pb))
        return fail(err, HL_E_RANGE, &pb);
    *slot(cfg, info->id) = value;
    cfg->origin[info->id] = (uint8_t)origin;
    cfg->origin_line[info->id] = 0;
    return HL_OK;
}

int hl_config_format_value(const hl_config *cfg, hl_config_field f, char *buf, size_t size)
{
    const hl_field_info *info = hl_config_field_info(f);
    if (!hl_config_valid(cfg) || info == NULL) {
        if (buf != NULL && size > 0)
            buf[0] = '\0';
        return -1;
    }
    uint64_t v = hl_config_get(cfg, f);
    switch (info->type) {
    case HL_FIELD_SIZE:
    case HL_FIELD_INTEGER:
        return snprintf(buf, size, "%llu", (unsigned long long)v);
    case HL_FIELD_DURATION:
        return snprintf(buf, size, "%llums", (unsigned long long)v);
    case HL_FIELD_ENUM:
        return snprintf(buf, size, "%s", hl_field_choice_name(info, v));
    case HL_FIELD_PATH:
        return snprintf(buf, size, "%s", hl_config_get_string(cfg, f));
    }
    return -1;
}

uint64_t hl_config_field_memory(hl_config_field f, uint64_t value)
{
    if (value == 0 && f == HL_CFG_STACK_SIZE_OVERRIDE)
        value = HL_DEFAULT_GUEST_STACK_SIZE;
    if (value == 0 && f == HL_CFG_HEAP_SIZE_OVERRIDE)
        value = HL_DEFAULT_GUEST_HEAP_SIZE;
    if (value > UINT64_MAX - (HL_PAGE_SIZE - 1))
        return UINT64_MAX;
    return (value + HL_PAGE_SIZE - 1) / HL_PAGE_SIZE * HL_PAGE_SIZE;
}

uint64_t hl_config_total_memory(const hl_config *cfg)
{
    if (!hl_config_valid(cfg)) return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        if (fields[i].type != HL_FIELD_SIZE)
            continue;
        uint64_t m = hl_config_field_memory((hl_config_field)i, hl_config_get(cfg, (hl_config_field)i));
        total = m > UINT64_MAX - total ? UINT64_MAX : total + m;
    }
    return total;
}

bool hl_config_equal(const hl_config *a, const hl_config *b, hl_config_field *first_diff)
{
    if (!hl_config_valid(a) || !hl_config_valid(b)) return a == b;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        const char *ta = hl_config_get_string(a, (hl_config_field)i);
        if ((ta != NULL && strcmp(ta, hl_config_get_string(b, (hl_config_field)i)) != 0) ||
            hl_config_get(a, (hl_config_field)i) != hl_config_get(b, (hl_config_field)i)) {
            if (first_diff != NULL)
                *first_diff = (hl_config_field)i;
            return false;
        }
    }
    return true;
}

const char *hl_origin_name(hl_origin origin)
{
    switch (origin) {
    case HL_ORIGIN_DEFAULT:
        return "default";
    case HL_ORIGIN_FILE:
        return "hyperfile";
    case HL_ORIGIN_PROFILE:
        return "profile";
    case HL_ORIGIN_HOST:
        return "host";
    }
    return "unknown";
}

const char *hl_field_choice_name(const hl_field_info *info, uint64_t value)
{
    if (info->type != HL_FIELD_ENUM || value >= info->nchoices) return "?";
    return info->choices[value];
}

const char *hl_execution_mode_name(hl_execution_mode mode)
{
    switch (mode) {
    case HL_MODE_RUN_IN_HYPERVISOR:
        return "RunInHypervisor";
    case HL_MODE_RUN_IN_PROCESS:
        return "RunInProcess";
    }
    return "unknown";
}

void hl_problem_set(hl_value_problem *pb, const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pb->message, sizeof pb->message, fmt, ap);
    va_end(ap);
    snprintf(pb->help, sizeof pb->help, "%s", help ? help : "");
}
