/*
 * paging.c - see paging.h.
 *
 * Leaves carry P, W as asked, NX unless executable (when t->nx), and the memory type: write-back
 * (PAT entry 0), write-combining (entry 5: PAT and PWT) or uncached (PCD and PWT). The PAT bit is
 * bit 7 in a 4 KiB entry and bit 12 in a 2 MiB or 1 GiB one. Tables above the leaves allow
 * everything; the leaves decide.
 */
#include "paging.h"

#define P      0x1ull
#define W      0x2ull
#define PWT    0x8ull
#define PCD    0x10ull
#define PS     0x80ull
#define PAT4K  0x80ull
#define PATBIG 0x1000ull
#define NXBIT  (1ull << 63)
#define ADDR   0x000ffffffffff000ull
#define KIB4   4096ull

static uint64_t *table(const struct pt *t, uint64_t phys)
{
    return (uint64_t *)(uintptr_t)((phys & ADDR) + t->off);
}

static uint64_t new_table(struct pt *t)
{
    uint64_t phys = t->alloc(t->ctx);
    if (!phys)
        return 0;
    uint64_t *e = table(t, phys);
    for (int i = 0; i < 512; i++)
        e[i] = 0;
    t->pages++;
    return phys;
}

int pt_init(struct pt *t)
{
    t->pages = 0;
    t->root = new_table(t);
    return t->root ? 0 : -1;
}

static unsigned shift_of(unsigned level) /* level 1: 4 KiB pages ... level 5: the PML5 */
{
    return 12 + 9 * (level - 1);
}

static uint64_t leaf_bits(const struct pt *t, unsigned flags, int big)
{
    uint64_t e = P;
    if (flags & PT_WRITE)
        e |= W;
    if (!(flags & PT_EXEC))
        e |= t->nx;
    if (flags & PT_WC)
        e |= PWT | (big ? PATBIG : PAT4K);
    else if (flags & PT_UC)
        e |= PCD | PWT;
    return e;
}

static unsigned flags_of(const struct pt *t, uint64_t e, int big)
{
    unsigned f = 0;
    if (e & W)
        f |= PT_WRITE;
    if (!(e & t->nx) || !t->nx)
        f |= PT_EXEC;
    if ((e & PWT) && (e & (big ? PATBIG : PAT4K)) && !(e & PCD))
        f |= PT_WC;
    else if ((e & PCD) && (e & PWT))
        f |= PT_UC;
    return f;
}

static int canonical(const struct pt *t, uint64_t va)
{
    unsigned bits = t->levels == 5 ? 57 : 48;
    uint64_t top = va >> (bits - 1);
    return top == 0 || top == (~0ull >> (bits - 1));
}

/* The table an entry at level > 1 points to, splitting a large page there; 0 if out of pages. */
static uint64_t *down(struct pt *t, uint64_t *e, unsigned level)
{
    if (!(*e & P)) {
        uint64_t n = new_table(t);
        if (!n)
            return 0;
        *e = n | P | W;
    } else if (*e & PS) { /* split: the same pages, one level smaller */
        uint64_t big = *e, n = new_table(t);
        if (!n)
            return 0;
        uint64_t *s = table(t, n), step = 1ull << shift_of(level - 1);
        int small_big = level - 1 > 1;
        unsigned f = flags_of(t, big, 1);
        uint64_t base = big & ADDR & ~((1ull << shift_of(level)) - 1);
        for (int i = 0; i < 512; i++)
            s[i] = (base + (uint64_t)i * step) | leaf_bits(t, f, small_big) | (small_big ? PS : 0);
        *e = n | P | W;
    }
    return table(t, *e);
}

int pt_map(struct pt *t, uint64_t va, uint64_t pa, uint64_t len, unsigned flags)
{
    if ((va | pa | len) & (KIB4 - 1) || !canonical(t, va) || (len && !canonical(t, va + len - 1)))
        return -1;
    while (len) {
        unsigned level = t->levels;
        uint64_t *tab = table(t, t->root);
        for (;;) {
            unsigned sh = shift_of(level);
            uint64_t *e = &tab[(va >> sh) & 511], size = 1ull << sh;
            int can_leaf = level == 1 || ((level == 2 || (level == 3 && t->huge1g)) &&
                                          !((va | pa) & (size - 1)) && len >= size);
            if (can_leaf) {
                *e = (pa & ADDR) | leaf_bits(t, flags, level > 1) | (level > 1 ? PS : 0);
                va += size, pa += size, len -= size;
                break;
            }
            tab = down(t, e, level);
            if (!tab)
                return -1;
            level--;
        }
    }
    return 0;
}

uint64_t pt_translate(const struct pt *t, uint64_t va, unsigned *flags)
{
    if (!canonical(t, va))
        return ~0ull;
    const uint64_t *tab = table(t, t->root);
    for (unsigned level = t->levels;; level--) {
        unsigned sh = shift_of(level);
        uint64_t e = tab[(va >> sh) & 511];
        if (!(e & P))
            return ~0ull;
        if (level == 1 || (e & PS)) {
            int big = level > 1;
            uint64_t mask = (1ull << sh) - 1;
            uint64_t base = e & ADDR & ~mask & ~(big ? PATBIG : 0);
            if (flags)
                *flags = flags_of(t, e, big);
            return base | (va & mask);
        }
        tab = table(t, e);
    }
}

void pt_clear_top(struct pt *t, unsigned first, unsigned last)
{
    uint64_t *top = table(t, t->root);
    for (unsigned i = first; i <= last && i < 512; i++)
        top[i] = 0;
}
