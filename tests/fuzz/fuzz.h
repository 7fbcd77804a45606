/*
 * fuzz.h - what the libFuzzer targets share: reading the input as numbers, one simulated machine
 * per process reset between executions, a write guard around the metadata, and failing loudly.
 *
 * A finding is an abort() with one line on stderr naming the property that broke (libFuzzer then
 * saves the input as crash-*). Every execution starts from the same memory (the simulated RAM is
 * dropped between runs, or, for a machine built with the firmware, its metadata run written back
 * to the junk: fz_machine), so a saved input reproduces on its own.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmm.h"
#include "sim.h"

#define PG  4096ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* A broken property: say which, where, and stop. The first argument is a string literal. */
#define FZ_REPORT_(cond, ...)                                                                      \
    do {                                                                                           \
        fprintf(stderr, "FUZZ FINDING %s:%d: %s", __FILE__, __LINE__, cond);                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#define FZ_FAIL(...) FZ_REPORT_("", __VA_ARGS__)
#define FZ_ASSERT(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FZ_REPORT_("(" #cond ") ", __VA_ARGS__);                                               \
    } while (0)

/* The input as a stream of little-endian numbers; reads past the end give zeros. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint64_t fz_bytes(struct fz_in *in, unsigned k)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < k && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)in->p[0] << (8 * i);
    return v;
}
static inline uint8_t fz_u8(struct fz_in *in)
{
    return (uint8_t)fz_bytes(in, 1);
}
static inline uint16_t fz_u16(struct fz_in *in)
{
    return (uint16_t)fz_bytes(in, 2);
}
static inline uint32_t fz_u32(struct fz_in *in)
{
    return (uint32_t)fz_bytes(in, 4);
}
static inline uint64_t fz_u64(struct fz_in *in)
{
    return fz_bytes(in, 8);
}

/* 64-bit hash of a byte range (word at a time; the tail byte by byte). */
static inline uint64_t fz_hash(const void *data, uint64_t n, uint64_t h)
{
    const unsigned char *b = data;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; n; n--, b++)
        h = (h ^ *b) * 0x100000001b3ull;
    return h;
}

/*
 * Copies and compares of memory the harness knows to be there (the simulated RAM's metadata run
 * and the harness's copies of it), without AddressSanitizer's check of both whole ranges on every
 * call: the refused calls' snapshots make thousands of them a second. The empty asm keeps the
 * compiler from turning the loops back into memcpy and memcmp calls (which are checked).
 */
typedef uint64_t fz_chunk __attribute__((vector_size(64), aligned(1), may_alias));
__attribute__((no_sanitize("address"))) static inline void fz_copy(void *dst, const void *src,
                                                                   uint64_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        *(fz_chunk *)d = *(const fz_chunk *)s;
        __asm__ volatile("" ::: "memory");
    }
    for (; n; n--, d++, s++) {
        *d = *s;
        __asm__ volatile("" ::: "memory");
    }
}
/* 1 if the n bytes at a and b are the same. */
__attribute__((no_sanitize("address"))) static inline int fz_same(const void *a, const void *b,
                                                                  uint64_t n)
{
    const unsigned char *x = a, *y = b;
    fz_chunk diff = {0};
    for (; n >= 64; n -= 64, x += 64, y += 64) {
        diff |= *(const fz_chunk *)x ^ *(const fz_chunk *)y;
        __asm__ volatile("" ::: "memory");
    }
    uint64_t d = 0;
    for (int k = 0; k < 8; k++)
        d |= diff[k];
    for (; n; n--, x++, y++)
        d |= *x ^ *y;
    return !d;
}

/*
 * One simulated machine per process and size, reused. Its RAM is not zero, as a firmware's is
 * not: the memfd behind it holds a junk pattern where there is RAM (the first 16 MiB and anything
 * at or above 4 GiB), mapped copy-on-write, so dropping the private pages between executions
 * brings the junk back at the cost of the pages the last one touched. The firmware's page table
 * is zeroed.
 */
static inline struct sim *fz_sim(struct sim **slot, uint64_t bytes)
{
    if (!*slot) {
        struct sim *s = *slot = sim_new(bytes);
        static unsigned char junk[1 << 16];
        memset(junk, 0xa5, sizeof junk);
        for (uint64_t at = 0; at < bytes; at += sizeof junk) {
            if (at == 16 * MIB && bytes > 4 * GIB)
                at = 4 * GIB;
            if (pwrite(s->fd, junk, sizeof junk, (off_t)at) != (ssize_t)sizeof junk)
                abort();
        }
        munmap(s->mem, bytes);
        s->mem = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, s->fd, 0);
        if (s->mem == MAP_FAILED)
            abort();
    }
    struct sim *s = *slot;
    if (mprotect(s->mem, s->bytes, PROT_READ | PROT_WRITE) ||
        madvise(s->mem, s->bytes, MADV_DONTNEED) ||
        madvise(s->fw_used, s->fw_pages, MADV_DONTNEED)) {
        perror("fuzz: resetting the simulated machine");
        abort();
    }
    s->ndesc = 0;
    s->claims = s->refusals = 0;
    s->refuse_every = 0;
    s->reconcile_flags = 0;
    return s;
}

