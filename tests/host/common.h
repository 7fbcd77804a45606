/* common.h - helpers shared by the allocator tests. */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <stddef.h>
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
 * A hash of everything a refused call must leave alone (pmm.h "Conventions"): the fixed header
 * fields, the range table, the section table and slots, and every page's state as the public
 * calls see it: not the pool's, free (held on a cache counts as free: a failed call may give a
 * cache back), or allocated with its count. Left out: the summaries (a search may clear their
 * stale bits), the cursors, the shortage mark and the caches themselves.
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
    HASH_BYTES(p, offsetof(struct pmm, at));
    HASH_BYTES(&p->reconciled, sizeof p->reconciled);
    HASH_BYTES(&p->boot_held, sizeof p->boot_held);
    HASH_BYTES(&p->owned, sizeof p->owned);
    HASH_BYTES(&p->total, sizeof p->total);
    HASH_BYTES(pmm_rtab(p), p->range_cap * sizeof(struct pmm_range));
    HASH_BYTES(p->at.sectab, p->nsec * sizeof(uint32_t));
    HASH_BYTES(pmm_slots(p), p->nslots * sizeof(uint32_t));
    for (uint64_t c = 0; c < p->cspan; c++) {
        uint64_t wi = c >> 6, k = c & 63;
        unsigned o = p->at.own[c >> 9];
        int own = o == 1 || o == 2 || (o == 3 && ((p->at.ownw[wi] >> k) & 1));
        int fr = o == 1 || (o >= 2 && ((p->at.free[wi] >> k) & 1));
        uint16_t v = own && !fr && o != 1 ? p->at.refs[c] : 0;
        unsigned char st = !own ? 0 : fr || v == PMM_REF_HELD ? 1 : 2;
        HASH_BYTES(&st, 1);
        if (st == 2)
            HASH_BYTES(&v, sizeof v);
    }
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
 * built with room for `extra` more, `cpus` caches, one NUMA node, as the layout drawn in
 * pmm/state.h sizes them; written from the drawing, not from build.c, so a test notices a layout
 * that grows (tests/memmaps_expect.py does the same in Python).
 */
static inline uint64_t layout_meta_pages_cpus(uint64_t span, uint64_t nslots, uint64_t ndesc,
                                              uint64_t extra, uint64_t cpus)
{
#define R64(x) (((x) + 63) & ~63ull)
#define RPG(x) (((x) + 4095) & ~4095ull)
    uint64_t cspan = nslots << 15, nsec = (span + 32767) >> 15, nblocks = cspan >> 9;
    uint64_t at = R64(4096 + (2 * (ndesc + extra) + 1) * 24); /* header page, range table */
    at = R64(at + nsec * 4);                                  /* section table */
    at = R64(at + nslots * 4);                                /* slots */
    at = R64(at + 24);                                        /* one node run */
    at = R64(at + 1);                                         /* distances, 1 x 1 */
    at = R64(at + 1);                                         /* nearest-first order */
    at = R64(at + cpus * 512);                                /* caches */
    at = R64(at + cpus * 2);                                  /* their nodes */
    at = R64(at + nblocks * 2);                               /* counts */
    at = R64(at + nblocks);                                   /* block states */
    at = R64(at + nblocks);                                   /* block nodes */
    for (int m = 0; m < 2; m++) {                             /* the two summaries */
        uint64_t words = nblocks ? (nblocks + 63) / 64 : 1;
        for (;;) {
            at = R64(at + words * 8);
            if (words == 1)
                break;
            words = (words + 63) / 64;
        }
    }
    at = R64(at + (cspan / 64 + 63) / 64 * 8); /* marks */
    at = RPG(RPG(at) + cspan / 8);             /* free words */
    at = RPG(at + cspan / 8);                  /* own words */
    at = RPG(at + cspan * 2);                  /* counts of references */
#undef R64
#undef RPG
    return at / 4096;
}

static inline uint64_t layout_meta_pages(uint64_t span, uint64_t nslots, uint64_t ndesc,
                                         uint64_t extra)
{
    return layout_meta_pages_cpus(span, nslots, ndesc, extra, 0);
}

#endif
