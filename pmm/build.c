/*
 * build.c - sizing and placing the metadata, and building the state from the firmware's map.
 *
 * The build writes what the searches need and nothing per page: the small tables, one count,
 * one state byte and one node byte per 2 MiB block, the summaries and the marks. A block of plain
 * free RAM is FRESH (state.h): its free words, own words and counts are written by the first
 * CPU that takes a page of it. Only blocks that straddle the edge of a free range, page 0 or the
 * metadata get their words at build.
 */
#include "pool.h"

static uint64_t round64(uint64_t x)
{
    return (x + 63) & ~63ull;
}
static uint64_t round_page(uint64_t x)
{
    return (x + PMM_PAGE_SIZE - 1) & ~(PMM_PAGE_SIZE - 1);
}

int sum_geometry(uint64_t nbits, uint64_t nwords[PMM_LEVELS], uint32_t *nlevels)
{
    uint64_t words = nbits ? (nbits + 63) / 64 : 1;
    uint32_t k = 0;
    for (;;) {
        if (k == PMM_LEVELS)
            return 0; /* more levels than the state has room for: refused, nothing indexed */
        nwords[k++] = words;
        if (words == 1)
            break;
        words = (words + 63) / 64;
    }
    *nlevels = k;
    for (uint32_t i = k; i < PMM_LEVELS; i++)
        nwords[i] = 0;
    return 1;
}

/*
 * Lay out the metadata run (state.h) for the geometry in t (span, nslots, range_cap, runs_cap,
 * ncpus, nnodes): every *_phys as an offset from the start of the run, and its size in pages,
 * or 0 if a count is out of bounds. The per-page arrays start on page boundaries, so that the
 * pages nobody uses are never touched.
 */
uint64_t pmm_layout(struct pmm *t)
{
    if (!t->span || t->span > PMM_MAX_SECTIONS << PMM_SEC_SHIFT || t->nslots > PMM_MAX_SECTIONS ||
        t->range_cap > (1ull << 32) || t->runs_cap > (1ull << 40) || t->ncpus > PMM_MAX_CPUS ||
        !t->nnodes || t->nnodes > PMM_MAX_NODES)
        return 0;
    t->nsec = (t->span + PMM_SEC_PAGES - 1) >> PMM_SEC_SHIFT;
    t->cspan = t->nslots << PMM_SEC_SHIFT;
    t->nblocks = t->cspan >> PMM_BLOCK_SHIFT;
    uint64_t at = PMM_PAGE_SIZE; /* the header page */
    t->ranges_phys = at;
    at = round64(at + t->range_cap * sizeof(struct pmm_range));
    t->sec_phys = at;
    at = round64(at + t->nsec * sizeof(uint32_t));
    t->slots_phys = at;
    at = round64(at + t->nslots * sizeof(uint32_t));
    t->runs_phys = at;
    at = round64(at + t->runs_cap * sizeof(struct pmm_node_run));
    t->dist_phys = at;
    at = round64(at + (uint64_t)t->nnodes * t->nnodes);
    t->order_phys = at;
    at = round64(at + (uint64_t)t->nnodes * t->nnodes);
    t->cache_phys = at;
    at = round64(at + (uint64_t)t->ncpus * sizeof(struct pmm_cache));
    t->cnode_phys = at;
    at = round64(at + (uint64_t)t->ncpus * sizeof(uint16_t));
    t->count_phys = at;
    at = round64(at + t->nblocks * sizeof(uint16_t));
    t->own_phys = at;
    at = round64(at + t->nblocks);
    t->node_phys = at;
    at = round64(at + t->nblocks);
    struct pmm_sum *sums[2] = {&t->avail, &t->whole};
    for (int m = 0; m < 2; m++) {
        struct pmm_sum *s = sums[m];
        s->nbits = t->nblocks;
        if (!sum_geometry(s->nbits, s->nwords, &s->nlevels))
            return 0;
        for (uint32_t k = 0; k < PMM_LEVELS; k++) {
            s->phys[k] = k < s->nlevels ? at : 0;
            at = round64(at + s->nwords[k] * 8);
        }
    }
    t->marks_phys = at;
    at = round64(at + marks_words(t) * 8);
    t->free_phys = at = round_page(at);
    at = round_page(at + page_words(t) * 8);
    t->ownw_phys = at;
    at = round_page(at + page_words(t) * 8);
    t->refs_phys = at;
    at += t->cspan * sizeof(uint16_t);
    return round_page(at) >> PMM_PAGE_SHIFT;
}

