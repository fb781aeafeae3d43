/* sandbox.c - the sandbox lifecycle: create (load, lay out), initialise, call, restore, destroy. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backend/perms.h"
#include "config/config_internal.h"
#include "util/hash64.h"
#include "util/procid.h"
#include "sandbox/coredump.h"
#include "sandbox/procshare.h"
#include "sandbox/imageshare.h"
#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/file.h"
#include "util/structsize.h"
#include "util/bytes.h"

#define PAGE ((uint64_t)HL_PAGE_SIZE)
#define MAX_GUEST_FILE ((size_t)256 << 20)
#define NOMINAL_BASE 0x200000ull /* used for sizing before the real base is known */


static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void hl_sb_host_wrote(hl_sandbox *sb, uint64_t off, uint64_t len)
{
    if (!sb->snapshot_taken || len == 0 || !sb->ops->mark_dirty)
        return; /* before the snapshot there is nothing to restore; else the backend finds it */
    for (uint64_t p = off / PAGE; p <= (off + len - 1) / PAGE && p < sb->mem.size / PAGE; p++)
        sb->ops->mark_dirty(sb->be, p);
}

/* What was added to the guest ELF's addresses: its code region's address less its first vaddr. */
static uint64_t load_offset(const hl_sandbox *sb)
{
    return hl_layout_addr(&sb->layout, HL_REGION_CODE) - sb->elf.min_vaddr;
}

static void write_peb(hl_sandbox *sb)
{
    hl_peb peb;
    hl_layout_peb(sb->cfg, &sb->layout, &peb);
    if (sb->ops->fill_peb)
        sb->ops->fill_peb(sb->be, &peb);
    memcpy(sb_region(sb, HL_REGION_PEB), &peb, sizeof(peb));
}

/* hl_config is plain data a caller can fill by hand: every value must be in its field's range
 * (a 0 or out-of-range duration would otherwise mean "no limit"). */
static hl_status check_config(const hl_config *cfg, hl_error *err)
{
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        const hl_field_info *fi = hl_config_field_info((hl_config_field)f);
        if (fi->type == HL_FIELD_PATH) {
            const char *text = hl_config_get_string(cfg, (hl_config_field)f);
            size_t len = strnlen(text, HL_CONFIG_PATH_MAX);
            for (size_t i = 0; i < len; i++)
                if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
                    return hl_errorf(err, HL_E_CONFIG, "`%s` holds a control character", fi->key);
            if (len == HL_CONFIG_PATH_MAX)
                return hl_errorf(err, HL_E_CONFIG, "`%s` is not NUL-terminated", fi->key);
            continue;
        }
        uint64_t v = hl_config_get(cfg, (hl_config_field)f);
        if ((fi->flags & (HL_FIELD_ZERO_IS_AUTO | HL_FIELD_ZERO_IS_OFF)) && v == 0)
            continue;
        if (v < fi->min || v > fi->max)
            return hl_errorf(err, HL_E_CONFIG, "`%s` is %llu, outside its range %llu to %llu%s", fi->key,
                             (unsigned long long)v, (unsigned long long)fi->min, (unsigned long long)fi->max,
                             fi->unit ? fi->unit[0] == 'm' ? " ms" : " bytes" : "");
    }
    return HL_OK;
}

/* A forked child gets no copy of the guest's memory, nor of its snapshot (the child of a host
 * function that forks must not write into the parent's sandbox, nor keep the memfd's seal from
 * being set): hl_keep_from_children at every mapping of them, as soon as it is made (another
 * thread may fork at any time); hl_map_over does it for remappings. */
static void keep_from_children(hl_sandbox *sb)
{
    hl_keep_from_children(sb->mem.host, sb->mem.size);
}

/* The stack cookie: random, drawn once per process. It only tells a stack that ran past its
 * bottom (a guest reads its own anyway), so one value serves every sandbox, and the page that
 * holds it is then the same in all of them and shared with their snapshots (imageshare.h), as it
 * is in every sandbox made from one snapshot file. */
static pthread_once_t g_cookie_once = PTHREAD_ONCE_INIT;
static uint8_t g_cookie[16];

static void draw_cookie(void)
{
    ssize_t got;
    while ((got = getrandom(g_cookie, sizeof(g_cookie), 0)) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof(g_cookie))
        return;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t x = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^ (uint64_t)(uintptr_t)&t ^ (uint64_t)getpid();
    for (size_t i = 0; i < sizeof(g_cookie); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        g_cookie[i] = (uint8_t)(x >> 24);
    }
}

static hl_status map_memory(hl_sandbox *sb, hl_error *err)
{
    sb->mem.size = sb->layout.total_size;
    sb->mem.fd = memfd_create("hyperlight-sandbox", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    sb->mem.fd_off = 0;
    sb->mem.fd_owned = 1;
    if (sb->mem.fd < 0)
        return hl_errorf(err, HL_E_NOMEM, "memfd_create failed: %s", strerror(errno));
    if (ftruncate(sb->mem.fd, (off_t)sb->mem.size) != 0)
        return hl_errorf(err, HL_E_NOMEM, "could not size the guest memory (%llu bytes): %s",
                         (unsigned long long)sb->mem.size, strerror(errno));
    sb->mem.host = mmap(NULL, sb->mem.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, sb->mem.fd, 0);
    if (sb->mem.host != MAP_FAILED)
        keep_from_children(sb);
    if (sb->mem.host == MAP_FAILED) {
        sb->mem.host = NULL;
        return hl_errorf(err, HL_E_NOMEM, "could not map the guest memory (%llu bytes): %s",
                         (unsigned long long)sb->mem.size, strerror(errno));
    }
    return HL_OK;
}

static atomic_ullong serials;

/* A sandbox object with its gate, for a checked config; NULL when memory runs out. */
static hl_sandbox *new_sandbox(const hl_config *full)
{
    hl_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    if (!(sb->cfg = hl_cfg_share_take(full))) { /* one copy for the process's sandboxes alike */
        free(sb);
        return NULL;
    }
    hl_backend_sandbox_hold(); /* the cancel signal stays as it is until hl_sb_free */
    sb->serial = atomic_fetch_add(&serials, 1) + 1;
    sb->mem.fd = -1;
    hl_sb_gate_init(sb);
    hl_sb_fork_mark(sb);
    sb->ops = full->execution_mode == HL_MODE_RUN_IN_PROCESS ? &hl_backend_inproc : &hl_backend_kvm;
    return sb;
}

hl_status hl_sandbox_create_from_image(hl_sandbox **out, const void *image, size_t len, const hl_config *cfg,
                                       hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!out || !image || !cfg)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_create: NULL argument");
    *out = NULL;
    hl_config full; /* the caller's values, defaults for those its (older) header lacks */
    if (hl_config_import(&full, cfg) != HL_OK)
        return hl_errorf(err, HL_E_INVALID_ARG,
                         "hl_sandbox_create: the hl_config was not initialised (hl_config_init)");
    full.struct_size = sizeof full;
    hl_status vst = check_config(&full, err);
    if (vst)
        return vst;
    hl_sandbox *sb = new_sandbox(&full);
    if (!sb)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    hl_status st = hl_elf_parse(image, len, &sb->elf, err);
    if (!st)
        st = hl_layout_compute(sb->cfg, &sb->elf, sb->ops->fixed_base ? sb->ops->fixed_base : NOMINAL_BASE,
                               &sb->layout, err);
    if (!st)
        st = map_memory(sb, err);
    if (!st)
        st = hl_sb_job(sb, JOB_CREATE, 0, 0, err);
    if (!st) {
        uint64_t code = sb->layout.region[HL_REGION_CODE].offset;
        st = hl_elf_load(&sb->elf, image, len, sb->mem.host + code, sb->layout.region[HL_REGION_CODE].size,
                         sb->layout.base + code, err);
        /* code and read-only data: one copy for the process's sandboxes of this guest (in
         * mem.host, and in a backend's own view of the memory) */
        if (!st && (sb->ops->cow_restore || sb->ops->share_image)) {
            int r = hl_image_share_attach(&sb->mem, &sb->elf, code);
            if (r < 0)
                st = hl_errorf(err, HL_E_NOMEM, "could not map the guest's code: %s", strerror(errno));
            else if (r == 0 && sb->ops->share_image)
                st = sb->ops->share_image(sb->be, &sb->mem, &sb->layout, &sb->elf, err);
        }
    }
    if (!st) {
        write_peb(sb);
        pthread_once(&g_cookie_once, draw_cookie);
        memcpy(sb->cookie, g_cookie, sizeof(sb->cookie));
        memcpy(sb_region(sb, HL_REGION_STACK), sb->cookie, sizeof(sb->cookie));
        sb->state = SB_CREATED;
        *out = sb;
        return HL_OK;
    }
    hl_sandbox_destroy(sb);
    return st;
}

