/*
 * adopt.c - handing the state between owners: adoption, moving it to another mapping, the mode.
 *
 * ADOPTION: WHAT IS CHECKED, AND WHY NOT A CHECKSUM
 *
 * pmm_adopt takes a state a previous owner left in memory and, from then on, computes addresses
 * from its header: every array is reached through a *_phys field, indexed by compact page or
 * block numbers below cspan, with sizes derived from the geometry. So before it trusts the header
 * it proves, in O(1) plus one pass over the section table, the node runs and the caches, that
 * every address the allocator will derive from it lies in the metadata run [self_phys,
 * self_phys + meta_pages * 4K) or names a page below span:
 *
 *  - identity: magic, version, size, self_phys == where the state was found, reconciled;
 *  - geometry: span, nslots, range_cap, runs_cap, ncpus and nnodes within the bounds pmm_layout
 *    accepts (checked before anything is computed from them: every size is bounded before it
 *    indexes anything, the summaries' levels included); nsec, cspan, nblocks, both summaries'
 *    nbits, nlevels and nwords, meta_pages exactly what pmm_layout derives; the run below span;
 *  - placement: every *_phys exactly where pmm_layout puts it relative to self_phys (which also
 *    refuses two structures aliased onto each other);
 *  - sections: the slots ascend, name sections below nsec, and the section table names each back
 *    and no other (O(sections), 4 bytes per 128 MiB): every compact index then lies below cspan;
 *  - NUMA: nruns <= runs_cap, the runs tile [0, nblocks) in order with nodes below nnodes; each
 *    CPU's node below nnodes; the order table a permutation per node, itself first;
 *  - the caches: every one empty, the allocator's own included (a state is handed on drained),
 *    every cursor below nblocks; the pool cursor at or above the first block wholly above 1 MiB
 *    (a cursor below it would make single pages come from low memory);
 *  - the zone bounds exactly what the sections give; no summary clear in flight;
 *  - counters: owned and total within the present pages, owned + metadata <= total.
 *
 * Not checked: the contents of the per-block and per-page arrays and the range table. That costs
 * O(RAM pages / 64) and is pmm_check()'s job; a kernel that wants it runs pmm_check once after
 * adopting. Given the checks above, wrong contents can make the allocator misjudge a page (hand
 * out one in use, withhold a free one) but not write outside the metadata or touch a page at or
 * past span; a count that promises bits that are not there makes a claim give up after
 * PMM_CLAIM_PASSES empty passes instead of looping.
 *
 * No header checksum: the header changes with every owner-changing call, so a checksum is only
 * meaningful at an agreed sealing point, and it catches accidental change only; the structural
 * checks catch a buggy owner's header too, and name the field. (The handoff response, written
 * once, does carry a checksum.)
 */
#include "pool.h"

/* build.c */
uint64_t pmm_layout(struct pmm *t);
void pmm_relocate(struct pmm *t, uint64_t base);

static int refuse(struct pmm_adopt_error *e, const char *field, const char *why)
{
    if (e)
        *e = (struct pmm_adopt_error){field, why};
    return PMM_ESTATE;
}

static const char *const av_phys[PMM_LEVELS] = {"avail.phys[0]", "avail.phys[1]", "avail.phys[2]",
                                                "avail.phys[3]", "avail.phys[4]", "avail.phys[5]",
                                                "avail.phys[6]", "avail.phys[7]"};
static const char *const wh_phys[PMM_LEVELS] = {"whole.phys[0]", "whole.phys[1]", "whole.phys[2]",
                                                "whole.phys[3]", "whole.phys[4]", "whole.phys[5]",
                                                "whole.phys[6]", "whole.phys[7]"};
_Static_assert(PMM_LEVELS == 8, "one name per summary level above");

