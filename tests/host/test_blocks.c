/*
 * test_blocks.c - the free-block stack (pmm/blocks.c): a 2 MiB block freed whole is the next one
 * handed out; a stacked block that lost a page since is passed over; the per-page checks of
 * pmm_free_run hold on the fast path with nothing changed on refusal; blocks below the zone
 * unbounded runs come from first, and blocks freed in the boot phase, are never stacked; bounded
 * requests never take a stacked block outside their bounds.
 */
#include "common.h"

HARNESS_GLOBALS

/* 2 GiB below 4 GiB and 2 GiB above, built in the boot phase and reconciled, with 2 caches. */
static struct sim *machine(struct pmm **p, int reconcile)
{
    struct sim *s = sim_new(6 * GIB);
    s->max_cpus = 2;
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (2 * GIB - MIB) / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 2 * GIB / PG, 0);
    CHECK_EQ(sim_build(s, 1, p), PMM_OK);
    if (reconcile)
        CHECK_EQ(sim_reconcile(s, *p), PMM_OK);
    CHECK_OK(*p);
    return s;
}

static uint64_t block(struct pmm *p, uint64_t limit)
{
    uint64_t x = 0;
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, limit, &x), PMM_OK);
    CHECK_EQ(x & (2 * MIB - 1), 0);
    return x;
}

/* A block handed out and freed whole again: on the stack after reconcile. */
static uint64_t freed_block(struct pmm *p)
{
    uint64_t a = block(p, 0), n = p->btop;
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(p->btop, p->reconciled ? n + 1 : 0);
    return a;
}

static uint64_t nfree(const struct pmm *p)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    return st.free;
}

TEST(the_block_freed_last_is_handed_out_first)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), b = block(p, 0), f0 = nfree(p);
    CHECK(a >= 4 * GIB && b >= 4 * GIB); /* the general path: high memory first, lowest first */
    CHECK(b > a);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_EQ(p->btop, 2);
    CHECK_EQ(nfree(p), f0 + 1024);
    for (uint64_t i = 0; i < 512; i++)
        CHECK_EQ(pmm_page_state(p, a / PG + i), PMM_PAGE_FREE);
    CHECK_OK(p);
    CHECK_EQ(block(p, 0), b); /* LIFO: the general path would give a, the lower */
    CHECK_EQ(block(p, 0), a);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(nfree(p), f0);
    for (uint64_t i = 0; i < 512; i++) {
        uint32_t n = 0;
        CHECK_EQ(pmm_refcount(p, b + i * PG, &n), PMM_OK);
        CHECK_EQ(n, 1);
    }
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

TEST(a_stacked_block_that_lost_a_page_is_passed_over)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = freed_block(p), taken = 0;
    CHECK_EQ(pmm_keep_range(p, a + 77 * PG, 1, &taken), PMM_OK); /* one page of it is in use */
    CHECK_EQ(taken, 1);
    CHECK_OK(p);
    uint64_t x = block(p, 0);
    CHECK(x != a);
    CHECK_EQ(p->btop, 0); /* the stale entry is gone */
    CHECK_EQ(pmm_page_state(p, a / PG + 77), PMM_PAGE_ALLOC);
    CHECK_EQ(pmm_page_state(p, a / PG + 76), PMM_PAGE_FREE);
    CHECK_OK(p);
    CHECK_EQ(pmm_free(p, a + 77 * PG), PMM_OK);
    CHECK_EQ(pmm_free_run(p, x, 512), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/* A block on the free-page stack's pages: taking the block takes them off that stack. */
TEST(a_stacked_block_leaves_the_page_stack)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = freed_block(p), c = cidx(p, a / PG) + 300;
    p->stack[p->top++] = c; /* as a refill would put it there */
    if (c < p->stack_lo)
        p->stack_lo = c;
    if (c > p->stack_hi)
        p->stack_hi = c;
    CHECK_OK(p);
    CHECK_EQ(block(p, 0), a);
    for (uint32_t i = 0; i < p->top; i++)
        CHECK(p->stack[i] != c);
    CHECK_OK(p);
    for (int i = 0; i < 1000; i++) { /* nothing hands out a page of a twice */
        uint64_t x;
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
        CHECK(x < a || x >= a + 2 * MIB);
    }
    CHECK_OK(p);
    sim_free(s);
}

