/*
 * test_claims.c - boot-phase claims against a firmware that, like EDK2, refuses
 * AllocatePages(AllocateAddress) across two of its map entries. Intake merges adjacent conventional
 * descriptors into one free run, so a run the allocator picks can straddle the firmware's entries:
 * a refused claim must not make a request that can be met fail.
 */
#include "common.h"

HARNESS_GLOBALS

/* 1 GiB of RAM described as two conventional descriptors split at 3 MiB. */
static struct sim *split_at_3m(void)
{
    struct sim *s = sim_new(2 * GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, 1 * MIB, 2 * MIB / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 3 * MIB, (GIB - 3 * MIB) / PG, 0);
    s->one_descriptor = 1;
    return s;
}

static int claimed_by_us(struct sim *s, uint64_t phys, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (sim_fw_used(s, (phys >> 12) + i) != 2)
            return 0;
    return 1;
}

/*
 * The case: a 2 MiB-aligned 512-page run, first fit at 2 MiB, across the 3 MiB split.
 * Bounded below 16 MiB, where runs are first fit from 1 MiB (unbounded ones start higher up).
 */
TEST(straddling_run)
{
    struct sim *s = split_at_3m();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    uint64_t a = 0;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 16 * MIB, &a), PMM_OK);
    CHECK_EQ(a, 2 * MIB);
    CHECK(claimed_by_us(s, a, 512));
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK); /* released to the firmware across the split */
    CHECK_EQ(sim_fw_used(s, a >> 12), 0);
    CHECK_EQ(sim_fw_used(s, (a >> 12) + 511), 0);
    CHECK_OK(p);
    sim_free(s);
}

/* A page the firmware really took inside the straddling run: dropped, the run found elsewhere. */
TEST(straddling_run_with_a_taken_page)
{
    struct sim *s = split_at_3m();
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    sim_fw_take(s, (3 * MIB + 5 * PG) >> 12, 1);
    uint64_t a = 0;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 16 * MIB, &a), PMM_OK);
    CHECK(a >= 4 * MIB);
    CHECK(claimed_by_us(s, a, 512));
    CHECK_EQ(pmm_page_state(p, (3 * MIB + 5 * PG) >> 12), PMM_PAGE_WITHHELD);
    CHECK_OK(p);
    sim_free(s);
}

/* Take 2 MiB blocks until the allocator says ENOMEM: then no 2 MiB-aligned block is still free
 * in the pool, whatever the firmware's entry boundaries (one every 3 MiB + 12 KiB here). */
TEST(exhaust_blocks_over_many_splits)
{
    struct sim *s = sim_new(2 * GIB);
    uint64_t step = 3 * MIB + 3 * PG, at = MIB;
    for (; at + step <= 512 * MIB; at += step)
        sim_add(s, PMM_EFI_CONVENTIONAL, at, step / PG, 0);
    s->one_descriptor = 1;
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    uint64_t a, got = 0;
    while (pmm_alloc_run(p, 512, 2 * MIB, 0, &a) == PMM_OK) {
        CHECK(claimed_by_us(s, a, 512));
        got++;
    }
    uint64_t left = 0;
    for (uint64_t b = 0; b < at >> 21; b++) {
        int free = 1;
        for (uint64_t i = 0; i < 512 && free; i++)
            free = pmm_page_state(p, (b << 9) + i) == PMM_PAGE_FREE;
        left += free;
    }
    CHECK_EQ(left, 0);
    CHECK(got > 200); /* ~250 blocks of 2 MiB in 511 MiB, less the metadata */
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(straddling_run);
    RUN(straddling_run_with_a_taken_page);
    RUN(exhaust_blocks_over_many_splits);
    HARNESS_MAIN_END();
}
