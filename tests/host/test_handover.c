/*
 * test_handover.c - what the kernel receives at reconcile: held boot memory stays held, including
 * pages the firmware allocated after the allocator was built; configuration tables in boot-services
 * memory stay allocated and listed (efi/cfgtables.c); the kernel's entry check that the allocated
 * pages are exactly the listed ones (handoff/kernel/handed.c).
 */
#include <stdlib.h>

#include "cfgtables.h"
#include "common.h"
#include "kernel.h"

HARNESS_GLOBALS

/* handed.c's handed_free stops the kernel on a refused free; the test never calls it. */
void panic(const char *fmt, ...)
{
    fprintf(stderr, "panic: %s\n", fmt);
    abort();
}
struct boot_info boot;

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

static const uint8_t esrt_guid[16] = {0x63, 0xa2, 0x22, 0xb1, 0x61, 0x36, 0x68, 0x4f,
                                      0x99, 0x29, 0x78, 0xf8, 0xb0, 0xd6, 0x21, 0x80};
static const uint8_t memattr_guid[16] = {0x1d, 0x91, 0xfa, 0xdc, 0xeb, 0x26, 0x9f, 0x46,
                                         0xa2, 0x20, 0x38, 0xb7, 0xdc, 0x46, 0x12, 0x20};
static const uint8_t smbios3_guid[16] = {0x44, 0x15, 0xfd, 0xf2, 0x94, 0x97, 0x2c, 0x4a,
                                         0x99, 0x2e, 0xe5, 0xbb, 0xcf, 0x20, 0xe3, 0x94};
static const uint8_t other_guid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void put32(struct sim *s, uint64_t phys, uint32_t v)
{
    memcpy(s->mem + phys, &v, 4);
}
static void put64(struct sim *s, uint64_t phys, uint64_t v)
{
    memcpy(s->mem + phys, &v, 8);
}

#define BD (256 * MIB) /* boot-services data: [256, 272) MiB */
#define RT (300 * MIB) /* runtime-services data */
#define AC (301 * MIB) /* ACPI reclaim */

/*
 * A machine whose firmware put: an ESRT of 100 entries (4016 bytes) across a page boundary in boot
 * data; a Memory Attributes Table in the page where the ESRT ends (two tables, one page); an
 * SMBIOS 3 entry point in boot data whose structure table is in boot data too; a table of a GUID
 * we do not know in boot data; one of the same kind in runtime data and one in ACPI memory.
 */
static struct sim *tables_machine(struct pmm **p, struct cfg_entry *t, uint64_t *n)
{
    struct sim *s = sim_new(512 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 255 * MIB / PG, 0);
    sim_add(s, PMM_EFI_BOOT_DATA, BD, 16 * MIB / PG, 0);
    sim_add(s, PMM_EFI_RUNTIME_DATA, RT, 1, PMM_EFI_ATTR_RUNTIME);
    sim_add(s, PMM_EFI_ACPI_RECLAIM, AC, 1, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    uint64_t esrt = BD + 3 * PG + 0x100, mat = BD + 4 * PG + 0xf00, sm3 = BD + 9 * PG + 8;
    put32(s, esrt, 100);                /* FwResourceCount */
    put32(s, mat + 4, 2);               /* NumberOfEntries */
    put32(s, mat + 8, 48);              /* DescriptorSize */
    put32(s, sm3 + 0x0c, 3 * PG);       /* TableMaximumSize */
    put64(s, sm3 + 0x10, BD + 12 * PG); /* TableAddress */
    struct cfg_entry e[] = {{{0}, esrt},         {{0}, mat},     {{0}, sm3},
                            {{0}, BD + 14 * PG}, {{0}, RT + 16}, {{0}, AC + 32}};
    memcpy(e[0].guid, esrt_guid, 16);
    memcpy(e[1].guid, memattr_guid, 16);
    memcpy(e[2].guid, smbios3_guid, 16);
    for (int i = 3; i < 6; i++)
        memcpy(e[i].guid, other_guid, 16);
    memcpy(t, e, sizeof e);
    *n = 6;
    return s;
}

static struct pmm_kept kept_space[64];

static int kept_kind(const struct kept_list *h, uint32_t kind, uint64_t phys, uint64_t bytes)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (h->kept[i].kind == kind && h->kept[i].phys == phys && h->kept[i].bytes == bytes)
            return 1;
    return 0;
}