hl_status hl_sandbox_create(hl_sandbox **out, const char *path, const hl_config *cfg, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!out || !path || !cfg)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_create: NULL argument");
    *out = NULL;
    char *buf;
    size_t len;
    int e = hl_read_file(path, MAX_GUEST_FILE, &buf, &len);
    if (e == EISDIR || (e == 0 && len > MAX_GUEST_FILE)) {
        free(buf);
        return hl_errorf(err, HL_E_IO, "guest binary `%s` is not a regular file of at most %zu MiB", path,
                         MAX_GUEST_FILE >> 20);
    }
    if (e)
        return hl_errorf(err, e == ENOMEM ? HL_E_NOMEM : HL_E_IO, "cannot open guest binary `%s`: %s", path,
                         strerror(e));
    hl_status st = hl_sandbox_create_from_image(out, buf, len, cfg, err);
    if (!st) { /* for core files (NT_FILE names it, gdb opens it) and debuggers */
        char *abs = realpath(path, NULL);
        (*out)->guest_path = abs ? abs : strdup(path);
    }
    if (st && err) { /* say which file */
        char msg[HL_ERROR_MESSAGE_MAX + 256];
        snprintf(msg, sizeof(msg), "%.200s: %s", path, err->message);
        memcpy(err->message, msg, sizeof(err->message) - 1);
        err->message[sizeof(err->message) - 1] = '\0';
    }
    free(buf);
    return st;
}

/* ---- snapshot files ---- */

/* A deep copy of a function table (names into one block). */
static hl_status copy_functions(const hl_function_info *src, size_t n, hl_function_info **fns, char **names)
{
    size_t bytes = 1;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(src[i].name) + 1;
    *fns = calloc(n ? n : 1, sizeof(**fns));
    *names = malloc(bytes);
    if (!*fns || !*names) {
        free(*fns);
        free(*names);
        *fns = NULL;
        *names = NULL;
        return HL_E_NOMEM;
    }
    char *at = *names;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(src[i].name) + 1;
        (*fns)[i] = src[i];
        memcpy(at, src[i].name, len);
        (*fns)[i].name = at;
        at += len;
    }
    return HL_OK;
}

/* The settings that shape memory: every size and the execution mode. */
static int shapes_memory(const hl_field_info *fi)
{
    return fi->type == HL_FIELD_SIZE || fi->id == HL_CFG_EXECUTION_MODE;
}

hl_status hl_sandbox_create_from_snapshot(hl_sandbox **out, const hl_snapshot *snap, const hl_config *cfg,
                                          hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!out || !snap || !cfg)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_create_from_snapshot: NULL argument");
    *out = NULL;
    hl_config full;
    if (hl_config_import(&full, cfg) != HL_OK)
        return hl_errorf(err, HL_E_INVALID_ARG,
                         "hl_sandbox_create_from_snapshot: the hl_config was not initialised (hl_config_init)");
    full.struct_size = sizeof full;
    hl_status st = check_config(&full, err);
    if (st)
        return st;
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        const hl_field_info *fi = hl_config_field_info((hl_config_field)f);
        if (!shapes_memory(fi) || hl_config_get(&full, fi->id) == hl_config_get(&snap->cfg, fi->id))
            continue;
        char made[64], asked[64];
        hl_config_format_value(&snap->cfg, fi->id, made, sizeof(made));
        hl_config_format_value(&full, fi->id, asked, sizeof(asked));
        return hl_errorf(err, HL_E_CONFIG, "the snapshot was made with %s = %s, the config asks for %s", fi->key, made,
                         asked);
    }
    hl_sandbox *sb = new_sandbox(&full);
    if (!sb)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    sb->from = hl_snap_ref(snap);
    sb->elf = snap->elf;
    sb->layout = snap->layout;
    sb->dispatch = snap->dispatch;
    sb->mem.size = snap->layout.total_size;
    sb->mem.prebuilt = 1;
    if (copy_functions(snap->guestfns, snap->nguestfns, &sb->guestfns, &sb->guestfn_names) != HL_OK) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
    } else if (!(sb->guestfn_share = hl_fn_share_take(&sb->guestfns, snap->nguestfns, &sb->guestfn_names))) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
    } else if (sb->ops->cow_restore && full.gdb_port && sb->ops->debug_start) {
        /* with a debugger the backend writes into the exception stubs' page at creation: the
         * snapshot this sandbox restores from must hold that too, so it gets a private copy of
         * the image (a memfd, sealed at initialisation as a sandbox's own) and shares nothing */
        sb->nguestfns = snap->nguestfns;
        st = map_memory(sb, err);
        for (size_t i = 0; !st && i < snap->nruns; i++)
            memcpy(sb->mem.host + snap->runs[i].first * PAGE,
                   snap->map + snap->image_off + snap->runs[i].first * PAGE, snap->runs[i].count * PAGE);
    } else if (sb->ops->cow_restore) {
        /* the file's image, copy-on-write: sandboxes from one file share its pages until they write */
        sb->nguestfns = snap->nguestfns;
        sb->mem.host = mmap(NULL, sb->mem.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, snap->fd,
                            (off_t)snap->image_off);
        if (sb->mem.host != MAP_FAILED)
            keep_from_children(sb);
        if (sb->mem.host == MAP_FAILED) {
            sb->mem.host = NULL;
            st = hl_errorf(err, HL_E_NOMEM, "could not map the snapshot's memory (%llu bytes): %s",
                           (unsigned long long)sb->mem.size, strerror(errno));
        } else {
            sb->mem.fd = snap->fd; /* the hl_snapshot's: sb->from keeps it open */
            sb->mem.fd_off = snap->image_off;
            sb->mem.fd_owned = 0;
        }
    } else {
        /* absolute addresses in the image: at the snapshot's base, in a private copy; the base
         * is held by a placeholder at once, before this sandbox's own mappings (and thread stack)
         * are placed */
        sb->nguestfns = snap->nguestfns;
        uint64_t base = snap->layout.base;
        void *r = mmap((void *)(uintptr_t)base, sb->mem.size, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (r != MAP_FAILED && r != (void *)(uintptr_t)base) { /* before Linux 4.17: only a hint */
            munmap(r, sb->mem.size);
            r = MAP_FAILED;
            errno = EEXIST;
        }
        if (r == MAP_FAILED) {
            int e = errno;
            st = hl_errorf(err, HL_E_BACKEND,
                           "the snapshot's guest memory must be at address %#llx (%llu bytes), but %s: a "
                           "RunInProcess snapshot holds absolute addresses, so one sandbox from it can live in "
                           "a process at a time",
                           (unsigned long long)base, (unsigned long long)sb->mem.size,
                           e == EEXIST ? "something is mapped there in this process already (another sandbox from "
                                         "the same snapshot?)"
                                       : strerror(e));
        } else {
            hl_keep_from_children(r, sb->mem.size);
            sb->reserved = r;
            sb->mem.want_base = base;
            st = map_memory(sb, err);
        }
        for (size_t i = 0; !st && i < snap->nruns; i++)
            memcpy(sb->mem.host + snap->runs[i].first * PAGE,
                   snap->map + snap->image_off + snap->runs[i].first * PAGE, snap->runs[i].count * PAGE);
    }
    if (!st) {
        sb->reserved = NULL; /* create() takes the placeholder over, and drops it if it fails */
        st = hl_sb_job(sb, JOB_CREATE, 0, 0, err);
    }
    if (!st) {
        /* what the backend decides in the PEB (in-process: where to call the host), written only
         * when it differs (a KVM sandbox's memory stays the file's) */
        hl_peb peb, now;
        memcpy(&peb, sb_region(sb, HL_REGION_PEB), sizeof(peb));
        now = peb;
        if (sb->ops->fill_peb)
            sb->ops->fill_peb(sb->be, &peb);
        if (memcmp(&peb, &now, sizeof(peb)) != 0)
            memcpy(sb_region(sb, HL_REGION_PEB), &peb, sizeof(peb));
        memcpy(sb->cookie, sb_region(sb, HL_REGION_STACK), sizeof(sb->cookie));
        sb->state = SB_CREATED;
        *out = sb;
        return HL_OK;
    }
    hl_sandbox_destroy(sb);
    return st;
}

