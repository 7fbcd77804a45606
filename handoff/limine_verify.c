/*
 * limine_verify.c - see limine_verify.h. Freestanding; every sum is checked for overflow before
 * it is formed.
 */
#include "limine_verify.h"

#define PAGE 4096ull

/* n objects of `size` bytes at virtual address p lie in the HHDM window and p is 8-aligned. */
static int in_hhdm(const void *p, uint64_t n, uint64_t size, uint64_t hhdm)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    if (v < hhdm || (v & 7) || v - hhdm >= LV_PHYS_LIMIT)
        return 0;
    return size == 0 || n <= (LV_PHYS_LIMIT - (v - hhdm)) / size;
}

const char *lv_hhdm(uint64_t offset, unsigned levels)
{
    if (levels != 4 && levels != 5)
        return "paging mode: neither 4- nor 5-level";
    if (!(offset >> 63))
        return "hhdm.offset: in the lower half";
    /* canonical: bits 63 down to 47 (4-level) or 56 (5-level) all equal, here all ones */
    uint64_t floor = levels == 5 ? 0xff00000000000000ull : 0xffff800000000000ull;
    if (offset < floor)
        return levels == 5 ? "hhdm.offset: not canonical in 5-level paging"
                           : "hhdm.offset: not canonical in 4-level paging (a 5-level offset "
                             "while CR4.LA57 is clear?)";
    if (offset & (LV_HHDM_ALIGN - 1))
        return "hhdm.offset: not 2 MiB aligned";
    return 0;
}

const char *lv_paging_mode(const struct limine_paging_mode_response *r, unsigned levels)
{
    if (!r)
        return 0;
    if (r->mode != LIMINE_PAGING_MODE_X86_64_4LVL && r->mode != LIMINE_PAGING_MODE_X86_64_5LVL)
        return "paging_mode.mode: not a mode this kernel knows";
    unsigned said = r->mode == LIMINE_PAGING_MODE_X86_64_5LVL ? 5 : 4;
    if (said != levels)
        return said == 5 ? "paging_mode.mode: says 5-level, but CR4.LA57 is clear"
                         : "paging_mode.mode: says 4-level, but CR4.LA57 is set";
    return 0;
}

static int ram(uint64_t type)
{
    return type == LIMINE_MEMMAP_USABLE || type == LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE ||
           type == LIMINE_MEMMAP_EXECUTABLE_AND_MODULES;
}

const char *lv_memmap(const struct limine_memmap_response *r, uint64_t hhdm, uint64_t *top)
{
    *top = 0;
    if (!in_hhdm(r, 1, sizeof *r, hhdm))
        return "memmap: the response is not in the HHDM";
    if (!r->entry_count || r->entry_count > LV_MAX_MEMMAP)
        return "memmap.entry_count: zero, or more entries than any machine has";
    if (!in_hhdm(r->entries, r->entry_count, sizeof *r->entries, hhdm))
        return "memmap.entries: not an array in the HHDM";
    uint64_t end = 0;
    for (uint64_t i = 0; i < r->entry_count; i++) {
        const struct limine_memmap_entry *e = r->entries[i];
        if (!in_hhdm(e, 1, sizeof *e, hhdm))
            return "memmap.entries[]: an entry not in the HHDM";
        if (!e->length || e->base >= LV_PHYS_LIMIT || e->length > LV_PHYS_LIMIT - e->base)
            return "memmap.entries[].length: an empty entry, or one ending past 2^52";
        if (e->type > LIMINE_MEMMAP_RESERVED_MAPPED)
            return "memmap.entries[].type: a type this kernel does not know";
        if ((e->type == LIMINE_MEMMAP_USABLE || e->type == LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE) &&
            ((e->base | e->length) & (PAGE - 1)))
            return "memmap.entries[].base, length: a usable or bootloader-reclaimable entry not "
                   "page aligned";
        if (i && e->base < end)
            return "memmap.entries[].base: entries not sorted, or overlapping";
        end = e->base + e->length;
    }
    *top = end;
    return 0;
}

