/*
 * test_random.c [OPS] [SEED] - randomized differential test against a reference model.
 *
 * The model is one byte of state and one counter per page, and answers every question by brute
 * force. OPS mixed operations (default 1,000,000): single and contiguous allocations with random
 * alignment and bounds, frees of single pages and runs, ref_inc/ref_dec, and bad calls. The first
 * tenth runs in the boot phase with a claiming firmware; then the state is reconciled and adopted
 * through a second mapping of the same memory, and the rest runs there. pmm_check() and a
 * page-by-page comparison after every batch; at the end everything is freed and every page must be
 * back.
 *
 *   0   0x9f     0x100    0x800 0x900   0x2000 0x2040                0x4000 0x4200  0x7000
 *   |conv|rsv     |conv    |boot|conv    |acpi |conv                  |mmio  |conv   |
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "common.h"
#include "rng.h"

HARNESS_GLOBALS

enum { M_NEVER, M_FREE, M_ALLOC, M_WITHHELD, M_META };

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

#define NPG 0x7000ull
static unsigned char st[NPG];
static uint32_t ref[NPG];
static uint64_t alloc_list[NPG], alloc_pos[NPG], nlist;
static struct pmm *p;
static uint64_t bigruns_found;

static void m_alloc(uint64_t pfn)
{
    st[pfn] = M_ALLOC;
    ref[pfn] = 1;
    alloc_pos[pfn] = nlist;
    alloc_list[nlist++] = pfn;
}
static void m_free(uint64_t pfn)
{
    st[pfn] = M_FREE;
    ref[pfn] = 0;
    uint64_t i = alloc_pos[pfn], last = alloc_list[--nlist];
    alloc_list[i] = last;
    alloc_pos[last] = i;
}

static int m_run_exists(uint64_t n, uint64_t a, uint64_t lo, uint64_t hi)
{
    for (uint64_t s = (lo + a - 1) / a * a; s + n <= hi; s += a) {
        uint64_t i = 0;
        while (i < n && st[s + i] == M_FREE)
            i++;
        if (i == n)
            return 1;
        s = (s + i) / a * a; /* skip past the used page */
    }
    return 0;
}

static void op_alloc(void)
{
    uint64_t x;
    int rc = pmm_alloc(p, &x);
    if (rc == PMM_OK) {
        uint64_t pfn = x / PG;
        CHECK(pfn >= 256 && pfn < NPG && st[pfn] == M_FREE);
        if (pfn < NPG && st[pfn] == M_FREE)
            m_alloc(pfn);
    } else {
        CHECK_EQ(rc, PMM_ENOMEM);
        CHECK(!m_run_exists(1, 1, 256, NPG));
    }
}

static void op_run(void)
{
    uint64_t n = rnd() % 8 ? 1 + below(40) : 1 + below(1200);
    uint64_t align = PG << below(11);
    static const uint64_t limits[] = {0, MIB, 16 * MIB, 0x2000 * PG, 0x4100 * PG};
    uint64_t limit = rnd() % 3 ? 0 : limits[below(5)];
    if (rnd() % 10 == 0)
        limit = (1 + below(NPG)) * PG;
    uint64_t lo = limit && limit <= MIB ? 1 : 256,
             hi = limit && limit / PG < NPG ? limit / PG : NPG;
    uint64_t x;
    int rc = pmm_alloc_run(p, n, align, limit, &x);
    if (rc == PMM_OK) {
        uint64_t s = x / PG;
        CHECK(x % align == 0 && s >= lo && s + n <= hi);
        for (uint64_t i = 0; i < n; i++) {
            CHECK(st[s + i] == M_FREE);
            if (st[s + i] == M_FREE)
                m_alloc(s + i);
        }
    } else if (rc == PMM_ENOMEM) {
        CHECK(!m_run_exists(n, align / PG, lo, hi));
    } else {
        CHECK_EQ(rc, PMM_ERANGE);
        CHECK(hi <= lo || n > hi - lo);
    }
}

/*
 * Runs of whole 2 MiB blocks plus a partial tail, 2 or 4 MiB aligned: the block-map search and its
 * tail check, which plain op_run reaches too rarely to matter.
 */
static void op_bigrun(void)
{
    uint64_t n = 512 * (1 + below(2)) + below(512), align = (2 * MIB) << below(2), x;
    uint64_t limit = rnd() % 4 ? 0 : (0x2000 + below(NPG - 0x2000)) * PG;
    uint64_t hi = limit ? limit / PG : NPG;
    int rc = pmm_alloc_run(p, n, align, limit, &x);
    if (rc == PMM_OK) {
        uint64_t s = x / PG;
        CHECK(x % align == 0 && s >= 256 && s + n <= hi);
        for (uint64_t i = 0; i < n; i++) {
            CHECK(st[s + i] == M_FREE);
            if (st[s + i] == M_FREE)
                m_alloc(s + i);
        }
        bigruns_found++;
    } else {
        CHECK_EQ(rc, PMM_ENOMEM);
        CHECK(!m_run_exists(n, align / PG, 256, hi));
    }
}

