/*
 * test_memmap.c - classification of every EFI type and attribute, and map intake under every
 * shape of map the firmware may produce.
 */
#include <string.h>

#include "harness.h"
#include "pmm.h"

HARNESS_GLOBALS

#define DS 48 /* walk by DescriptorSize, never sizeof: 48 like OVMF */

struct map {
    unsigned char buf[64 * DS];
    int n;
};

static void add(struct map *m, uint32_t type, uint64_t phys, uint64_t npages, uint64_t attr)
{
    struct pmm_efi_desc d = {type, 0, phys, 0, npages, attr};
    memset(m->buf + m->n * DS, 0xee, DS);
    memcpy(m->buf + m->n++ * DS, &d, sizeof d);
}

static unsigned char scratch[1 << 16];
static struct pmm_range out[256];
static struct pmm_map_error err;

static int parse(struct map *m, uint64_t *n)
{
    struct pmm_map pm = {m->buf, (uint64_t)m->n * DS, DS};
    CHECK(pmm_map_scratch_size(&pm) <= sizeof scratch);
    return pmm_map_ranges(&pm, scratch, sizeof scratch, out, 256, n, &err);
}

#define PG 4096ull

TEST(classify_every_type)
{
    const int want[PMM_EFI_NTYPES] = {
        [PMM_EFI_RESERVED] = PMM_KIND_NEVER,     [PMM_EFI_LOADER_CODE] = PMM_KIND_BOOT,
        [PMM_EFI_LOADER_DATA] = PMM_KIND_BOOT,   [PMM_EFI_BOOT_CODE] = PMM_KIND_BOOT,
        [PMM_EFI_BOOT_DATA] = PMM_KIND_BOOT,     [PMM_EFI_RUNTIME_CODE] = PMM_KIND_NEVER,
        [PMM_EFI_RUNTIME_DATA] = PMM_KIND_NEVER, [PMM_EFI_CONVENTIONAL] = PMM_KIND_FREE,
        [PMM_EFI_UNUSABLE] = PMM_KIND_NEVER,     [PMM_EFI_ACPI_RECLAIM] = PMM_KIND_NEVER,
        [PMM_EFI_ACPI_NVS] = PMM_KIND_NEVER,     [PMM_EFI_MMIO] = PMM_KIND_NEVER,
        [PMM_EFI_MMIO_PORT] = PMM_KIND_NEVER,    [PMM_EFI_PAL_CODE] = PMM_KIND_NEVER,
        [PMM_EFI_PERSISTENT] = PMM_KIND_NEVER,   [PMM_EFI_UNACCEPTED] = PMM_KIND_NEVER,
    };
    for (uint32_t t = 0; t < PMM_EFI_NTYPES; t++) {
        CHECK_EQ(pmm_classify(t, 0xf), want[t]);
        /* RUNTIME and SP make anything "never"; undefined attribute bits change nothing */
        CHECK_EQ(pmm_classify(t, PMM_EFI_ATTR_RUNTIME | 0xf), PMM_KIND_NEVER);
        CHECK_EQ(pmm_classify(t, PMM_EFI_ATTR_SP), PMM_KIND_NEVER);
        CHECK_EQ(pmm_classify(t, 0x0ff0000000f00000ull), want[t]);
    }
    CHECK_EQ(pmm_classify(16, 0), PMM_KIND_NEVER);
    CHECK_EQ(pmm_classify(0x6fffffff, 0), PMM_KIND_NEVER);
    CHECK_EQ(pmm_classify(0x70000000, 0), PMM_KIND_NEVER); /* OEM */
    CHECK_EQ(pmm_classify(0x80000000, 0), PMM_KIND_NEVER); /* OS */
    CHECK_EQ(pmm_classify(0xffffffff, 0), PMM_KIND_NEVER);
}

