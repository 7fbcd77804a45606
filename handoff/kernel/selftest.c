/*
 * selftest.c - the kernel exercises the allocator it adopted, and proves nothing leaked: the free
 * count after the test equals the count before, and pmm_check passes.
 *
 * Every page it gets is filled with a pattern derived from its address and checked later, so two
 * hand-outs of one page show up as a pattern mismatch; and every page is checked against the
 * ranges it must never overlap: never-usable memory in the final map, the kernel image, the
 * handoff block, the memory map buffer and the allocator's metadata. Its figures are judged
 * against the map the loader handed over, not only against the allocator's own statistics.
 */
#include "kernel.h"

#define PG      4096ull
#define MIB     (1ull << 20)
#define NSINGLE 2048
#define MAXRUNS 8

static struct pmm *pm;
static uint64_t meta_phys, meta_pages; /* read once: pmm_stats scans the whole bitmap */
static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            kprintf("kernel: selftest: FAILED %s:%d: ", __FILE__, __LINE__);                       \
            kprintf(__VA_ARGS__);                                                                  \
            kprintf("\n");                                                                         \
        }                                                                                          \
    } while (0)

static uint64_t *va(uint64_t phys)
{
    return (uint64_t *)(uintptr_t)(phys + HHDM);
}

static int hits(uint64_t a, uint64_t n, uint64_t b, uint64_t bn)
{
    return a < b + bn * PG && b < a + n * PG;
}

/* Does [phys, + n pages) touch anything the allocator must never hand out? */
static const char *forbidden(uint64_t phys, uint64_t n)
{
    if (hits(phys, n, meta_phys, meta_pages))
        return "allocator metadata";
    if (hits(phys, n, boot.kernel_phys, boot.kernel_pages))
        return "kernel image";
    const struct pmm_response *r = boot.pmm;
    for (uint64_t i = 0; i < r->handed_count; i++)
        if (hits(phys, n, r->handed[i].phys, r->handed[i].pages))
            return "a run the loader handed over";
    for (uint64_t i = 0; i < boot.memmap_count; i++) {
        const struct limine_memmap_entry *e = boot.memmap[i];
        if (e->type != LIMINE_MEMMAP_USABLE && e->type != LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE &&
            e->type != LIMINE_MEMMAP_EXECUTABLE_AND_MODULES &&
            hits(phys, n, e->base & ~(PG - 1), (e->length + (e->base & (PG - 1)) + PG - 1) / PG))
            return "memory the memory map does not call RAM";
    }
    return 0;
}

static void fill(uint64_t phys, uint64_t n)
{
    for (uint64_t p = phys; p < phys + n * PG; p += PG) {
        uint64_t *w = va(p);
        for (int i = 0; i < 512; i++)
            w[i] = p ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
    }
}

static int intact(uint64_t phys, uint64_t n)
{
    for (uint64_t p = phys; p < phys + n * PG; p += PG) {
        const uint64_t *w = va(p);
        for (int i = 0; i < 512; i++)
            if (w[i] != (p ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull)))
                return 0;
    }
    return 1;
}

static void got(uint64_t phys, uint64_t n, const char *what)
{
    const char *bad = forbidden(phys, n);
    EXPECT(!bad, "%s at 0x%lx (%lu pages) overlaps %s", what, phys, n, bad ? bad : "");
    fill(phys, n);
}

static uint64_t singles[NSINGLE];

static void single_pages(void)
{
    uint64_t n = 0;
    for (; n < NSINGLE; n++) {
        int rc = pmm_alloc(pm, &singles[n]);
        EXPECT(rc == 0, "single page %lu: %s", n, pmm_strerror(rc));
        if (rc)
            break;
        EXPECT(singles[n] >= MIB, "single page 0x%lx below 1 MiB", singles[n]);
        got(singles[n], 1, "single page");
    }
    for (uint64_t i = 0; i < n; i++)
        EXPECT(intact(singles[i], 1), "page 0x%lx was handed out twice", singles[i]);
    /* free in a scrambled order: stride coprime with NSINGLE */
    for (uint64_t i = 0, j = 0; i < n; i++, j = (j + 797) % n)
        EXPECT(pmm_free(pm, singles[j]) == 0, "free of 0x%lx", singles[j]);
    kprintf("kernel: selftest: %lu single pages allocated, written, checked, freed\n", n);
}

struct run {
    uint64_t n, align, limit, phys;
};