int hl_sb_fd_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages)
{
    if (mem->fd < 0 || !hl_fd_data_pages(mem->fd, mem->fd_off, mem->size, map, npages))
        return 0;
    hl_image_share_data_pages(mem, map, npages); /* holes in fd, data in the shared copies */
    hl_init_share_data_pages(mem, map, npages);
    return 1;
}

/* Which pages of the snapshot may hold data (1) and which are certainly zero (0), into maybe:
 * the data of the file it lives in (SEEK_DATA; every backend's snapshot is that file now). 0
 * when that cannot tell. */
static int snapshot_data_pages(const hl_sandbox *sb, uint8_t *maybe, uint64_t npages)
{
    memset(maybe, 0, npages);
    return hl_sb_fd_data_pages(&sb->mem, maybe, npages);
}

static hl_status save(hl_sandbox *sb, const char *path, hl_error *err)
{
    uint64_t npages = sb->mem.size / PAGE;
    const uint8_t *snap = sb->snapshot;
    uint64_t hoff = sb->layout.region[HL_REGION_HOST_FUNCTIONS].offset;
    hl_host_fn_table t;
    memcpy(&t, snap + hoff, sizeof(t));
    if (t.magic != HL_MSG_HOSTFN_MAGIC || t.total_len < sizeof(t) || t.total_len > sb->cfg->function_definition_size)
        return hl_errorf(err, HL_E_STATE, "cannot save a snapshot: the host function region was changed after the host "
                                          "wrote it");
    uint8_t *maybe = malloc(npages ? npages : 1);
    uint8_t *peb_page = malloc(PAGE);
    if (!maybe || !peb_page) {
        free(maybe);
        free(peb_page);
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    }
    int known = snapshot_data_pages(sb, maybe, npages);
    /* the regions the host builds, as it builds them (a debugger's trampoline in the exception
     * stubs' page is this sandbox's, not the snapshot's) */
    const hl_layout_region *pt = &sb->layout.region[HL_REGION_PAGE_TABLES];
    uint8_t *system = calloc(1, pt->size);
    hl_error e;
    hl_error_empty(&e);
    if (!system || (sb->ops->build_system && sb->ops->build_system(&sb->layout, &sb->elf, system, &e) != HL_OK)) {
        free(maybe);
        free(peb_page);
        free(system);
        return system ? hl_errorf(err, e.status, "%s", e.message) : hl_errorf(err, HL_E_NOMEM, "out of memory");
    }
    if (!sb->ops->build_system)
        memcpy(system, snap + pt->offset, pt->size); /* nothing host-built there: as it is */
    /* the PEB without what only this process means (where in-process guests call the host) */
    memcpy(peb_page, snap + sb->layout.region[HL_REGION_PEB].offset, PAGE);
    hl_peb peb;
    memcpy(&peb, peb_page, sizeof(peb));
    peb.host_call = 0;
    peb.host_call_ctx = 0;
    memcpy(peb_page, &peb, sizeof(peb));
    /* the debugging settings belong to the host that runs a sandbox, not to the snapshot */
    hl_config saved = *sb->cfg;
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        const hl_field_info *fi = hl_config_field_info((hl_config_field)f);
        if (!(fi->flags & HL_FIELD_DEBUG))
            continue;
        if (fi->type == HL_FIELD_PATH)
            hl_config_set_string(&saved, fi->id, "");
        else
            hl_config_set(&saved, fi->id, fi->def);
    }
    hl_snap_source src = {
        .cfg = &saved,
        .layout = &sb->layout,
        .elf = &sb->elf,
        .guestfns = sb->guestfns,
        .nguestfns = sb->nguestfns,
        .hostfn_table = snap + hoff,
        .hostfn_len = t.total_len,
        .dispatch = sb->dispatch,
        .thread_pointer = sb->snapshot_tp,
        .image = snap,
        .peb_page = peb_page,
        .system = system,
        .maybe = known ? maybe : NULL,
    };
    hl_status st = hl_snap_write(&src, path, err);
    free(maybe);
    free(peb_page);
    free(system);
    return st;
}

hl_status hl_snapshot_save(hl_sandbox *sb, const char *path, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!sb || !path)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_snapshot_save: NULL argument");
    hl_status st = hl_sb_enter(sb, "hl_snapshot_save", err);
    if (st) return st;
    if (sb->state == SB_POISONED)
        st = hl_errorf(err, HL_E_POISONED, "cannot save a snapshot of an unusable sandbox");
    else if (sb->state != SB_READY)
        st = hl_errorf(err, HL_E_STATE, "cannot save a snapshot before hl_sandbox_initialize");
    else
        st = save(sb, path, err);
    hl_sb_leave(sb);
    return st;
}

void hl_sandbox_set_print(hl_sandbox *sb, hl_print_fn fn, void *user)
{
    if (!sb) return;
    if (hl_sb_on_own_thread(sb)) { /* from a callback: the one thread that reads it */
        sb->print = fn;
        sb->print_user = user;
        return;
    }
    if (hl_sb_enter(sb, "hl_sandbox_set_print", NULL) != HL_OK) return;
    sb->print = fn;
    sb->print_user = user;
    hl_sb_leave(sb);
}

/* A run's time limit in ms (0: none). RunInProcess with gdb_port set has none: a debugger attached
 * to the process stops the guest, and the clock, without the library knowing. (RunInHypervisor's
 * stub tells the library when it holds the guest, and the limit is suspended meanwhile.) */
static uint32_t time_limit(const hl_sandbox *sb, uint64_t ms)
{
    if (sb->cfg->gdb_port && sb->cfg->execution_mode == HL_MODE_RUN_IN_PROCESS) return 0;
    return (uint32_t)ms;
}

static hl_status initialize(hl_sandbox *sb, hl_error *err);

