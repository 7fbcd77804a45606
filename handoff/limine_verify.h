/*
 * limine_verify.h - the kernel's check of the Limine responses it builds on, before it uses any
 * of them (limine_verify.c): the HHDM offset, the paging mode, the memory map, the executable's
 * addresses, the framebuffers. Freestanding: the kernel runs it at entry, the host tests
 * (tests/host/test_limine_verify.c) and a fuzz target (tests/fuzz/fuzz_limine_verify.c) run it
 * against broken responses.
 *
 * Each function returns 0 if the response is usable, else a refusal that starts with the field
 * it is about ("memmap.entries[].base: ..."). Pointers are checked to lie in the HHDM window
 * [hhdm, hhdm + 2^52) before anything behind them is read; what lies behind is read only once
 * its pointer and size passed. The functions take hhdm apart from lv_hhdm's check so the host can
 * pass 0 and real pointers.
 */
#ifndef PMM_LIMINE_VERIFY_H
#define PMM_LIMINE_VERIFY_H

#include <stdint.h>

#include "limine.h"

#define LV_PHYS_LIMIT     (1ull << 52)          /* x86_64's physical address width at most */
#define LV_KERNEL_FLOOR   0xffffffff80000000ull /* the Limine protocol's top 2 GiB */
#define LV_HHDM_ALIGN     (2ull << 20)          /* the kernel's direct map uses 2 MiB pages */
#define LV_MAX_MEMMAP     65536                 /* entries: far beyond any machine's map */
#define LV_MAX_FRAMEBUFFS 16

/*
 * The HHDM offset in `levels`-level paging (4 or 5, what CR4.LA57 says): in the higher half,
 * canonical in that mode (at or above 0xffff800000000000 in 4-level, 0xff00000000000000 in
 * 5-level), 2 MiB aligned.
 */
const char *lv_hhdm(uint64_t offset, unsigned levels);

/*
 * The Paging Mode response (0 if the loader gave none: then nothing to compare) against the mode
 * the CPU runs: a response saying 5-level while CR4.LA57 is clear (or the reverse) is a loader
 * that says one thing and does another.
 */
const char *lv_paging_mode(const struct limine_paging_mode_response *r, unsigned levels);

/*
 * The memory map: 1 to LV_MAX_MEMMAP entries, the pointer array and each entry in the HHDM and
 * 8-byte aligned, each entry non-empty, of a known type, ending at or below 2^52, usable and
 * bootloader-reclaimable ones page aligned; sorted by base, none overlapping the one before.
 * *top: where the highest entry ends (the span the direct map may cover).
 */
const char *lv_memmap(const struct limine_memmap_response *r, uint64_t hhdm, uint64_t *top);

/*
 * The Executable Address response for an image of image_bytes: physical base page aligned, below
 * 2^52, and the image ending at or below it; virtual base at or above LV_KERNEL_FLOOR, page
 * aligned, the image below 2^64; and the image outside the direct map [hhdm, hhdm + top) (top:
 * lv_memmap's), which therefore must end at or below LV_KERNEL_FLOOR. An image inside the direct
 * map would make a page-table walk meet a 2 MiB leaf where it expects a table.
 */
const char *lv_executable(const struct limine_executable_address_response *r, uint64_t image_bytes,
                          uint64_t hhdm, uint64_t top);

/*
 * The Framebuffer response (0: none, which is fine): at most LV_MAX_FRAMEBUFFS, the pointer array
 * and each framebuffer in the HHDM; for each: RGB memory model, bpp 16, 24 or 32, width and
 * height non-zero, pitch >= width * bpp / 8, height * pitch without overflow, [address - hhdm,
 * + height * pitch) below 2^52 and overlapping no RAM the memory map lists (usable,
 * bootloader-reclaimable, executable-and-modules), each mask's size + shift within bpp, no two
 * masks sharing a bit. m: a memory map lv_memmap accepted.
 */
const char *lv_framebuffers(const struct limine_framebuffer_response *r, uint64_t hhdm,
                            const struct limine_memmap_response *m);

#endif