static void op_free(void)
{
    if (!nlist)
        return;
    uint64_t pfn = alloc_list[below(nlist)];
    if (ref[pfn] > 1) {
        CHECK_EQ(pmm_free(p, pfn * PG), PMM_ESHARED);
        return;
    }
    if (rnd() % 2) {
        CHECK_EQ(pmm_free(p, pfn * PG), PMM_OK);
        m_free(pfn);
        return;
    }
    uint64_t n = 1, max = 1 + below(600);
    while (n < max && pfn + n < NPG && st[pfn + n] == M_ALLOC && ref[pfn + n] == 1)
        n++;
    CHECK_EQ(pmm_free_run(p, pfn * PG, n), PMM_OK);
    for (uint64_t i = 0; i < n; i++)
        m_free(pfn + i);
}

static void op_ref(void)
{
    if (!nlist)
        return;
    uint64_t pfn = alloc_list[below(nlist)];
    if (rnd() % 2 && ref[pfn] < PMM_REF_MAX) {
        CHECK_EQ(pmm_ref_inc(p, pfn * PG), PMM_OK);
        ref[pfn]++;
    } else {
        CHECK_EQ(pmm_ref_dec(p, pfn * PG), PMM_OK);
        if (--ref[pfn] == 0) {
            ref[pfn] = 1;
            m_free(pfn);
        }
    }
}

/* Bad calls: each must fail with the right code and change nothing. */
static void op_bad(void)
{
    uint64_t pfn = below(NPG), x;
    int want = st[pfn] == M_FREE ? PMM_EDOUBLE : st[pfn] == M_ALLOC ? PMM_OK : PMM_ENOTOWNED;
    if (want == PMM_OK)
        return;
    switch (rnd() % 6) {
    case 0:
        CHECK_REJECTS(p, pmm_free(p, pfn * PG), want);
        break;
    case 1:
        CHECK_REJECTS(p, pmm_ref_inc(p, pfn * PG), want);
        break;
    case 2:
        CHECK_REJECTS(p, pmm_free_run(p, pfn * PG, 1 + below(4)), want);
        break;
    case 3:
        CHECK_REJECTS(p, pmm_free(p, pfn * PG + 1 + below(4095)), PMM_EINVAL);
        break;
    case 4:
        CHECK_REJECTS(p, pmm_alloc_run(p, 0, 0, 0, &x), PMM_EINVAL);
        break;
    default:
        CHECK_REJECTS(p, pmm_alloc_run(p, NPG, 0, 0, &x), PMM_ERANGE);
        break;
    }
}

/* Drop every reference the model holds, in random order. */
static void free_all(void)
{
    while (nlist) {
        uint64_t pfn = alloc_list[below(nlist)];
        while (ref[pfn] > 1) {
            CHECK_EQ(pmm_ref_dec(p, pfn * PG), PMM_OK);
            ref[pfn]--;
        }
        CHECK_EQ(pmm_free(p, pfn * PG), PMM_OK);
        m_free(pfn);
    }
}

static void compare_all(void)
{
    CHECK_OK(p);
    uint64_t mism = 0;
    for (uint64_t pfn = 0; pfn < NPG; pfn++) {
        enum pmm_page_state s = pmm_page_state(p, pfn);
        int m = s == PMM_PAGE_FREE       ? M_FREE
                : s == PMM_PAGE_ALLOC    ? M_ALLOC
                : s == PMM_PAGE_META     ? M_META
                : s == PMM_PAGE_WITHHELD ? M_WITHHELD
                                         : M_NEVER;
        mism += m != st[pfn];
        if (s == PMM_PAGE_ALLOC) {
            uint32_t c;
            pmm_refcount(p, pfn * PG, &c);
            mism += c != ref[pfn];
        }
    }
    CHECK_EQ(mism, 0);
    /* the range iterators walk exactly the model's free and allocated pages */
    for (int alloc = 0; alloc < 2; alloc++) {
        uint64_t seen = 0, want = 0, start, n, bad = 0;
        int (*next)(const struct pmm *, uint64_t, uint64_t *, uint64_t *) =
            alloc ? pmm_next_alloc_range : pmm_next_free_range;
        for (uint64_t pfn = 0; next(p, pfn, &start, &n); pfn = start + n) {
            for (uint64_t i = start; i < start + n; i++)
                bad += st[i] != (alloc ? M_ALLOC : M_FREE);
            bad += start + n < NPG && st[start + n] == (alloc ? M_ALLOC : M_FREE); /* maximal */
            seen += n;
        }
        for (uint64_t pfn = 0; pfn < NPG; pfn++)
            want += st[pfn] == (alloc ? M_ALLOC : M_FREE);
        CHECK_EQ(bad, 0);
        CHECK_EQ(seen, want);
    }
}

