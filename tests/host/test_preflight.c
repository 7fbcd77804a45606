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

/* The Limine rules: the preference held in [min, max], served if the CPU has it, else the
 * highest mode in range it has; the firmware's own mode has no say (the loader switches). */
TEST(paging_modes)
{
    uint64_t m = 9;
    const uint64_t L4 = LIMINE_PAGING_MODE_X86_64_4LVL, L5 = LIMINE_PAGING_MODE_X86_64_5LVL;
    /* no request: 4-level, also on an LA57 CPU (a firmware in 5-level is switched down) */
    CHECK(!paging_choice(0, 0, 0, 0, -1, -1, -1, 0, &m) && m == L4);
    m = 9;
    CHECK(!paging_choice(0, 0, 0, 0, -1, -1, -1, 1, &m) && m == L4);
    /* asks for 5 (max 5, min 4): 5 where the CPU has LA57, 4 where it has not */
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, -1, 1, &m) && m == L5);
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, -1, 0, &m) && m == L4);
    /* needs 5: refused without LA57, by name */
    const char *why = paging_choice(1, L5, L5, L5, -1, -1, -1, 0, &m);
    CHECK(why && strstr(why, "LA57"));
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L5, -1, -1, -1, 1, &m) && m == L5);
    /* prefers 4 but allows 5: 4, even on an LA57 CPU */
    m = 9;
    CHECK(!paging_choice(1, L4, L5, L4, -1, -1, -1, 1, &m) && m == L4);
    /* a 4-level-only kernel on an LA57 CPU (the firmware may run 5): 4 */
    m = 9;
    CHECK(!paging_choice(1, L4, L4, L4, -1, -1, -1, 1, &m) && m == L4);
    /* a preference above max is held to max; a mode past 5-level counts as 5-level */
    m = 9;
    CHECK(!paging_choice(1, L5, L4, L4, -1, -1, -1, 1, &m) && m == L4);
    m = 9;
    CHECK(!paging_choice(1, 7, 7, L4, -1, -1, -1, 1, &m) && m == L5);
    CHECK(paging_choice(1, 7, 7, 3, -1, -1, -1, 1, &m) != 0); /* min unknown */
    /* limine.conf narrows: max_paging_mode 4level keeps an LA57 CPU's kernel in 4-level */
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L4, -1, (int)L4, -1, 1, &m) && m == L4);
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L4, -1, -1, (int)L4, 0, &m) && m == L4);
    /* min_paging_mode 5level on a CPU without LA57 is refused */
    CHECK(paging_choice(1, L5, L5, L4, -1, -1, (int)L5, 0, &m) != 0);
    /* paging_mode replaces the preference, inside the kernel's range */
    m = 9;
    CHECK(!paging_choice(1, L5, L5, L4, (int)L4, -1, -1, 1, &m) && m == L4);
    m = 9;
    CHECK(!paging_choice(1, L4, L5, L4, (int)L5, -1, -1, 1, &m) && m == L5);
    m = 9;
    CHECK(!paging_choice(1, L4, L4, L4, (int)L5, -1, -1, 1, &m) && m == L4); /* above max */
    why = paging_choice(1, L4, L4, L4, -1, -1, (int)L5, 1, &m);              /* min above max */
    CHECK(why && strstr(why, "minimum"));
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