/*
 * A machine whose allocator is built with the simulated firmware (fz_build), reset for a fraction
 * of fz_sim's cost. Its RAM is read-only but for the metadata run the last build claimed, which
 * is writable from the claim on (so a build that writes anything it did not claim faults too). A
 * target may close pieces of the run again (fz_close); they stay closed, and junk, while later
 * builds come back to the same run. So when an execution ends only the run's open pieces can
 * differ from the junk: the reset writes the junk back there, and no page is dropped and faulted
 * in again, nor protected again. The firmware's page table is zeroed where the RAM is (the
 * targets' descriptors lie there: fz_build checks).
 */
#define FZ_MAX_CLOSED 8
struct fz_machine {
    struct sim *s;
    uint64_t phys, pages;              /* the run of the last build (pages 0: none) */
    uint64_t closed[FZ_MAX_CLOSED][2]; /* pieces of it closed again: [phys, bytes), ascending */
    unsigned nclosed;
    uint64_t closed_sig; /* a hash of closed[] (0: none closed) */
    int claimed;         /* fz_build: the build claimed a run */
    int unreadable;      /* set before the first fz_machine: the RAM but the run is not even read */
};

/* Byte `at` lies where fz_sim put RAM (the junk; elsewhere the memfd reads as zeros). */
static inline int fz_ram(const struct sim *s, uint64_t at)
{
    return at < 16 * MIB || (s->bytes > 4 * GIB && at >= 4 * GIB);
}

static inline void fz_protect(struct sim *s, uint64_t phys, uint64_t bytes, int prot)
{
    if (bytes && mprotect(s->mem + phys, bytes, prot)) {
        perror("fuzz: protecting the simulated RAM");
        abort();
    }
}

/* The run's open pieces in turn: fn(machine, offset in the run, bytes, arg). */
static inline void fz_open_pieces(struct fz_machine *m,
                                  void (*fn)(struct fz_machine *, uint64_t, uint64_t, const void *),
                                  const void *arg)
{
    uint64_t at = 0, end = m->pages * PG;
    for (unsigned k = 0; k <= m->nclosed; k++) {
        uint64_t to = k < m->nclosed ? m->closed[k][0] - m->phys : end;
        if (to > at)
            fn(m, at, to - at, arg);
        if (k < m->nclosed)
            at = to + m->closed[k][1];
    }
}
static inline void fz_junk_piece(struct fz_machine *m, uint64_t off, uint64_t n, const void *arg)
{
    (void)arg; /* a run lies in one stretch of RAM (or none), as fz_sim filled it */
    memset(m->s->mem + m->phys + off, fz_ram(m->s, m->phys + off) ? 0xa5 : 0, n);
}
static inline void fz_copy_piece(struct fz_machine *m, uint64_t off, uint64_t n, const void *arg)
{
    memcpy(m->s->mem + m->phys + off, (const unsigned char *)arg + off, n);
}

/* The whole run writable again. */
static inline void fz_reopen(struct fz_machine *m)
{
    if (m->nclosed)
        fz_protect(m->s, m->phys, m->pages * PG, PROT_READ | PROT_WRITE);
    m->nclosed = 0;
    m->closed_sig = 0;
}
/* The RAM outside the run. */
static inline int fz_outside(const struct fz_machine *m)
{
    return m->unreadable ? PROT_NONE : PROT_READ;
}
/* No run any more: the last one as the RAM around it (its pieces hold the junk again). */
static inline void fz_drop_run(struct fz_machine *m)
{
    if (m->pages)
        fz_protect(m->s, m->phys, m->pages * PG, fz_outside(m));
    m->pages = m->nclosed = 0;
    m->closed_sig = 0;
}
/* Run [phys, phys + n pages) writable, the last one dropped if it was elsewhere. */
static inline void fz_take_run(struct fz_machine *m, uint64_t phys, uint64_t n)
{
    if (m->pages && (phys != m->phys || n != m->pages))
        fz_drop_run(m);
    if (!m->pages)
        fz_protect(m->s, phys, n * PG, PROT_READ | PROT_WRITE);
    m->phys = phys;
    m->pages = n;
    m->claimed = 1;
}

