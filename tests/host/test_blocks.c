/*
 * test_blocks.c - block states and the free-block stack (pmm/blocks.c): a 2 MiB block freed whole
 * stays out of the pool, on the stack, and is the next one handed out; every per-page guarantee
 * holds for its pages (a free, a share or a cache of one page ends the block's wholeness; every
 * path names a page of a stacked block a double free, with nothing changed); the pool takes the
 * stack back before it would go below the blocks' zone, fail, or keep a range; blocks below that
 * zone, and blocks of the boot phase, are never stacked; the checker and a new owner see it all.
 */
#include "common.h"
#include "lockcount.h"

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

/* The state byte of the block holding physical address a. */
static int state(const struct pmm *p, uint64_t a)
{
    return pmm_bst(p)[cidx(p, a / PG) >> PMM_BLOCK_SHIFT];
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
    CHECK(block(p, 4 * GIB) < 4 * GIB); /* so that the longest free run is above 4 GiB */
    uint64_t a = block(p, 0), b = block(p, 0), f0 = nfree(p);
    CHECK(a >= 4 * GIB && b >= 4 * GIB); /* the general path: high memory first, lowest first */
    CHECK(b > a);
    CHECK_EQ(state(p, a), PMM_BLK_WHOLE);
    CHECK_EQ(p->btop, 0);
    uint64_t pool = p->nfree;
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_EQ(p->btop, 2);
    CHECK_EQ(state(p, a), PMM_BLK_STACKED);
    CHECK_EQ(p->nfree, pool); /* out of the pool: the free map did not change */
    CHECK_EQ(nfree(p), f0 + 1024);
    struct pmm_stats st;
    pmm_stats(p, &st);
    CHECK_EQ(st.stacked, 1024);
    CHECK_EQ(st.free + st.alloc + st.meta + st.withheld, st.total);
    /* the longest free run: all of [4 GiB, 6 GiB) but the metadata at its top */
    CHECK_EQ(st.largest, 2 * GIB / PG - pmm_meta_pages(p));
    for (uint64_t i = 0; i < 512; i++)
        CHECK_EQ(pmm_page_state(p, a / PG + i), PMM_PAGE_FREE);
    uint64_t start = 0, n = 0; /* the shell's free ranges show it too */
    CHECK_EQ(pmm_next_free_range(p, a / PG, &start, &n), 1);
    CHECK_EQ(start, a / PG);
    CHECK(n >= 1024);
    CHECK_OK(p);
    CHECK_EQ(block(p, 0), b); /* LIFO: the general path would give a, the lower */
    CHECK_EQ(block(p, 0), a);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(nfree(p), f0);
    for (uint64_t i = 0; i < 512; i++) {
        uint32_t c = 0;
        CHECK_EQ(pmm_refcount(p, b + i * PG, &c), PMM_OK);
        CHECK_EQ(c, 1);
    }
    CHECK_OK(p);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/* A lock installed: the same, through the locked halves; a request the stack cannot serve keeps
 * its alignment and bounds on the way to the search. */
TEST(with_a_lock_the_stack_is_used_under_it)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t one = 0, x = 0, y = 0;
    CHECK_EQ(pmm_alloc(p, &one), PMM_OK); /* above 4 GiB: the first free run is now unaligned */
    CHECK(one >= 4 * GIB && one < 4 * GIB + 2 * MIB);
    CHECK_EQ(pmm_set_lock(p, lk, ulk, 0), PMM_OK);
    lock_calls = 0;
    x = block(p, 0); /* the stack is empty: the search, still for a 2 MiB-aligned run */
    CHECK(lock_calls > 0);
    CHECK_EQ(pmm_free_run(p, x, 512), PMM_OK);
    CHECK_EQ(p->btop, 1);
    for (uint64_t align = 0; align <= 2 * MIB; align = align ? align * 2 : PG) {
        lock_calls = 0;
        CHECK_EQ(pmm_alloc_run(p, 512, align, 0, &y), PMM_OK); /* popped under the lock */
        CHECK_EQ(y, x);
        CHECK(lock_calls > 0);
        CHECK_EQ(p->btop, 0);
        CHECK_EQ(pmm_free_run(p, x, 512), PMM_OK);
        CHECK_EQ(p->btop, 1);
    }
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 4 * GIB, &y), PMM_OK); /* bounded: not the stack */
    CHECK(y < 4 * GIB);
    CHECK_EQ(p->btop, 1);
    CHECK_EQ(pmm_free_run(p, y, 512), PMM_OK);
    CHECK_EQ(lock_depth, 0);
    CHECK_OK(p);
    sim_free(s);
}