/* "name(i32, string) -> u64" */
static void signature(const hl_function_info *f, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s(", f->name);
    for (size_t i = 0; i < f->nparams && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", hl_type_name(f->params[i]));
    if (n < size)
        snprintf(buf + n, size - n, ") -> %s", hl_type_name(f->ret));
}

static int same_signature(const hl_function_info *a, const hl_function_info *b)
{
    if (a->ret != b->ret || a->nparams != b->nparams)
        return 0;
    for (size_t i = 0; i < a->nparams; i++)
        if (a->params[i] != b->params[i])
            return 0;
    return 1;
}

/* A sandbox made from a snapshot file: the guest was initialised with the snapshot's host
 * function table in its memory and calls those functions by name, so the registered ones must
 * be exactly those (in any order). */
static hl_status check_host_functions(hl_sandbox *sb, hl_error *err)
{
    const hl_snapshot *snap = sb->from;
    char want[HL_MAX_NAME_LEN + 200], got[HL_MAX_NAME_LEN + 200];
    for (size_t i = 0; i < snap->nhostfns; i++) {
        const hl_function_info *f = &snap->hostfns[i];
        const host_fn *h = NULL;
        for (size_t k = 0; k < sb->nhostfns && !h; k++)
            if (strcmp(sb->hostfns[k].name, f->name) == 0)
                h = &sb->hostfns[k];
        signature(f, want, sizeof(want));
        if (!h)
            return hl_errorf(err, HL_E_CONFIG,
                             "the snapshot was made with host function %s, which is not registered", want);
        if (!same_signature(&h->info, f)) {
            signature(&h->info, got, sizeof(got));
            return hl_errorf(err, HL_E_CONFIG, "host function `%s` is registered as %s, the snapshot was made with %s",
                             f->name, got, want);
        }
    }
    for (size_t k = 0; k < sb->nhostfns; k++) {
        int known = 0;
        for (size_t i = 0; i < snap->nhostfns && !known; i++)
            known = strcmp(sb->hostfns[k].name, snap->hostfns[i].name) == 0;
        if (!known) {
            signature(&sb->hostfns[k].info, got, sizeof(got));
            return hl_errorf(err, HL_E_CONFIG,
                             "host function %s is registered, but the snapshot was made without it (its guest "
                             "cannot call it)",
                             got);
        }
    }
    return HL_OK;
}

hl_status hl_sandbox_initialize(hl_sandbox *sb, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!sb)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_initialize: NULL sandbox");
    hl_status st = hl_sb_enter(sb, "hl_sandbox_initialize", err);
    if (st) return st;
    st = initialize(sb, err);
    hl_sb_leave(sb);
    return st;
}

/* The guest's function table: a share of the process's copy (procshare.h), or its own until it
 * is shared. */
static void free_functions(hl_sandbox *sb)
{
    if (sb->guestfn_share) {
        hl_fn_share_drop(sb->guestfn_share);
    } else {
        free(sb->guestfns);
        free(sb->guestfn_names);
    }
    sb->guestfn_share = NULL;
    sb->guestfns = NULL;
    sb->guestfn_names = NULL;
    sb->nguestfns = 0;
}

static hl_status initialize(hl_sandbox *sb, hl_error *err)
{
    if (sb->state != SB_CREATED)
        return hl_errorf(err, HL_E_STATE, "the sandbox is %s",
                         sb->state == SB_READY ? "already initialised" : "unusable (a failed initialisation is not retried)");
    hl_status st;
    if (sb->from) { /* the guest was initialised with the snapshot's table; nothing runs */
        if ((st = check_host_functions(sb, err)))
            return st; /* still as created: a missing function can be registered */
        st = hl_sb_job(sb, JOB_INIT, 0, 0, err);
    } else {
        hl_function_info *defs = calloc(sb->nhostfns ? sb->nhostfns : 1, sizeof(*defs));
        if (!defs)
            return hl_errorf(err, HL_E_NOMEM, "out of memory");
        for (size_t i = 0; i < sb->nhostfns; i++)
            defs[i] = sb->hostfns[i].info;
        st = hl_codec_write_fn_table(sb_region(sb, HL_REGION_HOST_FUNCTIONS), sb->cfg->function_definition_size,
                                     HL_MSG_HOSTFN_MAGIC, defs, sb->nhostfns, "function_definition_size", err);
        free(defs);
        if (st)
            return st;
        st = hl_sb_job(sb, JOB_INIT, time_limit(sb, sb->cfg->max_initialization_time),
                       (uint32_t)sb->cfg->max_wait_for_cancellation, err);
    }
    if (st && st != HL_E_POISONED) {
        /* the guest's memory is no longer as created: no second attempt; forget what it made */
        free_functions(sb);
        if (sb->snapshot && !sb->snapshot_borrowed)
            munmap(sb->snapshot, sb->mem.size);
        sb->snapshot = NULL;
        sb->snapshot_borrowed = 0;
        sb->snapshot_taken = 0;
        sb->state = SB_POISONED;
    }
    return st;
}

static hl_status call(hl_sandbox *sb, const char *function, const hl_value *args, size_t nargs,
                      hl_value *result, hl_error *err);

hl_status hl_sandbox_call(hl_sandbox *sb, const char *function, const hl_value *args, size_t nargs,
                          hl_value *result, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (result) *result = (hl_value){HL_TYPE_VOID, {.u64 = 0}};
    if (!sb || !function || (nargs && !args))
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_call: NULL argument");
    if (hl_sb_on_own_thread(sb) && !hl_sb_forked(sb))
        return hl_errorf(err, HL_E_STATE,
                         "a host function cannot call into its own sandbox, or one whose call led to it "
                         "(it would wait for itself)");
    hl_status st = hl_sb_enter(sb, "hl_sandbox_call", err);
    if (st) return st;
    st = call(sb, function, args, nargs, result, err);
    hl_sb_leave(sb);
    return st;
}

static hl_status call(hl_sandbox *sb, const char *function, const hl_value *args, size_t nargs,
                      hl_value *result, hl_error *err)
{
    if (sb->state != SB_READY)
        return hl_errorf(err, sb->state == SB_POISONED ? HL_E_POISONED : HL_E_STATE,
                         sb->state == SB_POISONED
                             ? "the sandbox is unusable (its initialisation failed, or a call could not be cancelled): destroy it"
                             : "call hl_sandbox_initialize before calling guest functions");
    sb->call_name = function;
    sb->call_args = args;
    sb->call_nargs = nargs;
    memset(&sb->call_result, 0, sizeof(sb->call_result));
    hl_status st = hl_sb_job(sb, JOB_CALL, time_limit(sb, sb->cfg->max_execution_time),
                             (uint32_t)sb->cfg->max_wait_for_cancellation, err);
    if (st == HL_OK) st = hl_sb_keep_result(sb, &sb->call_result, err);
    if (result && st == HL_OK) *result = sb->call_result;
    return st;
}

hl_status hl_sandbox_context_begin(hl_sandbox *sb, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!sb)
        return hl_errorf(err, HL_E_STATE, "a call context needs an initialised, usable sandbox");
    hl_status st = hl_sb_enter(sb, "hl_sandbox_context_begin", err);
    if (st) return st;
    if (sb->state != SB_READY)
        st = hl_errorf(err, HL_E_STATE, "a call context needs an initialised, usable sandbox");
    else if (sb->context_open)
        st = hl_errorf(err, HL_E_STATE, "a call context is already open");
    else
        sb->context_open = 1;
    hl_sb_leave(sb);
    return st;
}