const char *lv_executable(const struct limine_executable_address_response *r, uint64_t image_bytes,
                          uint64_t hhdm, uint64_t top)
{
    if (!in_hhdm(r, 1, sizeof *r, hhdm))
        return "executable_address: the response is not in the HHDM";
    if ((r->physical_base & (PAGE - 1)) || r->physical_base >= LV_PHYS_LIMIT ||
        image_bytes > LV_PHYS_LIMIT - r->physical_base)
        return "executable_address.physical_base: not page aligned, or the image ends past 2^52";
    if (r->virtual_base < LV_KERNEL_FLOOR || (r->virtual_base & (PAGE - 1)) ||
        image_bytes > 0 - r->virtual_base)
        return "executable_address.virtual_base: not a page in the top 2 GiB, or the image runs "
               "past the end of the address space";
    /* the image is at or above the floor: outside [hhdm, hhdm + top) iff that ends below it */
    if (hhdm > LV_KERNEL_FLOOR || top > LV_KERNEL_FLOOR - hhdm)
        return "executable_address.virtual_base: inside the direct map (the HHDM offset plus the "
               "memory map's span reaches the top 2 GiB)";
    return 0;
}

/* Each mask within bpp, no two sharing a bit (sizes and shifts are 8 bits: no overflow). */
static const char *masks(const struct limine_framebuffer *f)
{
    const uint8_t *m = &f->red_mask_size; /* size, shift: red, green, blue */
    uint64_t seen = 0;
    for (int c = 0; c < 3; c++) {
        unsigned size = m[2 * c], shift = m[2 * c + 1];
        if (!size || size + shift > f->bpp)
            return c == 0   ? "framebuffer.red_mask: empty, or size + shift beyond bpp"
                   : c == 1 ? "framebuffer.green_mask: empty, or size + shift beyond bpp"
                            : "framebuffer.blue_mask: empty, or size + shift beyond bpp";
        uint64_t bits = ((1ull << size) - 1) << shift; /* size + shift <= 32 here */
        if (bits & seen)
            return "framebuffer.masks: two colours share a bit";
        seen |= bits;
    }
    return 0;
}

static const char *framebuffer(const struct limine_framebuffer *f, uint64_t hhdm,
                               const struct limine_memmap_response *m)
{
    uint64_t a = (uint64_t)(uintptr_t)f->address;
    if (a < hhdm || a - hhdm >= LV_PHYS_LIMIT)
        return "framebuffer.address: not in the HHDM";
    if (f->memory_model != LIMINE_FRAMEBUFFER_RGB)
        return "framebuffer.memory_model: not RGB";
    if (f->bpp != 16 && f->bpp != 24 && f->bpp != 32)
        return "framebuffer.bpp: not 16, 24 or 32";
    if (!f->width || !f->height)
        return "framebuffer.width, height: zero";
    if (f->width > f->pitch / (f->bpp / 8))
        return "framebuffer.pitch: less than width * bpp / 8";
    uint64_t phys = a - hhdm;
    if (f->height > (LV_PHYS_LIMIT - phys) / f->pitch)
        return "framebuffer.height: height * pitch overflows, or the framebuffer ends past 2^52";
    uint64_t end = phys + f->height * f->pitch;
    for (uint64_t i = 0; i < m->entry_count; i++) {
        const struct limine_memmap_entry *e = m->entries[i];
        if (ram(e->type) && e->base < end && phys < e->base + e->length)
            return "framebuffer.address: the framebuffer overlaps RAM the memory map lists";
    }
    return masks(f);
}

const char *lv_framebuffers(const struct limine_framebuffer_response *r, uint64_t hhdm,
                            const struct limine_memmap_response *m)
{
    if (!r)
        return 0;
    if (!in_hhdm(r, 1, sizeof *r, hhdm))
        return "framebuffer: the response is not in the HHDM";
    if (r->framebuffer_count > LV_MAX_FRAMEBUFFS)
        return "framebuffer.framebuffer_count: more framebuffers than any machine has";
    if (!r->framebuffer_count)
        return 0;
    if (!in_hhdm(r->framebuffers, r->framebuffer_count, sizeof *r->framebuffers, hhdm))
        return "framebuffer.framebuffers: not an array in the HHDM";
    for (uint64_t i = 0; i < r->framebuffer_count; i++) {
        const struct limine_framebuffer *f = r->framebuffers[i];
        if (!in_hhdm(f, 1, sizeof *f, hhdm))
            return "framebuffer.framebuffers[]: a framebuffer not in the HHDM";
        const char *why = framebuffer(f, hhdm, m);
        if (why)
            return why;
    }
    return 0;
}