/* Every path that would take a page of a stacked block for allocated names it a double free. */
TEST(a_page_of_a_stacked_block_is_free_to_every_path)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t x0 = block(p, 0), x1 = block(p, 0), a = freed_block(p), in = a + 100 * PG;
    uint32_t c;
    CHECK_REJECTS(p, pmm_free(p, in), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free(p, a), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_inc(p, in), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_ref_dec(p, in), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_refcount(p, in, &c), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_cpu_free(p, 0, in), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, in, 3), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, a + 511 * PG, 1), PMM_EDOUBLE);
    /* a run from the end of a whole block into a stacked one: refused, the whole one untouched */
    CHECK_EQ(x1, x0 + 2 * MIB); /* the general path, lowest first */
    CHECK_EQ(pmm_free_run(p, x1, 512), PMM_OK);
    CHECK_EQ(p->btop, 2);
    CHECK_REJECTS(p, pmm_free_run(p, x1 - 4 * PG, 8), PMM_EDOUBLE);
    CHECK_REJECTS(p, pmm_free_run(p, x0 + PG, 512), PMM_EDOUBLE); /* not one block: no O(1) */
    CHECK_EQ(state(p, x0), PMM_BLK_WHOLE);
    /* pmm_keep_range takes the stack back first: the kept pages are allocated, not stacked */
    uint64_t t = 0;
    CHECK_EQ(pmm_keep_range(p, in, 1, &t), PMM_OK);
    CHECK_EQ(t, 1);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(state(p, a), PMM_BLK_NORMAL);
    CHECK_EQ(pmm_page_state(p, in / PG), PMM_PAGE_ALLOC);
    CHECK_EQ(pmm_page_state(p, in / PG + 1), PMM_PAGE_FREE);
    CHECK_EQ(pmm_free(p, in), PMM_OK);
    CHECK_OK(p);
    sim_free(s);
}

/* Freeing, sharing or caching one page of a whole block ends its wholeness: the block's later free
 * takes the general path, which sees the page. */