static void runs(void)
{
    struct run r[MAXRUNS] = {
        {512, 2 * MIB, 0, 0},  {512, 2 * MIB, 0, 0}, {17, 64 * 1024, 0, 0}, {64, PG, 4ull << 30, 0},
        {16, PG, 16 * MIB, 0}, {1, PG, MIB, 0},      {300, 32 * PG, 0, 0},  {1024, 4 * MIB, 0, 0},
    };
    for (int i = 0; i < MAXRUNS; i++) {
        int rc = pmm_alloc_run(pm, r[i].n, r[i].align, r[i].limit, &r[i].phys);
        EXPECT(rc == 0, "run of %lu pages aligned 0x%lx below 0x%lx: %s", r[i].n, r[i].align,
               r[i].limit, pmm_strerror(rc));
        if (rc) {
            r[i].n = 0;
            continue;
        }
        EXPECT(r[i].phys % r[i].align == 0, "run 0x%lx not aligned to 0x%lx", r[i].phys,
               r[i].align);
        EXPECT(!r[i].limit || r[i].phys + r[i].n * PG <= r[i].limit, "run 0x%lx above 0x%lx",
               r[i].phys, r[i].limit);
        EXPECT(r[i].phys >= PG, "run at page 0");
        got(r[i].phys, r[i].n, "run");
    }
    for (int i = 0; i < MAXRUNS; i++) {
        if (!r[i].n)
            continue;
        EXPECT(intact(r[i].phys, r[i].n), "run at 0x%lx overwritten", r[i].phys);
        EXPECT(pmm_free_run(pm, r[i].phys, r[i].n) == 0, "free of run 0x%lx", r[i].phys);
    }
    kprintf("kernel: selftest: %d runs (2 MiB aligned, below 4 GiB, 16 MiB, 1 MiB) ok\n", MAXRUNS);
}

/*
 * Runs of whole 2 MiB blocks with a partial tail, where the tail is what decides: take a 4 MiB
 * run R, give it back but for the page right after its first block (X), then ask for runs that
 * would cover X if the search skipped the tail check. First-fit meets R's block first. X must
 * keep its pattern and no run may contain it.
 */
static void runs_with_tails(void)
{
    uint64_t R, X, n[3] = {513, 512 + 63, 512 + 511}, got_at[3];
    int rc = pmm_alloc_run(pm, 1024, 2 * MIB, 0, &R);
    EXPECT(rc == 0, "4 MiB run for the tail test: %s", pmm_strerror(rc));
    if (rc)
        return;
    got(R, 1024, "4 MiB run");
    X = R + 512 * PG;
    EXPECT(pmm_free_run(pm, R, 512) == 0, "free of the first block of 0x%lx", R);
    EXPECT(pmm_free_run(pm, X + PG, 511) == 0, "free of the rest of 0x%lx", R);
    for (int i = 0; i < 3; i++) {
        rc = pmm_alloc_run(pm, n[i], 2 * MIB, 0, &got_at[i]);
        EXPECT(rc == 0, "run of %lu pages, 2 MiB aligned: %s", n[i], pmm_strerror(rc));
        if (rc) {
            n[i] = 0;
            continue;
        }
        EXPECT(!hits(got_at[i], n[i], X, 1), "run 0x%lx (%lu pages) covers allocated page 0x%lx",
               got_at[i], n[i], X);
        got(got_at[i], n[i], "run with a tail");
    }
    EXPECT(intact(X, 1), "page 0x%lx was handed out again inside a run", X);
    for (int i = 0; i < 3; i++)
        if (n[i])
            EXPECT(intact(got_at[i], n[i]) && pmm_free_run(pm, got_at[i], n[i]) == 0,
                   "run 0x%lx overwritten or not freed", got_at[i]);
    EXPECT(pmm_free(pm, X) == 0, "free of 0x%lx", X);
    kprintf("kernel: selftest: 2 MiB-aligned runs with tails of 1, 63 and 511 pages ok\n");
}

/* A reference count driven to its limit: the next ref_inc is refused and changes nothing. */
static void refcount_limit(void)
{
    uint64_t p;
    uint32_t c = 0;
    EXPECT(pmm_alloc(pm, &p) == 0, "alloc for the refcount limit");
    uint32_t n = 1;
    while (n < PMM_REF_MAX && pmm_ref_inc(pm, p) == 0)
        n++;
    EXPECT(n == PMM_REF_MAX, "ref_inc refused at count %u, below the limit %u", n, PMM_REF_MAX);
    EXPECT(pmm_ref_inc(pm, p) == PMM_EOVERFLOW, "ref_inc past %u must be refused", PMM_REF_MAX);
    EXPECT(pmm_refcount(pm, p, &c) == 0 && c == PMM_REF_MAX, "count %u after a refused ref_inc", c);
    EXPECT(pmm_free(pm, p) == PMM_ESHARED, "free of a page with %u references", c);
    while (n > 0 && pmm_ref_dec(pm, p) == 0)
        n--;
    EXPECT(n == 0 && pmm_refcount(pm, p, &c) == PMM_EDOUBLE, "page not freed by its last ref_dec");
    kprintf("kernel: selftest: reference count to %u, one more refused, back to free ok\n",
            PMM_REF_MAX);
}

