/*
 * test_check.c - pmm_check must catch every kind of corruption, not just pass on good states.
 * Each case breaks one invariant by hand, expects the checker to name it, and puts it back.
 */
#include "common.h"
#include "state.h"

HARNESS_GLOBALS

static struct sim *s;
static struct pmm *p;
static uint64_t allocated_pfn, freed_pfn;

static void expect(const char *needle)
{
    check_fails_with(p, needle);
}

static void flip(uint64_t *w, uint64_t bit)
{
    w[bit >> 6] ^= 1ull << (bit & 63);
}

TEST(corruptions_are_caught)
{
    uint64_t *l0 = pmm_free_l0(p), *own = pmm_own(p);
    uint64_t meta = p->self_phys / PG; /* the metadata run starts with the header */

    flip(own, 0x200); /* a free page that is not owned */
    expect("free page is not owned");
    flip(own, 0x200);
    CHECK_OK(p);

    flip(l0, allocated_pfn); /* allocated page marked free: counter no longer matches */
    expect("free counter");
    flip(l0, allocated_pfn);

    p->nfree++;
    expect("free counter");
    p->nfree--;

    p->nalloc--;
    expect("allocated counter");
    p->nalloc++;

    flip(own, 0);
    expect("page 0");
    flip(own, 0);

    flip(own, meta + 1);
    expect("metadata page is in the pool");
    flip(own, meta + 1);

    flip(own, 0xa0); /* reserved page "allocated": the counter catches it first */
    expect("allocated counter");
    p->nalloc++; /* ...and with the counter made to agree, the range walk does */
    expect("reserved range or hole");
    p->nalloc--;
    flip(own, 0xa0);

    uint64_t *l1 = pmm_words(p, &p->freemap, 1);
    flip(l1, 3);
    expect("summary bit");
    flip(l1, 3);

    uint64_t *b0 = pmm_words(p, &p->blkmap, 0);
    CHECK(b0[0] & 4); /* block 2 is entirely free */
    b0[0] &= ~4ull;
    expect("block map misses a free block");
    b0[0] |= 4;

    /* counts hold count - 1 (state.h): 0xffff is no count but a page on a per-CPU cache */
    pmm_refs(p)[allocated_pfn] = 0xffff;
    expect("page counted as cached is not on exactly one per-CPU cache");
    pmm_refs(p)[allocated_pfn] = 0;
    pmm_refs(p)[freed_pfn] = 3; /* a free page must hand out with one reference */
    expect("not allocated has a reference count");
    pmm_refs(p)[freed_pfn] = 0;
    uint64_t *init = pmm_rinit(p);
    flip(init, allocated_pfn >> PMM_RINIT_SHIFT);
    expect("never initialised");
    flip(init, allocated_pfn >> PMM_RINIT_SHIFT);

    /* the machine is one section: compact indices are pages, and slot 0 is section 0 */
    pmm_sectab(p)[0] = PMM_SEC_ABSENT;
    expect("section table and slots disagree");
    pmm_sectab(p)[0] = 0;
    p->nslots++;
    expect("section geometry");
    p->nslots--;
    p->cursor = p->cspan;
    expect("cursor");
    p->cursor = p->c_low;

    CHECK(p->top >= 2);
    uint64_t saved = p->stack[1];
    p->stack[1] = p->stack[0];
    expect("on the stack twice");
    p->stack[1] = allocated_pfn;
    expect("stacked page is not free");
    p->stack[1] = saved;

    p->total++;
    expect("total differs");
    p->total--;

    struct pmm_range *r = pmm_rtab(p);
    struct pmm_range keep = r[1];
    r[1].start = r[0].start;
    expect("not sorted");
    r[1] = keep;

    p->magic++;
    expect("magic");
    p->magic--;
    CHECK_OK(p);
}

int main(void)
{
    s = sim_new(64 * MIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0xa0, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0xa0000, 0x60, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 0x3f00, 0xf);
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    uint64_t a, b;
    pmm_alloc(p, &a);
    pmm_alloc(p, &b);
    pmm_free(p, b);
    allocated_pfn = a / PG;
    freed_pfn = b / PG;
    CHECK_EQ(allocated_pfn >> PMM_RINIT_SHIFT, freed_pfn >> PMM_RINIT_SHIFT);
    RUN(corruptions_are_caught);
    sim_free(s);
    HARNESS_MAIN_END();
}
