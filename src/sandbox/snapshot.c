/* snapshot.c - snapshot files: writing one atomically, verifying every byte of one, hl_snapshot. */
#include "sandbox/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/x86_64.h"
#include "config/config_internal.h"
#include "hyperlight/config_export.h"
#include "hyperlight/diag.h"
#include "hyperlight/version.h"
#include "sandbox/codec.h"
#include "sandbox/layout.h"
#include "util/errfmt.h"
#include "util/hash64.h"
#include "util/structsize.h"
#include "util/bytes.h"

#define PAGE ((uint64_t)HL_PAGE_SIZE)
#define NOMINAL_BASE 0x200000ull /* as sandbox.c sizes an in-process sandbox before its base is known */
/* In-process guest addresses: above the lowest mappable page, below the top of user space. */
#define USER_MIN 0x10000ull
#define USER_TOP 0x7FFFFFFFF000ull
/* Bytes of metadata (header and sections) a file may have before its image. */
#define META_MAX ((uint64_t)128 << 20)

static uint64_t round_page(uint64_t x) { return (x + PAGE - 1) & ~(PAGE - 1); }

static const char *section_name(uint32_t id)
{
    static const char *const names[] = {"?", "config", "layout", "ELF information", "guest functions",
                                        "host functions", "entry state", "page map"};
    return id >= 1 && id <= HL_SNAP_SEC_COUNT ? names[id] : "unknown";
}

hl_status hl_snap_layout_for(hl_execution_mode mode, const hl_config *cfg, const hl_elf_info *elf, uint64_t base,
                             hl_layout *out, hl_error *err)
{
    const hl_backend_ops *ops = mode == HL_MODE_RUN_IN_PROCESS ? &hl_backend_inproc : &hl_backend_kvm;
    hl_status st = hl_layout_compute(cfg, elf, ops->fixed_base ? ops->fixed_base : NOMINAL_BASE, out, err);
    if (!st && !ops->fixed_base)
        out->base = base;
    return st;
}

/* ---- writing ---- */

/* A growable byte buffer for the metadata. */
typedef struct wbuf {
    uint8_t *data;
    uint64_t len, cap;
    int failed;
} wbuf;

static uint8_t *wbuf_grow(wbuf *b, uint64_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        uint64_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return NULL;
        }
        memset(d + b->cap, 0, cap - b->cap);
        b->data = d;
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

static void wbuf_u32(wbuf *b, uint32_t v)
{
    uint8_t *p = wbuf_grow(b, 4);
    if (p) hl_put32(p, v);
}

static void wbuf_u64(wbuf *b, uint64_t v)
{
    uint8_t *p = wbuf_grow(b, 8);
    if (p) hl_put64(p, v);
}

static void wbuf_bytes(wbuf *b, const void *src, uint64_t n)
{
    uint8_t *p = wbuf_grow(b, n);
    if (p && n) memcpy(p, src, n);
}

/* The bytes of page p as the file holds them. */
static const uint8_t *page_of(const hl_snap_source *src, uint64_t p)
{
    const hl_layout_region *pt = &src->layout->region[HL_REGION_PAGE_TABLES];
    if (p * PAGE == src->layout->region[HL_REGION_PEB].offset)
        return src->peb_page;
    if (p * PAGE >= pt->offset && p * PAGE - pt->offset < pt->size)
        return src->system + (p * PAGE - pt->offset);
    return src->image + p * PAGE;
}