/*
 * Judged against the map the loader handed over, not the allocator's own figures: the metadata
 * lies in loader data, every boot-services and loader page joined the pool (unless held), and
 * the pool plus metadata plus page 0 is exactly the map's usable memory.
 */
static void against_the_map(void)
{
    const struct limine_efi_memmap_response *em = boot.efi_memmap;
    EXPECT(em != 0, "the loader answered no EFI memory map request");
    if (!em)
        return;
    const unsigned char *m = (const unsigned char *)em->memmap;
    uint64_t usable = 0, meta_in_loader = 0, boot = 0, boot_in_pool = 0, page0 = 0;
    struct pmm_stats st;
    pmm_stats(pm, &st);
    for (uint64_t off = 0; off + em->desc_size <= em->memmap_size; off += em->desc_size) {
        const struct pmm_efi_desc *d = (const struct pmm_efi_desc *)(m + off);
        /* in Linux's numeric efi=debug form, for the boot test's own reader of the map */
        kprintf("kernel: map: mem%02lu: type=%u, attr=0x%lx, range=[0x%016lx-0x%016lx) (%luMB)\n",
                off / em->desc_size, d->type, d->attr, d->phys_start,
                (uint64_t)(d->phys_start + d->npages * PG), d->npages >> 8);
        enum pmm_kind k = pmm_classify(d->type, d->attr);
        if (k == PMM_KIND_NEVER)
            continue;
        uint64_t s = (d->phys_start + PG - 1) / PG, e = d->phys_start / PG + d->npages;
        if (e <= s)
            continue;
        usable += e - s;
        page0 += s == 0;
        if (d->type == PMM_EFI_LOADER_DATA)
            for (uint64_t i = meta_phys / PG; i < meta_phys / PG + meta_pages; i++)
                meta_in_loader += i >= s && i < e;
        if (k != PMM_KIND_BOOT)
            continue;
        for (uint64_t pfn = s ? s : 1; pfn < e; pfn++) {
            enum pmm_page_state ps = pmm_page_state(pm, pfn);
            boot++;
            boot_in_pool += ps == PMM_PAGE_FREE || ps == PMM_PAGE_ALLOC || ps == PMM_PAGE_META;
        }
    }
    EXPECT(meta_in_loader == meta_pages, "%lu of %lu metadata pages lie in loader data",
           meta_in_loader, meta_pages);
    EXPECT(pmm_state_phys(pm) == meta_phys, "state at 0x%lx, metadata run at 0x%lx",
           pmm_state_phys(pm), meta_phys);
    if (!st.boot_held)
        EXPECT(boot_in_pool == boot, "%lu of %lu boot-services and loader pages joined the pool",
               boot_in_pool, boot);
    uint64_t held = st.boot_held ? boot - boot_in_pool : 0;
    EXPECT(st.free + st.alloc + meta_pages + page0 + held == usable,
           "free %lu + allocated %lu + metadata %lu + page 0 (%lu) + held %lu != %lu usable pages "
           "in the map",
           st.free, st.alloc, meta_pages, page0, held, usable);
    kprintf("kernel: selftest: map: %lu usable pages = free %lu + allocated %lu + metadata %lu + "
            "page 0 (%lu) + held %lu; %lu boot-services and loader pages in the pool\n",
            usable, st.free, st.alloc, meta_pages, page0, held, boot_in_pool);
}

static void sharing(void)
{
    uint64_t p;
    uint32_t c;
    EXPECT(pmm_alloc(pm, &p) == 0, "alloc for sharing");
    EXPECT(pmm_ref_inc(pm, p) == 0, "ref_inc");
    EXPECT(pmm_refcount(pm, p, &c) == 0 && c == 2, "count after ref_inc is %u", c);
    EXPECT(pmm_free(pm, p) == PMM_ESHARED, "free of a shared page must be refused");
    EXPECT(pmm_ref_dec(pm, p) == 0, "ref_dec");
    EXPECT(pmm_ref_dec(pm, p) == 0, "last ref_dec");
    EXPECT(pmm_refcount(pm, p, &c) == PMM_EDOUBLE, "page not freed by its last ref_dec");
    kprintf("kernel: selftest: shared page through ref_inc/ref_dec ok\n");
}

