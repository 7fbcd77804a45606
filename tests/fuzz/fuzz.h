/*
 * fuzz.h - what the libFuzzer targets share: reading the input as numbers, one simulated machine
 * per process reset between executions, a write guard around the metadata, and failing loudly.
 *
 * A finding is an abort() with one line on stderr naming the property that broke (libFuzzer then
 * saves the input as crash-*). Every execution starts from the same memory (the simulated RAM is
 * dropped between runs), so a saved input reproduces on its own.
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