hl_status hl_sandbox_context_end(hl_sandbox *sb, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!sb) return hl_errorf(err, HL_E_STATE, "no call context is open");
    hl_status st = hl_sb_enter(sb, "hl_sandbox_context_end", err);
    if (st) return st;
    if (!sb->context_open) {
        st = hl_errorf(err, HL_E_STATE, "no call context is open");
    } else {
        sb->context_open = 0;
        if (sb->state == SB_READY) st = hl_sb_job(sb, JOB_RESTORE, 0, 0, err);
    }
    hl_sb_leave(sb);
    return st;
}

size_t hl_sandbox_function_count(const hl_sandbox *sb) { return sb ? sb->nguestfns : 0; }

const hl_function_info *hl_sandbox_function(const hl_sandbox *sb, size_t i)
{
    return sb && i < sb->nguestfns ? &sb->guestfns[i] : NULL;
}

const hl_function_info *hl_sandbox_find_function(const hl_sandbox *sb, const char *name)
{
    for (size_t i = 0; sb && name && i < sb->nguestfns; i++)
        if (strcmp(sb->guestfns[i].name, name) == 0)
            return &sb->guestfns[i];
    return NULL;
}

const hl_layout *hl_sandbox_layout(const hl_sandbox *sb) { return sb ? &sb->layout : NULL; }
const hl_config *hl_sandbox_config(const hl_sandbox *sb) { return sb ? sb->cfg : NULL; }
hl_execution_mode hl_sandbox_mode(const hl_sandbox *sb)
{
    return sb ? (hl_execution_mode)sb->cfg->execution_mode : HL_MODE_RUN_IN_HYPERVISOR;
}
bool hl_sandbox_usable(const hl_sandbox *sb)
{
    if (!sb) return false;
    if (hl_sb_on_own_thread(sb) && !hl_sb_forked(sb)) /* from a callback: the call in progress is the one running it */
        return sb->state != SB_POISONED;
    hl_sandbox *m = (hl_sandbox *)sb; /* the gate is the mutable part of a const sandbox */
    if (hl_sb_enter(m, "hl_sandbox_usable", NULL) != HL_OK) return false;
    bool usable = sb->state != SB_POISONED;
    hl_sb_leave(m);
    return usable;
}

hl_status hl_sandbox_debug_info(const hl_sandbox *sb, hl_debug_info *info)
{
    if (!info || !hl_struct_size_ok(info->struct_size, offsetof(hl_debug_info, gdb_port) + sizeof(uint16_t)))
        return HL_E_INVALID_ARG;
    hl_debug_info d = HL_DEBUG_INFO_INIT;
    size_t size = info->struct_size;
    hl_status st = HL_E_INVALID_ARG;
    if (sb) { /* fixed once created: no gate needed */
        d.mode = (hl_execution_mode)sb->cfg->execution_mode;
        d.guest_path = sb->guest_path;
        d.load_offset = load_offset(sb);
        d.code_address = hl_layout_addr(&sb->layout, HL_REGION_CODE);
        d.gdb_port = sb->cfg->execution_mode == HL_MODE_RUN_IN_HYPERVISOR ? (uint16_t)sb->cfg->gdb_port : 0;
        st = HL_OK;
    }
    d.struct_size = size;
    memcpy(info, &d, size < sizeof(d) ? size : sizeof(d));
    return st;
}

int hl_sandbox_gdb_command(const hl_sandbox *sb, char *buf, size_t size)
{
    if (buf && size) buf[0] = '\0';
    if (!sb) return -1;
    if (sb->cfg->execution_mode == HL_MODE_RUN_IN_HYPERVISOR)
        return sb->cfg->gdb_port ? snprintf(buf, size, "target remote 127.0.0.1:%u", (unsigned)sb->cfg->gdb_port) : -1;
    if (!sb->guest_path) return -1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return -1;
    /* gdb splits add-symbol-file's arguments like a shell: quote the path, escaping \ and " */
    fputs("add-symbol-file \"", f);
    for (const char *p = sb->guest_path; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', f);
        fputc(*p, f);
    }
    uint64_t off = load_offset(sb);
    fprintf(f, "\" -o %#llx\n", (unsigned long long)off);
    /* the guest's code, marked read-only for gdb: its breakpoints (finish's and step's too)
     * become hardware ones rather than int3 in code the process's sandboxes share */
    fputs("set mem inaccessible-by-default off", f);
    for (size_t i = 0; i < sb->elf.nsegs; i++) {
        const hl_elf_segment *seg = &sb->elf.segs[i];
        if (!(seg->flags & HL_ELF_SEG_X)) continue;
        uint64_t lo = (off + seg->vaddr) & ~(PAGE - 1), hi = (off + seg->vaddr + seg->memsz + PAGE - 1) & ~(PAGE - 1);
        fprintf(f, "\nmem %#llx %#llx ro", (unsigned long long)lo, (unsigned long long)hi);
    }
    /* the library's own signal: the guest's system calls (SIGSEGV is a guest's fault: gdb stops
     * there, and passes it on when continued) */
    fputs("\nhandle SIGSYS nostop noprint pass", f);
    if (fclose(f) != 0) {
        free(text);
        return -1;
    }
    int n = snprintf(buf, size, "%s", text);
    free(text);
    return n;
}

/* Copies the counters into the caller's stats, as far as its struct_size reaches. */
static void give_stats(hl_sandbox_stats *stats, const hl_sandbox_stats *from)
{
    size_t size = stats->struct_size;
    hl_sandbox_stats all = *from;
    all.struct_size = size;
    memcpy(stats, &all, size < sizeof all ? size : sizeof all);
}

hl_status hl_sandbox_get_stats(const hl_sandbox *sb, hl_sandbox_stats *stats)
{
    if (!stats || !hl_struct_size_ok(stats->struct_size, sizeof(hl_sandbox_stats)))
        return HL_E_INVALID_ARG;
    hl_sandbox_stats zero = HL_SANDBOX_STATS_INIT;
    give_stats(stats, &zero);
    if (!sb) return HL_OK;
    if (hl_sb_on_own_thread(sb)) { /* from a callback: the thread that writes them */
        give_stats(stats, &sb->stats);
        return HL_OK;
    }
    hl_sandbox *m = (hl_sandbox *)sb;
    if (hl_sb_enter(m, "hl_sandbox_get_stats", NULL) != HL_OK) return HL_OK;
    give_stats(stats, &sb->stats);
    hl_sb_leave(m);
    return HL_OK;
}

void hl_sb_free(hl_sandbox *sb)
{
    /* in a forked child the memory is not mapped (keep_from_children), and whatever the child
     * mapped since may sit where it was: none of the sandbox's ranges are unmapped there */
    int here = !hl_sb_forked(sb);
    if (sb->be)
        hl_sb_job(sb, JOB_EXIT, 0, 0, NULL);
    if (sb->mem.host && here && !sb->mem.host_in_view) /* a view: the backend unmapped it */
        munmap(sb->mem.host, sb->mem.size);
    if (sb->mem.fd >= 0 && sb->mem.fd_owned)
        close(sb->mem.fd);
    if (sb->snapshot && !sb->snapshot_borrowed && here)
        munmap(sb->snapshot, sb->mem.size);
    hl_image_share_detach(&sb->mem);
    hl_init_share_detach(&sb->mem);
    if (sb->reserved && here)
        munmap(sb->reserved, sb->mem.size);
    hl_snapshot_close(sb->from);
    hl_sb_free_hostfns(sb);
    free_functions(sb);
    free(sb->last_core);
    hl_buf_free(&sb->result_store);
    hl_buf_free(&sb->call_store);
    hl_buf_free(&sb->msg_store);
    free(sb->guest_path);
    hl_sb_gate_free(sb);
    hl_cfg_share_drop(sb->cfg);
    free(sb);
    hl_backend_sandbox_release();
}