static void check_tables_kept(struct pmm *p, const struct kept_list *h)
{
    CHECK_EQ(h->n, 5);
    CHECK(kept_kind(h, PMM_KEPT_ESRT, BD + 3 * PG + 0x100, 16 + 100 * 40));
    CHECK(kept_kind(h, PMM_KEPT_MEMATTR, BD + 4 * PG + 0xf00, 16 + 2 * 48));
    CHECK(kept_kind(h, PMM_KEPT_SMBIOS3, BD + 9 * PG + 8, 24));
    CHECK(kept_kind(h, PMM_KEPT_SMBIOS_TABLE, BD + 12 * PG, 3 * PG));
    CHECK(kept_kind(h, PMM_KEPT_TABLE, BD + 14 * PG, 1));
    /* the pages: ESRT 3-4, MAT 4, SMBIOS 9, its table 12-14 (14 also the unknown table) */
    static const int alloc[] = {3, 4, 9, 12, 13, 14};
    for (unsigned i = 0; i < sizeof alloc / sizeof *alloc; i++) {
        uint32_t c = 0;
        CHECK_EQ(pmm_refcount(p, BD + alloc[i] * PG, &c), PMM_OK);
        CHECK_EQ(c, 1);
    }
    CHECK(pmm_page_state(p, (BD + 5 * PG) >> 12) != PMM_PAGE_ALLOC);
    CHECK(pmm_page_state(p, (BD + 15 * PG) >> 12) != PMM_PAGE_ALLOC);
}

/* Without hold mode: boot data joins the pool, the tables' pages stay allocated and listed. */
TEST(config_tables_kept)
{
    struct pmm *p;
    struct cfg_entry t[8];
    uint64_t n;
    struct sim *s = tables_machine(&p, t, &n);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    struct kept_list h = {kept_space, 0, 48};
    CHECK_EQ(keep_config_tables(p, &h, t, n, (uint64_t)(uintptr_t)s->mem), 0);
    check_tables_kept(p, &h);
    CHECK_OK(p);
    /* the kernel's first allocations: all of memory, and no table page among them */
    uint64_t a, hit = 0;
    while (pmm_alloc(p, &a) == PMM_OK) {
        uint64_t pg = (a - BD) / PG;
        hit += a >= BD && (pg == 3 || pg == 4 || pg == 9 || (pg >= 12 && pg <= 14));
    }
    CHECK_EQ(hit, 0);
    sim_free(s);
}

/* Hold mode: the tables' pages are allocated, the rest of boot data held, then released. */
TEST(config_tables_kept_in_hold_mode)
{
    struct pmm *p;
    struct cfg_entry t[8];
    uint64_t n;
    struct sim *s = tables_machine(&p, t, &n);
    s->reconcile_flags = PMM_HOLD_BOOT_MEMORY;
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    struct kept_list h = {kept_space, 0, 48};
    CHECK_EQ(keep_config_tables(p, &h, t, n, (uint64_t)(uintptr_t)s->mem), 0);
    check_tables_kept(p, &h);
    CHECK_EQ(pmm_page_state(p, (BD + 6 * PG) >> 12), PMM_PAGE_WITHHELD);
    uint64_t released;
    CHECK_EQ(pmm_release_boot(p, &released), PMM_OK);
    CHECK_EQ(released, 16 * MIB / PG - 6);
    check_tables_kept(p, &h);
    CHECK_OK(p);
    sim_free(s);
}

/* kept[] full: what does not fit is reported, not kept, and nothing past kept[] is written. */
TEST(config_tables_overflow)
{
    struct pmm *p;
    struct cfg_entry t[8];
    uint64_t n;
    struct sim *s = tables_machine(&p, t, &n);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    struct kept_list h = {kept_space, 46, 48};
    kept_space[48].kind = 0x5a5a; /* past the list's end: must stay */
    CHECK_EQ(keep_config_tables(p, &h, t, n, (uint64_t)(uintptr_t)s->mem), 3);
    CHECK_EQ(h.n, 48);
    CHECK_EQ(kept_space[48].kind, 0x5a5a);
    sim_free(s);
}

