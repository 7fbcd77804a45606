/*
 * test_limine_verify.c - the kernel's check of the Limine responses (handoff/limine_verify.c):
 * a good set passes, and each refusal is reached by breaking one field of it and names that
 * field. Pointers are the host's own, with an HHDM offset of 0 for the functions that check
 * them (the offset itself is lv_hhdm's to judge).
 */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "limine_verify.h"

HARNESS_GLOBALS

#define PG     4096ull
#define MIB    (1ull << 20)
#define GIB    (1ull << 30)
#define HHDM4  0xffff800000000000ull
#define HHDM5  0xff00000000000000ull
#define FB     0xc0000000ull
#define FBSIZE (768ull * 4096)
#define NMM    6

/* A good set of responses, rebuilt for every case. */
static struct limine_memmap_entry ents[NMM];
static struct limine_memmap_entry *eptr[NMM];
static struct limine_memmap_response mm;
static struct limine_framebuffer fbs[2];
static struct limine_framebuffer *fbptr[2];
static struct limine_framebuffer_response fbr;
static struct limine_executable_address_response ka;

static void good(void)
{
    static const struct limine_memmap_entry e[NMM] = {
        {0, 0x1000, LIMINE_MEMMAP_RESERVED},
        {0x1000, 0x9f000, LIMINE_MEMMAP_USABLE},
        {0x100000, 0x1500000, LIMINE_MEMMAP_USABLE},
        {0x1600000, 0x26000, LIMINE_MEMMAP_EXECUTABLE_AND_MODULES},
        {0x1626000, 0x1e000000 - 0x1626000, LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE},
        {FB, FBSIZE, LIMINE_MEMMAP_FRAMEBUFFER},
    };
    memcpy(ents, e, sizeof ents);
    for (int i = 0; i < NMM; i++)
        eptr[i] = &ents[i];
    mm = (struct limine_memmap_response){0, NMM, eptr};
    for (int i = 0; i < 2; i++) {
        memset(&fbs[i], 0, sizeof fbs[i]);
        fbs[i].address = (void *)(uintptr_t)(FB + (uint64_t)i * FBSIZE / 2);
        fbs[i].width = 512;
        fbs[i].height = 384 / (i + 1);
        fbs[i].pitch = 512 * 4;
        fbs[i].bpp = 32;
        fbs[i].memory_model = LIMINE_FRAMEBUFFER_RGB;
        fbs[i].red_mask_size = fbs[i].green_mask_size = fbs[i].blue_mask_size = 8;
        fbs[i].red_mask_shift = 16, fbs[i].green_mask_shift = 8, fbs[i].blue_mask_shift = 0;
        fbptr[i] = &fbs[i];
    }
    fbr = (struct limine_framebuffer_response){1, 2, fbptr};
    ka = (struct limine_executable_address_response){0, 0x1600000, 0xffffffff80000000ull};
}

/* why names field: it starts with field, then ':'. */
static int names(const char *why, const char *field)
{
    size_t n = strlen(field);
    if (!why || strncmp(why, field, n) || why[n] != ':') {
        fprintf(stderr, "  wanted a refusal of %s, got: %s\n", field, why ? why : "(accepted)");
        return 0;
    }
    return 1;
}

/* why is a refusal that says text (0 if it is none: a passing check must not crash the test). */
static int says(const char *why, const char *text)
{
    return why && strstr(why, text);
}

static const char *memmap(void)
{
    uint64_t top;
    return lv_memmap(&mm, 0, &top);
}

static const char *framebuffers(void)
{
    return lv_framebuffers(&fbr, 0, &mm);
}

static const char *executable(void)
{
    uint64_t top;
    const char *why = lv_memmap(&mm, 0, &top);
    return why ? why : lv_executable(&ka, 38 * PG, 0, top);
}

static const void *misaligned(const void *p)
{
    return (const char *)p + 4;
}

TEST(good_set_passes)
{
    good();
    uint64_t top = 0;
    CHECK(!lv_memmap(&mm, 0, &top));
    CHECK_EQ(top, FB + FBSIZE);
    CHECK(!lv_framebuffers(&fbr, 0, &mm));
    CHECK(!lv_framebuffers(0, 0, &mm)); /* no framebuffer at all is fine */
    fbr.framebuffer_count = 0;
    CHECK(!lv_framebuffers(&fbr, 0, &mm));
    CHECK(!lv_executable(&ka, 38 * PG, 0, top));
    CHECK(!lv_executable(&ka, 38 * PG, 0, 1ull << 46)); /* a direct map of 64 TiB */
}