static inline struct sim *fz_machine(struct fz_machine *m, uint64_t bytes)
{
    if (!m->s) {
        struct sim *s = fz_sim(&m->s, bytes);
        fz_protect(s, 0, s->bytes, fz_outside(m));
        return s;
    }
    struct sim *s = m->s;
    fz_open_pieces(m, fz_junk_piece, 0);
    memset(s->fw_used, 0, s->fw_pages < 16 * MIB / PG ? s->fw_pages : 16 * MIB / PG);
    if (s->bytes > 4 * GIB)
        memset(s->fw_used + 4 * GIB / PG, 0, s->fw_pages - 4 * GIB / PG);
    s->ndesc = 0;
    s->claims = s->refusals = 0;
    s->refuse_every = 0;
    s->reconcile_flags = 0;
    return s;
}

static struct fz_machine *fz_building;
static inline void fz_on_claim(struct sim *s, uint64_t phys, uint64_t n)
{
    struct fz_machine *m = fz_building;
    (void)s;
    if (m->pages && phys == m->phys && n == m->pages)
        fz_reopen(m); /* the same run: the build may write any of it */
    fz_take_run(m, phys, n);
}

/*
 * Builds remembered: the metadata run right after a build, by the descriptors, the machine and
 * its firmware's settings. A build is a function of those alone (the same junk, the same
 * firmware), so copying the run back and marking it claimed gives the state building again would
 * give, for a fraction of the cost; it was checked when it was built.
 */
#define FZ_BUILT_SLOTS 64
#define FZ_BUILT_PAGES 40
struct fz_built {
    uint64_t key; /* 0: empty */
    uint64_t phys, pages, claims;
    uint64_t closed_sig; /* the closed pieces found to hold the junk in this copy too */
    int rc;
};
static struct fz_built fz_built[FZ_BUILT_SLOTS];
static unsigned char fz_built_run[FZ_BUILT_SLOTS][FZ_BUILT_PAGES * PG];

static inline uint64_t fz_build_key(const struct sim *s)
{
    uint64_t v[] = {(uint64_t)(uintptr_t)s,
                    s->bytes,
                    s->max_cpus,
                    (uint64_t)s->refuse_every,
                    (uint64_t)s->one_descriptor,
                    (uint64_t)(uintptr_t)s->numa,
                    s->ndesc};
    return fz_hash(s->desc, s->ndesc * s->desc_size, fz_hash(v, sizeof v, 0xcbf29ce484222325ull)) |
           1;
}

/* Do the closed pieces of the run hold what copy `run` has there? */
static inline int fz_closed_match(const struct fz_machine *m, const unsigned char *run)
{
    for (unsigned k = 0; k < m->nclosed; k++)
        if (memcmp(m->s->mem + m->closed[k][0], run + (m->closed[k][0] - m->phys), m->closed[k][1]))
            return 0;
    return 1;
}

/*
 * sim_build with the firmware on a machine from fz_machine (its scratch freed: libFuzzer looks
 * for leaks in a run with more mallocs than frees), or the same build remembered: *fresh says
 * which (a fresh build is the one to check).
 */
static inline int fz_build(struct fz_machine *m, struct pmm **out, int *fresh)
{
    struct sim *s = m->s;
    for (size_t i = 0; i < s->ndesc; i++) { /* where fz_machine resets the firmware's table */
        struct pmm_efi_desc d;
        memcpy(&d, s->desc + i * s->desc_size, sizeof d);
        FZ_ASSERT(d.type == PMM_EFI_CONVENTIONAL || !d.npages ||
                      (fz_ram(s, d.phys_start) && fz_ram(s, d.phys_start + (d.npages - 1) * PG)),
                  "the harness described %#llx pages at %#llx outside the simulated RAM",
                  (unsigned long long)d.npages, (unsigned long long)d.phys_start);
    }
    uint64_t key = fz_build_key(s);
    struct fz_built *c = &fz_built[key % FZ_BUILT_SLOTS];
    unsigned char *run = fz_built_run[key % FZ_BUILT_SLOTS];
    int rc;
    fz_building = m;
    m->claimed = 0;
    *fresh = c->key != key;
    if (!*fresh) {
        rc = c->rc;
        s->claims += c->claims;
        if (rc == PMM_OK) { /* what the build's claim that succeeded and its writes did */
            memset(s->fw_used + c->phys / PG, 2, c->pages);
            fz_take_run(m, c->phys, c->pages);
            if (m->nclosed && c->closed_sig != m->closed_sig) {
                if (fz_closed_match(m, run))
                    c->closed_sig = m->closed_sig;
                else
                    fz_reopen(m); /* this build wrote where the last one closed */
            }
            fz_open_pieces(m, fz_copy_piece, run);
            *out = (struct pmm *)(s->mem + c->phys);
        }
    } else {
        uint64_t claims = s->claims;
        s->on_claim = fz_on_claim;
        rc = sim_build(s, 1, out);
        s->on_claim = 0;
        free(s->scratch);
        s->scratch = 0;
        c->key = 0;
        if (rc != PMM_OK || m->pages <= FZ_BUILT_PAGES) {
            *c = (struct fz_built){key, m->phys, rc == PMM_OK ? m->pages : 0, s->claims - claims,
                                   0,   rc};
            if (rc == PMM_OK)
                memcpy(run, s->mem + m->phys, m->pages * PG);
        }
    }
    if (!m->claimed)
        fz_drop_run(m); /* no run this time */
    return rc;
}

