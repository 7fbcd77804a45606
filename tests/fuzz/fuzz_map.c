/*
 * fuzz_map.c - memory map intake from raw descriptor bytes, then a build over the result.
 *
 * Input: byte 0 is the DescriptorSize (any value, below 40 and odd included); byte 1 holds flags
 * (bit 0: keep a map size that is not a multiple of DescriptorSize; bits 1-7: extra_descriptors);
 * the rest is the map, read exactly as a firmware's buffer.
 *
 * Properties:
 *  - pmm_map_ranges refuses exactly what the contract in pmm.h names (DescriptorSize below 40, a
 *    size that is not a multiple of it, a descriptor wrapping past 2^64, naming the first one) and
 *    otherwise returns what a brute-force model computes: every boundary cut into elementary
 *    intervals, each taking the most restrictive class covering it, neighbours of one class merged;
 *    with a table one entry too small it refuses with PMM_ERANGE;
 *  - when the usable memory fits the simulated 16 MiB machine, pmm_build succeeds or refuses with
 *    the reason the model predicts, and a built state passes pmm_check, places its metadata in
 *    conventional memory at or above 1 MiB, counts the model's usable pages, classifies every page
 *    as the model does, and hands out exactly the model's free pages (drained page by page), while
 *    writing nothing outside its metadata run.
 */
#include "fuzz.h"

#define SIM_BYTES (16 * MIB)
#define SIM_PAGES (SIM_BYTES / PG)
#define MAX_DESC  512

struct iv {
    uint64_t lo, hi; /* pages */
    unsigned kind, type;
};

static struct iv ivs[MAX_DESC];
static uint64_t cuts[2 * MAX_DESC];
static struct pmm_range model[2 * MAX_DESC + 1];

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Class order: kind first, then the type (OEM and OS types above all defined ones). */
static int wins(const struct iv *a, unsigned kind, unsigned type)
{
    return a->kind != kind ? a->kind > kind : a->type > type;
}

/* The ranges the contract asks for, by brute force over elementary intervals. */
static uint64_t model_ranges(uint64_t nv)
{
    uint64_t nc = 0, nm = 0;
    for (uint64_t i = 0; i < nv; i++) {
        cuts[nc++] = ivs[i].lo;
        cuts[nc++] = ivs[i].hi;
    }
    qsort(cuts, nc, sizeof *cuts, cmp_u64);
    for (uint64_t c = 0; c + 1 < nc; c++) {
        uint64_t a = cuts[c], b = cuts[c + 1];
        if (a == b)
            continue;
        int have = 0;
        unsigned kind = 0, type = 0;
        for (uint64_t i = 0; i < nv; i++) {
            if (ivs[i].lo <= a && b <= ivs[i].hi && (!have || wins(&ivs[i], kind, type))) {
                have = 1;
                kind = ivs[i].kind;
                type = ivs[i].type;
            }
        }
        if (!have)
            continue;
        struct pmm_range *last = nm ? &model[nm - 1] : 0;
        if (last && last->start + last->npages == a && last->kind == kind && last->type == type)
            last->npages += b - a;
        else
            model[nm++] = (struct pmm_range){a, b - a, kind, type};
    }
    return nm;
}

/* What the model says of one page: the range holding it, or NULL for a hole. */
static const struct pmm_range *model_at(uint64_t nm, uint64_t pfn)
{
    for (uint64_t i = 0; i < nm; i++)
        if (pfn >= model[i].start && pfn - model[i].start < model[i].npages)
            return &model[i];
    return 0;
}

static struct sim *machine;