/*
 * A response as the loader fills it, over a reconciled simulated machine: the handed runs sorted,
 * the tables' pages among them (kinds as the loader records them).
 */
static struct pmm_handed runs[64];

static void add_run(struct pmm_response *r, uint64_t phys, uint64_t pages, uint32_t kind)
{
    runs[r->handed_count++] = (struct pmm_handed){phys, pages, kind, 0};
}

static int by_phys(const void *a, const void *b)
{
    const struct pmm_handed *x = a, *y = b;
    return x->phys < y->phys ? -1 : x->phys > y->phys;
}

static struct sim *handed_machine(struct pmm **p, struct pmm_response *r)
{
    struct cfg_entry t[8];
    uint64_t n, a;
    struct sim *s = tables_machine(p, t, &n);
    memset(r, 0, sizeof *r);
    r->handed = runs;
    CHECK_EQ(pmm_alloc_run(*p, 5, 4096, 0, &a), PMM_OK); /* the shell's `pmm alloc 5` */
    add_run(r, a, 5, PMM_HANDED_EARLIER);
    CHECK_EQ(pmm_alloc_run(*p, 18, 2 * MIB, 0, &a), PMM_OK);
    add_run(r, a, 18, PMM_HANDED_EXECUTABLE);
    CHECK_EQ(pmm_alloc_run(*p, 16, 4096, 0, &a), PMM_OK);
    add_run(r, a, 16, PMM_HANDED_STACK);
    CHECK_EQ(pmm_alloc_run(*p, 2, 4096, 0, &a), PMM_OK);
    add_run(r, a, 2, PMM_HANDED_EFI_MEMMAP);
    CHECK_EQ(pmm_alloc_run(*p, 7, 4096, 0, &a), PMM_OK);
    add_run(r, a, 7, PMM_HANDED_PAGE_TABLES);
    CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    struct kept_list k = {kept_space, 0, 48};
    CHECK_EQ(keep_config_tables(*p, &k, t, n, (uint64_t)(uintptr_t)s->mem), 0);
    /* the tables' pages, merged as the loader does: ESRT 3-4, MAT 4, SMBIOS 9, 12-14 */
    add_run(r, BD + 3 * PG, 2, PMM_HANDED_KEPT);
    add_run(r, BD + 9 * PG, 1, PMM_HANDED_KEPT);
    add_run(r, BD + 12 * PG, 3, PMM_HANDED_KEPT);
    qsort(runs, r->handed_count, sizeof runs[0], by_phys);
    return s;
}

TEST(kernel_entry_check)
{
    struct pmm *p;
    struct pmm_response r;
    struct sim *s = handed_machine(&p, &r);
    uint64_t at = 1;
    const char *why = handoff_allocated_check(p, &r, &at);
    CHECK(!why);
    if (why)
        fprintf(stderr, "  %s at %#llx\n", why, (unsigned long long)at);
    /* an allocation nobody listed */
    struct pmm_response b = r;
    b.handed_count--;
    why = handoff_allocated_check(p, &b, &at);
    CHECK(why && strstr(why, "does not hand over"));
    CHECK_EQ(at, runs[r.handed_count - 1].phys);
    /* a listed run that is longer than what is allocated: its last page is free */
    runs[r.handed_count - 1].pages++;
    why = handoff_allocated_check(p, &r, &at);
    CHECK(why && strstr(why, "not allocated"));
    runs[r.handed_count - 1].pages--;
    /* a listed page freed: the stack's last page */
    uint64_t stack = 0;
    for (uint64_t i = 0; i < r.handed_count; i++)
        if (runs[i].kind == PMM_HANDED_STACK)
            stack = runs[i].phys;
    CHECK_EQ(pmm_free(p, stack + 15 * PG), PMM_OK);
    why = handoff_allocated_check(p, &r, &at);
    CHECK(why && strstr(why, "not allocated"));
    CHECK_EQ(at, stack + 15 * PG);
    sim_free(s);
}

int main(void)
{
    RUN(hold_withholds_late_boot_data);
    RUN(no_hold_frees_late_boot_data);
    RUN(config_tables_kept);
    RUN(config_tables_kept_in_hold_mode);
    RUN(config_tables_overflow);
    RUN(kernel_entry_check);
    HARNESS_MAIN_END();
}