void hl_sandbox_destroy(hl_sandbox *sb)
{
    if (sb && hl_sb_begin_destroy(sb)) hl_sb_free(sb);
}

/* ---- on the job's thread ---- */

static hl_status job_fail(hl_sandbox *sb, hl_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static hl_status job_fail(hl_sandbox *sb, hl_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sb->job_err.message, sizeof(sb->job_err.message), fmt, ap);
    va_end(ap);
    sb->job_err.status = st;
    if (st == HL_E_POISONED) /* a restore or a snapshot that failed half-way: nothing runs again */
        sb->state = SB_POISONED;
    return st;
}

/* Which region holds guest address addr, or -1. */
static int region_at(const hl_sandbox *sb, uint64_t addr)
{
    if (addr < sb->layout.base || addr - sb->layout.base >= sb->layout.total_size)
        return -1;
    uint64_t off = addr - sb->layout.base;
    for (int i = 0; i < HL_REGION_COUNT; i++)
        if (off >= sb->layout.region[i].offset && off - sb->layout.region[i].offset < sb->layout.region[i].size)
            return i;
    return -1;
}

/* What a run is, as its error messages name it ("the guest's initialisation", "the call to
 * `f`"): formatted only when a message needs it, not for every call. */
typedef struct run_what {
    const char *fn; /* NULL: the initialisation */
    char text[HL_MAX_NAME_LEN + 32];
} run_what;

static const char *what_text(run_what *w)
{
    if (!w->fn) return "the guest's initialisation";
    if (!w->text[0]) snprintf(w->text, sizeof(w->text), "the call to `%.255s`", w->fn);
    return w->text;
}

/* Turns the end of a run into the call's status: reads results, errors, aborts and faults. */
static hl_status outcome(hl_sandbox *sb, const hl_run_result *r, run_what *w)
{
    const hl_config *c = sb->cfg;
    int cookie_ok = memcmp(sb_region(sb, HL_REGION_STACK), sb->cookie, sizeof(sb->cookie)) == 0;
    if (r->stop == HL_STOP_HALT && cookie_ok)
        return HL_OK;
    const char *what = what_text(w);
    switch (r->stop) {
    case HL_STOP_CANCELLED:
        return job_fail(sb, HL_E_CANCELLED, "%s was cancelled: it ran longer than %s (%llu ms)", what,
                        sb->state == SB_CREATED ? "max_initialization_time" : "max_execution_time",
                        (unsigned long long)(sb->state == SB_CREATED ? c->max_initialization_time
                                                                     : c->max_execution_time));
    case HL_STOP_ABORT: {
        if (sb->io_status)
            return job_fail(sb, sb->io_status, "%s failed: %s", what, sb->io_message);
        uint32_t code;
        size_t len;
        const char *msg = hl_codec_read_message(sb_region(sb, HL_REGION_PANIC_CONTEXT),
                                                c->guest_panic_context_buffer_size, &sb->msg_store, &code, &len);
        sb->job_err.guest_code = code;
        if (code == HL_PANIC_CODE)
            return job_fail(sb, HL_E_GUEST_PANIC, "the guest panicked in %s: %.*s", what, (int)len, msg);
        return job_fail(sb, HL_E_GUEST_ABORT, "the guest aborted %s with code %u: %.*s", what, code, (int)len, msg);
    }
    case HL_STOP_PROTOCOL:
        return job_fail(sb, HL_E_GUEST_PROTOCOL, "the guest broke the protocol in %s: %s", what, r->detail);
    case HL_STOP_DEBUGGER:
        return job_fail(sb, HL_E_CANCELLED, "%s was ended by the debugger (gdb's `kill`)", what);
    case HL_STOP_FAULT: {
        if (r->vector == HL_VECTOR_NONE)
            return job_fail(sb, HL_E_GUEST_FAULT, "the guest stopped abnormally in %s: %s", what, r->detail);
        int reg = r->has_fault_addr ? region_at(sb, r->fault_addr) : -1;
        sb->job_err.guest_code = r->vector;
        if (reg == HL_REGION_STACK_GUARD)
            return job_fail(sb, HL_E_STACK_OVERFLOW,
                            "stack overflow in %s: the guest ran past its %llu-byte stack (raise stack_size_override)",
                            what, (unsigned long long)sb->layout.stack_size);
        char where[160] = "";
        if (!r->has_fault_addr)
            return job_fail(sb, HL_E_GUEST_FAULT, "the guest faulted in %s: %s, rip %#llx", what,
                            r->detail[0] ? r->detail : "exception", (unsigned long long)r->rip);
        if (reg >= 0)
            snprintf(where, sizeof(where), " (in the %s region%s)", hl_region_name((hl_region_id)reg),
                     reg == HL_REGION_HOST_EXCEPTION || reg == HL_REGION_HOST_FUNCTIONS ? ", read-only to the guest"
                     : reg == HL_REGION_KERNEL_STACK_GUARD || reg == HL_REGION_BOOT_STACK_GUARD ? ", a guard page"
                                                                                               : "");
        else if (r->fault_addr < sb->layout.base)
            snprintf(where, sizeof(where), " (below the sandbox: a NULL pointer?)");
        else
            snprintf(where, sizeof(where), " (outside the sandbox's memory)");
        return job_fail(sb, HL_E_GUEST_FAULT, "the guest faulted in %s: %s at address %#llx%s, rip %#llx", what,
                        r->detail[0] ? r->detail : "exception", (unsigned long long)r->fault_addr, where,
                        (unsigned long long)r->rip);
    }
    case HL_STOP_HALT:
        break;
    }
    if (!cookie_ok)
        return job_fail(sb, HL_E_STACK_OVERFLOW,
                        "stack overflow in %s: the stack cookie at the bottom of the %llu-byte stack was overwritten "
                        "(raise stack_size_override)",
                        what, (unsigned long long)sb->layout.stack_size);
    return HL_OK;
}

static hl_status run_guest(hl_sandbox *sb, uint64_t entry, run_what *what)
{
    hl_run_result *r = &sb->last_run;
    hl_error e;
    hl_error_empty(&e);
    sb->io_status = HL_OK;
    uint64_t stack_top = hl_layout_addr(&sb->layout, HL_REGION_STACK) + sb->layout.region[HL_REGION_STACK].size;
    hl_status st = hl_sb_run_begin(sb);
    if (st)
        return st;
    uint64_t t0 = now_ns();
    st = sb->ops->run(sb->be, entry, hl_layout_addr(&sb->layout, HL_REGION_PEB), stack_top, r, &e);
    sb->stats.last_run_ns = now_ns() - t0;
    hl_sb_run_finished(sb);
    if (hl_sb_forked(sb)) { /* a host function forked and this is the child: the guest is the parent's */
        sb->state = SB_POISONED;
        return job_fail(sb, HL_E_STATE,
                        "%s ended in the child of a fork() made by a host function or the print function: "
                        "the guest does not run in the child (its memory is the parent's sandbox's, where "
                        "the call goes on); a sandbox made before a fork can only be destroyed in the child",
                        what_text(what));
    }
    if (st == HL_E_POISONED) /* the backend cannot vouch for the vCPU any more */
        sb->state = SB_POISONED;
    if (st)
        return job_fail(sb, st, "%s", e.message);
    return outcome(sb, r, what);
}