int main(int argc, char **argv)
{
    uint64_t ops = argc > 1 ? strtoull(argv[1], 0, 0) : 1000000;
    rng_seed(argc > 2 ? strtoull(argv[2], 0, 0) : 0);
    /* the map, as (type, first page, pages); the model's layout is derived from it alone */
    static const struct {
        uint32_t type;
        uint64_t pfn, n;
    } map[] = {{PMM_EFI_CONVENTIONAL, 0, 0x9f},        {PMM_EFI_RESERVED, 0x9f, 0x61},
               {PMM_EFI_CONVENTIONAL, 0x100, 0x700},   {PMM_EFI_BOOT_DATA, 0x800, 0x100},
               {PMM_EFI_CONVENTIONAL, 0x900, 0x1700},  {PMM_EFI_ACPI_RECLAIM, 0x2000, 0x40},
               {PMM_EFI_CONVENTIONAL, 0x2040, 0x1fc0}, {PMM_EFI_MMIO, 0x4000, 0x200},
               {PMM_EFI_CONVENTIONAL, 0x4200, 0x2e00}};
    struct sim *s = sim_new(NPG * PG);
    for (unsigned i = 0; i < sizeof map / sizeof map[0]; i++) {
        sim_add(s, map[i].type, map[i].pfn * PG, map[i].n,
                map[i].type == PMM_EFI_MMIO ? PMM_EFI_ATTR_RUNTIME : 0xf);
        unsigned char m = map[i].type == PMM_EFI_CONVENTIONAL ? M_FREE
                          : map[i].type == PMM_EFI_BOOT_DATA  ? M_WITHHELD
                                                              : M_NEVER;
        memset(st + map[i].pfn, m, map[i].n);
    }
    st[0] = M_WITHHELD; /* page 0 is never handed out */
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    /* Where the metadata went is the allocator's choice; the contract is only that it is one run
     * at the top of the highest conventional range. */
    struct pmm_stats ms;
    pmm_stats(p, &ms);
    uint64_t meta = layout_meta_pages(NPG, 1, sizeof map / sizeof map[0], 64);
    CHECK_EQ(ms.meta, meta);
    CHECK_EQ(ms.meta_phys / PG, NPG - meta);
    memset(st + NPG - meta, M_META, meta);
    compare_all(); /* the allocator's view from the start equals the model's */
    unsigned char *alias = 0;
    for (uint64_t i = 0; i < ops; i++) {
        if (i == ops / 10) {
            /* ExitBootServices, then a new owner through another mapping */
            compare_all();
            CHECK_EQ(sim_reconcile(s, p), PMM_OK);
            for (uint64_t pfn = 0x800; pfn < 0x900; pfn++)
                st[pfn] = M_FREE;
            alias = sim_alias(s);
            int err;
            p = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)alias, &err);
            CHECK(p != 0);
            if (!p)
                return 1;
            compare_all();
        }
        /* Every 20,000 operations every allocation is given back (shared pages keep their
         * other references), so that large runs have room to succeed again rather than only
         * ever fail on a fragmented machine. */
        if (i % 20000 == 10000)
            free_all();
        uint64_t r = rnd() % 100;
        if (r < 33)
            op_alloc();
        else if (r < 40)
            op_run();
        else if (r < 45)
            op_bigrun();
        else if (r < 85)
            op_free();
        else if (r < 95)
            op_ref();
        else
            op_bad();
        if (i % 20000 == 19999)
            compare_all();
    }
    compare_all();
    free_all();
    compare_all();
    struct pmm_stats sts;
    pmm_stats(p, &sts);
    uint64_t model[M_META + 1] = {0};
    for (uint64_t pfn = 0; pfn < NPG; pfn++)
        model[st[pfn]]++;
    CHECK_EQ(sts.free, model[M_FREE]);
    CHECK_EQ(sts.alloc, 0);
    CHECK_EQ(sts.withheld, model[M_WITHHELD]);
    CHECK_EQ(sts.meta, model[M_META]);
    CHECK_EQ(sts.total, NPG - model[M_NEVER]);
    CHECK(ops < 100000 || bigruns_found > 100); /* the block-run search did succeed, often */
    printf("%llu operations, %llu block runs found; %s\n", (unsigned long long)ops,
           (unsigned long long)bigruns_found, "every page accounted for");
    if (alias)
        munmap(alias, s->bytes);
    sim_free(s);
    HARNESS_MAIN_END();
}