/*
 * Pieces [phys, phys + bytes) of the run, ascending, read-only from here on: kept so while the
 * next builds claim the same run (and junk: nothing can write them).
 */
static inline void fz_close(struct fz_machine *m, const uint64_t (*pieces)[2], unsigned n)
{
    uint64_t sig = n ? fz_hash(pieces, n * sizeof pieces[0], 0xcbf29ce484222325ull) | 1 : 0;
    if (sig == m->closed_sig && n == m->nclosed)
        return;
    FZ_ASSERT(n <= FZ_MAX_CLOSED, "%u pieces to close", n);
    fz_reopen(m);
    for (unsigned k = 0; k < n; k++) {
        fz_protect(m->s, pieces[k][0], pieces[k][1], PROT_READ);
        m->closed[k][0] = pieces[k][0];
        m->closed[k][1] = pieces[k][1];
    }
    m->nclosed = n;
    m->closed_sig = sig;
}

/*
 * From here on only the metadata run [phys, phys + pages * 4K) may be written: the rest of the
 * simulated RAM is read-only, so a stray write is a SEGV the fuzzer reports. The allocator never
 * writes the pages it manages.
 */
static inline void fz_guard(struct sim *s, uint64_t phys, uint64_t pages)
{
    if (mprotect(s->mem, s->bytes, PROT_READ))
        abort();
    if (phys < s->bytes && pages && pages <= (s->bytes - phys) / PG &&
        mprotect(s->mem + phys, pages * PG, PROT_READ | PROT_WRITE))
        abort();
}

/*
 * The map contract of pmm.h written out again, for the models: how a descriptor classifies and
 * which pages it covers (usable memory shrinks inward to whole pages, other kinds grow outward).
 */
static inline unsigned fz_kind(uint32_t type, uint64_t attr)
{
    if (attr & (PMM_EFI_ATTR_RUNTIME | PMM_EFI_ATTR_SP))
        return PMM_KIND_NEVER;
    if (type == PMM_EFI_CONVENTIONAL)
        return PMM_KIND_FREE;
    if (type >= PMM_EFI_LOADER_CODE && type <= PMM_EFI_BOOT_DATA)
        return PMM_KIND_BOOT;
    return PMM_KIND_NEVER;
}

/* Pages [*lo, *hi) descriptor d covers: 1; 0 if it covers none; -1 if it wraps past 2^64. */
static inline int fz_desc_pages(const struct pmm_efi_desc *d, uint64_t *lo, uint64_t *hi)
{
    unsigned __int128 end = (unsigned __int128)d->phys_start + (unsigned __int128)d->npages * PG;
    if (end > (unsigned __int128)1 << 64)
        return -1;
    if (!d->npages)
        return 0; /* zero-length descriptors are dropped, whatever their start */
    *lo = d->phys_start / PG;
    *hi = (uint64_t)((end + PG - 1) / PG);
    if (fz_kind(d->type, d->attr) != PMM_KIND_NEVER) {
        *lo = d->phys_start / PG + (d->phys_start % PG != 0);
        *hi = (uint64_t)(end / PG);
    }
    return *lo < *hi;
}

/* pmm_check passes, or a finding naming the invariant and what ran last (a string). */
#define FZ_CHECK(p, after)                                                                         \
    do {                                                                                           \
        struct pmm_check_fail _f = {0, 0};                                                         \
        if (pmm_check((p), &_f))                                                                   \
            FZ_FAIL("pmm_check after %s: %s at pfn %#llx", (after), _f.what,                       \
                    (unsigned long long)_f.pfn);                                                   \
    } while (0)

#endif
