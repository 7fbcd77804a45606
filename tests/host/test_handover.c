/*
 * test_handover.c - what the kernel receives at reconcile: held boot memory stays held, including
 * pages the firmware allocated after the allocator was built.
 */
#include "common.h"

HARNESS_GLOBALS

/* 256 MiB of conventional memory and some boot-services data, built with firmware hooks. */
static struct sim *machine(struct pmm **p)
{
    struct sim *s = sim_new(512 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 255 * MIB / PG, 0);
    sim_add(s, PMM_EFI_BOOT_DATA, 256 * MIB, 16 * MIB / PG, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    return s;
}

/*
 * The firmware allocates boot-services data after the build (a file-system buffer while the kernel
 * is read) in pages the allocator thinks free. With PMM_HOLD_BOOT_MEMORY those pages are withheld
 * at reconcile like all boot-services memory, and join the pool only at pmm_release_boot.
 */
TEST(hold_withholds_late_boot_data)
{
    struct pmm *p;
    struct sim *s = machine(&p);
    uint64_t late = (100 * MIB) >> 12, n = 40;
    sim_fw_take(s, late, n); /* boot-services data, behind the allocator's back */
    CHECK_EQ(pmm_page_state(p, late), PMM_PAGE_FREE);
    uint64_t kept;
    CHECK_EQ(pmm_alloc_run(p, 3, 4096, 0, &kept), PMM_OK); /* the loader's own, kept */
    s->reconcile_flags = PMM_HOLD_BOOT_MEMORY;
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_page_state(p, late + i), PMM_PAGE_WITHHELD);
    CHECK_EQ(pmm_page_state(p, late - 1), PMM_PAGE_FREE);
    CHECK_EQ(pmm_page_state(p, late + n), PMM_PAGE_FREE);
    CHECK_EQ(pmm_page_state(p, (256 * MIB) >> 12), PMM_PAGE_WITHHELD);
    for (uint64_t i = 0; i < 3; i++)
        CHECK_EQ(pmm_page_state(p, (kept >> 12) + i), PMM_PAGE_ALLOC);
    /* nothing the pool hands out before the release is boot memory */
    uint64_t a, bad = 0;
    while (pmm_alloc(p, &a) == PMM_OK)
        bad += (a >> 12) >= late && (a >> 12) < late + n;
    CHECK_EQ(bad, 0);
    uint64_t released = 0;
    CHECK_EQ(pmm_release_boot(p, &released), PMM_OK);
    CHECK_EQ(released, n + 16 * MIB / PG);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_page_state(p, late + i), PMM_PAGE_FREE);
    CHECK_OK(p);
    sim_free(s);
}

/* Without hold mode the same pages are free at reconcile: boot memory is the kernel's now. */
TEST(no_hold_frees_late_boot_data)
{
    struct pmm *p;
    struct sim *s = machine(&p);
    uint64_t late = (100 * MIB) >> 12;
    sim_fw_take(s, late, 8);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_EQ(pmm_page_state(p, late), PMM_PAGE_FREE);
    CHECK_EQ(pmm_page_state(p, (256 * MIB) >> 12), PMM_PAGE_FREE);
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(hold_withholds_late_boot_data);
    RUN(no_hold_frees_late_boot_data);
    HARNESS_MAIN_END();
}
