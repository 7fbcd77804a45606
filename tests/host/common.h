/* common.h - helpers shared by the allocator tests. */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <string.h>

#include "harness.h"
#include "pmm.h"
#include "sim.h"
#include "state.h"

#define PG  4096ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* pmm_check passes; prints the violation otherwise. */
#define CHECK_OK(p)                                                                                \
    do {                                                                                           \
        struct pmm_check_fail _f = {0, 0};                                                         \
        int _rc = pmm_check((p), &_f);                                                             \
        if (_rc)                                                                                   \
            fprintf(stderr, "  check: %s at %#llx\n", _f.what, (unsigned long long)_f.pfn);        \
        CHECK_EQ(_rc, PMM_OK);                                                                     \
    } while (0)

/*
 * A hash of everything a refused call must leave alone: the header with the free-page stack, the
 * range table, the section table and slots, the free map with its summary levels, the owned map,
 * the refs-init map, every reference count, the block states and the per-CPU caches. The
 * 2 MiB block map is left out: it is a hint that a search may correct on its way (state.h).
 */
static inline uint64_t state_hash(const struct pmm *p)
{
    uint64_t h = 0xcbf29ce484222325ull;
#define HASH_BYTES(addr, n)                                                                        \
    do {                                                                                           \
        const unsigned char *_b = (const unsigned char *)(addr);                                   \
        for (uint64_t _i = 0; _i < (uint64_t)(n); _i++)                                            \
            h = (h ^ _b[_i]) * 0x100000001b3ull;                                                   \
    } while (0)
    HASH_BYTES(p, sizeof *p);
    HASH_BYTES(pmm_rtab(p), p->range_cap * sizeof(struct pmm_range));
    for (uint32_t k = 0; k < p->freemap.nlevels; k++)
        HASH_BYTES(pmm_words(p, &p->freemap, k), p->freemap.nwords[k] * 8);
    HASH_BYTES(pmm_own(p), p->freemap.nwords[0] * 8);
    HASH_BYTES(pmm_sectab(p), p->nsec * sizeof(uint32_t));
    HASH_BYTES(pmm_slots(p), p->nslots * sizeof(uint32_t));
    HASH_BYTES(pmm_rinit(p), rinit_words(p) * 8);
    HASH_BYTES(pmm_shared(p), shared_words(p) * 8);
    HASH_BYTES(pmm_refs(p), p->cspan * sizeof(uint16_t));
    HASH_BYTES(pmm_bst(p), p->blkmap.nbits);
    HASH_BYTES(pmm_pcpu(p, 0), p->ncpus * sizeof(struct pmm_pcpu));
#undef HASH_BYTES
    return h;
}

/* pmm_check must fail, naming the broken invariant with a message that contains `needle`. */
static inline void check_fails_with(const struct pmm *p, const char *needle)
{
    struct pmm_check_fail f = {0, 0};
    CHECK_EQ(pmm_check(p, &f), PMM_ECHECK);
    int named = f.what && strstr(f.what, needle);
    if (!named)
        fprintf(stderr, "  wanted '%s', checker said '%s'\n", needle, f.what ? f.what : "");
    CHECK(named);
}

/*
 * A small machine: `mib` MiB of conventional memory at 1 MiB in a 1 GiB space, `cpus` per-CPU
 * caches, built with the simulated firmware's hooks (and not reconciled) if fw, else built and
 * reconciled.
 */
static inline struct sim *small_machine(uint32_t cpus, uint64_t mib, int fw, struct pmm **p)
{
    struct sim *s = sim_new(GIB);
    s->max_cpus = cpus;
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, mib * MIB / PG, 0);
    CHECK_EQ(sim_build(s, fw, p), PMM_OK);
    if (!fw)
        CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    return s;
}

/* A call that must fail with `err` and leave the allocator exactly as it was. */
#define CHECK_REJECTS(p, call, err)                                                                \
    do {                                                                                           \
        uint64_t _before = state_hash(p);                                                          \
        CHECK_EQ((call), (err));                                                                   \
        CHECK_EQ(state_hash(p), _before);                                                          \
        CHECK_OK(p);                                                                               \
    } while (0)

/*
 * Metadata pages for a span with nslots present 128 MiB sections and a map of ndesc descriptors
 * built with room for `extra` more, as the layout drawn in pmm/state.h sizes them; written from the
 * drawing, not from build.c, so a test notices a layout that grows (tests/memmaps_expect.py does
 * the same in Python).
 */
static inline uint64_t layout_meta_pages_cpus(uint64_t span, uint64_t nslots, uint64_t ndesc,
                                              uint64_t extra, uint64_t cpus)
{
#define R64(x) (((x) + 63) & ~63ull)
    uint64_t cspan = nslots << 15, nsec = (span + 32767) >> 15;
    uint64_t at = R64(4096 + (2 * (ndesc + extra) + 1) * 24);
    at = R64(at + nsec * 4);   /* section table */
    at = R64(at + nslots * 4); /* slots */
    uint64_t bits[2] = {cspan, cspan >> 9};
    for (int m = 0; m < 2; m++) {
        uint64_t words = bits[m] ? (bits[m] + 63) / 64 : 1;
        for (;;) {
            at = R64(at + words * 8);
            if (words == 1)
                break;
            words = (words + 63) / 64;
        }
    }
    at = R64(at + (cspan + 63) / 64 * 8);                 /* owned */
    at = R64(at + ((cspan + 2047) / 2048 + 63) / 64 * 8); /* refs-init */
    at = R64(at + (cspan / 64 + 63) / 64 * 8);            /* shared */
    at = R64(at + (cspan >> 9));                          /* block states, a byte each */
    at += cpus * 512;                                     /* per-CPU caches */
    at = (at + 4095) / 4096 * 4096 + cspan * 2;
#undef R64
    return (at + 4095) / 4096;
}

static inline uint64_t layout_meta_pages(uint64_t span, uint64_t nslots, uint64_t ndesc,
                                         uint64_t extra)
{
    return layout_meta_pages_cpus(span, nslots, ndesc, extra, 0);
}

#endif
