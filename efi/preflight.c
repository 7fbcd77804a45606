/*
 * preflight.c - the loader's refusals before ExitBootServices (preflight.h): options file, kernel
 * addresses, paging mode. Freestanding, no firmware calls.
 */
#include "preflight.h"

#include "pmm.h"

static int space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* [*b, *e) without white space at either end. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && space(**b))
        (*b)++;
    while (*e > *b && space((*e)[-1]))
        (*e)--;
}

static int is(const char *b, const char *e, const char *word)
{
    for (; b < e; b++, word++)
        if (*b != *word)
            return 0;
    return !*word;
}

const char *options_parse(const char *text, uint64_t size, unsigned *flags, uint64_t *line)
{
    unsigned f = 0;
    const char *t = text, *end = text + size;
    for (*line = 1; t < end; (*line)++) {
        const char *b = t, *e = t;
        while (e < end && *e != '\n')
            e++;
        t = e < end ? e + 1 : e;
        for (const char *c = b; c < e; c++)
            if (*c == '#') {
                e = c;
                break;
            }
        trim(&b, &e);
        if (b == e)
            continue;
        for (const char *c = b; c < e; c++)
            if (!*c || (unsigned char)*c > 0x7e)
                return "only printable ASCII is allowed";
        const char *eq = b;
        while (eq < e && *eq != '=')
            eq++;
        if (eq == e)
            return "expected key = value";
        const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
        trim(&kb, &ke);
        trim(&vb, &ve);
        if (!is(kb, ke, "hold-boot-memory"))
            return "unknown key (the one key is hold-boot-memory)";
        if (is(vb, ve, "on"))
            f |= PMM_HOLD_BOOT_MEMORY;
        else if (is(vb, ve, "off"))
            f &= ~PMM_HOLD_BOOT_MEMORY;
        else
            return "hold-boot-memory takes on or off";
    }
    *line = 0;
    *flags = f;
    return 0;
}

static int canonical(uint64_t va)
{
    uint64_t top = va >> 47; /* bits 63..47: all zero or all one */
    return top == 0 || top == 0x1ffff;
}

const char *kernel_addresses_check(const struct elf_image *img)
{
    if (!canonical(img->vlo) || !canonical(img->vhi - 1) ||
        (img->vlo >> 63) != ((img->vhi - 1) >> 63))
        return "kernel segment addresses are not canonical (bits 63..47 must be equal) or cross "
               "the non-canonical hole";
    if (!canonical(img->entry))
        return "kernel entry point is not a canonical address";
    return 0;
}

const char *paging_mode_check(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || !(efer & EFER_LMA))
        return "the firmware left the CPU outside 64-bit long mode with paging";
    if (cr4 & CR4_LA57)
        return "the firmware runs 5-level paging (CR4.LA57); this loader and kernel build "
               "4-level tables only. Turn 5-level paging off in the firmware setup";
    return 0;
}