TEST(a_block_that_cannot_be_freed_is_refused_with_nothing_changed)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t h;
    static const uint64_t shared[] = {7, 500}; /* in its first and in its last 64 pages */
    for (int i = 0; i < 2; i++) { /* a fresh block each time: no stale shared bit elsewhere */
        uint64_t b = block(p, 0);
        CHECK_EQ(pmm_ref_inc(p, b + shared[i] * PG), PMM_OK);
        h = state_hash(p);
        CHECK_EQ(pmm_free_run(p, b, 512), PMM_ESHARED);
        CHECK_EQ(state_hash(p), h);
        CHECK_EQ(pmm_ref_dec(p, b + shared[i] * PG), PMM_OK);
        CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    }
    uint64_t f = block(p, 0); /* fresh: no stale shared bit sends it to the general path */
    CHECK_EQ(pmm_free(p, f + 300 * PG), PMM_OK);
    h = state_hash(p);
    CHECK_EQ(pmm_free_run(p, f, 512), PMM_EDOUBLE); /* one page, past the first 64, is free */
    CHECK_EQ(state_hash(p), h);
    uint64_t t;
    CHECK_EQ(pmm_keep_range(p, f + 300 * PG, 1, &t), PMM_OK);
    CHECK_EQ(pmm_free_run(p, f, 512), PMM_OK);

    uint64_t a = block(p, 0);
    CHECK_EQ(pmm_ref_inc(p, a + 7 * PG), PMM_OK);
    CHECK_EQ(pmm_ref_dec(p, a + 7 * PG), PMM_OK);

    CHECK_EQ(pmm_cpu_free(p, 1, a + 9 * PG), PMM_OK); /* on CPU 1's cache: free already */
    h = state_hash(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_EDOUBLE);
    CHECK_EQ(state_hash(p), h);
    uint64_t y;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &y), PMM_OK);
    CHECK_EQ(y, a + 9 * PG);

    CHECK_EQ(pmm_free(p, a + 511 * PG), PMM_OK); /* the last page is free */
    h = state_hash(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_EDOUBLE);
    CHECK_EQ(state_hash(p), h);
    uint64_t taken;
    CHECK_EQ(pmm_keep_range(p, a + 511 * PG, 1, &taken), PMM_OK);

    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK); /* the general path: its shared bits are stale */
    CHECK_EQ(p->btop, 0);
    h = state_hash(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_EDOUBLE); /* twice */
    CHECK_EQ(state_hash(p), h);
    uint64_t b = block(p, 0);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_EQ(p->btop, 1);
    h = state_hash(p);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_EDOUBLE); /* a stacked block, twice */
    CHECK_EQ(state_hash(p), h);
    CHECK_OK(p);

    /* Never handed out: the metadata's first block, and a block past the last present section. */
    uint64_t meta = (p->self_phys + 2 * MIB - 1) & ~(2 * MIB - 1);
    h = state_hash(p);
    if (meta + 2 * MIB <= p->self_phys + pmm_meta_pages(p) * PG)
        CHECK_EQ(pmm_free_run(p, meta, 512), PMM_ENOTOWNED);
    CHECK_EQ(pmm_free_run(p, 2 * GIB, 512), PMM_ENOTOWNED);
    CHECK_EQ(state_hash(p), h);
    CHECK_OK(p);
    sim_free(s);
}

/* A set shared bit may be stale (state.h); handing a block out clears its eight, so that its free
 * reads no counts and takes the fast path back onto the stack. */
TEST(a_block_handed_out_drops_its_stale_shared_bits)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = freed_block(p), c = cidx(p, a / PG);
    pmm_shared(p)[c >> 12] |= 0xffull << ((c >> 6) & 63);
    CHECK_OK(p);
    CHECK_EQ(block(p, 0), a);
    CHECK_EQ((pmm_shared(p)[c >> 12] >> ((c >> 6) & 63)) & 0xff, 0);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(p->btop, 1);
    CHECK_OK(p);
    sim_free(s);
}

TEST(low_blocks_stay_off_the_stack)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t lo = block(p, 4 * GIB);
    CHECK(lo < 4 * GIB);
    CHECK_EQ(pmm_free_run(p, lo, 512), PMM_OK);
    CHECK_EQ(p->btop, 0);
    CHECK(block(p, 0) >= 4 * GIB);
    CHECK_OK(p);
    sim_free(s);

    /* No memory above 4 GiB: [16 MiB, 4 GiB) is the first zone, [1 MiB, 16 MiB) stays off. */
    s = small_machine(0, 256, 0, &p);
    uint64_t isa = block(p, 16 * MIB), mid = block(p, 0);
    CHECK(isa < 16 * MIB);
    CHECK(mid >= 16 * MIB);
    CHECK_EQ(pmm_free_run(p, isa, 512), PMM_OK);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(pmm_free_run(p, mid, 512), PMM_OK);
    CHECK_EQ(p->btop, 1);
    CHECK_EQ(block(p, 0), mid);
    CHECK_OK(p);
    sim_free(s);
}