static void bad_calls(void)
{
    char before[200], after[200];
    uint64_t p;
    EXPECT(pmm_alloc(pm, &p) == 0, "alloc for double free");
    EXPECT(pmm_free(pm, p) == 0, "first free");
    pmm_summary(pm, before, sizeof before);
    EXPECT(pmm_free(pm, p) == PMM_EDOUBLE, "double free must be refused");
    EXPECT(pmm_free(pm, meta_phys) == PMM_ENOTOWNED, "free of metadata must be refused");
    EXPECT(pmm_free(pm, boot.kernel_phys + 1) == PMM_EINVAL, "unaligned free must be refused");
    EXPECT(pmm_free_run(pm, p, 0) == PMM_EINVAL, "zero-page free must be refused");
    for (uint64_t i = 0; i < boot.memmap_count; i++) {
        const struct limine_memmap_entry *e = boot.memmap[i];
        if (e->type == LIMINE_MEMMAP_RESERVED && e->length >= PG && !(e->base & (PG - 1))) {
            int rc = pmm_free(pm, e->base);
            EXPECT(rc == PMM_ENOTOWNED, "free of reserved 0x%lx gave %s", e->base,
                   pmm_strerror(rc));
            break;
        }
    }
    pmm_summary(pm, after, sizeof after);
    const char *a = before, *b = after;
    while (*a && *a == *b)
        a++, b++;
    EXPECT(*a == *b, "a refused call changed the allocator");
    kprintf("kernel: selftest: double free, metadata, reserved, unaligned frees refused; "
            "nothing changed\n");
}

/*
 * At entry, before any allocation: the Limine memory map's usable entries are exactly the
 * allocator's free pages (what a kernel that ignores the live allocator would use), a range at a
 * time from both sides.
 */
int selftest_entry(struct pmm *p)
{
    pm = p;
    uint64_t start, n, pfn = 0, i = 0, usable = 0, runs = 0;
    while (pmm_next_free_range(pm, pfn, &start, &n)) {
        uint64_t lo = start, hi = start + n; /* maximal: the allocator's runs may touch */
        for (pfn = hi; pmm_next_free_range(pm, pfn, &start, &n) && start == hi; pfn = start + n)
            hi = start + n;
        while (i < boot.memmap_count && boot.memmap[i]->type != LIMINE_MEMMAP_USABLE)
            i++;
        EXPECT(i < boot.memmap_count, "free pages at 0x%lx that no usable entry lists", lo * PG);
        if (i == boot.memmap_count)
            break;
        const struct limine_memmap_entry *e = boot.memmap[i++];
        EXPECT(e->base == lo * PG && e->length == (hi - lo) * PG,
               "usable entry [0x%lx, +0x%lx) but free pages [0x%lx, 0x%lx)", e->base, e->length,
               lo * PG, hi * PG);
        usable += hi - lo;
        runs++;
        pfn = hi;
    }
    for (; i < boot.memmap_count; i++)
        EXPECT(boot.memmap[i]->type != LIMINE_MEMMAP_USABLE,
               "usable entry at 0x%lx holds no free page", boot.memmap[i]->base);
    struct pmm_stats st;
    pmm_stats(pm, &st);
    EXPECT(usable == st.free, "usable %lu pages, the allocator has %lu free", usable, st.free);
    kprintf("kernel: selftest: memory map: %lu usable pages in %lu entries = the allocator's %lu "
            "free pages\n",
            usable, runs, st.free);
    return failures;
}

int selftest(struct pmm *p)
{
    pm = p;
    struct pmm_stats s0, s1;
    pmm_stats(pm, &s0);
    meta_phys = s0.meta_phys;
    meta_pages = s0.meta;
    against_the_map();
    single_pages();
    runs();
    runs_with_tails();
    refcount_limit();
    sharing();
    bad_calls();
    pmm_stats(pm, &s1);
    EXPECT(s1.free == s0.free, "pages lost: %lu free before, %lu after", s0.free, s1.free);
    struct pmm_check_fail f = {0, 0};
    int rc = pmm_check(pm, &f);
    EXPECT(rc == 0, "pmm_check: %s at 0x%lx", f.what ? f.what : "", f.pfn);
    kprintf("kernel: selftest: free pages before %lu, after %lu; pmm_check %s\n", s0.free, s1.free,
            rc ? "FAILED" : "ok");
    return failures;
}
