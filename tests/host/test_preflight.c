/*
 * test_preflight.c - the loader's decisions before ExitBootServices that need no firmware
 * (efi/preflight.c): where a kernel goes (the slide, KASLR), which base revision it gets, which
 * paging mode, and whether the CPU is in long mode at all.
 */
#include <string.h>

#include "harness.h"
#include "limine.h"
#include "preflight.h"

HARNESS_GLOBALS

#define MIB2 (2ull << 20)

static struct elf_image image(uint64_t vlo, uint64_t size, int pie, uint64_t align)
{
    struct elf_image img;
    memset(&img, 0, sizeof img);
    img.vlo = vlo;
    img.vhi = vlo + size;
    img.pie = (uint32_t)pie;
    img.align = align;
    img.nload = 1;
    return img;
}

TEST(executables_stay_where_linked)
{
    uint64_t slide = 7;
    struct elf_image a = image(KERNEL_BASE, 0x40000, 0, 4096);
    CHECK(!kernel_slide(&a, 1, 12345, &slide) && slide == 0); /* kaslr has no say */
    struct elf_image b = image(0xffffffff90000000ull, 0x40000, 0, 4096);
    CHECK(!kernel_slide(&b, 0, 0, &slide) && slide == 0);
    struct elf_image c = image(0xffff800000100000ull, 0x40000, 0, 4096);
    const char *why = kernel_slide(&c, 0, 0, &slide);
    CHECK(why && strstr(why, "below 0xffffffff80000000"));
    struct elf_image d = image(0x100000, 0x40000, 0, 4096);
    CHECK(kernel_slide(&d, 0, 0, &slide) != 0);
}

TEST(pie_lifted_and_randomised)
{
    uint64_t slide, seen = 0, distinct = 0, last = ~0ull;
    struct elf_image z = image(0, 0x200000, 1, 4096);
    CHECK(!kernel_slide(&z, 0, 99, &slide));
    CHECK_EQ(slide, KERNEL_BASE); /* the least slide, without KASLR */
    for (uint64_t r = 0; r < 64; r++) {
        CHECK(!kernel_slide(&z, 1, r * 0x9e3779b97f4a7c15ull, &slide));
        CHECK(slide % MIB2 == 0 && slide >= KERNEL_BASE);
        CHECK(slide + z.vhi <= KERNEL_BASE + KASLR_SPAN);
        distinct += slide != last;
        seen |= slide != KERNEL_BASE;
        last = slide;
    }
    CHECK(seen && distinct > 32);
    /* a larger alignment is kept */
    struct elf_image big = image(0, 0x200000, 1, 16 * MIB2);
    CHECK(!kernel_slide(&big, 1, 77777, &slide) && slide % (16 * MIB2) == 0);
    /* linked high already: no lift, no KASLR move below its link address */
    struct elf_image high = image(0xffffffffc0000000ull, 0x200000, 1, 4096);
    CHECK(!kernel_slide(&high, 1, 5, &slide) && slide == 0);
    /* too close to the top of the address space */
    struct elf_image top = image(0xfffffffffff00000ull, 0x200000, 1, 4096);
    CHECK(kernel_slide(&top, 0, 0, &slide) != 0);
    /* an image too large for the KASLR span still loads, unrandomised */
    struct elf_image huge = image(0, (1ull << 30), 1, 4096);
    CHECK(!kernel_slide(&huge, 1, 123456789, &slide) && slide == KERNEL_BASE);
}

TEST(base_revisions)
{
    for (uint64_t r = 0; r <= MAX_REVISION; r++)
        CHECK_EQ(revision_used(r), r);
    CHECK_EQ(revision_used(MAX_REVISION + 1), MAX_REVISION);
    CHECK_EQ(revision_used(99), MAX_REVISION);
    CHECK_EQ(revision_used(~0ull), MAX_REVISION);
}

TEST(paging_modes)
{
    uint64_t m = 9;
    const uint64_t L4 = LIMINE_PAGING_MODE_X86_64_4LVL, L5 = LIMINE_PAGING_MODE_X86_64_5LVL;
    CHECK(!paging_choice(0, 0, 0, 0, -1, -1, -1, 0, &m) && m == L4);    /* no request */
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, -1, 0, &m) && m == L4); /* wants 5, takes 4 */
    CHECK(paging_choice(1, L5, L5, L5, -1, -1, -1, 0, &m) != 0);        /* needs 5 */
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, -1, 1, &m) && m == L5);
    CHECK(paging_choice(1, L4, L4, L4, -1, -1, -1, 1, &m) != 0); /* firmware in 5, kernel 4 only */
    CHECK(paging_choice(0, 0, 0, 0, -1, -1, -1, 1, &m) != 0);    /* default max is 4-level */
    /* limine.conf narrows: max_paging_mode 4level under a 5-level firmware refuses */
    CHECK(paging_choice(1, L5, L5, L4, -1, (int)L4, -1, 1, &m) != 0);
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, (int)L4, 0, &m) && m == L4);
    CHECK(paging_choice(1, L4, L4, L4, -1, -1, (int)L5, 0, &m) != 0); /* min above max */
}

TEST(long_mode)
{
    uint64_t cr0 = CR0_PG | 1, cr4 = CR4_PAE, efer = EFER_LMA | (1 << 8);
    CHECK(!long_mode_check(cr0, cr4, efer));
    CHECK(!long_mode_check(cr0, cr4 | CR4_LA57, efer));
    CHECK(long_mode_check(cr0 & ~CR0_PG, cr4, efer));
    CHECK(long_mode_check(cr0, cr4 & ~CR4_PAE, efer));
    CHECK(long_mode_check(cr0, cr4, efer & ~EFER_LMA));
}

int main(void)
{
    RUN(executables_stay_where_linked);
    RUN(pie_lifted_and_randomised);
    RUN(base_revisions);
    RUN(paging_modes);
    RUN(long_mode);
    HARNESS_MAIN_END();
}
