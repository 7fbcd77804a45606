/*
 * test_limine_paging.c - the loader's page tables (efi/limine/paging.c) in 4- and 5-level mode,
 * with and without 1 GiB pages, in simulated physical memory, the layout the loader builds for
 * a kernel: the HHDM at the mode's offset (low memory, RAM below and above 4 GiB, RAM past
 * 1 TiB, a write-combining framebuffer), the kernel image in the top 2 GiB with W^X per
 * section, the temporary identity map of the first 4 GiB, an uncached page split out of it.
 *
 * The tables are walked here by a walker of the test's own (the SDM's 4- and 5-level formats,
 * not pt_translate), and every sampled address is compared with a model: the list of mappings
 * made, the last one covering an address deciding it. The top table must hold exactly the
 * entries the layout needs, leaves must be the largest the alignment allows, and a 5-level
 * offset must be refused in 4-level mode (it is not canonical there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "paging.h"

HARNESS_GLOBALS

#define KIB4      4096ull
#define MIB2      (2ull << 20)
#define GIB       (1ull << 30)
#define TIB       (1ull << 40)
#define HHDM4     0xffff800000000000ull
#define HHDM5     0xff00000000000000ull
#define KBASE     0xffffffff80000000ull
#define POOL      512           /* table pages */
#define POOL_PHYS 0x7f000000ull /* where the simulated table pages lie */
#define MAX_MAPS  32

static uint8_t *pool;
static unsigned pool_used;

static uint64_t alloc_page(void *ctx)
{
    (void)ctx;
    return pool_used < POOL ? POOL_PHYS + KIB4 * pool_used++ : 0;
}

/* The model: every mapping made, in order. */
struct mapping {
    uint64_t va, pa, len;
    unsigned flags;
};
static struct mapping maps[MAX_MAPS];
static int nmaps;

static int map(struct pt *t, uint64_t va, uint64_t pa, uint64_t len, unsigned flags)
{
    int rc = pt_map(t, va, pa, len, flags);
    if (!rc && nmaps < MAX_MAPS)
        maps[nmaps++] = (struct mapping){va, pa, len, flags};
    return rc;
}

/* What the model says about va: 1 and *pa, *flags if mapped. */
static int expect(uint64_t va, uint64_t *pa, unsigned *flags)
{
    for (int i = nmaps - 1; i >= 0; i--)
        if (va >= maps[i].va && va - maps[i].va < maps[i].len) {
            *pa = maps[i].pa + (va - maps[i].va);
            *flags = maps[i].flags;
            return 1;
        }
    return 0;
}

static const uint64_t *table_at(uint64_t phys)
{
    uint64_t a = phys & 0x000ffffffffff000ull;
    if (a < POOL_PHYS || a >= POOL_PHYS + POOL * KIB4)
        return 0; /* a table pointer outside the pool: the walk fails */
    return (const uint64_t *)(pool + (a - POOL_PHYS));
}

/* The SDM's walk: 1 and *pa, *flags, *size of the leaf, or 0 if va is not mapped. */
static int walk(uint64_t root, unsigned levels, uint64_t va, uint64_t *pa, unsigned *flags,
                uint64_t *size)
{
    unsigned width = levels == 5 ? 57 : 48;
    uint64_t high = va >> (width - 1);
    if (high != 0 && high != (~0ull >> (width - 1)))
        return 0;
    const uint64_t *t = table_at(root);
    for (unsigned level = levels; t; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e = t[(va >> shift) & 511];
        if (!(e & 1))
            return 0;
        int leaf = level == 1 || (level <= 3 && (e & 0x80));
        if (!leaf) {
            if (level > 3 && (e & 0x80))
                return 0; /* PS is reserved in PML5 and PML4 entries */
            t = table_at(e);
            continue;
        }
        uint64_t pat = level == 1 ? 0x80 : 0x1000;
        *size = 1ull << shift;
        *pa = (e & 0x000ffffffffff000ull & ~(*size - 1)) | (va & (*size - 1));
        *flags = (e & 2 ? PT_WRITE : 0) | (e >> 63 ? 0 : PT_EXEC);
        if ((e & 0x8) && (e & pat) && !(e & 0x10))
            *flags |= PT_WC;
        else if ((e & 0x8) && (e & 0x10) && !(e & pat))
            *flags |= PT_UC;
        return 1;
    }
    return 0;
}