/* Every *_phys of the layout moved from an offset in the run to the run at base. */
void pmm_relocate(struct pmm *t, uint64_t base)
{
    uint64_t *f[] = {&t->ranges_phys, &t->sec_phys,   &t->slots_phys, &t->runs_phys,
                     &t->dist_phys,   &t->order_phys, &t->cache_phys, &t->cnode_phys,
                     &t->count_phys,  &t->own_phys,   &t->node_phys,  &t->marks_phys,
                     &t->free_phys,   &t->ownw_phys,  &t->refs_phys};
    for (unsigned i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] += base;
    for (uint32_t k = 0; k < t->avail.nlevels; k++)
        t->avail.phys[k] += base;
    for (uint32_t k = 0; k < t->whole.nlevels; k++)
        t->whole.phys[k] += base;
}

/*
 * Choose where the metadata goes: the highest conventional range that holds it, at its top end, so
 * low and 32-bit-addressable memory stays free for devices. Returns the first page, or PMM_NONE.
 */
static uint64_t place(const struct pmm_build *b, const struct pmm_range *r, uint64_t n,
                      uint64_t pages)
{
    for (uint64_t i = n; i-- > 0;) {
        if (r[i].kind != PMM_KIND_FREE)
            continue;
        uint64_t lo = r[i].start > PMM_LOW_PFN ? r[i].start : PMM_LOW_PFN;
        uint64_t hi = r[i].start + r[i].npages;
        if (hi <= lo || hi - lo < pages)
            continue;
        uint64_t tries[2] = {hi - pages, lo};
        for (int t = 0; t < 2; t++) {
            if (!b->fw.claim || b->fw.claim(b->fw.ctx, tries[t] << PMM_PAGE_SHIFT, pages) == 0)
                return tries[t];
        }
    }
    return PMM_NONE;
}

/*
 * Sections that hold usable pages of r[0..n), in increasing order: written to slots (if not NULL)
 * and counted.
 */
static uint64_t present_sections(const struct pmm_range *r, uint64_t n, uint32_t *slots)
{
    uint64_t count = 0, last = PMM_NONE;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        uint64_t s = r[i].start >> PMM_SEC_SHIFT,
                 e = (r[i].start + r[i].npages - 1) >> PMM_SEC_SHIFT;
        for (s = last != PMM_NONE && s <= last ? last + 1 : s; s <= e; s++) {
            if (slots)
                slots[count] = (uint32_t)s;
            count++;
            last = s;
        }
    }
    return count;
}

/* The NUMA tables a build was given: sorted, disjoint ranges of known nodes; a sane SLIT. */
static int numa_ok(const struct pmm_build *b, uint32_t nnodes)
{
    for (uint64_t i = 0; i < b->numa_count; i++) {
        const struct pmm_numa_range *r = &b->numa[i];
        if (r->node >= nnodes || !r->npages || r->start + r->npages < r->start)
            return 0;
        if (i && b->numa[i - 1].start + b->numa[i - 1].npages > r->start)
            return 0;
    }
    if (b->distance)
        for (uint32_t i = 0; i < nnodes; i++)
            for (uint32_t j = 0; j < nnodes; j++)
                if (b->distance[i * nnodes + j] < b->distance[i * nnodes + i])
                    return 0;
    if (b->cpu_node)
        for (uint32_t i = 0; i < b->max_cpus; i++)
            if (b->cpu_node[i] >= nnodes)
                return 0;
    return 1;
}