TEST(touching_one_page_ends_a_blocks_wholeness)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0);
    CHECK_EQ(pmm_free(p, a + 300 * PG), PMM_OK);
    CHECK_EQ(state(p, a), PMM_BLK_NORMAL);
    CHECK_REJECTS(p, pmm_free_run(p, a, 512), PMM_EDOUBLE); /* one page, past the first 64 */
    uint64_t t;
    CHECK_EQ(pmm_keep_range(p, a + 300 * PG, 1, &t), PMM_OK);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(p->btop, 0); /* the general path frees into the pool */

    static const uint64_t shared[] = {7, 500}; /* in its first and in its last 64 pages */
    for (int i = 0; i < 2; i++) {
        uint64_t b = block(p, 0);
        CHECK_EQ(state(p, b), PMM_BLK_WHOLE);
        CHECK_EQ(pmm_ref_inc(p, b + shared[i] * PG), PMM_OK);
        CHECK_EQ(state(p, b), PMM_BLK_NORMAL);
        CHECK_REJECTS(p, pmm_free_run(p, b, 512), PMM_ESHARED);
        CHECK_EQ(pmm_ref_dec(p, b + shared[i] * PG), PMM_OK);
        CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    }

    uint64_t b = block(p, 0);
    CHECK_EQ(pmm_cpu_free(p, 1, b + 9 * PG), PMM_OK); /* on CPU 1's cache: free already */
    CHECK_EQ(state(p, b), PMM_BLK_NORMAL);
    CHECK_REJECTS(p, pmm_free_run(p, b, 512), PMM_EDOUBLE);
    uint64_t y;
    CHECK_EQ(pmm_cpu_alloc(p, 1, &y), PMM_OK);
    CHECK_EQ(y, b + 9 * PG);
    CHECK_EQ(pmm_ref_dec(p, b + 511 * PG), PMM_OK); /* the last reference: the page is free */
    CHECK_EQ(pmm_page_state(p, b / PG + 511), PMM_PAGE_FREE);
    CHECK_REJECTS(p, pmm_free_run(p, b, 512), PMM_EDOUBLE);
    CHECK_EQ(pmm_free_run(p, b, 511), PMM_OK);
    CHECK_REJECTS(p, pmm_free_run(p, b, 512), PMM_EDOUBLE); /* twice */

    /* Two whole blocks freed as one run: both become normal, nothing stacked. */
    uint64_t c0 = block(p, 0), c1 = block(p, 0);
    CHECK_EQ(p->btop, 0);
    CHECK_EQ(c1, c0 + 2 * MIB); /* the general path, lowest first */
    CHECK_EQ(state(p, c0), PMM_BLK_WHOLE);
    CHECK_EQ(state(p, c1), PMM_BLK_WHOLE);
    CHECK_EQ(pmm_free_run(p, c0, 1024), PMM_OK);
    CHECK_EQ(state(p, c0), PMM_BLK_NORMAL);
    CHECK_EQ(state(p, c1), PMM_BLK_NORMAL);
    CHECK_EQ(p->btop, 0);
    CHECK_OK(p);

    /* Never handed out: the metadata's first block, and a block in no present section. */
    uint64_t meta = (p->self_phys + 2 * MIB - 1) & ~(2 * MIB - 1);
    CHECK(meta + 2 * MIB <= p->self_phys + pmm_meta_pages(p) * PG); /* 6 GiB: > 3 MiB of it */
    CHECK_REJECTS(p, pmm_free_run(p, meta, 512), PMM_ENOTOWNED);
    CHECK_REJECTS(p, pmm_free_run(p, 2 * GIB, 512), PMM_ENOTOWNED);
    sim_free(s);
}

/* A set shared bit may be stale (state.h); a block taken from the pool drops its eight, so that it
 * is whole and its free takes the O(1) path. */
TEST(a_block_taken_from_the_pool_drops_its_stale_shared_bits)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t c = cidx(p, 4 * GIB / PG); /* the first block the general path hands out */
    pmm_shared(p)[c >> 12] |= 0xffull << ((c >> 6) & 63);
    CHECK_OK(p);
    uint64_t a = block(p, 0);
    CHECK_EQ(a, 4 * GIB);
    CHECK_EQ((pmm_shared(p)[c >> 12] >> ((c >> 6) & 63)) & 0xff, 0);
    CHECK_EQ(state(p, a), PMM_BLK_WHOLE);
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
    CHECK_EQ(state(p, lo), PMM_BLK_NORMAL);
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
    struct pmm_stats st; /* all of this machine is below 4 GiB, the stacked block too */
    pmm_stats(p, &st);
    CHECK_EQ(st.stacked, 512);
    CHECK_EQ(st.below4g, st.free);
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
    /* a bounded request that fails keeps the stack: the blocks could not have helped */
    CHECK_EQ(pmm_alloc_run(p, 200, PG, MIB, &y), PMM_ENOMEM);
    CHECK_EQ(pmm_alloc_run(p, (2 * GIB - MIB) / PG, PG, 4 * GIB, &y), PMM_ENOMEM); /* x is there */
    CHECK_EQ(p->btop, 1);
    CHECK_OK(p);
    sim_free(s);
}

/*
 * Stacked blocks are free memory the pool cannot see: single pages and runs take them back before
 * they go below 4 GiB, and nothing fails while they are there.
 */
