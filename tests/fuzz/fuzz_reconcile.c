/*
 * fuzz_reconcile.c - pmm_reconcile against a mutated final map.
 *
 * Input: a flags byte (bit 0: PMM_HOLD_BOOT_MEMORY), up to 3 extra descriptors over a small PC's
 * map (as fuzz_ops), up to 31 boot-phase allocations (single pages and runs, some freed again),
 * then up to 7 mutations of the final map the simulated firmware reports at ExitBootServices:
 * retype, move, resize, add, delete a descriptor, set its runtime bit, cut the map short.
 *
 * Properties, against a per-page model of the mutated final map:
 *  - a map the contract rejects (a descriptor wrapping past 2^64, a size that is not a multiple
 *    of DescriptorSize) is refused with PMM_EMAP; a map that does not show every allocated or
 *    metadata page as usable is refused with PMM_ECONFLICT; anything else is accepted;
 *  - a refusal leaves every byte of the metadata run as it was;
 *  - after success pmm_check passes, every page allocated before is allocated with its count,
 *    usable pages nobody owned joined the pool, free pages the final map no longer shows as usable
 *    left it, and each page's state is the model's; held, boot-services and loader memory (free
 *    pool pages there too: 425cc76) stays withheld until pmm_release_boot, which frees it all.
 *    Nothing outside the metadata run is written.
 */
#include "fuzz.h"
#include "pool.h"

#define NPAGES 4096ull /* the machine: 16 MiB */

enum { M_HOLE, M_NEVER, M_WITHHELD, M_META, M_FREE, M_ALLOC };

static struct fz_machine machine;
static unsigned char st[NPAGES], fin[NPAGES], wst[NPAGES], edge[NPAGES];
static uint16_t cnt[NPAGES];
static unsigned char before[1 << 18];

/* Pages [64 w, 64 w + 64) as the allocator keeps them: owned, free, and their compact index. */
static uint64_t word_of(const struct pmm *p, uint64_t w, uint64_t *own, uint64_t *fr)
{
    uint64_t c = w * 64 < p->span ? cidx(p, w * 64) : PMM_NONE;
    *own = c == PMM_NONE ? 0 : own_view(p, c >> 6);
    *fr = c == PMM_NONE ? 0 : free_view(p, c >> 6);
    return c;
}