static hl_status restore(hl_sandbox *sb)
{
    uint64_t t0 = now_ns(), pages = 0;
    hl_error e;
    hl_error_empty(&e);
    hl_status st = sb->ops->restore(sb->be, sb->snapshot, sb->ops->cow_restore, &pages, &e);
    sb->stats.last_restore_pages = pages;
    sb->stats.last_restore_ns = now_ns() - t0;
    if (st) { /* the memory is neither the call's nor the snapshot's: nothing runs again */
        sb->state = SB_POISONED;
        return job_fail(sb, HL_E_POISONED, "restoring the snapshot failed: %s", e.message);
    }
    return HL_OK;
}

/* Which sandboxes' snapshots are compared page by page (imageshare.h): the same guest image
 * (its shared copy) and the same layout. Only a hint: pages are shared when their bytes are
 * equal, whatever the key. */
static uint64_t snapshot_key(const hl_sandbox *sb)
{
    return hl_hash64(&sb->layout, sizeof(sb->layout), (uint64_t)(uintptr_t)sb->mem.share);
}

/* Maps the snapshot over a view of the whole memory at `at` (a cow_restore backend's): the
 * sealed memfd, or the offered snapshot with the sandbox's own pages over it (imageshare.h), and
 * the shared image pages over either. Copy-on-write and writable (mem.host), or shared
 * read-only (what restore copies from). 0, or -1 with errno (the view is unusable then). */
static int map_snapshot(hl_sandbox *sb, uint8_t *at, int writable)
{
    int r = sb->mem.pool ? hl_init_share_map(&sb->mem, at, writable)
                         : hl_map_over(at, sb->mem.size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                                       (writable ? MAP_PRIVATE : MAP_SHARED) | MAP_NORESERVE, sb->mem.fd, 0);
    return r != 0 || hl_image_share_map(&sb->mem, at, writable) != 0 ? -1 : 0;
}

/* The snapshot mapped read-only as `snapshot` (what restore copies from, and what is saved):
 * no memory of its own. */
static hl_status map_snapshot_readonly(hl_sandbox *sb)
{
    sb->snapshot = mmap(NULL, sb->mem.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sb->snapshot == MAP_FAILED) {
        sb->snapshot = NULL;
        return job_fail(sb, HL_E_NOMEM, "mapping the snapshot failed: %s", strerror(errno));
    }
    if (map_snapshot(sb, sb->snapshot, 0) != 0)
        return job_fail(sb, HL_E_NOMEM, "mapping the snapshot failed: %s", strerror(errno));
    return HL_OK;
}

/* Gives back the pages of the memfd that hold only zeros (a hole reads as zeros too): pages the
 * guest's initialisation only read, or cleared. Read through mem.host (the shared view of the
 * whole memfd), so before that goes; its resident pages are the memfd's (and the shared image's,
 * where the memfd has holes already). */
static void punch_zero_pages(hl_sandbox *sb)
{
    uint64_t npages = sb->mem.size / PAGE;
    uint8_t *data = calloc(npages ? npages : 1, 1);
    /* one mincore, where that tells (no swap); else SEEK_DATA, a call per run */
    if (data && (hl_resident_pages(sb->mem.host, sb->mem.size, data, npages) ||
                 hl_fd_data_pages(sb->mem.fd, sb->mem.fd_off, sb->mem.size, data, npages)))
        for (uint64_t p = 0; p < npages; p++) {
            if (!data[p] || !hl_page_is_zero(sb->mem.host + p * PAGE))
                continue;
            uint64_t q = p + 1;
            while (q < npages && data[q] && hl_page_is_zero(sb->mem.host + q * PAGE))
                q++;
            /* a failure leaves the pages as they are: equal either way */
            (void)fallocate(sb->mem.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            (off_t)(sb->mem.fd_off + p * PAGE), (off_t)((q - p) * PAGE));
            p = q;
        }
    free(data);
}

