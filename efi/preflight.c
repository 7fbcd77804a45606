/*
 * preflight.c - see preflight.h. Freestanding, no firmware calls.
 */
#include "preflight.h"

#include "limine.h"

const char *kernel_slide(const struct elf_image *img, int kaslr, uint64_t random, uint64_t *slide)
{
    uint64_t size = img->vhi - img->vlo,
             align = img->align > (2ull << 20) ? img->align : 2ull << 20;
    *slide = 0;
    if (!img->pie)
        return img->vlo < KERNEL_BASE ? "the kernel is linked below 0xffffffff80000000 and is not "
                                        "position independent (the Limine protocol loads kernels "
                                        "in the top 2 GiB)"
                                      : 0;
    uint64_t base = img->vlo < KERNEL_BASE ? KERNEL_BASE : img->vlo;
    if (base > ~0ull - (align - 1))
        return "the kernel does not fit below the top of the address space";
    base = (base + align - 1) & ~(align - 1);
    if (kaslr && base == KERNEL_BASE && size < KASLR_SPAN)
        base += random % ((KASLR_SPAN - size) / align + 1) * align;
    if (base + size < base || base + size > ~0ull - (2ull << 20))
        return "the kernel does not fit below the top of the address space";
    *slide = base - img->vlo;
    return 0;
}

uint64_t revision_used(uint64_t wanted)
{
    return wanted > MAX_REVISION ? MAX_REVISION : wanted;
}

const char *paging_choice(int has_request, uint64_t mode, uint64_t max, uint64_t min, int conf_mode,
                          int conf_max, int conf_min, int cpu_la57, uint64_t *out)
{
    const uint64_t L4 = LIMINE_PAGING_MODE_X86_64_4LVL, L5 = LIMINE_PAGING_MODE_X86_64_5LVL;
    if (!has_request) {
        mode = max = LIMINE_PAGING_MODE_X86_64_DEFAULT;
        min = LIMINE_PAGING_MODE_X86_64_MIN;
    }
    if (conf_max >= 0 && (uint64_t)conf_max < max)
        max = (uint64_t)conf_max;
    if (conf_min >= 0 && (uint64_t)conf_min > min)
        min = (uint64_t)conf_min;
    if (conf_mode >= 0)
        mode = (uint64_t)conf_mode;
    if (min > max)
        return "no paging mode is both at least the minimum and at most the maximum asked for";
    if (min > L5)
        return "the kernel's minimum paging mode is one this loader does not know";
    uint64_t top = cpu_la57 ? L5 : L4; /* the highest mode this CPU has */
    if (min > top)
        return "the kernel needs 5-level paging; this CPU has no LA57 (CPUID 7.0:ECX bit 16)";
    /* The preference, held within [min, max], then lowered to what the CPU has: a mode
     * beyond 5-level (a later specification's) counts as the highest this loader knows. */
    if (mode > max)
        mode = max;
    if (mode < min)
        mode = min;
    if (mode > top)
        mode = top;
    *out = mode;
    return 0;
}

const char *long_mode_check(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || !(efer & EFER_LMA))
        return "the firmware left the CPU outside 64-bit long mode with paging";
    return 0;
}