/* Writes all of buf at off; 0 or an errno. */
static int pwrite_all(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len > ((uint64_t)1 << 30) ? ((uint64_t)1 << 30) : len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        buf += n;
        len -= (uint64_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* The serialised sections and the page map, then the whole file. */
hl_status hl_snap_write(const hl_snap_source *src, const char *path, hl_error *err)
{
    const hl_layout *l = src->layout;
    uint64_t npages = l->total_size / PAGE;
    wbuf sec[HL_SNAP_SEC_COUNT + 1];
    memset(sec, 0, sizeof(sec));
    hl_status st = HL_OK;
    char tmp[4096 + 32] = "";
    int fd = -1;
    hl_snap_run *runs = NULL;
    uint8_t *meta = NULL;

    /* config */
    char *toml = NULL;
    size_t toml_len = 0;
    FILE *f = open_memstream(&toml, &toml_len);
    if (!f || hl_config_write_toml(src->cfg, f, false) != 0) {
        if (f) fclose(f);
        free(toml);
        return hl_errorf(err, HL_E_NOMEM, "out of memory writing the snapshot's config");
    }
    fclose(f);
    wbuf_bytes(&sec[HL_SNAP_SEC_CONFIG], toml, toml_len);
    free(toml);
    /* layout */
    wbuf *b = &sec[HL_SNAP_SEC_LAYOUT];
    wbuf_u32(b, HL_REGION_COUNT);
    wbuf_u32(b, 0);
    wbuf_u64(b, l->base);
    wbuf_u64(b, l->total_size);
    wbuf_u64(b, l->stack_size);
    wbuf_u64(b, l->heap_size);
    for (int r = 0; r < HL_REGION_COUNT; r++) {
        wbuf_u64(b, l->region[r].offset);
        wbuf_u64(b, l->region[r].size);
    }
    /* ELF information */
    const hl_elf_info *e = src->elf;
    b = &sec[HL_SNAP_SEC_ELF];
    wbuf_u64(b, e->entry);
    wbuf_u64(b, e->min_vaddr);
    wbuf_u64(b, e->span);
    wbuf_u64(b, e->rela_vaddr);
    wbuf_u64(b, e->rela_size);
    wbuf_u64(b, e->phdr_vaddr);
    wbuf_u64(b, e->phnum);
    wbuf_u64(b, e->note_stack_size);
    wbuf_u64(b, e->note_heap_size);
    wbuf_u32(b, (uint32_t)e->phdr_loaded);
    wbuf_u32(b, (uint32_t)e->has_resources);
    wbuf_u32(b, (uint32_t)e->nsegs);
    wbuf_u32(b, 0);
    for (size_t i = 0; i < e->nsegs; i++) {
        wbuf_u64(b, e->segs[i].vaddr);
        wbuf_u64(b, e->segs[i].memsz);
        wbuf_u64(b, e->segs[i].offset);
        wbuf_u64(b, e->segs[i].filesz);
        wbuf_u32(b, e->segs[i].flags);
        wbuf_u32(b, 0);
    }
    /* function tables */
    uint64_t gsize = hl_codec_fn_table_size(src->guestfns, src->nguestfns);
    uint8_t *g = wbuf_grow(&sec[HL_SNAP_SEC_GUEST_FUNCTIONS], gsize);
    if (g && (st = hl_codec_write_fn_table(g, gsize, HL_MSG_GUESTFN_MAGIC, src->guestfns, src->nguestfns,
                                           "the snapshot's guest function table", err)))
        goto out;
    wbuf_bytes(&sec[HL_SNAP_SEC_HOST_FUNCTIONS], src->hostfn_table, src->hostfn_len);
    /* entry state */
    b = &sec[HL_SNAP_SEC_STATE];
    wbuf_u64(b, src->dispatch);
    wbuf_u64(b, src->thread_pointer);
    wbuf_u64(b, 0);
    wbuf_u64(b, 0);
    /* page map: the pages that may hold data and do */
    size_t nruns = 0, caps = 16;
    uint64_t stored = 0;
    runs = malloc(caps * sizeof(*runs));
    if (!runs) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
        goto out;
    }
    for (uint64_t p = 0; p < npages; p++) {
        if ((src->maybe && !src->maybe[p]) || hl_page_is_zero(page_of(src, p)))
            continue;
        stored++;
        if (nruns && runs[nruns - 1].first + runs[nruns - 1].count == p) {
            runs[nruns - 1].count++;
            continue;
        }
        if (nruns == caps) {
            hl_snap_run *n = realloc(runs, 2 * caps * sizeof(*runs));
            if (!n) {
                st = hl_errorf(err, HL_E_NOMEM, "out of memory");
                goto out;
            }
            runs = n;
            caps *= 2;
        }
        runs[nruns].first = p;
        runs[nruns].count = 1;
        nruns++;
    }
    b = &sec[HL_SNAP_SEC_PAGE_MAP];
    wbuf_u64(b, nruns);
    for (size_t i = 0; i < nruns; i++) {
        wbuf_u64(b, runs[i].first);
        wbuf_u64(b, runs[i].count);
    }
    for (int i = 1; i <= HL_SNAP_SEC_COUNT; i++)
        if (sec[i].failed) {
            st = hl_errorf(err, HL_E_NOMEM, "out of memory");
            goto out;
        }

    /* the header, the sections at 8-byte boundaries, the image at a page boundary */
    uint64_t hsize = HL_SNAP_HEADER_SIZE(HL_SNAP_SEC_COUNT), off = hl_align8(hsize);
    uint64_t sec_off[HL_SNAP_SEC_COUNT + 1];
    for (int i = 1; i <= HL_SNAP_SEC_COUNT; i++) {
        sec_off[i] = off;
        off = hl_align8(off + sec[i].len);
    }
    uint64_t image_off = round_page(off);
    meta = calloc(1, image_off);
    if (!meta) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
        goto out;
    }
    memcpy(meta + HL_SNAP_OFF_MAGIC, HL_SNAP_MAGIC, 8);
    hl_put32(meta + HL_SNAP_OFF_VERSION, HL_SNAP_FORMAT_VERSION);
    hl_put32(meta + HL_SNAP_OFF_HEADER_SIZE, (uint32_t)hsize);
    hl_put32(meta + HL_SNAP_OFF_FLAGS, 0);
    hl_put32(meta + HL_SNAP_OFF_LIB_VERSION, HL_VERSION_NUMBER);
    hl_put32(meta + HL_SNAP_OFF_ABI_VERSION, HL_ABI_VERSION);
    hl_put32(meta + HL_SNAP_OFF_MODE, (uint32_t)src->cfg->execution_mode);
    hl_put64(meta + HL_SNAP_OFF_BASE, l->base);
    hl_put64(meta + HL_SNAP_OFF_TOTAL_SIZE, l->total_size);
    hl_put64(meta + HL_SNAP_OFF_IMAGE_OFFSET, image_off);
    hl_put64(meta + HL_SNAP_OFF_STORED_PAGES, stored);
    hl_put32(meta + HL_SNAP_OFF_SECTION_COUNT, HL_SNAP_SEC_COUNT);
    hl_hash64_state ih;
    hl_hash64_init(&ih, HL_SNAP_SEED_IMAGE);
    for (size_t i = 0; i < nruns; i++)
        for (uint64_t p = runs[i].first; p < runs[i].first + runs[i].count; p++)
            hl_hash64_update(&ih, page_of(src, p), PAGE);
    hl_put64(meta + HL_SNAP_OFF_IMAGE_HASH, hl_hash64_final(&ih));
    for (int i = 1; i <= HL_SNAP_SEC_COUNT; i++) {
        uint8_t *ent = meta + HL_SNAP_FIXED_SIZE + (uint64_t)(i - 1) * HL_SNAP_ENTRY_SIZE;
        hl_put32(ent, (uint32_t)i);
        hl_put64(ent + 8, sec_off[i]);
        hl_put64(ent + 16, sec[i].len);
        hl_put64(ent + 24, hl_hash64(sec[i].data ? sec[i].data : (const uint8_t *)"", sec[i].len, (uint64_t)i));
        if (sec[i].len)
            memcpy(meta + sec_off[i], sec[i].data, sec[i].len);
    }
    hl_put64(meta + hsize - 8, hl_hash64(meta, hsize - 8, HL_SNAP_SEED_HEADER));

    /* a fresh file beside path (the kernel applies the umask to 0644), renamed over it at the end */
    size_t plen = strlen(path);
    if (plen == 0 || plen > 4096) {
        st = hl_errorf(err, HL_E_IO, "cannot write snapshot `%.200s`: %s", path, plen ? "the path is too long" : "empty path");
        goto out;
    }
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt;
        snprintf(tmp, sizeof(tmp), "%s.tmp-%016llx", path, (unsigned long long)r);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            st = hl_errorf(err, HL_E_IO, "cannot write snapshot `%.200s`: %s", path, strerror(errno));
            tmp[0] = '\0';
            goto out;
        }
    }
    if (fd < 0) {
        st = hl_errorf(err, HL_E_IO, "cannot write snapshot `%.200s`: no free temporary name beside it", path);
        tmp[0] = '\0';
        goto out;
    }
    int werr = pwrite_all(fd, meta, image_off, 0);
    for (size_t i = 0; i < nruns && !werr; i++) {
        /* in stretches of pages that come from one buffer (the PEB and the host-built regions
         * from their own) */
        uint64_t a = runs[i].first, z = a + runs[i].count;
        while (a < z && !werr) {
            uint64_t b2 = a + 1;
            while (b2 < z && page_of(src, b2) == page_of(src, b2 - 1) + PAGE)
                b2++;
            werr = pwrite_all(fd, page_of(src, a), (b2 - a) * PAGE, image_off + a * PAGE);
            a = b2;
        }
    }
    if (!werr && ftruncate(fd, (off_t)(image_off + l->total_size)) != 0) /* the trailing holes */
        werr = errno;
    if (!werr && fsync(fd) != 0)
        werr = errno;
    if (close(fd) != 0 && !werr)
        werr = errno;
    fd = -1;
    if (!werr && rename(tmp, path) != 0)
        werr = errno;
    if (werr) {
        st = hl_errorf(err, HL_E_IO, "cannot write snapshot `%.200s`: %s", path, strerror(werr));
        goto out;
    }
    tmp[0] = '\0'; /* renamed: nothing to clean up */
    /* the rename itself is durable once the directory is synced (best effort) */
    char dir[4096 + 32];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    for (int i = 0; i <= HL_SNAP_SEC_COUNT; i++)
        free(sec[i].data);
    free(runs);
    free(meta);
    return st;
}