TEST(the_pool_takes_the_stack_back_before_low_memory)
{
    for (int runs = 0; runs < 2; runs++) {
        struct pmm *p;
        struct sim *s = machine(&p, 1);
        uint64_t b[4];
        for (int i = 0; i < 4; i++)
            b[i] = block(p, 0);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(pmm_free_run(p, b[i], 512), PMM_OK);
        CHECK_EQ(p->btop, 4);
        for (uint64_t x = 4 * GIB; x >= 4 * GIB;) {
            int rc = runs ? pmm_alloc_run(p, 64, 256 * 1024, 0, &x) : pmm_alloc(p, &x);
            CHECK_EQ(rc, PMM_OK);
            if (rc)
                break;
            if (x >= 4 * GIB)
                CHECK(p->btop == 4 || p->btop == 0);
        }
        CHECK_EQ(p->btop, 0); /* the first page below 4 GiB came after the blocks went back */
        for (int i = 0; i < 4; i++)
            for (uint64_t k = 0; k < 512; k += 511)
                CHECK_EQ(pmm_page_state(p, b[i] / PG + k), PMM_PAGE_ALLOC);
        CHECK_OK(p);
        sim_free(s);
    }

    /* Exhaustion: every free page, the stacked ones too, is handed out before PMM_ENOMEM. */
    struct pmm *p;
    struct sim *s = small_machine(0, 256, 0, &p);
    uint64_t b0 = block(p, 0), b1 = block(p, 0), x;
    CHECK_EQ(pmm_free_run(p, b0, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b1, 512), PMM_OK);
    CHECK_EQ(p->btop, 2);
    uint64_t want = nfree(p), got = 0;
    while (pmm_alloc(p, &x) == PMM_OK)
        got++;
    CHECK_EQ(got, want);
    CHECK_EQ(nfree(p), 0);
    CHECK_OK(p);
    sim_free(s);

    /* A run that fits only across 4 GiB, through the stacked blocks: the search's last resort
     * (no zone alone holds it, so no zone's search takes the stack back). */
    s = sim_new(6 * GIB);
    sim_add(s, PMM_EFI_CONVENTIONAL, 2 * GIB, 4 * GIB / PG, 0);
    CHECK_EQ(sim_build(s, 0, &p), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    b0 = block(p, 0);
    b1 = block(p, 0);
    CHECK_EQ(b0, 4 * GIB);
    CHECK_EQ(pmm_free_run(p, b0, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b1, 512), PMM_OK);
    CHECK_EQ(p->btop, 2);
    CHECK_EQ(pmm_alloc_run(p, 3 * GIB / PG, PG, 0, &x), PMM_OK);
    CHECK_EQ(p->btop, 0);
    CHECK(x < b0 && x + 3 * GIB > b1);
    CHECK_OK(p);
    sim_free(s);
}

/* Before reconcile every page handed out was claimed from the firmware and goes back to it. */
TEST(the_boot_phase_stacks_nothing)
{
    struct pmm *p;
    struct sim *s = machine(&p, 0);
    uint64_t a = freed_block(p); /* not stacked */
    CHECK_EQ(state(p, a), PMM_BLK_NORMAL);
    CHECK_OK(p);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK); /* the simulated firmware has all of a back */
    CHECK_OK(p);
    CHECK_EQ(pmm_page_state(p, a / PG), PMM_PAGE_FREE);
    sim_free(s);
}

TEST(the_checker_names_each_broken_block_invariant)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), w = block(p, 0), lo = block(p, 4 * GIB);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK); /* a stacked, w whole, lo normal (below 4 GiB) */
    uint8_t *st = pmm_bst(p);
    uint64_t ba = cidx(p, a / PG) >> 9, bw = cidx(p, w / PG) >> 9, cw = cidx(p, w / PG);
    uint64_t bfree = cidx(p, 5 * GIB / PG) >> 9, blo = cidx(p, lo / PG) >> 9;
    CHECK_EQ(pmm_page_state(p, 5 * GIB / PG), PMM_PAGE_FREE);
    struct pmm good = *p;
    CHECK_OK(p);