/* Sample va against the model and pt_translate; the leaf size walked, 0 if not mapped. */
static uint64_t sample(const struct pt *t, uint64_t va)
{
    uint64_t pa = 0, want_pa = 0, size = 0;
    unsigned f = 0, want_f = 0, tf = 0;
    int mapped = walk(t->root, t->levels, va, &pa, &f, &size);
    int want = expect(va, &want_pa, &want_f);
    CHECK_EQ(mapped, want);
    if (mapped && want) {
        CHECK_EQ(pa, want_pa);
        CHECK_EQ(f, want_f);
    }
    uint64_t tp = pt_translate(t, va, &tf);
    CHECK_EQ(tp, mapped ? pa : ~0ull);
    if (mapped)
        CHECK_EQ(tf, f);
    return mapped ? size : 0;
}

/* The top table's present entries: a bit per index in four words. */
static void top_entries(const struct pt *t, uint64_t out[8])
{
    const uint64_t *top = table_at(t->root);
    memset(out, 0, 8 * sizeof *out);
    for (int i = 0; i < 512; i++)
        if (top[i] & 1)
            out[i / 64] |= 1ull << (i % 64);
}

/* The indexes a range [va, va + len) takes in the top table of a `levels`-level walk. */
static void want_top(uint64_t want[8], unsigned levels, uint64_t va, uint64_t len)
{
    unsigned shift = levels == 5 ? 48 : 39;
    uint64_t last = ((va + len - 1) >> shift) & 511;
    for (uint64_t i = (va >> shift) & 511; i <= last; i++)
        want[i / 64] |= 1ull << (i % 64);
}