/* One summary's geometry and places against the layout's. */
static int check_sum(const struct pmm_sum *s, const struct pmm_sum *want, const char *nbits,
                     const char *nlevels, const char *const names[PMM_LEVELS],
                     struct pmm_adopt_error *e)
{
    if (s->nbits != want->nbits)
        return refuse(e, nbits, "differs from nblocks");
    if (s->nlevels != want->nlevels)
        return refuse(e, nlevels, "differs from the levels nblocks needs");
    for (uint32_t k = 0; k < PMM_LEVELS; k++) {
        if (s->nwords[k] != want->nwords[k])
            return refuse(e, nlevels, "a level's word count differs from what nblocks needs");
        if (s->phys[k] != want->phys[k])
            return refuse(e, names[k], "not where the layout puts it");
    }
    return PMM_OK;
}

/*
 * Everything pmm_adopt trusts, read through the new owner's mapping (virt_offset; p->off is the old
 * owner's). Reads only.
 */
static int adopt_check(const struct pmm *p, uint64_t state_phys, uint64_t virt_offset,
                       struct pmm_adopt_error *e)
{
    if (p->magic != PMM_MAGIC)
        return refuse(e, "magic", "not a uefi-pmm allocator state");
    if (p->version != PMM_VERSION)
        return refuse(e, "version", "another version of the state layout");
    if (p->size != sizeof *p)
        return refuse(e, "size", "differs from this build's struct pmm");
    if (p->self_phys != state_phys)
        return refuse(e, "self_phys", "differs from the address the state was found at");
    if (p->reconciled != 1)
        return refuse(e, "reconciled", "the state was not reconciled after ExitBootServices");
    if (p->boot_held > 1)
        return refuse(e, "boot_held", "neither 0 nor 1");

