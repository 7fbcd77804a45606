/*
 * test_adopt.c - pmm_adopt trusts nothing it did not check. A reconciled state with pages handed
 * out and a non-empty free-page stack is corrupted one header field at a time; each copy must be
 * refused with that field named, and the refusal must leave the header byte for byte as it was.
 *
 *   0       640K  1M                        3G        4G                  6G
 *   | conv  |     | conventional            | reserved | conventional      |
 *
 * 6 GiB gives the free map four summary levels and the block map two, and memory above 4 GiB
 * (where the stack refills first). Last, the lock the new owner installs: never together with the
 * firmware hooks, taken by the readers.
 */
#include <stddef.h>

#include "common.h"
#include "lockcount.h"
#include "state.h"

HARNESS_GLOBALS

static struct sim *s;
static struct pmm *h; /* the header, as the loader sees it */
static uint64_t phys, off, allocated;
static unsigned char good[PG];

static void restore(void)
{
    memcpy(h, good, PG);
}

/*
 * Adopting the header as it is now must fail, name `field` (and, where several checks name one
 * field, give a reason containing `reason`), and write nothing.
 */
static void refused_why(int line, const char *field, const char *reason)
{
    unsigned char before[PG];
    memcpy(before, h, PG);
    struct pmm_adopt_error why = {0, 0};
    int err = 0;
    struct pmm *k = pmm_adopt_why(phys, off, &err, &why);
    int named = why.field && strcmp(why.field, field) == 0 &&
                (!reason || (why.why && strstr(why.why, reason)));
    if (k || err != PMM_ESTATE || !named)
        fprintf(stderr, "  line %d: wanted %s refused, got %s (field %s: %s)\n", line, field,
                k ? "accepted" : pmm_strerror(err), why.field ? why.field : "-",
                why.why ? why.why : "-");
    CHECK(k == 0);
    CHECK_EQ(err, PMM_ESTATE);
    CHECK(named);
    CHECK(why.why && why.why[0]);
    CHECK(memcmp(before, h, PG) == 0);
    CHECK(pmm_adopt(phys, off, &err) == 0); /* the old entry point refuses it too */
    CHECK(memcmp(before, h, PG) == 0);
    restore();
}

static void refused(int line, const char *field)
{
    refused_why(line, field, 0);
}

/* Put the good header back, apply one change, expect `field` named. */
#define REFUSED(field, change)                                                                     \
    do {                                                                                           \
        restore();                                                                                 \
        change;                                                                                    \
        refused(__LINE__, field);                                                                  \
    } while (0)
#define REFUSED_WHY(field, reason, change)                                                         \
    do {                                                                                           \
        restore();                                                                                 \
        change;                                                                                    \
        refused_why(__LINE__, field, reason);                                                      \
    } while (0)

static void setup(void)
{
    s = sim_new(6 * GIB);
    sim_add(s, PMM_EFI_BOOT_CODE, 0, 1, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, PG, 0x9f, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, (3 * GIB - MIB) / PG, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, 16 * MIB, 0x100, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 3 * GIB, GIB / PG, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, 4 * GIB, 2 * GIB / PG, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    uint64_t x;
    for (int i = 0; i < 10; i++)
        CHECK_EQ(pmm_alloc(p, &x), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 600, 2 * MIB, 0, &x), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_EQ(pmm_alloc(p, &allocated), PMM_OK);
    uint64_t b0, b1; /* two 2 MiB blocks on the free-block stack (pmm/blocks.c) */
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &b0), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 512, 2 * MIB, 0, &b1), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b0, 512), PMM_OK);
    CHECK_EQ(pmm_free_run(p, b1, 512), PMM_OK);
    CHECK_OK(p);
    h = p;
    phys = pmm_state_phys(p);
    off = (uint64_t)(uintptr_t)s->mem;
    memcpy(good, h, PG);
    /* the cases below rely on this shape */
    CHECK(h->top > 1);
    CHECK_EQ(h->btop, 2);
    CHECK_EQ(h->freemap.nlevels, 4);
    CHECK_EQ(h->blkmap.nlevels, 2);
}