TEST(hhdm)
{
    CHECK(!lv_hhdm(HHDM4, 4));
    CHECK(!lv_hhdm(HHDM5, 5));
    CHECK(!lv_hhdm(HHDM4, 5)); /* a 4-level offset stays canonical in 5-level mode */
    CHECK(!lv_hhdm(HHDM4 + GIB, 4));
    CHECK(!lv_hhdm(HHDM4 + 2 * MIB, 4));
    CHECK(names(lv_hhdm(0x00007f0000000000ull, 4), "hhdm.offset"));
    CHECK(says(lv_hhdm(0x00007f0000000000ull, 4), "lower half"));
    CHECK(names(lv_hhdm(HHDM5, 4), "hhdm.offset"));
    CHECK(says(lv_hhdm(HHDM5, 4), "4-level"));
    CHECK(names(lv_hhdm(0x8000000000000000ull, 5), "hhdm.offset"));
    CHECK(says(lv_hhdm(0x8000000000000000ull, 5), "5-level"));
    CHECK(names(lv_hhdm(HHDM4 - PG, 4), "hhdm.offset")); /* just below: not canonical */
    CHECK(names(lv_hhdm(HHDM4 + PG, 4), "hhdm.offset"));
    CHECK(says(lv_hhdm(HHDM4 + MIB, 4), "aligned"));
    CHECK(names(lv_hhdm(HHDM4, 3), "paging mode"));
}

TEST(paging_mode)
{
    struct limine_paging_mode_response r = {0, LIMINE_PAGING_MODE_X86_64_5LVL};
    CHECK(!lv_paging_mode(0, 4));
    CHECK(!lv_paging_mode(0, 5));
    CHECK(!lv_paging_mode(&r, 5));
    CHECK(names(lv_paging_mode(&r, 4), "paging_mode.mode"));
    CHECK(says(lv_paging_mode(&r, 4), "CR4.LA57 is clear"));
    r.mode = LIMINE_PAGING_MODE_X86_64_4LVL;
    CHECK(!lv_paging_mode(&r, 4));
    CHECK(says(lv_paging_mode(&r, 5), "CR4.LA57 is set"));
    r.mode = 2;
    CHECK(names(lv_paging_mode(&r, 4), "paging_mode.mode"));
}

TEST(memmap_refusals)
{
    uint64_t top = 1;
    good();
    CHECK(names(lv_memmap(misaligned(&mm), 0, &top), "memmap"));
    CHECK_EQ(top, 0);
    good();
    CHECK(names(lv_memmap(&mm, (uint64_t)(uintptr_t)&mm + 8, &top), "memmap")); /* below hhdm */
    good();
    mm.entry_count = 0;
    CHECK(names(memmap(), "memmap.entry_count"));
    mm.entry_count = LV_MAX_MEMMAP + 1; /* refused before the array is read */
    CHECK(names(memmap(), "memmap.entry_count"));
    good();
    mm.entries = (struct limine_memmap_entry **)misaligned(eptr);
    CHECK(names(memmap(), "memmap.entries"));
    good();
    mm.entries = (struct limine_memmap_entry **)(uintptr_t)(LV_PHYS_LIMIT - 8); /* one fits */
    mm.entry_count = 2;
    CHECK(names(memmap(), "memmap.entries"));
    good();
    eptr[3] = (struct limine_memmap_entry *)misaligned(&ents[3]);
    CHECK(names(memmap(), "memmap.entries[]"));
    good();
    ents[2].length = 0;
    CHECK(names(memmap(), "memmap.entries[].length"));
    good();
    ents[5].base = LV_PHYS_LIMIT - PG;
    ents[5].length = 2 * PG;
    CHECK(names(memmap(), "memmap.entries[].length"));
    good();
    ents[5].base = ~0ull - PG + 1; /* wraps */
    CHECK(names(memmap(), "memmap.entries[].length"));
    good();
    ents[4].type = LIMINE_MEMMAP_RESERVED_MAPPED + 1;
    CHECK(names(memmap(), "memmap.entries[].type"));
    good();
    ents[1].base = 0x1800; /* usable, not page aligned */
    ents[1].length = 0x9e800;
    CHECK(names(memmap(), "memmap.entries[].base, length"));
    CHECK(says(memmap(), "page aligned"));
    good();
    ents[4].length -= 0x800; /* bootloader-reclaimable, length not page aligned */
    CHECK(names(memmap(), "memmap.entries[].base, length"));
    good();
    ents[0].length = 0x1800; /* reserved, unaligned: allowed, but now it overlaps the next */
    CHECK(names(memmap(), "memmap.entries[].base"));
    CHECK(says(memmap(), "overlapping"));
    good();
    ents[0].length = 0x800; /* reserved and unaligned, no overlap: fine */
    CHECK(!memmap());
    good();
    eptr[1] = &ents[2], eptr[2] = &ents[1]; /* not sorted */
    CHECK(names(memmap(), "memmap.entries[].base"));
}