static void layout(unsigned levels, int huge1g)
{
    memset(pool, 0, POOL * KIB4);
    pool_used = 0;
    nmaps = 0;
    struct pt t = {0, levels, (uint32_t)huge1g, 1ull << 63, alloc_page, 0, 0, 0};
    t.off = (uint64_t)(uintptr_t)pool - POOL_PHYS;
    CHECK(pt_init(&t) == 0);
    uint64_t h = levels == 5 ? HHDM5 : HHDM4, fb = 0xc0000000ull, fbsize = 3 * MIB2 + 5 * KIB4;
    unsigned rwx = PT_WRITE | PT_EXEC;
    /* HHDM: low memory, RAM to 3 GiB with an unaligned end, the framebuffer, RAM above 4 GiB
     * and past 1 TiB */
    CHECK(map(&t, h, 0, 0xa0000, rwx) == 0);
    CHECK(map(&t, h + 0x100000, 0x100000, 3 * GIB - 0x100000 - 3 * KIB4, rwx) == 0);
    CHECK(map(&t, h + fb, fb, fbsize, rwx | PT_WC) == 0);
    CHECK(map(&t, h + 4 * GIB, 4 * GIB, 2 * GIB + MIB2, rwx) == 0);
    CHECK(map(&t, h + TIB, TIB, GIB + KIB4, rwx) == 0);
    /* the kernel: text, rodata, data; its physical pages at 22 MiB */
    uint64_t kp = 0x1600000;
    CHECK(map(&t, KBASE, kp, 5 * KIB4, PT_EXEC) == 0);
    CHECK(map(&t, KBASE + 5 * KIB4, kp + 5 * KIB4, 3 * KIB4, 0) == 0);
    CHECK(map(&t, KBASE + 8 * KIB4, kp + 8 * KIB4, 30 * KIB4, PT_WRITE) == 0);
    /* the temporary identity map, and an uncached page split out of one of its large pages */
    CHECK(map(&t, 0, 0, 4 * GIB, rwx) == 0);
    CHECK(map(&t, 0xfee00000ull, 0xfee00000ull, KIB4, PT_WRITE | PT_UC) == 0);

    uint64_t want[8] = {0}, have[8];
    for (int i = 0; i < nmaps; i++)
        want_top(want, levels, maps[i].va, maps[i].len);
    top_entries(&t, have);
    CHECK(memcmp(want, have, sizeof want) == 0);
    /* where the layout lands: PML5 or PML4 entry 256 for the HHDM, 511 for the kernel */
    CHECK(have[4] & 1);
    CHECK(have[7] >> 63);

    /* every mapping's edges, the pages around them, and 2 MiB and 1 GiB boundaries inside */
    for (int i = 0; i < nmaps; i++) {
        uint64_t va = maps[i].va, end = va + maps[i].len;
        sample(&t, va);
        sample(&t, end - KIB4);
        sample(&t, end);
        if (va >= KIB4)
            sample(&t, va - KIB4);
        for (uint64_t b = (va + MIB2 - 1) & ~(MIB2 - 1), n = 0; b < end && n < 64; b += MIB2, n++)
            sample(&t, b - KIB4), sample(&t, b);
    }
    /* the largest leaves the alignment allows */
    CHECK_EQ(sample(&t, h + 4 * GIB + 12345), huge1g ? GIB : MIB2);
    CHECK_EQ(sample(&t, h + 4 * GIB + 2 * GIB), MIB2);
    CHECK_EQ(sample(&t, h + TIB + GIB), KIB4);
    CHECK_EQ(sample(&t, h + fb + 3 * MIB2), KIB4);
    CHECK_EQ(sample(&t, h + fb), MIB2);
    CHECK_EQ(sample(&t, h + 3 * GIB - 4 * KIB4), KIB4);
    CHECK_EQ(sample(&t, KBASE + 7 * KIB4), KIB4);
    CHECK_EQ(sample(&t, 0xfee00000ull), KIB4);
    CHECK_EQ(sample(&t, 0xfee00000ull + KIB4), KIB4); /* its 2 MiB block, split with it */
    CHECK_EQ(sample(&t, 0xfee00000ull - KIB4), MIB2); /* the block below, whole */
    CHECK_EQ(sample(&t, 0xfe000000ull), MIB2);
    /* unmapped: the hole below 1 MiB, between RAM ranges, below and past the kernel */
    CHECK_EQ(sample(&t, h + 0xa0000), 0);
    CHECK_EQ(sample(&t, h + 7 * GIB), 0);
    CHECK_EQ(sample(&t, KBASE - KIB4), 0);
    CHECK_EQ(sample(&t, KBASE + 38 * KIB4), 0);
    /* the lower half dropped (what the enter stub does at revision >= 1): the identity map
     * goes, the HHDM and the kernel stay */
    pt_clear_top(&t, 0, 255);
    nmaps -= 2; /* the model forgets the identity map and its uncached page */
    CHECK_EQ(sample(&t, 0x100000), 0);
    CHECK_EQ(sample(&t, 0xfee00000ull), 0);
    CHECK(sample(&t, h + 0x100000) != 0);
    CHECK(sample(&t, KBASE) != 0);
    /* a 5-level HHDM is not canonical in 4-level mode; a 4-level one is in 5-level mode */
    uint64_t other = levels == 5 ? HHDM4 : HHDM5;
    CHECK_EQ(pt_map(&t, other, 0, KIB4, PT_WRITE), levels == 5 ? 0 : -1);
    CHECK_EQ(pt_translate(&t, other, 0), levels == 5 ? 0 : ~0ull);
}

TEST(four_level)
{
    layout(4, 0);
}

TEST(four_level_1g)
{
    layout(4, 1);
}

TEST(five_level)
{
    layout(5, 0);
}

TEST(five_level_1g)
{
    layout(5, 1);
}

/* Out of table pages: -1, not a write past the pool. */
TEST(out_of_tables)
{
    memset(pool, 0, POOL * KIB4);
    pool_used = POOL - 3;
    struct pt t = {0, 5, 0, 0, alloc_page, 0, 0, 0};
    t.off = (uint64_t)(uintptr_t)pool - POOL_PHYS;
    CHECK(pt_init(&t) == 0);
    CHECK(pt_map(&t, HHDM5, 0, KIB4, PT_WRITE) == -1); /* needs four tables below the root */
    CHECK(pool_used == POOL);
}

int main(void)
{
    pool = aligned_alloc(KIB4, POOL * KIB4);
    if (!pool)
        return 2;
    RUN(four_level);
    RUN(four_level_1g);
    RUN(five_level);
    RUN(five_level_1g);
    RUN(out_of_tables);
    free(pool);
    HARNESS_MAIN_END();
}