TEST(identity_fields)
{
    restore();
    int err;
    struct pmm_adopt_error why;
    CHECK(pmm_adopt_why(phys + 8, off, &err, &why) == 0);
    CHECK(strcmp(why.field, "state_phys") == 0);
    CHECK(pmm_adopt_why(0, off, &err, 0) == 0); /* why is optional */
    CHECK_EQ(err, PMM_ESTATE);

    REFUSED("magic", h->magic ^= 1);
    REFUSED("version", h->version++);
    REFUSED("size", h->size--);
    REFUSED("self_phys", h->self_phys += PG);
    REFUSED("reconciled", h->reconciled = 0);
    REFUSED("boot_held", h->boot_held = 2);
}

TEST(geometry_fields)
{
    REFUSED("span", h->span = 0);
    REFUSED("span", h->span = (1ull << 52) + 1);
    /* span and the free map's size disagree: either may be the bad one, the pair is named */
    REFUSED("nsec", h->span += PMM_SEC_PAGES);
    REFUSED("nsec", h->nsec++);
    REFUSED("nslots", h->nslots = 0);
    REFUSED("nslots", h->nslots = h->nsec + 1);
    REFUSED("cspan", h->cspan += 64);
    REFUSED("cspan", h->nslots--);
    REFUSED("freemap.nbits", h->freemap.nbits += 64);
    REFUSED("freemap.nbits", h->freemap.nbits--);
    REFUSED("blkmap.nbits", h->blkmap.nbits++);
    REFUSED("freemap.nlevels", h->freemap.nlevels = PMM_LEVELS + 1); /* would index past phys[] */
    REFUSED("freemap.nlevels", h->freemap.nlevels--);
    REFUSED("blkmap.nlevels", h->blkmap.nlevels = ~0u);
    REFUSED("blkmap.nlevels", h->blkmap.nlevels = 1);
    REFUSED("freemap.nwords[0]", h->freemap.nwords[0]++);
    REFUSED("freemap.nwords[2]", h->freemap.nwords[2] = 0);
    REFUSED("freemap.nwords[5]", h->freemap.nwords[5] = 1);
    REFUSED("blkmap.nwords[1]", h->blkmap.nwords[1] = 2);
    REFUSED("range_cap", h->range_cap = 1ull << 60);
    REFUSED("nranges", h->nranges = h->range_cap + 1);
    REFUSED("meta_pages", h->meta_pages++);
    REFUSED("meta_pages", h->meta_pages--);
    REFUSED("meta_pages", h->meta_pages = 1ull << 51);
    /* a larger range table moves everything after it: the run no longer matches its layout */
    REFUSED("meta_pages", h->range_cap += 2000);
}

TEST(placement_fields)
{
    uint64_t end = phys + h->meta_pages * PG;
    REFUSED("ranges_phys", h->ranges_phys += 4);
    REFUSED("ranges_phys", h->ranges_phys = phys - PG);
    REFUSED("ranges_phys", h->ranges_phys += 64);        /* inside, aligned, onto the free map */
    REFUSED("freemap.phys[0]", h->freemap.phys[0] |= 1); /* misaligned */
    REFUSED("freemap.phys[1]", h->freemap.phys[1] = h->freemap.phys[0]); /* aliased */
    /* starts inside the run, but its words run past the end */
    REFUSED("freemap.phys[2]", h->freemap.phys[2] = end - 8);
    REFUSED("freemap.phys[3]", h->freemap.phys[3] = 0);
    REFUSED("freemap.phys[4]", h->freemap.phys[4] = h->freemap.phys[0]); /* level not present */
    REFUSED("freemap.phys[7]", h->freemap.phys[7] = phys + PG);
    REFUSED("blkmap.phys[0]", h->blkmap.phys[0] += 64);
    REFUSED("blkmap.phys[1]", h->blkmap.phys[1] = end);
    REFUSED("blkmap.phys[2]", h->blkmap.phys[2] = phys);
    REFUSED("own_phys", h->own_phys = PG);
    REFUSED("own_phys", h->own_phys -= 8);
    REFUSED("sec_phys", h->sec_phys += 8);
    REFUSED("slots_phys", h->slots_phys = h->sec_phys);
    REFUSED("rinit_phys", h->rinit_phys = end);
    REFUSED("refs_phys", h->refs_phys = 2 * MIB); /* the case: counts written elsewhere */
    REFUSED("refs_phys", h->refs_phys += PG);     /* its last page past the run */
    REFUSED("refs_phys", h->refs_phys = ~0ull & ~7ull);
}

/* The section table and slots are read whole: a slot naming a section past the table, slots out
 * of order, or a table entry no slot backs would send compact indices astray. */
