/*
 * fuzz_adopt.c - pmm_adopt of a mutated header.
 *
 * Input: a few boot-phase allocations (so the counters, blocks and words vary), a few more after
 * reconcile on the allocator's own cache and a CPU's (given back before the hand-over, or not),
 * then up to 8 mutations of the header page (struct pmm) and the small tables adopt reads: a byte,
 * a 32-bit word, a 64-bit field nudged by a small delta or set to a value that matters (0, ~0,
 * span and its neighbours, the metadata run's bounds, 2^47 and 2^52 pages, 2^63, ...), or the
 * whole geometry rewritten self-consistently (tests/host/layout.h) for a hostile span (near 2^52
 * pages, past 2^47) or section count, or for a metadata run past span; then operations for an
 * adopted state.
 *
 * Properties:
 *  - a refused header leaves the metadata run byte for byte as it was;
 *  - for an accepted one, nothing the allocator does reads or writes outside its metadata run:
 *    every other page of the simulated RAM is PROT_NONE (from the build on, fz_machine), so a
 *    stray access is a SEGV. pmm_check runs on it; if it passes, allocations, frees and references
 * follow and pmm_check must still pass; if it fails (adoption does not read the bitmaps, pmm.h),
 * only the readers run (stats, summary, page states, range walks), which must stay inside too.
 */
#include <stddef.h>

#include "fuzz.h"
#include "layout.h"
#include "state.h"

#define NPAGES 4096ull /* the machine: 16 MiB */

/* Nothing but the metadata run is even read, from the build on (so adoption too finds the rest
 * of the RAM out of reach). */
static struct fz_machine machine = {.unreadable = 1};
static unsigned char before[1 << 18]; /* metadata: a 128 MiB section and the header */