TEST(a_bounded_request_never_takes_a_stacked_block)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    freed_block(p);
    uint64_t x = block(p, 4 * GIB); /* the stacked block is above its limit */
    CHECK(x < 4 * GIB);
    CHECK_EQ(p->btop, 1);
    uint64_t y = 0;
    CHECK_EQ(pmm_alloc_run(p, 512, 4 * MIB, 0, &y), PMM_OK); /* stricter alignment */
    CHECK_EQ(y & (4 * MIB - 1), 0);
    CHECK_EQ(p->btop, 1);
    CHECK_EQ(pmm_alloc_run(p, 511, 2 * MIB, 0, &y), PMM_OK); /* another size */
    CHECK_EQ(p->btop, 1);
    CHECK_OK(p);
    sim_free(s);
}

/* Before reconcile every page handed out was claimed from the firmware and goes back to it. */
TEST(the_boot_phase_stacks_nothing)
{
    struct pmm *p;
    struct sim *s = machine(&p, 0);
    uint64_t a = freed_block(p); /* not stacked */
    CHECK_OK(p);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK); /* the simulated firmware has all of a back */
    CHECK_OK(p);
    CHECK_EQ(pmm_page_state(p, a / PG), PMM_PAGE_FREE);
    sim_free(s);
}

TEST(the_checker_names_a_stacked_block_out_of_range)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = freed_block(p);
    p->bstack[0] = p->blkmap.nbits;
    check_fails_with(p, "stacked block lies past the present sections");
    p->bstack[0] = 0;
    check_fails_with(p, "below the zone");
    p->bstack[0] = cidx(p, (2 * GIB - 2 * MIB) / PG) >> PMM_BLOCK_SHIFT; /* free, but below 4 GiB */
    check_fails_with(p, "below the zone");
    p->bstack[0] = cidx(p, a / PG) >> PMM_BLOCK_SHIFT;
    p->btop = PMM_BSTACK_CAP + 1;
    check_fails_with(p, "free-block stack");
    p->btop = 1;
    CHECK_OK(p);
    sim_free(s);
}

/* A header handed on with blocks stacked: the new owner pops them; one it should not have been
 * given (below the first zone: adopt checks only the range) is passed over. */
TEST(an_adopted_state_pops_its_stacked_blocks)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), b = block(p, 0);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    uint64_t low = cidx(p, (2 * GIB - 2 * MIB) / PG) >> PMM_BLOCK_SHIFT; /* free, below 4 GiB */
    p->bstack[p->btop++] = low;
    int err = 0;
    struct pmm *q = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err);
    CHECK(q != 0);
    CHECK_EQ(err, 0);
    CHECK_EQ(q->btop, 3);
    CHECK_EQ(block(q, 0), b); /* the low entry on top was dropped */
    CHECK_EQ(q->btop, 1);
    CHECK_EQ(block(q, 0), a);
    CHECK_EQ(pmm_page_state(q, 2 * GIB / PG - 1), PMM_PAGE_FREE);
    CHECK_OK(q);
    sim_free(s);
}

/* The stack holds PMM_BSTACK_CAP blocks; more freed blocks simply stay in the free map. */
TEST(a_full_stack_leaves_the_rest_to_the_block_map)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t n = PMM_BSTACK_CAP + 8, x[PMM_BSTACK_CAP + 8];
    for (uint64_t i = 0; i < n; i++)
        x[i] = block(p, 0);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_free_run(p, x[i], 512), PMM_OK);
    CHECK_EQ(p->btop, PMM_BSTACK_CAP);
    CHECK_OK(p);
    for (uint64_t i = 0; i < n; i++) { /* all of them again, each once */
        uint64_t y = block(p, 0);
        for (uint64_t j = 0; j < i; j++)
            CHECK(x[j] != y);
        x[i] = y;
    }
    CHECK_OK(p);
    sim_free(s);
}

int main(void)
{
    RUN(the_block_freed_last_is_handed_out_first);
    RUN(a_stacked_block_that_lost_a_page_is_passed_over);
    RUN(a_stacked_block_leaves_the_page_stack);
    RUN(a_block_that_cannot_be_freed_is_refused_with_nothing_changed);
    RUN(a_block_handed_out_drops_its_stale_shared_bits);
    RUN(low_blocks_stay_off_the_stack);
    RUN(a_bounded_request_never_takes_a_stacked_block);
    RUN(the_boot_phase_stacks_nothing);
    RUN(the_checker_names_a_stacked_block_out_of_range);
    RUN(a_full_stack_leaves_the_rest_to_the_block_map);
    RUN(an_adopted_state_pops_its_stacked_blocks);
    HARNESS_MAIN_END();
}