/* Nothing may change the snapshot now: not a stray shared mapping, not a truncation. */
static hl_status seal(hl_sandbox *sb)
{
    if (fcntl(sb->mem.fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        return job_fail(sb, HL_E_BACKEND, "sealing the snapshot failed: %s", strerror(errno));
    return HL_OK;
}

/* Keeps the memory as it is now as the state every call starts from: the memfd itself becomes
 * the snapshot, sealed against writes and mapped read-only as `snapshot`. With a cow_restore
 * backend mem.host is remapped, at the same address (the backend keeps using it), as a private
 * copy-on-write mapping of it; with a cow_view backend the backend's own view becomes that
 * mapping, and mem.host (the host's shared view of the memfd until now) is replaced by it. Pages
 * the guest or the host then write become private copies, which a restore copies back (or
 * drops). */
static hl_status take_snapshot(hl_sandbox *sb)
{
    hl_status st;
    if (sb->ops->cow_view) {
        if (sb->ops->thread_pointer)
            sb->snapshot_tp = sb->ops->thread_pointer(sb->be);
        uint8_t *view = NULL;
        hl_error e;
        hl_error_empty(&e);
        punch_zero_pages(sb);
        if ((st = sb->ops->cow_view(sb->be, &sb->mem, &view, &e)) != HL_OK)
            return job_fail(sb, st, "%s", e.message);
        /* the host's shared view goes: the memfd can be sealed once no writable mapping is left */
        munmap(sb->mem.host, sb->mem.size);
        sb->mem.host = view;
        sb->mem.host_in_view = 1;
        if ((st = seal(sb)) != HL_OK || (st = map_snapshot_readonly(sb)) != HL_OK)
            return st;
        sb->snapshot_taken = 1;
        return HL_OK;
    }
    if (sb->ops->cow_restore) {
        /* pages shared with other sandboxes of the guest (imageshare.h) that initialisation
         * changed go into the memfd; the others are mapped from the shared copy again */
        if (hl_image_share_keep_changes(&sb->mem) != 0)
            return job_fail(sb, HL_E_NOMEM, "keeping the guest's changed code failed: %s", strerror(errno));
        /* pages equal to those of an earlier sandbox's snapshot of the same guest and layout:
         * mapped from there, and the sandbox's own copies given back */
        uint64_t key = snapshot_key(sb);
        hl_init_share_find(&sb->mem, key);
        if (map_snapshot(sb, sb->mem.host, 1) != 0)
            return job_fail(sb, HL_E_NOMEM, "mapping the snapshot copy-on-write failed: %s",
                            strerror(errno));
        hl_init_share_punch(&sb->mem);
        if ((st = seal(sb)) != HL_OK || (st = map_snapshot_readonly(sb)) != HL_OK)
            return st;
        hl_init_share_offer(&sb->mem, sb->snapshot, key); /* for the next sandboxes, when it shares nothing */
        sb->snapshot_taken = 1;
        return HL_OK;
    }
    return job_fail(sb, HL_E_BACKEND, "the %s backend keeps no snapshot", sb->ops->name);
}

int64_t hl_sb_memory_diff(hl_sandbox *sb)
{
    if (!sb->snapshot_taken) return -2;
    uint64_t npages = sb->mem.size / PAGE;
    uint8_t *perms = malloc(npages ? npages : 1);
    if (!perms) return -3;
    hl_backend_page_perms(&sb->layout, &sb->elf, sb->ops == &hl_backend_kvm, perms);
    int64_t diff = -1;
    for (uint64_t p = 0; p < npages && diff < 0; p++) /* guard pages of a view: the host cannot read them */
        if ((!sb->mem.host_in_view || perms[p]) && memcmp(sb->mem.host + p * PAGE, sb->snapshot + p * PAGE, PAGE) != 0)
            diff = (int64_t)p;
    free(perms);
    return diff;
}

/* A sandbox made from a snapshot file becomes ready: nothing of the guest runs. On a cow_restore
 * backend mem.host maps the file's image privately already, and restore copies from the file's
 * own mapping; otherwise the memory (a private copy of the image) becomes the snapshot as an
 * initialised sandbox's does (sealed and mapped copy-on-write, or copied), and the backend gets
 * the guest's thread pointer back. */
static hl_status do_ready(hl_sandbox *sb)
{
    hl_error e;
    hl_error_empty(&e);
    if (sb->ops->cow_restore && !sb->mem.fd_owned) { /* the file itself, mapped privately */
        sb->snapshot = (uint8_t *)sb->from->map + sb->from->image_off;
        sb->snapshot_borrowed = 1;
        sb->snapshot_taken = 1;
    } else {
        if (sb->ops->set_thread_pointer)
            sb->ops->set_thread_pointer(sb->be, sb->from->thread_pointer);
        hl_status st = take_snapshot(sb);
        if (st)
            return st;
    }
    hl_status st = sb->ops->track_dirty(sb->be, &e);
    if (st)
        return job_fail(sb, st, "%s", e.message);
    sb->state = SB_READY;
    return HL_OK;
}

static hl_status do_init(hl_sandbox *sb)
{
    if (sb->from)
        return do_ready(sb);
    uint8_t *out = sb_region(sb, HL_REGION_OUTPUT);
    memset(out, 0, sizeof(hl_host_fn_table));
    sb->host_result_off = 0;
    uint64_t entry = hl_layout_addr(&sb->layout, HL_REGION_CODE) + (sb->elf.entry - sb->elf.min_vaddr);
    run_what init = {NULL, ""};
    hl_status st = run_guest(sb, entry, &init);
    if (st)
        return st;
    hl_error e;
    hl_error_empty(&e);
    st = hl_codec_read_fn_table(out, sb->cfg->output_data_size, &sb->guestfns, &sb->nguestfns, &sb->guestfn_names, &e);
    if (st)
        return job_fail(sb, st, "after initialisation: %s", e.message);
    /* kept once per process for the guest's sandboxes that made the same table */
    if (!(sb->guestfn_share = hl_fn_share_take(&sb->guestfns, sb->nguestfns, &sb->guestfn_names)))
        return job_fail(sb, HL_E_NOMEM, "out of memory");
    hl_peb peb;
    memcpy(&peb, sb_region(sb, HL_REGION_PEB), sizeof(peb));
    uint64_t code = hl_layout_addr(&sb->layout, HL_REGION_CODE);
    if (peb.dispatch_function < code || peb.dispatch_function - code >= sb->layout.region[HL_REGION_CODE].size)
        return job_fail(sb, HL_E_GUEST_PROTOCOL, "the guest set no valid dispatch function (%#llx) during initialisation",
                        (unsigned long long)peb.dispatch_function);
    sb->dispatch = peb.dispatch_function; /* validated once; the guest may change the PEB later */
    if ((st = take_snapshot(sb)) != HL_OK)
        return st;
    st = sb->ops->track_dirty(sb->be, &e);
    if (st)
        return job_fail(sb, st, "%s", e.message);
    sb->state = SB_READY;
    return HL_OK;
}

static hl_status do_call(hl_sandbox *sb)
{
    run_what what = {sb->call_name, ""};
    uint8_t *in = sb_region(sb, HL_REGION_INPUT), *out = sb_region(sb, HL_REGION_OUTPUT);
    uint64_t len;
    hl_status st = hl_codec_write_call(in, sb->cfg->input_data_size, sb->call_name, sb->call_args, sb->call_nargs,
                                       "input_data_size", &len, &sb->job_err);
    if (st)
        return st;
    hl_sb_host_wrote(sb, sb->layout.region[HL_REGION_INPUT].offset, len);
    memset(out, 0, sizeof(hl_msg_result));
    hl_sb_host_wrote(sb, sb->layout.region[HL_REGION_OUTPUT].offset, sizeof(hl_msg_result));
    sb->host_result_off = hl_align8(len);
    st = run_guest(sb, sb->dispatch, &what);
    sb->stats.calls++;
    if (st == HL_OK) {
        uint32_t status = 0;
        hl_error e;
        hl_error_empty(&e);
        st = hl_codec_read_result(out, sb->cfg->output_data_size, &sb->result_store, &status, &sb->call_result, &e);
        /* the function called last first: calls in a row mostly call the same one */
        const hl_function_info *fi = sb->last_fn < sb->nguestfns &&
                                             strcmp(sb->guestfns[sb->last_fn].name, sb->call_name) == 0
                                         ? &sb->guestfns[sb->last_fn]
                                         : hl_sandbox_find_function(sb, sb->call_name);
        if (fi) sb->last_fn = (size_t)(fi - sb->guestfns);
        if (st) {
            job_fail(sb, st, "%s: %s", what_text(&what), e.message);
        } else if (!status && fi && sb->call_result.type != fi->ret) { /* a forged result */
            st = job_fail(sb, HL_E_GUEST_PROTOCOL, "%s: `%s` returned %s, but it is registered as returning %s", what_text(&what),
                          fi->name, hl_type_name(sb->call_result.type), hl_type_name(fi->ret));
            sb->call_result = (hl_value){HL_TYPE_VOID, {.u64 = 0}};
        } else if (status) {
            uint64_t code;
            size_t mlen;
            const char *msg = hl_codec_read_guest_error(sb_region(sb, HL_REGION_GUEST_ERROR),
                                                        sb->cfg->guest_error_buffer_size, &sb->msg_store, &code, &mlen);
            st = job_fail(sb, HL_E_GUEST_ERROR, "guest error %u (%s): %.*s", status, hl_guest_error_name(status),
                          (int)mlen, msg);
            sb->job_err.guest_code = status;
        }
    }
    if (hl_sb_forked(sb)) /* the memory is the parent's sandbox's: not touched here */
        return st;
    hl_sb_core_after_run(sb, st); /* before the restore: the memory as the call left it */
    if (!sb->context_open) {
        hl_status rs = restore(sb);
        if (rs) /* before the call's own error: the sandbox is unusable now */
            st = rs;
    }
    return st;
}

void hl_sb_do_job(hl_sandbox *sb, job_kind kind)
{
    hl_status st = HL_OK;
    hl_error e;
    hl_error_empty(&e);
    hl_error_clear(&sb->job_err);
    switch (kind) {
    case JOB_CREATE:
        st = sb->ops->create(&sb->be, &sb->mem, &sb->layout, &sb->elf, hl_sb_io, sb, &sb->layout.base, &e);
        if (!st && sb->cfg->gdb_port && sb->ops->debug_start) {
            uint64_t first = sb->elf.nsegs ? sb->elf.segs[0].vaddr : sb->elf.min_vaddr;
            hl_debug_setup d = {(uint16_t)sb->cfg->gdb_port, load_offset(sb) + first,
                                sb->cfg->gdb_stop == HL_GDB_STOP_INITIALIZATION ? 0 : 1, hl_sb_debug_pause, sb};
            st = sb->ops->debug_start(sb->be, &d, &e);
        }
        if (st)
            job_fail(sb, st, "%s", e.message);
        break;
    case JOB_INIT:
        st = do_init(sb);
        if (!hl_sb_forked(sb))
            hl_sb_core_after_run(sb, st);
        break;
    case JOB_CALL:
        st = do_call(sb);
        break;
    case JOB_RESTORE:
        st = restore(sb);
        break;
    case JOB_EXIT:
        if (sb->be)
            sb->ops->destroy(sb->be);
        sb->be = NULL;
        break;
    case JOB_NONE:
        break;
    }
    sb->job_status = st;
}