static void build_and_drain(const struct pmm_map *map, uint64_t extra, uint64_t nm)
{
    uint64_t span = 0, usable = 0, conv = 0;
    for (uint64_t i = 0; i < nm; i++) {
        if (model[i].kind == PMM_KIND_NEVER)
            continue;
        span = model[i].start + model[i].npages;
        usable += model[i].npages;
        if (model[i].kind == PMM_KIND_FREE)
            conv += model[i].npages;
    }
    if (span > SIM_PAGES)
        return; /* the usable memory does not fit the simulated machine */

    struct sim *s = fz_sim(&machine, SIM_BYTES);
    struct pmm_build b = {0};
    b.map = *map;
    b.scratch_size = pmm_map_scratch_size(map);
    b.scratch = malloc(b.scratch_size ? b.scratch_size : 1);
    b.virt_offset = (uint64_t)(uintptr_t)s->mem;
    b.extra_descriptors = extra;
    struct pmm *p = 0;
    struct pmm_map_error err = {0, 0};
    int rc = pmm_build(&b, &p, &err);
    free(b.scratch);
    if (!conv) {
        FZ_ASSERT(rc == PMM_EMAP, "build without conventional memory gave %d", rc);
        return;
    }
    if (rc == PMM_ENOMEM)
        return; /* no conventional range at or above 1 MiB holds the metadata */
    FZ_ASSERT(rc == PMM_OK, "build refused a valid map: %d (%s)", rc, err.why ? err.why : "");

    uint64_t meta = pmm_state_phys(p) / PG, mpages = pmm_meta_pages(p);
    FZ_ASSERT(meta >= 256 && mpages && meta + mpages <= span, "metadata at %#llx, %llu pages",
              (unsigned long long)meta, (unsigned long long)mpages);
    for (uint64_t pfn = meta; pfn < meta + mpages; pfn++) {
        const struct pmm_range *r = model_at(nm, pfn);
        FZ_ASSERT(r && r->kind == PMM_KIND_FREE, "metadata page %#llx is not conventional",
                  (unsigned long long)pfn);
    }
    fz_guard(s, meta * PG, mpages);
    FZ_CHECK(p, "pmm_build");

    struct pmm_stats st;
    pmm_stats(p, &st);
    FZ_ASSERT(st.total == usable, "total %llu, model %llu", (unsigned long long)st.total,
              (unsigned long long)usable);
    FZ_ASSERT(st.alloc == 0 && st.meta == mpages, "alloc %llu meta %llu",
              (unsigned long long)st.alloc, (unsigned long long)st.meta);

    /* Every page classified as the model says; the pool is conventional memory minus page 0. */
    uint64_t want_free = 0, want_high = 0;
    for (uint64_t pfn = 0; pfn < span + 64; pfn++) {
        const struct pmm_range *r = model_at(nm, pfn);
        enum pmm_page_state want;
        if (pfn >= meta && pfn < meta + mpages)
            want = PMM_PAGE_META;
        else if (!r)
            want = PMM_PAGE_HOLE;
        else if (r->kind == PMM_KIND_NEVER)
            want = PMM_PAGE_NEVER;
        else if (r->kind == PMM_KIND_BOOT || pfn == 0)
            want = PMM_PAGE_WITHHELD;
        else
            want = PMM_PAGE_FREE;
        FZ_ASSERT(pmm_page_state(p, pfn) == want, "page %#llx is %d, model %d",
                  (unsigned long long)pfn, (int)pmm_page_state(p, pfn), (int)want);
        want_free += want == PMM_PAGE_FREE;
        want_high += want == PMM_PAGE_FREE && pfn >= 256;
    }
    FZ_ASSERT(st.free == want_free, "free %llu, model %llu", (unsigned long long)st.free,
              (unsigned long long)want_free);

    /* Single pages come from the pool at or above 1 MiB, each once, until none is left. */
    uint64_t got = 0, x;
    while ((rc = pmm_alloc(p, &x)) == PMM_OK) {
        uint64_t pfn = x / PG;
        FZ_ASSERT(x % PG == 0 && pfn >= 256 && pmm_page_state(p, pfn) == PMM_PAGE_ALLOC,
                  "alloc gave %#llx", (unsigned long long)x);
        const struct pmm_range *r = model_at(nm, pfn);
        FZ_ASSERT(r && r->kind == PMM_KIND_FREE && (pfn < meta || pfn >= meta + mpages),
                  "alloc gave %#llx outside the pool", (unsigned long long)x);
        FZ_ASSERT(++got <= want_high, "more pages than the pool holds");
    }
    FZ_ASSERT(rc == PMM_ENOMEM && got == want_high, "drained %llu of %llu (rc %d)",
              (unsigned long long)got, (unsigned long long)want_high, rc);
    FZ_CHECK(p, "draining with pmm_alloc");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint64_t dsize = data[0];
    unsigned flags = data[1];
    uint64_t bytes = size - 2;
    if (!(flags & 1) && dsize)
        bytes -= bytes % dsize;
    /* An exact copy, so reading past the map's end is a heap overflow ASan reports. */
    unsigned char *buf = malloc(bytes ? bytes : 1);
    memcpy(buf, data + 2, bytes);
    struct pmm_map map = {buf, bytes, dsize};

    /* What the contract says the answer is. */
    const char *refuse = 0;
    int64_t refuse_at = -1;
    uint64_t ndesc = dsize ? bytes / dsize : 0, nv = 0;
    if (dsize < 40)
        refuse = "DescriptorSize below 40";
    else if (bytes % dsize)
        refuse = "map size not a multiple of DescriptorSize";
    else if (ndesc > MAX_DESC)
        goto out; /* larger than the model's tables (the input is capped well below this) */
    for (uint64_t i = 0; !refuse && i < ndesc; i++) {
        struct pmm_efi_desc d;
        memcpy(&d, buf + i * dsize, sizeof d);
        uint64_t lo, hi;
        int covers = fz_desc_pages(&d, &lo, &hi);
        if (covers < 0) {
            refuse = "descriptor wraps past 2^64";
            refuse_at = (int64_t)i;
            break;
        }
        if (!covers)
            continue;
        unsigned kind = fz_kind(d.type, d.attr);
        ivs[nv++] = (struct iv){lo, hi, kind, d.type < PMM_EFI_NTYPES ? d.type : PMM_EFI_NTYPES};
    }

    uint64_t ssize = pmm_map_scratch_size(&map), cap = 2 * ndesc + 1, n = ~0ull;
    void *scratch = malloc(ssize ? ssize : 1);
    struct pmm_range *out = malloc(cap * sizeof *out);
    struct pmm_map_error err = {0, 0};
    int rc = pmm_map_ranges(&map, scratch, ssize, out, cap, &n, &err);
    if (refuse) {
        FZ_ASSERT(rc == PMM_EMAP && err.index == refuse_at && err.why,
                  "%s: rc %d, index %lld (want %lld)", refuse, rc, (long long)err.index,
                  (long long)refuse_at);
    } else {
        FZ_ASSERT(rc == PMM_OK, "valid map refused: %d (%s)", rc, err.why ? err.why : "");
        uint64_t nm = model_ranges(nv);
        FZ_ASSERT(n == nm, "%llu ranges, model %llu", (unsigned long long)n,
                  (unsigned long long)nm);
        for (uint64_t i = 0; i < n; i++)
            FZ_ASSERT(out[i].start == model[i].start && out[i].npages == model[i].npages &&
                          out[i].kind == model[i].kind && out[i].type == model[i].type,
                      "range %llu: [%#llx +%#llx) kind %u type %u, model [%#llx +%#llx) %u %u",
                      (unsigned long long)i, (unsigned long long)out[i].start,
                      (unsigned long long)out[i].npages, out[i].kind, out[i].type,
                      (unsigned long long)model[i].start, (unsigned long long)model[i].npages,
                      model[i].kind, model[i].type);
        if (n) {
            uint64_t n2 = 0;
            rc = pmm_map_ranges(&map, scratch, ssize, out, n - 1, &n2, &err);
            FZ_ASSERT(rc == PMM_ERANGE, "table of %llu for %llu ranges gave %d",
                      (unsigned long long)(n - 1), (unsigned long long)n, rc);
        }
        build_and_drain(&map, flags >> 1, nm);
    }
    free(scratch);
    free(out);
out:
    free(buf);
    return 0;
}