/*
 * The node of each block (that of its first page; a block no NUMA range holds is node 0), as
 * runs of consecutive blocks: counted, and written to out and node (if not NULL). The present
 * sections are enumerated from the ranges as present_sections does.
 */
static uint64_t node_runs(const struct pmm_build *bd, const struct pmm_range *r, uint64_t n,
                          struct pmm_node_run *out, uint8_t *node, uint64_t nblocks)
{
    uint64_t nruns = 0, j = 0, bk = 0, last = PMM_NONE;
    uint32_t cur = PMM_NODE_ANY;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        uint64_t s = r[i].start >> PMM_SEC_SHIFT,
                 e = (r[i].start + r[i].npages - 1) >> PMM_SEC_SHIFT;
        for (s = last != PMM_NONE && s <= last ? last + 1 : s; s <= e; s++, last = s - 1) {
            for (uint64_t k = 0; k < PMM_SEC_PAGES >> PMM_BLOCK_SHIFT; k++, bk++) {
                uint64_t pfn = (s << PMM_SEC_SHIFT) | (k << PMM_BLOCK_SHIFT);
                while (j < bd->numa_count && bd->numa[j].start + bd->numa[j].npages <= pfn)
                    j++;
                uint32_t nd = j < bd->numa_count && bd->numa[j].start <= pfn ? bd->numa[j].node : 0;
                if (nd != cur) {
                    if (out && nruns)
                        out[nruns - 1].end = bk;
                    if (out)
                        out[nruns] = (struct pmm_node_run){bk, nblocks, nd, 0};
                    nruns++;
                    cur = nd;
                }
                if (node)
                    node[bk] = (uint8_t)nd;
            }
        }
    }
    return nruns;
}

/* Distances (or 10 local, 20 remote) and, per node, every node nearest first (itself first). */
static void node_tables(struct pmm *p, const struct pmm_build *b)
{
    uint32_t n = p->nnodes;
    uint8_t *d = pmm_dist(p), *o = pmm_order(p);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            d[i * n + j] = b->distance ? b->distance[i * n + j] : i == j ? 10 : 20;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *row = o + i * n;
        uint32_t k = 0;
        row[k++] = (uint8_t)i;
        for (uint32_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            uint32_t at = k++;
            while (at > 1 && d[i * n + row[at - 1]] > d[i * n + j]) { /* stable: ties by node */
                row[at] = row[at - 1];
                at--;
            }
            row[at] = (uint8_t)j;
        }
    }
}

static void bits_fill(uint64_t *w, uint64_t from, uint64_t to)
{
    while (from < to && (from & 63)) {
        st64(&w[from >> 6], ld64(&w[from >> 6]) | word_mask(from, to));
        from = (from | 63) + 1;
    }
    if (to - from >= 64 && from < to) {
        pmm_memset(&w[from >> 6], 0xff, ((to - from) >> 6) * 8);
        from += (to - from) & ~63ull;
    }
    if (from < to)
        st64(&w[from >> 6], ld64(&w[from >> 6]) | word_mask(from, to));
}

/* Levels 1 and up of s, from level 0. */
static void sum_rebuild(struct pmm *p, const struct pmm_sum *s)
{
    for (uint32_t k = 1; k < s->nlevels; k++) {
        const uint64_t *below = sum_words(p, s, k - 1);
        uint64_t *lk = sum_words(p, s, k);
        for (uint64_t j = 0; j < s->nwords[k]; j++) {
            uint64_t w = 0, first = j * 64;
            uint64_t last = first + 64 < s->nwords[k - 1] ? first + 64 : s->nwords[k - 1];
            for (uint64_t i = first; i < last; i++)
                w |= (uint64_t)(below[i] != 0) << (i - first);
            lk[j] = w;
        }
    }
}

/* Pages [from, to) of one present stretch (compact), owned and free: FRESH blocks, words at the
 * edges. */