/* ---- verifying ---- */

static hl_status bad(hl_error *err, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static hl_status bad(hl_error *err, const char *name, const char *fmt, ...)
{
    char msg[HL_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return hl_errorf(err, HL_E_CONFIG, "snapshot `%.200s`: %s", name, msg);
}

typedef struct section {
    const uint8_t *data;
    uint64_t off, size;
} section;

/* The ELF information: what hl_elf_parse promises about an image it accepts. */
static hl_status parse_elf(const section *sec, hl_elf_info *e, const char *name, hl_error *err)
{
    const uint8_t *d = sec->data;
    if (sec->size < HL_SNAP_ELF_FIXED)
        return bad(err, name, "the ELF information section has %llu bytes, fewer than its %u fixed ones",
                   (unsigned long long)sec->size, HL_SNAP_ELF_FIXED);
    memset(e, 0, sizeof(*e));
    e->entry = hl_get64(d);
    e->min_vaddr = hl_get64(d + 8);
    e->span = hl_get64(d + 16);
    e->rela_vaddr = hl_get64(d + 24);
    e->rela_size = hl_get64(d + 32);
    e->phdr_vaddr = hl_get64(d + 40);
    e->phnum = hl_get64(d + 48);
    e->note_stack_size = hl_get64(d + 56);
    e->note_heap_size = hl_get64(d + 64);
    uint32_t phdr_loaded = hl_get32(d + 72), has_resources = hl_get32(d + 76), nsegs = hl_get32(d + 80);
    if (phdr_loaded > 1 || has_resources > 1 || hl_get32(d + 84) != 0)
        return bad(err, name, "the ELF information has flags other than 0 and 1");
    if (nsegs == 0 || nsegs > HL_ELF_MAX_SEGMENTS)
        return bad(err, name, "the ELF information lists %u segments (1 to %d)", nsegs, HL_ELF_MAX_SEGMENTS);
    if (sec->size != HL_SNAP_ELF_FIXED + (uint64_t)nsegs * HL_SNAP_ELF_SEGMENT)
        return bad(err, name, "the ELF information section has %llu bytes, not the %llu of %u segments",
                   (unsigned long long)sec->size,
                   (unsigned long long)(HL_SNAP_ELF_FIXED + (uint64_t)nsegs * HL_SNAP_ELF_SEGMENT), nsegs);
    e->phdr_loaded = (int)phdr_loaded;
    e->has_resources = (int)has_resources;
    e->nsegs = nsegs;
    const uint64_t cap = HL_CONFIG_MAX_TOTAL_MEMORY;
    if (e->min_vaddr % PAGE || e->span % PAGE || e->span == 0 || e->span > cap || e->min_vaddr > UINT64_MAX - cap)
        return bad(err, name, "the guest's loaded span (%#llx, %llu bytes) is not whole pages within %llu MiB",
                   (unsigned long long)e->min_vaddr, (unsigned long long)e->span, (unsigned long long)(cap >> 20));
    if (e->note_stack_size > cap || e->note_heap_size > cap || e->phnum > 0xFFFF)
        return bad(err, name, "the ELF information holds sizes out of range");
    int entry_ok = 0;
    for (uint32_t i = 0; i < nsegs; i++) {
        const uint8_t *s = d + HL_SNAP_ELF_FIXED + (uint64_t)i * HL_SNAP_ELF_SEGMENT;
        hl_elf_segment *g = &e->segs[i];
        g->vaddr = hl_get64(s);
        g->memsz = hl_get64(s + 8);
        g->offset = hl_get64(s + 16);
        g->filesz = hl_get64(s + 24);
        g->flags = hl_get32(s + 32);
        if (hl_get32(s + 36) != 0 || (g->flags & ~(HL_ELF_SEG_R | HL_ELF_SEG_W | HL_ELF_SEG_X)))
            return bad(err, name, "segment %u has unknown flags", i + 1);
        if ((g->flags & HL_ELF_SEG_W) && (g->flags & HL_ELF_SEG_X))
            return bad(err, name, "segment %u is both writable and executable", i + 1);
        if (g->filesz > g->memsz || g->vaddr < e->min_vaddr || g->memsz > e->span ||
            g->vaddr - e->min_vaddr > e->span - g->memsz)
            return bad(err, name, "segment %u (%#llx, %llu bytes) lies outside the guest's loaded span", i + 1,
                       (unsigned long long)g->vaddr, (unsigned long long)g->memsz);
        if ((g->flags & HL_ELF_SEG_X) && e->entry >= g->vaddr && e->entry - g->vaddr < g->memsz)
            entry_ok = 1;
    }
    if (!entry_ok)
        return bad(err, name, "the guest's entry point %#llx is in no executable segment", (unsigned long long)e->entry);
    return HL_OK;
}

/* Where a hole of the image [a, z) (file offsets) holds data anyway, that data must be zero. */
static int hole_is_zero(const uint8_t *data, uint64_t a, uint64_t z, int fd)
{
    while (a < z) {
        uint64_t d = a, h = z;
        if (fd >= 0) {
            off_t x = lseek(fd, (off_t)a, SEEK_DATA);
            if (x < 0 && errno == ENXIO)
                return 1; /* no data after a */
            if (x >= 0) {
                d = (uint64_t)x;
                if (d >= z)
                    return 1;
                off_t y = lseek(fd, (off_t)d, SEEK_HOLE);
                h = y < 0 || (uint64_t)y > z ? z : (uint64_t)y;
                if (h <= d)
                    h = z;
            }
        }
        for (uint64_t p = d; p < h;) { /* read it: it must be zero */
            static const uint8_t zero[4096];
            uint64_t n = h - p < sizeof(zero) ? h - p : sizeof(zero);
            if (memcmp(data + p, zero, n) != 0)
                return 0;
            p += n;
        }
        a = h;
    }
    return 1;
}

hl_status hl_snap_parse(hl_snapshot *s, const uint8_t *data, uint64_t len, int fd, const char *name, hl_error *err)
{
    hl_status st;
    if (len == 0)
        return bad(err, name, "the file is empty");
    if (len < HL_SNAP_FIXED_SIZE)
        return bad(err, name, "the file has %llu bytes, too few for a snapshot's header (%u)", (unsigned long long)len,
                   HL_SNAP_FIXED_SIZE);
    if (memcmp(data, HL_SNAP_MAGIC, 8) != 0)
        return bad(err, name, "not a hyperlight snapshot (its first bytes are not the snapshot magic number)");
    uint32_t version = hl_get32(data + HL_SNAP_OFF_VERSION);
    if (version != HL_SNAP_FORMAT_VERSION)
        return bad(err, name, "format version %u; this library reads version %u", version, HL_SNAP_FORMAT_VERSION);
    uint32_t nsec = hl_get32(data + HL_SNAP_OFF_SECTION_COUNT), hsize = hl_get32(data + HL_SNAP_OFF_HEADER_SIZE);
    if (nsec == 0 || nsec > HL_SNAP_MAX_SECTIONS || hsize != HL_SNAP_HEADER_SIZE(nsec))
        return bad(err, name, "the header's size (%u bytes) and section count (%u) do not agree", hsize, nsec);
    if (hsize > len)
        return bad(err, name, "the file is truncated: %llu bytes, its header alone has %u", (unsigned long long)len,
                   hsize);
    if (hl_get64(data + hsize - 8) != hl_hash64(data, hsize - 8, HL_SNAP_SEED_HEADER))
        return bad(err, name, "the header's checksum does not match (the file is corrupted)");
    uint32_t flags = hl_get32(data + HL_SNAP_OFF_FLAGS), abi = hl_get32(data + HL_SNAP_OFF_ABI_VERSION);
    uint32_t mode = hl_get32(data + HL_SNAP_OFF_MODE);
    if (flags != 0 || hl_get32(data + HL_SNAP_OFF_RESERVED) != 0)
        return bad(err, name, "the header has flags this library does not know (%#x)", flags);
    if (abi != HL_ABI_VERSION)
        return bad(err, name, "its guest speaks host/guest ABI version %u; this library speaks version %u", abi,
                   HL_ABI_VERSION);
    if (mode != HL_MODE_RUN_IN_HYPERVISOR && mode != HL_MODE_RUN_IN_PROCESS)
        return bad(err, name, "unknown execution mode %u in the header", mode);
    s->mode = (hl_execution_mode)mode;
    s->library_version = hl_get32(data + HL_SNAP_OFF_LIB_VERSION);
    uint64_t base = hl_get64(data + HL_SNAP_OFF_BASE), total = hl_get64(data + HL_SNAP_OFF_TOTAL_SIZE);
    uint64_t image_off = hl_get64(data + HL_SNAP_OFF_IMAGE_OFFSET), stored = hl_get64(data + HL_SNAP_OFF_STORED_PAGES);
    if (total == 0 || total % PAGE || total > HL_CONFIG_MAX_TOTAL_MEMORY)
        return bad(err, name, "its memory size (%llu bytes) is not whole pages of at most %llu MiB",
                   (unsigned long long)total, (unsigned long long)(HL_CONFIG_MAX_TOTAL_MEMORY >> 20));
    if (image_off % PAGE || image_off < hsize || image_off > META_MAX)
        return bad(err, name, "its memory image's offset (%llu) is not a page boundary after the header within %llu MiB",
                   (unsigned long long)image_off, (unsigned long long)(META_MAX >> 20));
    if (len < image_off + total)
        return bad(err, name, "the file is truncated: %llu bytes, its header says %llu", (unsigned long long)len,
                   (unsigned long long)(image_off + total));
    if (len > image_off + total)
        return bad(err, name, "the file has %llu byte%s after its memory image", (unsigned long long)(len - image_off - total),
                   len - image_off - total == 1 ? "" : "s");
    if (mode == HL_MODE_RUN_IN_HYPERVISOR ? base != hl_backend_kvm.fixed_base
                                          : (base % PAGE || base < USER_MIN || base > USER_TOP - total))
        return bad(err, name, "its guest address %#llx is not one a %s sandbox can have", (unsigned long long)base,
                   hl_execution_mode_name((hl_execution_mode)mode));
    s->image_off = image_off;
    s->stored_pages = stored;

    /* the sections: each known one once, inside the metadata, apart, intact */
    section sec[HL_SNAP_SEC_COUNT + 1];
    memset(sec, 0, sizeof(sec));
    uint64_t limit[HL_SNAP_SEC_COUNT + 1] = {
        0, HL_SNAP_CONFIG_MAX, HL_SNAP_LAYOUT_SIZE, HL_SNAP_ELF_FIXED + HL_ELF_MAX_SEGMENTS * HL_SNAP_ELF_SEGMENT,
        64 * HL_MiB, 16 * HL_MiB, HL_SNAP_STATE_SIZE, 8 + 16 * (total / PAGE / 2 + 1)};
    int seen[HL_SNAP_SEC_COUNT + 1] = {0};
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *ent = data + HL_SNAP_FIXED_SIZE + (uint64_t)i * HL_SNAP_ENTRY_SIZE;
        uint32_t id = hl_get32(ent);
        uint64_t off = hl_get64(ent + 8), size = hl_get64(ent + 16);
        if (id < 1 || id > HL_SNAP_SEC_COUNT || hl_get32(ent + 4) != 0)
            return bad(err, name, "section %u has an unknown id (%u)", i + 1, id);
        if (seen[id])
            return bad(err, name, "the %s section appears twice", section_name(id));
        seen[id] = 1;
        if (size > limit[id])
            return bad(err, name, "the %s section's size (%llu bytes) is over its limit (%llu)", section_name(id),
                       (unsigned long long)size, (unsigned long long)limit[id]);
        if (off % 8 || off < hsize || off > image_off || size > image_off - off)
            return bad(err, name, "the %s section (offset %llu, %llu bytes) lies outside the metadata (%u to %llu)",
                       section_name(id), (unsigned long long)off, (unsigned long long)size, hsize,
                       (unsigned long long)image_off);
        if (hl_get64(ent + 24) != hl_hash64(data + off, size, id))
            return bad(err, name, "the %s section's checksum does not match (the file is corrupted)", section_name(id));
        sec[id].data = data + off;
        sec[id].off = off;
        sec[id].size = size;
    }
    for (uint32_t id = 1; id <= HL_SNAP_SEC_COUNT; id++) {
        if (!seen[id])
            return bad(err, name, "the %s section is missing", section_name(id));
        for (uint32_t k = 1; k < id; k++)
            if (sec[k].size && sec[id].size && sec[k].off < sec[id].off + sec[id].size &&
                sec[id].off < sec[k].off + sec[k].size)
                return bad(err, name, "the %s and %s sections overlap", section_name(k), section_name(id));
    }

    /* the config, read as a hyperfile */
    const section *c = &sec[HL_SNAP_SEC_CONFIG];
    hl_config_init(&s->cfg);
    hl_diag_list *diags = hl_diag_list_new();
    if (!diags)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    st = hl_config_load_string(&s->cfg, (const char *)c->data, c->size, "the snapshot's config", NULL, diags);
    if (st) {
        const hl_diag *d = hl_diag_count(diags) ? hl_diag_at(diags, 0) : NULL;
        char where[32] = "";
        if (d && d->line)
            snprintf(where, sizeof(where), " (line %u)", d->line);
        hl_status r = st == HL_E_NOMEM ? hl_errorf(err, HL_E_NOMEM, "out of memory")
                                       : bad(err, name, "its config does not load: %s%s", d ? d->message : "invalid",
                                             where);
        hl_diag_list_free(diags);
        return r;
    }
    hl_diag_list_free(diags);
    if (s->cfg.execution_mode != mode)
        return bad(err, name, "its config says execution_mode = %s, its header %s",
                   hl_execution_mode_name((hl_execution_mode)s->cfg.execution_mode),
                   hl_execution_mode_name((hl_execution_mode)mode));

    /* the ELF information, and the layout they give */
    if ((st = parse_elf(&sec[HL_SNAP_SEC_ELF], &s->elf, name, err)))
        return st;
    const section *ls = &sec[HL_SNAP_SEC_LAYOUT];
    if (ls->size != HL_SNAP_LAYOUT_SIZE || hl_get32(ls->data) != HL_REGION_COUNT || hl_get32(ls->data + 4) != 0)
        return bad(err, name, "the layout section is not %u regions in %u bytes", HL_REGION_COUNT, HL_SNAP_LAYOUT_SIZE);
    hl_layout *l = &s->layout;
    memset(l, 0, sizeof(*l));
    l->base = hl_get64(ls->data + 8);
    l->total_size = hl_get64(ls->data + 16);
    l->stack_size = hl_get64(ls->data + 24);
    l->heap_size = hl_get64(ls->data + 32);
    for (int r = 0; r < HL_REGION_COUNT; r++) {
        l->region[r].offset = hl_get64(ls->data + 40 + 16 * r);
        l->region[r].size = hl_get64(ls->data + 48 + 16 * r);
    }
    hl_layout want;
    hl_error lerr = HL_ERROR_INIT;
    if (hl_snap_layout_for(s->mode, &s->cfg, &s->elf, base, &want, &lerr) != HL_OK)
        return bad(err, name, "its config and guest give no layout: %s", lerr.message);
    if (l->base != want.base || l->total_size != want.total_size || l->stack_size != want.stack_size ||
        l->heap_size != want.heap_size)
        return bad(err, name,
                   "its layout (base %#llx, %llu bytes, stack %llu, heap %llu) is not the one its config and guest "
                   "give (base %#llx, %llu bytes, stack %llu, heap %llu)",
                   (unsigned long long)l->base, (unsigned long long)l->total_size, (unsigned long long)l->stack_size,
                   (unsigned long long)l->heap_size, (unsigned long long)want.base,
                   (unsigned long long)want.total_size, (unsigned long long)want.stack_size,
                   (unsigned long long)want.heap_size);
    for (int r = 0; r < HL_REGION_COUNT; r++)
        if (l->region[r].offset != want.region[r].offset || l->region[r].size != want.region[r].size)
            return bad(err, name,
                       "its layout puts the %s region at offset %#llx (%llu bytes); its config and guest put it at "
                       "%#llx (%llu bytes)",
                       hl_region_name((hl_region_id)r), (unsigned long long)l->region[r].offset,
                       (unsigned long long)l->region[r].size, (unsigned long long)want.region[r].offset,
                       (unsigned long long)want.region[r].size);
    if (total != l->total_size)
        return bad(err, name, "its header's memory size (%llu bytes) is not its layout's (%llu)",
                   (unsigned long long)total, (unsigned long long)l->total_size);

    /* the function tables */
    hl_error terr = HL_ERROR_INIT;
    const section *gs = &sec[HL_SNAP_SEC_GUEST_FUNCTIONS], *hs = &sec[HL_SNAP_SEC_HOST_FUNCTIONS];
    if ((st = hl_codec_parse_fn_table(gs->data, gs->size, HL_MSG_GUESTFN_MAGIC, "the guest function", &s->guestfns,
                                      &s->nguestfns, &s->guestfn_names, &terr)))
        return st == HL_E_NOMEM ? hl_errorf(err, st, "%s", terr.message) : bad(err, name, "%s", terr.message);
    if (hl_get32(gs->data + 8) != gs->size)
        return bad(err, name, "the guest function table's length is not its section's");
    if ((st = hl_codec_parse_fn_table(hs->data, hs->size, HL_MSG_HOSTFN_MAGIC, "the host function", &s->hostfns,
                                      &s->nhostfns, &s->hostfn_names, &terr)))
        return st == HL_E_NOMEM ? hl_errorf(err, st, "%s", terr.message) : bad(err, name, "%s", terr.message);
    if (hl_get32(hs->data + 8) != hs->size)
        return bad(err, name, "the host function table's length is not its section's");

    /* the entry state */
    const section *ss = &sec[HL_SNAP_SEC_STATE];
    if (ss->size != HL_SNAP_STATE_SIZE || hl_get64(ss->data + 16) || hl_get64(ss->data + 24))
        return bad(err, name, "the entry state section is not %u bytes with its reserved words 0", HL_SNAP_STATE_SIZE);
    s->dispatch = hl_get64(ss->data);
    s->thread_pointer = hl_get64(ss->data + 8);
    uint64_t code = hl_layout_addr(l, HL_REGION_CODE);
    int in_code = 0;
    for (size_t i = 0; i < s->elf.nsegs; i++) {
        const hl_elf_segment *g = &s->elf.segs[i];
        uint64_t at = code + (g->vaddr - s->elf.min_vaddr);
        if ((g->flags & HL_ELF_SEG_X) && s->dispatch >= at && s->dispatch - at < g->memsz)
            in_code = 1;
    }
    if (!in_code)
        return bad(err, name, "its dispatch address %#llx is not in the guest's code", (unsigned long long)s->dispatch);
    if (s->mode == HL_MODE_RUN_IN_HYPERVISOR ? s->thread_pointer != 0
                                             : (s->thread_pointer != 0 &&
                                                (s->thread_pointer < base || s->thread_pointer - base >= total)))
        return bad(err, name, "its thread pointer %#llx is not in the guest's memory",
                   (unsigned long long)s->thread_pointer);

    /* the page map, and the image's checksum over the pages it lists */
    const section *ps = &sec[HL_SNAP_SEC_PAGE_MAP];
    uint64_t npages = total / PAGE;
    if (ps->size < 8)
        return bad(err, name, "the page map section is shorter than its count");
    uint64_t nruns = hl_get64(ps->data);
    if (nruns > npages / 2 + 1 || ps->size != 8 + 16 * nruns)
        return bad(err, name, "the page map's run count (%llu) does not fit its section (%llu bytes)",
                   (unsigned long long)nruns, (unsigned long long)ps->size);
    s->runs = malloc((nruns ? nruns : 1) * sizeof(*s->runs));
    if (!s->runs)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    s->nruns = nruns;
    uint64_t counted = 0, next = 0; /* runs in order, apart, inside the image */
    for (uint64_t i = 0; i < nruns; i++) {
        uint64_t first = hl_get64(ps->data + 8 + 16 * i), count = hl_get64(ps->data + 16 + 16 * i);
        if (count == 0 || first < next || first > npages || count > npages - first)
            return bad(err, name, "the page map's run %llu (pages %llu, %llu of them) is not after the last, inside the "
                       "%llu pages",
                       (unsigned long long)i + 1, (unsigned long long)first, (unsigned long long)count,
                       (unsigned long long)npages);
        s->runs[i].first = first;
        s->runs[i].count = count;
        next = first + count + 1; /* adjacent runs would be one */
        counted += count;
    }
    if (counted != stored)
        return bad(err, name, "its header says %llu pages are stored, its page map lists %llu",
                   (unsigned long long)stored, (unsigned long long)counted);
    const uint8_t *image = data + image_off;
    hl_hash64_state ih;
    hl_hash64_init(&ih, HL_SNAP_SEED_IMAGE);
    uint64_t hole = 0; /* the image's holes: zero */
    for (uint64_t i = 0; i < nruns; i++) {
        hl_hash64_update(&ih, image + s->runs[i].first * PAGE, s->runs[i].count * PAGE);
        if (!hole_is_zero(data, image_off + hole * PAGE, image_off + s->runs[i].first * PAGE, fd))
            return bad(err, name, "page %llu is a hole in its page map but holds data",
                       (unsigned long long)hole);
        hole = s->runs[i].first + s->runs[i].count;
    }
    if (!hole_is_zero(data, image_off + hole * PAGE, image_off + total, fd))
        return bad(err, name, "a page after %llu is a hole in its page map but holds data", (unsigned long long)hole);
    if (hl_hash64_final(&ih) != hl_get64(data + HL_SNAP_OFF_IMAGE_HASH))
        return bad(err, name, "the memory image's checksum does not match (the file is corrupted)");

    /* the regions the host builds: exactly what this host builds for the layout */
    const hl_backend_ops *ops = s->mode == HL_MODE_RUN_IN_PROCESS ? &hl_backend_inproc : &hl_backend_kvm;
    const hl_layout_region *pt = &l->region[HL_REGION_PAGE_TABLES];
    uint8_t *want_sys = calloc(1, pt->size);
    if (!want_sys)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    if (ops->build_system && (st = ops->build_system(l, &s->elf, want_sys, &terr))) {
        free(want_sys);
        return st == HL_E_NOMEM ? hl_errorf(err, st, "%s", terr.message)
                                : bad(err, name, "its page tables cannot be built: %s", terr.message);
    }
    for (uint64_t off = 0; off < pt->size; off += PAGE)
        if (memcmp(image + pt->offset + off, want_sys + off, PAGE) != 0) {
            uint64_t sys = pt->size - HL_X86_SYS_PAGES * PAGE;
            free(want_sys);
            const char *what = !ops->build_system ? "page tables region differs"
                               : off < sys            ? "page tables differ"
                               : off == sys           ? "GDT and TSS differ"
                               : off == sys + PAGE    ? "IDT differs"
                                                      : "exception stubs and entry code differ";
            return bad(err, name, "its %s from what the host builds for its layout (page %llu)%s", what,
                       (unsigned long long)((pt->offset + off) / PAGE),
                       ops->build_system && off > sys + PAGE ? ": made by another build of the library? make the snapshot again with this one"
                                        : "");
        }
    free(want_sys);
    hl_peb peb, got;
    hl_layout_peb(&s->cfg, l, &peb);
    const uint8_t *peb_at = image + l->region[HL_REGION_PEB].offset;
    memcpy(&got, peb_at, sizeof(got));
    peb.dispatch_function = s->dispatch;
    peb.thread_pointer = s->thread_pointer;
    peb.syscall_entry = got.syscall_entry; /* the guest's, used by the guest alone */
    if (memcmp(&peb, &got, sizeof(peb)) != 0)
        return bad(err, name, "its PEB differs from what the host writes for its layout and entry state");
    for (uint64_t off = sizeof(hl_peb); off < l->region[HL_REGION_PEB].size; off++)
        if (peb_at[off])
            return bad(err, name, "its PEB page holds data past the PEB");
    /* the host function region: the table, as the host writes it, and nothing else */
    const hl_layout_region *hr = &l->region[HL_REGION_HOST_FUNCTIONS];
    uint8_t *want_fns = calloc(1, hr->size);
    if (!want_fns)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    st = hl_codec_write_fn_table(want_fns, s->cfg.function_definition_size, HL_MSG_HOSTFN_MAGIC, s->hostfns,
                                 s->nhostfns, "function_definition_size", &terr);
    int same = !st && memcmp(want_fns, image + hr->offset, hr->size) == 0 && memcmp(want_fns, hs->data, hs->size) == 0;
    free(want_fns);
    if (st)
        return bad(err, name, "its host function table does not fit: %s", terr.message);
    if (!same)
        return bad(err, name, "its host function region is not the host function table the host writes");
    return HL_OK;
}

void hl_snap_free_parsed(hl_snapshot *s)
{
    free(s->guestfns);
    free(s->guestfn_names);
    free(s->hostfns);
    free(s->hostfn_names);
    free(s->runs);
    s->guestfns = s->hostfns = NULL;
    s->guestfn_names = s->hostfn_names = NULL;
    s->runs = NULL;
}

void hl_snap_rehash(uint8_t *data, uint64_t len)
{
    if (len < HL_SNAP_FIXED_SIZE)
        return;
    uint32_t nsec = hl_get32(data + HL_SNAP_OFF_SECTION_COUNT);
    if (nsec > HL_SNAP_MAX_SECTIONS || HL_SNAP_HEADER_SIZE(nsec) > len)
        return;
    uint64_t hsize = HL_SNAP_HEADER_SIZE(nsec);
    uint64_t image_off = hl_get64(data + HL_SNAP_OFF_IMAGE_OFFSET), total = hl_get64(data + HL_SNAP_OFF_TOTAL_SIZE);
    for (uint32_t i = 0; i < nsec; i++) {
        uint8_t *ent = data + HL_SNAP_FIXED_SIZE + (uint64_t)i * HL_SNAP_ENTRY_SIZE;
        uint64_t off = hl_get64(ent + 8), size = hl_get64(ent + 16);
        if (off <= len && size <= len - off)
            hl_put64(ent + 24, hl_hash64(data + off, size, hl_get32(ent)));
        if (hl_get32(ent) == HL_SNAP_SEC_PAGE_MAP && off <= len && size <= len - off && size >= 8 && image_off <= len &&
            total <= len - image_off) {
            uint64_t nruns = hl_get64(data + off);
            if (nruns <= (size - 8) / 16) {
                hl_hash64_state ih;
                hl_hash64_init(&ih, HL_SNAP_SEED_IMAGE);
                for (uint64_t r = 0; r < nruns; r++) {
                    uint64_t first = hl_get64(data + off + 8 + 16 * r), count = hl_get64(data + off + 16 + 16 * r);
                    if (first <= total / PAGE && count <= total / PAGE - first)
                        hl_hash64_update(&ih, data + image_off + first * PAGE, count * PAGE);
                }
                hl_put64(data + HL_SNAP_OFF_IMAGE_HASH, hl_hash64_final(&ih));
            }
        }
    }
    hl_put64(data + hsize - 8, hl_hash64(data, hsize - 8, HL_SNAP_SEED_HEADER));
}

/* ---- hl_snapshot ---- */

hl_snapshot *hl_snap_ref(const hl_snapshot *cs)
{
    hl_snapshot *s = (hl_snapshot *)cs;
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void snapshot_free(hl_snapshot *s)
{
    hl_snap_free_parsed(s);
    if (s->map)
        munmap((void *)s->map, s->map_size);
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

void hl_snapshot_close(hl_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

hl_status hl_snapshot_open(hl_snapshot **out, const char *path, hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (!out || !path)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_snapshot_open: NULL argument");
    *out = NULL;
    hl_snapshot *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    }
    atomic_init(&s->refs, 1);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat stt;
    hl_status st = HL_OK;
    if (s->fd < 0)
        st = hl_errorf(err, HL_E_IO, "cannot open snapshot `%.200s`: %s", path, strerror(errno));
    else if (fstat(s->fd, &stt) != 0)
        st = hl_errorf(err, HL_E_IO, "cannot read snapshot `%.200s`: %s", path, strerror(errno));
    else if (S_ISDIR(stt.st_mode))
        st = hl_errorf(err, HL_E_IO, "cannot read snapshot `%.200s`: it is a directory", path);
    else if (!S_ISREG(stt.st_mode))
        st = hl_errorf(err, HL_E_IO, "cannot read snapshot `%.200s`: it is not a regular file", path);
    else if (stt.st_size == 0)
        st = bad(err, path, "the file is empty");
    else if ((uint64_t)stt.st_size > META_MAX + HL_CONFIG_MAX_TOTAL_MEMORY)
        st = bad(err, path, "the file has %llu bytes, more than any snapshot", (unsigned long long)stt.st_size);
    if (!st) {
        s->map_size = (uint64_t)stt.st_size;
        void *m = mmap(NULL, s->map_size, PROT_READ, MAP_SHARED, s->fd, 0);
        if (m == MAP_FAILED)
            st = hl_errorf(err, errno == ENOMEM ? HL_E_NOMEM : HL_E_IO, "cannot map snapshot `%.200s`: %s", path,
                           strerror(errno));
        else
            s->map = m;
    }
    if (!st)
        st = hl_snap_parse(s, s->map, s->map_size, s->fd, path, err);
    if (st) {
        snapshot_free(s);
        return st;
    }
    *out = s;
    return HL_OK;
}

hl_execution_mode hl_snapshot_mode(const hl_snapshot *s) { return s ? s->mode : HL_MODE_RUN_IN_HYPERVISOR; }

hl_status hl_snapshot_get_config(const hl_snapshot *s, hl_config *cfg)
{
    if (!s || !cfg || !hl_config_valid(cfg))
        return HL_E_INVALID_ARG;
    hl_config full = s->cfg;
    hl_config_export(cfg, &full);
    return HL_OK;
}

const hl_layout *hl_snapshot_layout(const hl_snapshot *s) { return s ? &s->layout : NULL; }
size_t hl_snapshot_function_count(const hl_snapshot *s) { return s ? s->nguestfns : 0; }
const hl_function_info *hl_snapshot_function(const hl_snapshot *s, size_t i)
{
    return s && i < s->nguestfns ? &s->guestfns[i] : NULL;
}
size_t hl_snapshot_host_function_count(const hl_snapshot *s) { return s ? s->nhostfns : 0; }
const hl_function_info *hl_snapshot_host_function(const hl_snapshot *s, size_t i)
{
    return s && i < s->nhostfns ? &s->hostfns[i] : NULL;
}