    /* Geometry: bounded first, then recomputed; nothing is indexed before. */
    if (!p->span || p->span > PMM_MAX_SECTIONS << PMM_SEC_SHIFT)
        return refuse(e, "span", "zero, or more than 2^32 sections of pages");
    if (!p->nslots || p->nslots > (p->span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT)
        return refuse(e, "nslots", "zero, or more than there are sections");
    if (p->range_cap > (1ull << 32) || p->nranges > p->range_cap)
        return refuse(e, "nranges", "above range_cap, or range_cap out of bounds");
    if (p->ncpus > PMM_MAX_CPUS)
        return refuse(e, "ncpus", "above PMM_MAX_CPUS");
    if (!p->nnodes || p->nnodes > PMM_MAX_NODES)
        return refuse(e, "nnodes", "zero or above PMM_MAX_NODES");
    if (!p->runs_cap || p->runs_cap > p->nslots << (PMM_SEC_SHIFT - PMM_BLOCK_SHIFT) || !p->nruns ||
        p->nruns > p->runs_cap)
        return refuse(e, "nruns", "zero, above runs_cap, or runs_cap above the blocks");
    struct pmm t;
    pmm_memset(&t, 0, sizeof t);
    t.span = p->span;
    t.nslots = p->nslots;
    t.range_cap = p->range_cap;
    t.runs_cap = p->runs_cap;
    t.ncpus = p->ncpus;
    t.nnodes = p->nnodes;
    uint64_t pages = pmm_layout(&t);
    if (!pages)
        return refuse(e, "span", "a geometry pmm_layout refuses");
    if (p->nsec != t.nsec)
        return refuse(e, "nsec", "differs from the sections span needs");
    if (p->cspan != t.cspan)
        return refuse(e, "cspan", "differs from nslots sections");
    if (p->nblocks != t.nblocks)
        return refuse(e, "nblocks", "differs from cspan / 512");
    if (p->meta_pages != pages)
        return refuse(e, "meta_pages", "differs from the layout's size for this geometry");
    if (meta_first(p) >= p->span || p->meta_pages > p->span - meta_first(p))
        return refuse(e, "meta_pages", "the metadata run extends past span");
    pmm_relocate(&t, state_phys);
    struct {
        uint64_t have, want;
        const char *name;
    } place[] = {
        {p->ranges_phys, t.ranges_phys, "ranges_phys"}, {p->sec_phys, t.sec_phys, "sec_phys"},
        {p->slots_phys, t.slots_phys, "slots_phys"},    {p->runs_phys, t.runs_phys, "runs_phys"},
        {p->dist_phys, t.dist_phys, "dist_phys"},       {p->order_phys, t.order_phys, "order_phys"},
        {p->cache_phys, t.cache_phys, "cache_phys"},    {p->cnode_phys, t.cnode_phys, "cnode_phys"},
        {p->count_phys, t.count_phys, "count_phys"},    {p->own_phys, t.own_phys, "own_phys"},
        {p->node_phys, t.node_phys, "node_phys"},       {p->marks_phys, t.marks_phys, "marks_phys"},
        {p->free_phys, t.free_phys, "free_phys"},       {p->ownw_phys, t.ownw_phys, "ownw_phys"},
        {p->refs_phys, t.refs_phys, "refs_phys"}};
    for (unsigned i = 0; i < sizeof place / sizeof place[0]; i++)
        if (place[i].have != place[i].want)
            return refuse(e, place[i].name, "not where the layout puts it in the metadata run");
    int rc = check_sum(&p->avail, &t.avail, "avail.nbits", "avail.nlevels", av_phys, e);
    if (!rc)
        rc = check_sum(&p->whole, &t.whole, "whole.nbits", "whole.nlevels", wh_phys, e);
    if (rc)
        return rc;

    /* The section table and slots: every compact index goes through them. */
    const uint32_t *sec = (const uint32_t *)(uintptr_t)(p->sec_phys + virt_offset);
    const uint32_t *sl = (const uint32_t *)(uintptr_t)(p->slots_phys + virt_offset);
    for (uint64_t k = 0; k < p->nslots; k++)
        if (sl[k] >= p->nsec || (k && sl[k] <= sl[k - 1]) || sec[sl[k]] != k)
            return refuse(e, "slots", "not ascending sections that the section table names");
    uint64_t present = 0;
    for (uint64_t k = 0; k < p->nsec; k++)
        present += sec[k] != PMM_SEC_ABSENT;
    if (present != p->nslots)
        return refuse(e, "sec_phys", "the section table names sections no slot holds");

    /* NUMA: the searches index the runs, the order table and the CPUs' nodes. */
    const struct pmm_node_run *run = (const void *)(uintptr_t)(p->runs_phys + virt_offset);
    for (uint64_t i = 0; i < p->nruns; i++) {
        if (run[i].first != (i ? run[i - 1].end : 0) || run[i].end <= run[i].first ||
            run[i].node >= p->nnodes)
            return refuse(e, "runs_phys", "node runs that do not tile the blocks in order");
    }
    if (run[p->nruns - 1].end != p->nblocks)
        return refuse(e, "runs_phys", "node runs that do not end at nblocks");
    const uint8_t *ord = (const uint8_t *)(uintptr_t)(p->order_phys + virt_offset);
    for (uint32_t i = 0; i < p->nnodes; i++) {
        uint64_t seen = 0;
        for (uint32_t k = 0; k < p->nnodes; k++)
            if (ord[i * p->nnodes + k] < p->nnodes)
                seen |= 1ull << ord[i * p->nnodes + k];
        if (ord[i * p->nnodes] != i || seen != (p->nnodes == 64 ? ~0ull : (1ull << p->nnodes) - 1))
            return refuse(e, "order_phys", "a node's order is not every node, itself first");
    }
    const uint16_t *cn = (const uint16_t *)(uintptr_t)(p->cnode_phys + virt_offset);
    const struct pmm_cache *pc = (const void *)(uintptr_t)(p->cache_phys + virt_offset);
    for (uint32_t i = 0; i < p->ncpus; i++) {
        if (cn[i] >= p->nnodes)
            return refuse(e, "cnode_phys", "a CPU of a node the state does not have");
        if (pc[i].n)
            return refuse(e, "cache_phys", "a per-CPU cache is not empty: drain every CPU first");
        if (pc[i].cursor >= p->nblocks)
            return refuse(e, "cache_phys", "a cache's cursor lies past the blocks");
        if (pc[i].node != (p->nnodes > 1 ? cn[i] : PMM_NODE_ANY))
            return refuse(e, "cache_phys", "a cache's node differs from its CPU's");
    }
    if (p->home.n)
        return refuse(e, "home", "the allocator's own cache is not empty: pmm_drain first");
    if (p->home.node != PMM_NODE_ANY)
        return refuse(e, "home", "the allocator's own cache is tied to a node");

    /* Zones and cursors: single pages never from below 1 MiB (pmm.h). */
    if (p->c_low != c_ceil_at(p, sec, sl, PMM_LOW_PFN) ||
        p->c_dma != c_ceil_at(p, sec, sl, PMM_DMA_PFN) ||
        p->c_high != c_ceil_at(p, sec, sl, PMM_HIGH_PFN))
        return refuse(e, "c_low", "zone bounds differ from what the sections give");
    if (p->pfn_high != (p->c_high < p->cspan ? PMM_HIGH_PFN : 0))
        return refuse(e, "pfn_high", "differs from what the zone bounds give");
    if (p->cursor >= p->nblocks || p->cursor < blk_low(p))
        return refuse(e, "cursor", "below the block holding 1 MiB, or past the blocks");
    if (p->home.cursor >= p->nblocks)
        return refuse(e, "home", "the allocator's own cache's cursor lies past the blocks");
    if (p->clearing)
        return refuse(e, "clearing", "a summary clear was in flight");

    if (p->total > p->cspan)
        return refuse(e, "total", "more pages than the present sections hold");
    if (p->owned > p->total || p->meta_pages > p->total - p->owned)
        return refuse(e, "owned", "owned + metadata pages exceed total");
    return PMM_OK;
}

struct pmm *pmm_adopt_why(uint64_t state_phys, uint64_t virt_offset, int *err,
                          struct pmm_adopt_error *why)
{
    struct pmm *p = (struct pmm *)(uintptr_t)(state_phys + virt_offset);
    int rc = !state_phys || (state_phys & (PMM_PAGE_SIZE - 1))
                 ? refuse(why, "state_phys", "zero or not page aligned")
                 : PMM_OK;
    if (!rc)
        rc = adopt_check(p, state_phys, virt_offset, why);
    if (err)
        *err = rc;
    if (rc)
        return 0;
    p->off = virt_offset;
    p->fw = (struct pmm_firmware){0, 0, 0};
    p->live = 1;
    p->cpu_self = 0;
    p->cpu_ctx = 0;
    p->concurrent = 1;
    at_ptrs(p);
    return p;
}

struct pmm *pmm_adopt(uint64_t state_phys, uint64_t virt_offset, int *err)
{
    return pmm_adopt_why(state_phys, virt_offset, err, 0);
}

struct pmm *pmm_set_offset(struct pmm *p, uint64_t virt_offset)
{
    p->off = virt_offset;
    at_ptrs(p);
    return (struct pmm *)(uintptr_t)(p->self_phys + virt_offset);
}

int pmm_set_concurrent(struct pmm *p, int on)
{
    if (on && (p->fw.claim || p->fw.release))
        return PMM_ESTATE; /* boot services: one CPU, and the firmware hooks are not reentrant */
    if (on) /* with many CPUs nobody uses the allocator's own cache: its pages go back first */
        cache_spill(p, &p->home, p->home.n);
    __atomic_store_n(&p->concurrent, on ? 1u : 0u, __ATOMIC_SEQ_CST);
    return PMM_OK;
}

uint64_t pmm_state_phys(const struct pmm *p)
{
    return p->self_phys;
}

uint64_t pmm_meta_pages(const struct pmm *p)
{
    return p->meta_pages;
}

uint64_t pmm_virt_offset(const struct pmm *p)
{
    return p->off;
}

uint32_t pmm_nodes(const struct pmm *p)
{
    return p->nnodes;
}

uint32_t pmm_page_node(const struct pmm *p, uint64_t pfn)
{
    uint64_t c = cidx(p, pfn);
    return c == PMM_NONE ? PMM_NODE_ANY : p->at.node[c >> PMM_BLOCK_SHIFT];
}