TEST(section_table_contents)
{
    uint32_t *sec = (uint32_t *)(s->mem + h->sec_phys), *sl = (uint32_t *)(s->mem + h->slots_phys);
    uint32_t save0 = sl[0], save1 = sl[1], absent = PMM_SEC_ABSENT;
    uint64_t k = 0;
    while (sec[k] != PMM_SEC_ABSENT)
        k++; /* the first absent section: the reserved 3 GiB - 4 GiB */
    sl[0] = (uint32_t)h->nsec;
    refused(__LINE__, "slots");
    sl[0] = save0;
    sl[0] = save1, sl[1] = save0;
    refused(__LINE__, "slots");
    sl[0] = save0, sl[1] = save1;
    sec[k] = 0;
    refused(__LINE__, "sec_phys");
    sec[k] = absent;
    int err;
    CHECK(pmm_adopt(phys, off, &err) != 0);
}

TEST(stack_cursor_and_counter_fields)
{
    REFUSED("top", h->top = PMM_STACK_CAP + 1);
    /* stacked pages are compact indices (state.h) */
    REFUSED("stack", h->stack[0] = 0x10);                       /* below 1 MiB */
    REFUSED("stack", h->stack[h->top - 1] = h->cspan);          /* past the present sections */
    REFUSED("stack", h->stack[0] = cidx(h, allocated / PG));    /* handed out already */
    REFUSED("stack", h->stack[0] = cidx(h, h->self_phys / PG)); /* metadata: never owned */
    REFUSED("stack_lo", h->stack_lo = h->stack_hi + 1);
    /* the free-block stack: a popped block is handed out as it is. Entries are 2 MiB frames
     * (phys >> 21) with their compact block numbers beside them (bblk). */
    REFUSED("btop", h->btop = PMM_BSTACK_CAP + 1);
    REFUSED("bstack", h->bstack[0] = h->span >> 9); /* past the last page */
    REFUSED("bstack", h->bstack[0] = 1ull << 50);   /* far past it, shifted left */
    REFUSED("bstack", h->bstack[0] = 0);            /* below 1 MiB */
    /* below 4 GiB (a present block of the pool there), and the metadata's own first block */
    REFUSED("bstack", (h->bstack[0] = 2 * GIB >> 21, h->bblk[0] = cidx(h, 2 * GIB / PG) >> 9));
    REFUSED_WHY(
        "bstack", "metadata",
        (h->bstack[0] = h->self_phys >> 21, h->bblk[0] = cidx(h, (h->self_phys >> 21) << 9) >> 9));
    REFUSED("bstack", h->bstack[0] = 3 * GIB >> 21); /* the reserved hole: no section */
    REFUSED("bblk", h->bblk[1] ^= 1);
    REFUSED("bfront", h->bfront = h->bstack[0]);
    REFUSED("bstack", (h->bstack[1] = h->bstack[0], h->bblk[1] = h->bblk[0],
                       h->bfront = h->bstack[0])); /* twice */
    /* a block in the pool, not stacked: its state byte says so */
    REFUSED_WHY("bstack", "state byte",
                (h->bstack[0] = 5 * GIB >> 21, h->bblk[0] = cidx(h, 5 * GIB / PG) >> 9));
    REFUSED("stack_hi", h->stack_hi = h->stack_lo - 1);
    REFUSED("cursor", h->cursor = h->cspan);
    REFUSED("c_low", h->c_low = h->cspan + 1);
    REFUSED("c_low", h->c_high = h->c_low - 1);
    REFUSED("total", h->total = h->cspan + 1);
    REFUSED("nfree", h->nfree = h->total + 1);
    REFUSED("nalloc", h->nalloc = h->total - h->nfree + 1);
    REFUSED("total", h->total = h->nfree + h->nalloc + h->meta_pages - 1);
}