static void readers(struct pmm *p)
{
    char line[256]; /* pmm_summary: pmm_stats and its line */
    pmm_summary(p, line, sizeof line);
    uint64_t n, start, len;
    pmm_ranges(p, &n);
    for (uint64_t pfn = 0; pfn < NPAGES + 64; pfn += 61)
        pmm_page_state(p, pfn);
    int steps = 0;
    for (uint64_t from = 0; steps < 64 && pmm_next_free_range(p, from, &start, &len); steps++)
        from = start + len;
    for (uint64_t from = 0; steps < 128 && pmm_next_alloc_range(p, from, &start, &len); steps++)
        from = start + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct sim *s = fz_machine(&machine, NPAGES * PG);
    sim_add(s, PMM_EFI_CONVENTIONAL, 0, 0x9f, 0xf);
    sim_add(s, PMM_EFI_RESERVED, 0x9f000, 0x61, 0);
    sim_add(s, PMM_EFI_CONVENTIONAL, MIB, 0x300, 0xf);
    sim_add(s, PMM_EFI_BOOT_DATA, 4 * MIB, 0x100, 0xf);
    sim_add(s, PMM_EFI_CONVENTIONAL, 5 * MIB, NPAGES - 0x500, 0xf);
    s->max_cpus = 2;
    struct pmm *p;
    int fresh; /* always the same map: built once, then copied back (fz_build) */
    FZ_ASSERT(fz_build(&machine, &p, &fresh) == PMM_OK, "build");
    uint64_t x;
    for (unsigned a = fz_u8(&in) % 16; a; a--) {
        uint8_t how = fz_u8(&in);
        if (how < 160)
            pmm_alloc(p, &x);
        else
            pmm_alloc_run(p, 1 + how % 32, PG << (how % 6), 0, &x);
    }
    FZ_ASSERT(sim_reconcile(s, p) == PMM_OK, "reconcile");
    free(s->scratch);
    s->scratch = 0;
    uint8_t after = fz_u8(&in); /* pages on the caches, given back or not */
    for (unsigned a = after % 8; a; a--) {
        if (pmm_alloc(p, &x) == PMM_OK && (after & 0x10))
            pmm_free(p, x);
        if (pmm_cpu_alloc(p, 1, &x) == PMM_OK && (after & 0x20))
            pmm_cpu_free(p, 0, x);
    }
    if (after & 0x40)
        pmm_drain(p, 0);
    uint64_t phys = pmm_state_phys(p), mpages = pmm_meta_pages(p), span = p->span;
    uint64_t off = (uint64_t)(uintptr_t)s->mem, mbytes = mpages * PG;
    FZ_ASSERT(mbytes <= sizeof before, "metadata of %llu bytes", (unsigned long long)mbytes);

    /* The mutations. */
    unsigned char *h = (unsigned char *)p;
    uint64_t top = PMM_MAX_SECTIONS << PMM_SEC_SHIFT;
    const uint64_t values[] = {0,
                               1,
                               ~0ull,
                               span,
                               span - 1,
                               span + 1,
                               phys,
                               phys + PG,
                               phys + mbytes,
                               phys + mbytes - 8,
                               phys - PG,
                               mpages,
                               mpages + 1,
                               1ull << 63,
                               top,
                               top + 1,
                               (1ull << 52) - 1,
                               256,
                               255,
                               PMM_LEVELS,
                               PMM_LEVELS + 1,
                               NPAGES << 12,
                               p->nblocks,
                               p->cspan};
    /* the small tables behind the header that adopt reads (sections, slots, runs, order, nodes,
     * caches), for byte mutations too */
    uint64_t tables = p->count_phys - phys;
    for (unsigned m = fz_u8(&in) % 9; m; m--) {
        uint64_t at = fz_u16(&in), v;
        uint8_t op = fz_u8(&in);
        at %= op & 0x80 ? tables : sizeof(struct pmm);
        switch (op % 5) {
        case 0:
            h[at] = fz_u8(&in);
            break;
        case 1:
            at &= ~7ull;
            memcpy(&v, h + at, 8);
            v += (uint64_t)(int64_t)(int8_t)fz_u8(&in);
            memcpy(h + at, &v, 8);
            break;
        case 2:
            at &= ~7ull;
            v = values[fz_u8(&in) % (sizeof values / sizeof values[0])];
            memcpy(h + at, &v, 8);
            break;
        case 3: {
            uint32_t w = fz_u32(&in);
            memcpy(h + (at & ~3ull), &w, 4);
            break;
        }
        default: { /* the whole geometry, consistent with itself */
            static const uint64_t spans[] = {(1ull << 52) - 1, (1ull << 52) + 12345, 1ull << 48,
                                             (PMM_MAX_SECTIONS << PMM_SEC_SHIFT) + 1, ~0ull};
            uint8_t g = fz_u8(&in);
            if (g & 1) { /* hostile: refused before anything is indexed */
                uint64_t sp = spans[(g >> 1) % 5];
                layout_rewrite(p, sp, g & 0x40 ? 1 : sp / PMM_SEC_PAGES + 1);
            } else { /* the real sections, but the run then sticks out past span */
                layout_rewrite(p, p->span, p->nslots + (g >> 1) % 4);
                p->span = p->span < meta_end(p) ? p->span : meta_end(p) - 1 - (g >> 3) % 8;
            }
            break;
        }
        }
    }

    /* Adopt, with every page but the metadata run out of reach (as it has been all along). */
    memcpy(before, h, mbytes);
    int err = 0;
    struct pmm_adopt_error why = {0, 0};
    struct pmm *k = pmm_adopt_why(phys, off, &err, &why);
    if (!k) {
        FZ_ASSERT(err == PMM_ESTATE && why.field && why.why, "refusal: err %d", err);
        if (getenv("FUZZ_VERBOSE")) /* to read a seed: what was refused */
            fprintf(stderr, "refused: %s: %s\n", why.field, why.why);
        FZ_ASSERT(memcmp(before, h, mbytes) == 0, "a refused adoption (%s: %s) wrote the state",
                  why.field, why.why);
        return 0;
    }
    FZ_ASSERT(k == p && err == PMM_OK, "adopt returned %p, err %d", (void *)k, err);
    struct pmm_check_fail f = {0, 0};
    if (pmm_check(k, &f)) {
        readers(k);
        return 0;
    }
    readers(k);
    for (unsigned op = 0; in.n && op < 64; op++) {
        uint8_t o = fz_u8(&in);
        uint64_t addr = (uint64_t)(fz_u16(&in) % (span + 8)) * PG;
        switch (o % 6) {
        case 0:
            if (pmm_alloc(k, &x) == PMM_OK)
                FZ_ASSERT(x / PG < span && pmm_page_state(k, x / PG) == PMM_PAGE_ALLOC,
                          "alloc gave %#llx", (unsigned long long)x);
            break;
        case 1:
            pmm_alloc_run(k, 1 + o % 40, PG << (o % 10), o & 0x40 ? 16 * MIB : 0, &x);
            break;
        case 2:
            pmm_free(k, addr);
            break;
        case 3:
            pmm_free_run(k, addr, 1 + o % 16);
            break;
        case 4:
            pmm_ref_inc(k, addr);
            break;
        default:
            pmm_ref_dec(k, addr);
            break;
        }
    }
    FZ_CHECK(k, "operations on an adopted state that passed pmm_check");
    return 0;
}