TEST(unsorted_adjacent_and_merged)
{
    struct map m = {0};
    add(&m, PMM_EFI_CONVENTIONAL, 0x200000, 16, 0xf);
    add(&m, PMM_EFI_BOOT_DATA, 0x100000, 256, 0xf);
    add(&m, PMM_EFI_CONVENTIONAL, 0x210000, 16, 0xf); /* adjacent, same type: merges */
    add(&m, PMM_EFI_BOOT_CODE, 0x220000, 4, 0xf);     /* adjacent, other type: stays */
    uint64_t n;
    CHECK_EQ(parse(&m, &n), PMM_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(out[0].start, 0x100);
    CHECK_EQ(out[0].npages, 256);
    CHECK_EQ(out[0].kind, PMM_KIND_BOOT);
    CHECK_EQ(out[1].start, 0x200);
    CHECK_EQ(out[1].npages, 32);
    CHECK_EQ(out[1].kind, PMM_KIND_FREE);
    CHECK_EQ(out[2].type, PMM_EFI_BOOT_CODE);
}

/*
 *   conventional  [0x100000 ........................ 0x200000)
 *   reserved                 [0x140000 .. 0x150000)
 *   boot data                          [0x148000 ........ 0x180000)
 *   result         FREE     | NEVER              | BOOT  | FREE
 */
TEST(overlap_most_restrictive_wins)
{
    struct map m = {0};
    add(&m, PMM_EFI_CONVENTIONAL, 0x100000, 256, 0xf);
    add(&m, PMM_EFI_RESERVED, 0x140000, 16, 0);
    add(&m, PMM_EFI_BOOT_DATA, 0x148000, 56, 0xf);
    uint64_t n;
    CHECK_EQ(parse(&m, &n), PMM_OK);
    CHECK_EQ(n, 4);
    CHECK_EQ(out[0].start, 0x100);
    CHECK_EQ(out[0].npages, 0x40);
    CHECK_EQ(out[1].start, 0x140);
    CHECK_EQ(out[1].npages, 0x10);
    CHECK_EQ(out[1].kind, PMM_KIND_NEVER);
    CHECK_EQ(out[2].start, 0x150);
    CHECK_EQ(out[2].npages, 0x30);
    CHECK_EQ(out[2].kind, PMM_KIND_BOOT);
    CHECK_EQ(out[3].start, 0x180);
    CHECK_EQ(out[3].npages, 0x80);
    CHECK_EQ(out[3].kind, PMM_KIND_FREE);
    /* a runtime attribute on conventional memory beats the conventional copy of the same range */
    struct map r = {0};
    add(&r, PMM_EFI_CONVENTIONAL, 0x100000, 4, 0xf);
    add(&r, PMM_EFI_CONVENTIONAL, 0x100000, 4, PMM_EFI_ATTR_RUNTIME);
    CHECK_EQ(parse(&r, &n), PMM_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(out[0].kind, PMM_KIND_NEVER);
}

TEST(zero_length_and_unaligned)
{
    struct map m = {0};
    add(&m, PMM_EFI_CONVENTIONAL, 0x100000, 0, 0xf); /* dropped */
    add(&m, PMM_EFI_CONVENTIONAL, 0x200800, 4, 0xf); /* [0x200800, 0x204800): 3 whole */
    add(&m, PMM_EFI_RESERVED, 0x300800, 1, 0);       /* grows to 2 pages */
    uint64_t n;
    CHECK_EQ(parse(&m, &n), PMM_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(out[0].start, 0x201);
    CHECK_EQ(out[0].npages, 3);
    CHECK_EQ(out[1].start, 0x300);
    CHECK_EQ(out[1].npages, 2);

    /* Zero-length descriptors are dropped whatever their start and kind: an unaligned reserved
     * one must not grow into a page, which here would withhold a conventional page. */
    struct map z = {0};
    add(&z, PMM_EFI_CONVENTIONAL, 0x100000, 16, 0xf);
    add(&z, PMM_EFI_RESERVED, 0x104800, 0, 0);
    add(&z, PMM_EFI_MMIO, 0x10f001, 0, PMM_EFI_ATTR_RUNTIME);
    add(&z, PMM_EFI_BOOT_DATA, 0x200800, 0, 0xf);
    add(&z, PMM_EFI_RESERVED, 0xfffffffffffff800ull, 0, 0); /* rounding out would pass 2^64 */
    CHECK_EQ(parse(&z, &n), PMM_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(out[0].start, 0x100);
    CHECK_EQ(out[0].npages, 16);
    CHECK_EQ(out[0].kind, PMM_KIND_FREE);
}

TEST(rejections_name_the_problem)
{
    struct map m = {0};
    add(&m, PMM_EFI_CONVENTIONAL, 0x100000, 4, 0xf);
    add(&m, PMM_EFI_CONVENTIONAL, 0xfffffffffffff000ull, 2, 0xf); /* wraps */
    uint64_t n;
    CHECK_EQ(parse(&m, &n), PMM_EMAP);
    CHECK_EQ(err.index, 1);
    CHECK(strstr(err.why, "wraps") != 0);

    struct map e = {0};
    add(&e, PMM_EFI_RESERVED, 0xfffffffffffff000ull, 1, 0); /* ends exactly at 2^64: fine */
    CHECK_EQ(parse(&e, &n), PMM_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(out[0].start + out[0].npages, 1ull << 52);

    struct pmm_map small = {m.buf, 39 * 2, 39};
    CHECK_EQ(pmm_map_ranges(&small, scratch, sizeof scratch, out, 256, &n, &err), PMM_EMAP);
    CHECK(strstr(err.why, "DescriptorSize") != 0);
    struct pmm_map ragged = {m.buf, DS + 7, DS};
    CHECK_EQ(pmm_map_ranges(&ragged, scratch, sizeof scratch, out, 256, &n, &err), PMM_EMAP);
    CHECK(strstr(err.why, "multiple") != 0);
    struct pmm_map zero = {m.buf, 0, 0};
    CHECK_EQ(pmm_map_ranges(&zero, scratch, sizeof scratch, out, 256, &n, &err), PMM_EMAP);

    struct map big = {0};
    for (int i = 0; i < 10; i++)
        add(&big, i % 2 ? PMM_EFI_RESERVED : PMM_EFI_CONVENTIONAL, (uint64_t)i * PG, 1, 0);
    struct pmm_map bm = {big.buf, 10 * DS, DS};
    CHECK_EQ(pmm_map_ranges(&bm, scratch, sizeof scratch, out, 5, &n, &err), PMM_ERANGE);
    CHECK_EQ(pmm_map_ranges(&bm, scratch, 8, out, 256, &n, &err), PMM_EMAP);

    struct map none = {0};
    CHECK_EQ(parse(&none, &n), PMM_OK);
    CHECK_EQ(n, 0);
}

TEST(strerror_names_every_code)
{
    for (int e = PMM_OK; e >= PMM_EBUSY; e--)
        CHECK(strcmp(pmm_strerror(e), "unknown error") != 0);
    CHECK(strcmp(pmm_strerror(-99), "unknown error") == 0);
}

int main(void)
{
    RUN(classify_every_type);
    RUN(unsorted_adjacent_and_merged);
    RUN(overlap_most_restrictive_wins);
    RUN(zero_length_and_unaligned);
    RUN(rejections_name_the_problem);
    RUN(strerror_names_every_code);
    HARNESS_MAIN_END();
}
