#include "baselines.h"

#include <stdlib.h>
#include <string.h>

void ff_init(struct ff *f, uint64_t npages, uint64_t first_free, uint64_t end_free)
{
    f->npages = npages;
    f->bits = malloc((npages + 63) / 64 * 8);
    memset(f->bits, 0xff, (npages + 63) / 64 * 8);
    for (uint64_t i = first_free; i < end_free; i++)
        f->bits[i / 64] &= ~(1ull << (i % 64));
}

void ff_destroy(struct ff *f)
{
    free(f->bits);
}

uint64_t ff_alloc(struct ff *f)
{
    for (uint64_t w = 0; w < (f->npages + 63) / 64; w++) {
        if (~f->bits[w]) {
            uint64_t b = (uint64_t)__builtin_ctzll(~f->bits[w]);
            f->bits[w] |= 1ull << b;
            return w * 64 + b;
        }
    }
    return ~0ull;
}

static int ff_used(const struct ff *f, uint64_t i)
{
    return (f->bits[i / 64] >> (i % 64)) & 1;
}

uint64_t ff_alloc_run(struct ff *f, uint64_t n, uint64_t align)
{
    for (uint64_t s = 0; s + n <= f->npages; s += align) {
        uint64_t i = 0;
        while (i < n && !ff_used(f, s + i))
            i++;
        if (i == n) {
            for (i = 0; i < n; i++)
                f->bits[(s + i) / 64] |= 1ull << ((s + i) % 64);
            return s;
        }
    }
    return ~0ull;
}

void ff_free(struct ff *f, uint64_t pfn, uint64_t n)
{
    for (uint64_t i = pfn; i < pfn + n; i++)
        f->bits[i / 64] &= ~(1ull << (i % 64));
}

void fl_init(struct fl *l, unsigned char *mem, uint64_t first_pfn, uint64_t end_pfn)
{
    l->mem = mem;
    l->head = 0;
    for (uint64_t pfn = end_pfn; pfn-- > first_pfn;)
        fl_free(l, pfn << 12);
}

uint64_t fl_alloc(struct fl *l)
{
    uint64_t p = l->head;
    if (p)
        memcpy(&l->head, l->mem + p, 8);
    return p;
}

void fl_free(struct fl *l, uint64_t phys)
{
    memcpy(l->mem + phys, &l->head, 8);
    l->head = phys;
}

static uint64_t *pbs_words(const struct pbs *s, uint64_t phys)
{
    return (uint64_t *)(s->mem + phys);
}

void pbs_init(struct pbs *s, unsigned char *mem)
{
    s->mem = mem;
    s->top = 0;
    s->n = 0;
}

uint64_t pbs_alloc(struct pbs *s)
{
    uint64_t top = s->top;
    if (!top || s->n)
        return top ? pbs_words(s, top)[s->n--] : 0;
    s->top = pbs_words(s, top)[0];
    s->n = PBS_SLOTS; /* the buffer below filled up before this one was started */
    return top;
}

void pbs_free(struct pbs *s, uint64_t phys)
{
    if (s->top && s->n < PBS_SLOTS) {
        pbs_words(s, s->top)[++s->n] = phys;
        return;
    }
    pbs_words(s, phys)[0] = s->top;
    s->top = phys;
    s->n = 0;
}