TEST(executable_refusals)
{
    good();
    CHECK(names(lv_executable(misaligned(&ka), PG, 0, 0), "executable_address"));
    ka.physical_base += 0x800;
    CHECK(names(executable(), "executable_address.physical_base"));
    good();
    ka.physical_base = LV_PHYS_LIMIT - 4 * PG; /* the 38-page image would end past 2^52 */
    CHECK(names(executable(), "executable_address.physical_base"));
    good();
    ka.virtual_base = HHDM4 + 2 * MIB; /* inside the direct map: below the top 2 GiB */
    CHECK(names(executable(), "executable_address.virtual_base"));
    good();
    ka.virtual_base = 0xffffffff7ffff000ull;
    CHECK(names(executable(), "executable_address.virtual_base"));
    good();
    ka.virtual_base += 0x10;
    CHECK(names(executable(), "executable_address.virtual_base"));
    good();
    ka.virtual_base = ~0ull - 4 * PG + 1; /* the image runs past 2^64 */
    CHECK(names(executable(), "executable_address.virtual_base"));
    good();
    /* a direct map reaching the top 2 GiB: the image would sit inside it */
    CHECK(names(lv_executable(&ka, PG, 0, 0xffffffff80000000ull + PG), "executable_address"
                                                                       ".virtual_base"));
    CHECK(says(lv_executable(&ka, PG, 0, 0xffffffff80000000ull + PG), "direct map"));
    CHECK(!lv_executable(&ka, PG, 0, 0xffffffff80000000ull));
}

TEST(framebuffer_refusals)
{
    good();
    CHECK(names(lv_framebuffers(misaligned(&fbr), 0, &mm), "framebuffer"));
    fbr.framebuffer_count = LV_MAX_FRAMEBUFFS + 1;
    CHECK(names(framebuffers(), "framebuffer.framebuffer_count"));
    good();
    fbr.framebuffers = (struct limine_framebuffer **)misaligned(fbptr);
    CHECK(names(framebuffers(), "framebuffer.framebuffers"));
    good();
    fbptr[1] = (struct limine_framebuffer *)misaligned(&fbs[1]);
    CHECK(names(framebuffers(), "framebuffer.framebuffers[]"));
    good();
    fbs[1].address = (void *)(uintptr_t)LV_PHYS_LIMIT;
    CHECK(names(framebuffers(), "framebuffer.address"));
    good();
    fbs[0].memory_model = 2;
    CHECK(names(framebuffers(), "framebuffer.memory_model"));
    good();
    fbs[0].bpp = 8;
    CHECK(names(framebuffers(), "framebuffer.bpp"));
    good();
    fbs[1].width = 0;
    CHECK(names(framebuffers(), "framebuffer.width, height"));
    good();
    fbs[1].height = 0;
    CHECK(names(framebuffers(), "framebuffer.width, height"));
    good();
    fbs[0].pitch = 512 * 4 - 1;
    CHECK(names(framebuffers(), "framebuffer.pitch"));
    good();
    fbs[0].pitch = 0;
    CHECK(names(framebuffers(), "framebuffer.pitch"));
    good();
    fbs[0].bpp = 24, fbs[0].pitch = 512 * 3; /* exactly width * 3: fine */
    CHECK(!framebuffers());
    fbs[0].pitch = 512 * 3 - 1;
    CHECK(names(framebuffers(), "framebuffer.pitch"));
    good();
    fbs[0].bpp = 16, fbs[0].pitch = 1024, fbs[0].red_mask_shift = 8, fbs[0].green_mask_size = 4;
    fbs[0].green_mask_shift = 4, fbs[0].blue_mask_size = 4;
    CHECK(!framebuffers());
    good();
    fbs[0].width = ~0ull / 2; /* width * bpp overflows: still refused by pitch */
    CHECK(names(framebuffers(), "framebuffer.pitch"));
    good();
    fbs[0].height = 1ull << 62; /* height * pitch overflows */
    CHECK(names(framebuffers(), "framebuffer.height"));
    good();
    fbs[0].address = (void *)(uintptr_t)(LV_PHYS_LIMIT - PG); /* ends past 2^52 */
    CHECK(names(framebuffers(), "framebuffer.height"));
    good();
    fbs[0].address = (void *)(uintptr_t)0x1e000000; /* past the framebuffer entry: RAM? no */
    CHECK(!framebuffers());
    fbs[0].address = (void *)(uintptr_t)(0x1e000000 - PG); /* its first page is RAM */
    CHECK(names(framebuffers(), "framebuffer.address"));
    CHECK(says(framebuffers(), "RAM"));
    good();
    fbs[1].address = (void *)(uintptr_t)0x1000; /* over usable low memory */
    fbs[1].height = 1;
    CHECK(names(framebuffers(), "framebuffer.address"));
    good();
    fbs[1].address = (void *)(uintptr_t)0; /* over the reserved page 0 only: not RAM */
    fbs[1].height = 2;
    CHECK(!framebuffers());
    good();
    fbs[0].red_mask_size = 0;
    CHECK(names(framebuffers(), "framebuffer.red_mask"));
    good();
    fbs[0].green_mask_shift = 25;
    CHECK(names(framebuffers(), "framebuffer.green_mask"));
    good();
    fbs[1].blue_mask_size = 33, fbs[1].blue_mask_shift = 0;
    CHECK(names(framebuffers(), "framebuffer.blue_mask"));
    good();
    fbs[0].blue_mask_shift = 4; /* blue 4..11 meets green 8..15 */
    CHECK(names(framebuffers(), "framebuffer.masks"));
}

int main(void)
{
    RUN(good_set_passes);
    RUN(hhdm);
    RUN(paging_mode);
    RUN(memmap_refusals);
    RUN(executable_refusals);
    RUN(framebuffer_refusals);
    HARNESS_MAIN_END();
}