/* fin[]: the final map's kind per page by brute force (PMM_NKINDS: no descriptor). */
static int final_kinds(const unsigned char *map, uint64_t size, uint64_t dsize)
{
    memset(fin, PMM_NKINDS, sizeof fin);
    if (size % dsize)
        return -1;
    for (uint64_t off = 0; off < size; off += dsize) {
        struct pmm_efi_desc d;
        memcpy(&d, map + off, sizeof d);
        uint64_t lo, hi;
        int covers = fz_desc_pages(&d, &lo, &hi);
        if (covers < 0)
            return -1;
        unsigned k = fz_kind(d.type, d.attr);
        for (uint64_t pfn = lo; covers && pfn < hi && pfn < NPAGES; pfn++)
            if (fin[pfn] == PMM_NKINDS || k > fin[pfn])
                fin[pfn] = (unsigned char)k;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct sim *s = fz_machine(&machine, NPAGES * PG);
    int hold = fz_u8(&in) & 1;

    /* The machine and what the firmware says of it at build time. */
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, NPAGES - 256, 0xf);
    for (unsigned e = fz_u8(&in) % 4; e; e--) {
        uint32_t type = fz_u8(&in) % 16;
        uint64_t start = fz_u16(&in) % NPAGES, n = 1 + fz_u16(&in) % 512;
        n = n < NPAGES - start ? n : NPAGES - start;
        sim_add(s, type, start * PG, n, 0xf);
    }
    struct pmm *p;
    int fresh; /* the same build copied back was checked when it was made (fz_build) */
    int rc = fz_build(&machine, &p, &fresh);
    if (rc)
        return 0; /* the extra descriptors left no room for the metadata */
    uint64_t meta = pmm_state_phys(p) / PG, mpages = pmm_meta_pages(p), span = p->span;
    if (fresh)
        FZ_CHECK(p, "pmm_build");

    /* Boot-phase allocations through the claiming firmware; some given back. */
    for (unsigned a = fz_u8(&in) % 32; a; a--) {
        uint8_t how = fz_u8(&in);
        uint64_t x;
        if (how < 128 ? pmm_alloc(p, &x) : pmm_alloc_run(p, 1 + how % 64, PG << (how % 4), 0, &x))
            continue;
        if (how % 8 == 7)
            FZ_ASSERT(pmm_free_run(p, x, how < 128 ? 1 : 1 + how % 64) == PMM_OK,
                      "freeing a fresh allocation");
        else if (how % 8 == 6)
            FZ_ASSERT(pmm_ref_inc(p, x) == PMM_OK, "sharing a fresh allocation");
    }
    /* Each page's state and count before, read from the words (held pages: none yet). */
    for (uint64_t w = 0; w < NPAGES / 64; w++) {
        uint64_t own, fr, c = word_of(p, w, &own, &fr);
        for (unsigned b = 0; b < 64; b++) {
            uint64_t pfn = w * 64 + b;
            st[pfn] = pfn - meta < mpages ? M_META
                      : !(own >> b & 1)   ? M_WITHHELD /* refined from the final map below */
                      : fr >> b & 1       ? M_FREE
                                          : M_ALLOC;
            cnt[pfn] = st[pfn] == M_ALLOC ? (uint16_t)(p->at.refs[c + b] + 1) : 0;
        }
    }

    /* The final map, mutated. */
    size_t bytes;
    unsigned char *map = sim_final_map(s, &bytes);
    uint64_t dsize = s->desc_size;
    map = realloc(map, bytes + 8 * dsize);
    for (unsigned m = fz_u8(&in) % 8; m; m--) {
        uint8_t op = fz_u8(&in) % 7;
        uint64_t nd = bytes / dsize, i = nd ? fz_u8(&in) % nd : 0;
        struct pmm_efi_desc d;
        if (op == 3 || !nd) { /* add one */
            memset(&d, 0, sizeof d);
            d.type = fz_u8(&in) % 16;
            d.phys_start = (uint64_t)(fz_u16(&in) % NPAGES) * PG;
            d.npages = fz_u16(&in) % 1024;
            memset(map + bytes, 0x5a, dsize);
            memcpy(map + bytes, &d, sizeof d);
            bytes += dsize;
            continue;
        }
        memcpy(&d, map + i * dsize, sizeof d);
        switch (op) {
        case 0:
            d.type = fz_u8(&in) % 16;
            break;
        case 1:
            d.phys_start += (uint64_t)(int64_t)(int16_t)fz_u16(&in) * (fz_u8(&in) & 1 ? 1 : PG);
            break;
        case 2:
            d.npages = fz_u8(&in) & 1 ? fz_u64(&in) : (uint64_t)fz_u16(&in);
            break;
        case 4:
            memmove(map + i * dsize, map + (i + 1) * dsize, bytes - (i + 1) * dsize);
            bytes -= dsize;
            continue;
        case 5:
            d.attr |= PMM_EFI_ATTR_RUNTIME;
            break;
        default:
            bytes -= 1 + fz_u8(&in) % (dsize - 1);
            continue;
        }
        memcpy(map + i * dsize, &d, sizeof d);
    }

    if (getenv("FUZZ_VERBOSE")) /* to read a finding: the final map as mutated */
        for (uint64_t off = 0; off + sizeof(struct pmm_efi_desc) <= bytes; off += dsize) {
            struct pmm_efi_desc d;
            memcpy(&d, map + off, sizeof d);
            fprintf(stderr, "final[%llu]: type %u [%#llx +%#llx pages) attr %#llx\n",
                    (unsigned long long)(off / dsize), d.type, (unsigned long long)d.phys_start,
                    (unsigned long long)d.npages, (unsigned long long)d.attr);
        }

    /* What the contract says. */
    int want = PMM_OK;
    if (final_kinds(map, bytes, dsize))
        want = PMM_EMAP;
    for (uint64_t pfn = 0; !want && pfn < span; pfn++)
        if ((st[pfn] == M_ALLOC || st[pfn] == M_META) && fin[pfn] >= PMM_KIND_NEVER)
            want = PMM_ECONFLICT;

    uint64_t mbytes = mpages * PG;
    FZ_ASSERT(mbytes <= sizeof before, "metadata of %llu bytes", (unsigned long long)mbytes);
    memcpy(before, p, mbytes);
    struct pmm_map fm = {map, bytes, dsize};
    uint64_t ssize = pmm_map_scratch_size(&fm);
    void *scratch = malloc(ssize ? ssize : 1);
    struct pmm_map_error err = {0, 0};
    rc = pmm_reconcile(p, &fm, scratch, ssize, hold ? PMM_HOLD_BOOT_MEMORY : 0, &err);
    free(scratch);
    free(map);
    FZ_ASSERT(rc == want, "reconcile gave %d (%s), model %d", rc, err.why ? err.why : "", want);
    if (rc) {
        if (memcmp(before, p, mbytes)) {
            const unsigned char *now = (const unsigned char *)p;
            uint64_t k = 0;
            while (now[k] == before[k])
                k++;
            FZ_FAIL("a refused reconcile changed byte %#llx of the metadata",
                    (unsigned long long)k);
        }
        FZ_CHECK(p, "a refused reconcile");
        return 0;
    }

    if (getenv("FUZZ_VERBOSE")) {
        uint64_t nr;
        const struct pmm_range *r = pmm_ranges(p, &nr);
        for (uint64_t i = 0; i < nr; i++)
            fprintf(stderr, "range[%llu]: [%#llx +%#llx) kind %u type %u\n", (unsigned long long)i,
                    (unsigned long long)r[i].start, (unsigned long long)r[i].npages, r[i].kind,
                    r[i].type);
    }

    /*
     * Success: the pool as the final map says, allocated pages untouched. The owned and free
     * pages and the counts are compared a word of pages at a time; each page's state is asked of
     * pmm_page_state where the model's state or the allocator's answer may change (an owned page
     * once a word, the others where a range or the metadata run starts or ends): between two such
     * pages neither changes.
     */
    static const enum pmm_page_state as[] = {
        [M_HOLE] = PMM_PAGE_HOLE, [M_NEVER] = PMM_PAGE_NEVER, [M_WITHHELD] = PMM_PAGE_WITHHELD,
        [M_META] = PMM_PAGE_META, [M_FREE] = PMM_PAGE_FREE,   [M_ALLOC] = PMM_PAGE_ALLOC,
    };
    for (int release = 0; release < 2; release++) {
        const char *after = release ? "after release_boot" : "after reconcile";
        for (uint64_t pfn = 0; pfn < NPAGES; pfn++) {
            if (st[pfn] == M_META || st[pfn] == M_ALLOC)
                wst[pfn] = st[pfn];
            else if (fin[pfn] == PMM_NKINDS)
                wst[pfn] = M_HOLE;
            else if (fin[pfn] == PMM_KIND_NEVER)
                wst[pfn] = M_NEVER;
            else if (pfn == 0 || pfn >= span)
                wst[pfn] = M_WITHHELD;
            else if (hold && !release && fin[pfn] == PMM_KIND_BOOT)
                wst[pfn] = M_WITHHELD; /* free pool pages there too: the firmware may use them */
            else
                wst[pfn] = M_FREE;
        }
        for (uint64_t w = 0; w < NPAGES / 64; w++) {
            uint64_t own, fr, c = word_of(p, w, &own, &fr), wo = 0, wf = 0;
            for (unsigned b = 0; b < 64; b++) {
                wo |= (uint64_t)(wst[w * 64 + b] == M_FREE || wst[w * 64 + b] == M_ALLOC) << b;
                wf |= (uint64_t)(wst[w * 64 + b] == M_FREE) << b;
            }
            FZ_ASSERT(own == wo && fr == wf,
                      "%s: pages %#llx+64 owned %#llx free %#llx, model %#llx %#llx (span %#llx)",
                      after, (unsigned long long)(w * 64), (unsigned long long)own,
                      (unsigned long long)fr, (unsigned long long)wo, (unsigned long long)wf,
                      (unsigned long long)span);
            for (uint64_t x = own & ~fr; x; x &= x - 1) {
                uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(x);
                FZ_ASSERT(p->at.refs[c + pfn % 64] + 1u == cnt[pfn],
                          "page %#llx lost its count %u (now %u)", (unsigned long long)pfn,
                          cnt[pfn], p->at.refs[c + pfn % 64] + 1u);
            }
            if (own & ~fr) { /* and one count a word through the call */
                uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(own & ~fr);
                uint32_t n = 0;
                FZ_ASSERT(pmm_refcount(p, pfn * PG, &n) == PMM_OK && n == cnt[pfn],
                          "page %#llx lost its count %u (refcount %u)", (unsigned long long)pfn,
                          cnt[pfn], n);
            }
        }
        memset(edge, 0, sizeof edge);
        uint64_t nr;
        const struct pmm_range *r = pmm_ranges(p, &nr);
        for (uint64_t k = 0; k <= nr; k++) {
            uint64_t a = k < nr ? r[k].start : meta, e = k < nr ? a + r[k].npages : meta + mpages;
            uint64_t at[4] = {a - 1, a, e - 1, e};
            for (int j = 0; j < 4; j++)
                if (at[j] < NPAGES)
                    edge[at[j]] = 1;
        }
        for (uint64_t pfn = 0; pfn < NPAGES; pfn++) {
            if (pfn % 64 && !edge[pfn] && wst[pfn] == wst[pfn - 1] &&
                (pfn + 1 == NPAGES || wst[pfn + 1] == wst[pfn]))
                continue;
            enum pmm_page_state ps = pmm_page_state(p, pfn);
            FZ_ASSERT(ps == as[wst[pfn]],
                      "%s: page %#llx is %d, model %d (final kind %u, before %u, span %#llx)",
                      after, (unsigned long long)pfn, (int)ps, (int)as[wst[pfn]], fin[pfn], st[pfn],
                      (unsigned long long)span);
        }
        FZ_CHECK(p, release ? "pmm_release_boot" : "pmm_reconcile");
        if (!hold)
            break;
        FZ_ASSERT(pmm_release_boot(p, 0) == PMM_OK, "release_boot after reconcile");
    }
    return 0;
}