#define BROKEN(change, undo, needle)                                                               \
    do {                                                                                           \
        change;                                                                                    \
        check_fails_with(p, needle);                                                               \
        undo;                                                                                      \
        *p = good;                                                                                 \
        CHECK_OK(p);                                                                               \
    } while (0)
    BROKEN(p->bfront = p->bstack[0] = p->span, (void)0, "stacked block lies in no present section");
    BROKEN(p->bfront = p->bstack[0] = 3 * GIB >> 21, (void)0,
           "stacked block lies in no present section");
    BROKEN(p->bblk[0] ^= 1, (void)0, "compact number differs from its frame's");
    BROKEN(st[ba] = PMM_BLK_WHOLE, st[ba] = PMM_BLK_STACKED, "not marked stacked");
    BROKEN(st[bw] = PMM_BLK_STACKED, st[bw] = PMM_BLK_WHOLE, "blocks marked stacked differ");
    BROKEN((p->btop = 2, p->bstack[1] = p->bstack[0], p->bblk[1] = p->bblk[0]), (void)0,
           "on the free-block stack twice");
    BROKEN((p->btop = 2, p->bstack[1] = p->bstack[0], p->bblk[1] = p->bblk[0],
            st[bw] = PMM_BLK_STACKED), /* the count of marks agrees: only the entries tell */
           st[bw] = PMM_BLK_WHOLE, "on the free-block stack twice");
    BROKEN(p->bfront = 0, (void)0, "front differs from its top entry");
    BROKEN(p->btop = PMM_BSTACK_CAP + 1, (void)0, "free-block stack holds more");
    BROKEN(st[bfree] = 7, st[bfree] = PMM_BLK_NORMAL, "not a block state");
    BROKEN(st[bfree] = PMM_BLK_WHOLE, st[bfree] = PMM_BLK_NORMAL, "has a page that is free");
    BROKEN(st[blo] = PMM_BLK_WHOLE, st[blo] = PMM_BLK_NORMAL, "below the zone");
    BROKEN(pmm_shared(p)[cw >> 12] |= 1ull << (((cw >> 6) + 3) & 63),
           pmm_shared(p)[cw >> 12] &= ~(1ull << (((cw >> 6) + 3) & 63)), "marked shared or cached");
    BROKEN(p->fast.bst = st + 1, (void)0, "fast-path pointers");
#undef BROKEN
    sim_free(s);
}

/* A header handed on with blocks stacked: the new owner pops them, newest first. */
TEST(an_adopted_state_pops_its_stacked_blocks)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t a = block(p, 0), b = block(p, 0);
    CHECK_EQ(pmm_free_run(p, a, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b, 512), PMM_OK);
    int err = 0;
    struct pmm *q = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)s->mem, &err);
    CHECK(q != 0);
    CHECK_EQ(err, 0);
    CHECK_OK(q);
    CHECK_EQ(q->btop, 2);
    CHECK_EQ(block(q, 0), b);
    CHECK_EQ(block(q, 0), a);
    CHECK_EQ(pmm_free_run(q, a, 512), PMM_OK);
    CHECK_EQ(q->btop, 1);
    CHECK_OK(q);
    sim_free(s);
}

/* The stack holds PMM_BSTACK_CAP blocks; more freed blocks go back to the pool. */
TEST(a_full_stack_leaves_the_rest_to_the_pool)
{
    struct pmm *p;
    struct sim *s = machine(&p, 1);
    uint64_t n = PMM_BSTACK_CAP + 8, x[PMM_BSTACK_CAP + 8];
    for (uint64_t i = 0; i < n; i++)
        x[i] = block(p, 0);
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(pmm_free_run(p, x[i], 512), PMM_OK);
    CHECK_EQ(p->btop, PMM_BSTACK_CAP);
    for (uint64_t i = PMM_BSTACK_CAP; i < n; i++)
        CHECK_EQ(state(p, x[i]), PMM_BLK_NORMAL);
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
    RUN(with_a_lock_the_stack_is_used_under_it);
    RUN(a_page_of_a_stacked_block_is_free_to_every_path);
    RUN(touching_one_page_ends_a_blocks_wholeness);
    RUN(a_block_taken_from_the_pool_drops_its_stale_shared_bits);
    RUN(low_blocks_stay_off_the_stack);
    RUN(a_bounded_request_never_takes_a_stacked_block);
    RUN(the_pool_takes_the_stack_back_before_low_memory);
    RUN(the_boot_phase_stacks_nothing);
    RUN(the_checker_names_each_broken_block_invariant);
    RUN(a_full_stack_leaves_the_rest_to_the_pool);
    RUN(an_adopted_state_pops_its_stacked_blocks);
    HARNESS_MAIN_END();
}