static void build_free(struct pmm *p, uint64_t from, uint64_t to)
{
    p->owned += to - from;
    while (from < to) {
        uint64_t b = from >> PMM_BLOCK_SHIFT, e = (b + 1) << PMM_BLOCK_SHIFT;
        if (!(from & (PMM_BLOCK_PAGES - 1)) && e <= to) { /* whole blocks, as many as there are */
            uint64_t b1 = to >> PMM_BLOCK_SHIFT;
            pmm_memset(&p->at.own[b], OWN_FRESH, b1 - b);
            for (uint64_t k = b; k < b1; k++)
                p->at.count[k] = PMM_BLOCK_PAGES;
            bits_fill(sum_words(p, &p->avail, 0), b, b1);
            bits_fill(sum_words(p, &p->whole, 0), b, b1);
            from = b1 << PMM_BLOCK_SHIFT;
            continue;
        }
        if (e > to)
            e = to;
        uint64_t add[8] = {0};
        for (uint64_t i = from; i < e; i = (i | 63) + 1)
            add[(i >> 6) & 7] |= word_mask(i, e);
        own_join(p, b, add, 1);
        p->owned -= e - from; /* own_join counted them too */
        from = e;
    }
}

int pmm_build(const struct pmm_build *b, struct pmm **out, struct pmm_map_error *err)
{
    uint64_t ndesc = map_count(&b->map);
    uint64_t evbytes = map_events_size(ndesc);
    if (b->map.desc_size && b->scratch_size < pmm_map_scratch_size(&b->map)) {
        if (err)
            *err =
                (struct pmm_map_error){-1, "scratch buffer is smaller than pmm_map_scratch_size()"};
        return PMM_EINVAL;
    }
    struct pmm_range *r = (struct pmm_range *)((char *)b->scratch + evbytes);
    uint64_t n;
    int rc = map_parse(&b->map, b->scratch, r, 2 * ndesc + 1, &n, err);
    if (rc)
        return rc;

    uint64_t span = 0, total = 0, nfree = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind == PMM_KIND_NEVER)
            continue;
        span = r[i].start + r[i].npages;
        total += r[i].npages;
        if (r[i].kind == PMM_KIND_FREE)
            nfree += r[i].npages;
    }
    if (!nfree) {
        if (err)
            *err = (struct pmm_map_error){-1, "map has no conventional memory"};
        return PMM_EMAP;
    }
    if (span > PMM_MAX_SECTIONS << PMM_SEC_SHIFT) {
        if (err)
            *err = (struct pmm_map_error){-1, "usable memory at or above 2^59 bytes"};
        return PMM_EMAP;
    }
    uint32_t nnodes = b->nnodes ? b->nnodes : 1;
    const char *bad = b->max_cpus > PMM_MAX_CPUS ? "max_cpus above PMM_MAX_CPUS"
                      : nnodes > PMM_MAX_NODES   ? "nnodes above PMM_MAX_NODES"
                      : !numa_ok(b, nnodes)      ? "NUMA table: a range unsorted, overlapping "
                                                   "or of an unknown node, a distance below "
                                                   "the local one, or a CPU of an unknown node"
                                                 : 0;
    if (bad) {
        if (err)
            *err = (struct pmm_map_error){-1, bad};
        return PMM_EINVAL;
    }

    /* The geometry, with the slots and node runs counted from the ranges, then the layout. */
    struct pmm t;
    pmm_memset(&t, 0, sizeof t);
    t.span = span;
    t.nslots = present_sections(r, n, 0);
    t.range_cap = 2 * (ndesc + b->extra_descriptors) + 1;
    t.ncpus = b->max_cpus;
    t.nnodes = nnodes;
    t.runs_cap = node_runs(b, r, n, 0, 0, 0);
    uint64_t pages = pmm_layout(&t);
    if (!pages) {
        if (err)
            *err = (struct pmm_map_error){-1, "geometry out of bounds"};
        return PMM_EMAP;
    }
    uint64_t meta = place(b, r, n, pages);
    if (meta == PMM_NONE)
        return PMM_ENOMEM;

    struct pmm *p = (struct pmm *)(uintptr_t)((meta << PMM_PAGE_SHIFT) + b->virt_offset);
    pmm_memset(p, 0, sizeof *p);
    pmm_memcpy(p, &t, sizeof t);
    p->magic = PMM_MAGIC;
    p->version = PMM_VERSION;
    p->size = sizeof *p;
    p->self_phys = meta << PMM_PAGE_SHIFT;
    p->meta_pages = pages;
    p->off = b->virt_offset;
    p->fw = b->fw;
    p->live = !b->fw.claim && !b->fw.release;
    pmm_relocate(p, p->self_phys);
    at_ptrs(p);

    pmm_memcpy(pmm_rtab(p), r, n * sizeof *r);
    p->nranges = n;

    /* Sections: the slots in order, and every table entry written once. */
    uint32_t *slots = pmm_slots(p), *sec = p->at.sectab;
    present_sections(r, n, slots);
    for (uint64_t k = 0, slot = 0; k < p->nsec; k++)
        sec[k] = slot < p->nslots && slots[slot] == k ? (uint32_t)slot++ : PMM_SEC_ABSENT;
    p->nruns = node_runs(b, r, n, pmm_runs(p), p->at.node, p->nblocks);
    node_tables(p, b);
    for (uint32_t i = 0; i < p->ncpus; i++)
        pmm_cnode(p)[i] = (uint16_t)(b->cpu_node ? b->cpu_node[i] : 0);

    /* Per block: no page owned, nothing free; the summaries and marks empty; the caches too. */
    pmm_memset(p->at.count, 0, p->nblocks * sizeof(uint16_t));
    pmm_memset(p->at.own, OWN_NONE, p->nblocks);
    for (int m = 0; m < 2; m++) {
        const struct pmm_sum *s = m ? &p->whole : &p->avail;
        for (uint32_t k = 0; k < s->nlevels; k++)
            pmm_memset(sum_words(p, s, k), 0, s->nwords[k] * 8);
    }
    pmm_memset(p->at.marks, 0, marks_words(p) * 8);
    pmm_memset(p->at.cache, 0, (uint64_t)p->ncpus * sizeof(struct pmm_cache));
    p->c_low = c_ceil(p, PMM_LOW_PFN);
    p->c_dma = c_ceil(p, PMM_DMA_PFN);
    p->c_high = c_ceil(p, PMM_HIGH_PFN);
    p->pfn_high = p->c_high < p->cspan ? PMM_HIGH_PFN : 0;
    uint64_t blow = blk_low(p);
    for (uint32_t i = 0; i < p->ncpus; i++) { /* spread out, so that CPUs start apart */
        p->at.cache[i].cursor = blow + (p->nblocks - blow) * i / p->ncpus;
        p->at.cache[i].node = p->nnodes > 1 ? pmm_cnode(p)[i] : PMM_NODE_ANY;
    }
    p->home.node = PMM_NODE_ANY;

    /*
     * Conventional memory becomes free and owned, but for page 0 (a null physical address means
     * failure) and the metadata run: each free range is cut around those two.
     */
    uint64_t cut[2][2] = {{0, 1}, {meta, meta + pages}};
    for (uint64_t i = 0; i < n; i++) {
        if (r[i].kind != PMM_KIND_FREE)
            continue;
        uint64_t cur = r[i].start, to = r[i].start + r[i].npages;
        for (int k = 0; k <= 2 && cur < to; k++) {
            uint64_t e = k < 2 && cut[k][0] < to ? cut[k][0] : to;
            for (uint64_t f = cur, c, len; e > cur && (len = c_seg(p, &f, e, &c));)
                build_free(p, c, c + len);
            if (k < 2 && cut[k][1] > cur)
                cur = cut[k][1];
        }
    }
    sum_rebuild(p, &p->avail);
    sum_rebuild(p, &p->whole);
    p->total = total;
    p->hint = PMM_NONE;
    p->cursor = p->c_high >> PMM_BLOCK_SHIFT < p->nblocks ? p->c_high >> PMM_BLOCK_SHIFT : blow;
    *out = p;
    return PMM_OK;
}