/* A refused header leaves the state usable: the good one is adopted and passes the full check. */
TEST(good_header_is_adopted_after_refusals)
{
    restore();
    int err = 1;
    struct pmm_adopt_error why = {"x", "y"};
    struct pmm *k = pmm_adopt_why(phys, off, &err, &why);
    CHECK(k == h);
    CHECK_EQ(err, PMM_OK);
    CHECK_OK(k);
    uint64_t x;
    CHECK_EQ(pmm_alloc(k, &x), PMM_OK);
    CHECK_EQ(pmm_free(k, x), PMM_OK);
    CHECK_OK(k);

    /* Adoption does not read the range table: a bad kind there must not make pmm_stats write past
     * kind_pages (here, past the whole struct into a canary); pmm_check names it. */
    struct pmm_range *r = (struct pmm_range *)(s->mem + h->ranges_phys);
    uint32_t kind = r[0].kind;
    struct boxed {
        struct pmm_stats st;
        uint64_t canary[4];
    } box;
    memset(&box, 0, sizeof box);
    r[0].kind =
        (uint32_t)((offsetof(struct boxed, canary) - offsetof(struct pmm_stats, kind_pages)) / 8 +
                   1);
    pmm_stats(k, &box.st);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(box.canary[i], 0);
    struct pmm_check_fail f = {0, 0};
    CHECK_EQ(pmm_check(k, &f), PMM_ECHECK);
    CHECK(f.what && strstr(f.what, "of no kind"));
    r[0].kind = kind;
    CHECK_OK(k);
}

/* Reader `call` takes the lock exactly once and leaves it released. */
#define LOCKED_ONCE(call)                                                                          \
    do {                                                                                           \
        int _before = lock_calls;                                                                  \
        call;                                                                                      \
        if (lock_calls != _before + 1)                                                             \
            fprintf(stderr, "  %s took the lock %d times\n", #call, lock_calls - _before);         \
        CHECK_EQ(lock_calls, _before + 1);                                                         \
        CHECK_EQ(lock_depth, 0);                                                                   \
    } while (0)

/*
 * No firmware callback runs with the lock held: a lock cannot be installed while the firmware hooks
 * are (before reconcile). The readers take it; adoption clears it.
 */
TEST(lock_and_firmware_hooks_never_coexist)
{
    struct sim *m = sim_new(128 * MIB);
    sim_add(m, PMM_EFI_CONVENTIONAL, PG, 0x9f, 0xf);
    sim_add(m, PMM_EFI_CONVENTIONAL, MIB, 0x7f00, 0xf);
    struct pmm *p;
    CHECK_EQ(sim_build(m, 1, &p), PMM_OK);
    CHECK_EQ(pmm_set_lock(p, lk, ulk, 0), PMM_ESTATE); /* boot phase: firmware hooks set */
    CHECK_EQ(pmm_set_lock(p, lk, 0, 0), PMM_EINVAL);
    CHECK_EQ(pmm_set_lock(p, 0, 0, 0), PMM_OK); /* removing a lock is always allowed */
    uint64_t x, claims = m->claims;
    CHECK_EQ(pmm_alloc(p, &x), PMM_OK); /* unlocked, and the firmware was asked */
    CHECK_EQ(lock_calls, 0);
    CHECK(m->claims > claims);

    CHECK_EQ(sim_reconcile(m, p), PMM_OK); /* drops the firmware hooks */
    CHECK_EQ(pmm_set_lock(p, lk, ulk, 0), PMM_OK);
    struct pmm_stats st;
    char line[256];
    uint32_t count;
    uint64_t a, n;
    LOCKED_ONCE(pmm_stats(p, &st));
    LOCKED_ONCE(pmm_summary(p, line, sizeof line));
    LOCKED_ONCE(CHECK_EQ(pmm_refcount(p, x, &count), PMM_OK));
    LOCKED_ONCE(CHECK_EQ(pmm_page_state(p, x / PG), PMM_PAGE_ALLOC));
    LOCKED_ONCE(CHECK_EQ(pmm_next_free_range(p, 0, &a, &n), 1));
    LOCKED_ONCE(CHECK_EQ(pmm_next_alloc_range(p, 0, &a, &n), 1));
    LOCKED_ONCE(CHECK_EQ(pmm_check(p, 0), PMM_OK));
    LOCKED_ONCE(CHECK_EQ(pmm_free(p, x), PMM_OK));

    /* a new owner starts without the old owner's lock */
    int err;
    struct pmm *k = pmm_adopt(pmm_state_phys(p), (uint64_t)(uintptr_t)m->mem, &err);
    CHECK(k != 0);
    int before = lock_calls;
    CHECK_EQ(pmm_alloc(k, &x), PMM_OK);
    CHECK_EQ(lock_calls, before);
    sim_free(m);
}

int main(void)
{
    setup();
    RUN(identity_fields);
    RUN(geometry_fields);
    RUN(placement_fields);
    RUN(section_table_contents);
    RUN(stack_cursor_and_counter_fields);
    RUN(good_header_is_adopted_after_refusals);
    RUN(lock_and_firmware_hooks_never_coexist);
    sim_free(s);
    HARNESS_MAIN_END();
}
