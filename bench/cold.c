/*
 * cold.c - building on memory nobody has touched yet, 1 TiB of RAM (machine(1 TiB)).
 *
 *  build_cold_1t            ms to make the allocator usable: ours pmm_build + pmm_reconcile
 *                           (no firmware hooks), the buddy's buddy_init_spans and llfree's
 *                           llf_init, each given ours' free pages after that build.
 *  resident_after_build_1t  bytes the process gained in resident memory across that same timed
 *                           call (/proc/self/statm, resident field, before and after), per GiB
 *                           of usable RAM: every page the build touched, read or written,
 *                           wherever it is. For ours also the pages of the metadata run that
 *                           mincore() shows resident afterwards (the same count unless the build
 *                           touches memory outside its run).
 *  metadata_1t              metadata each keeps, per GiB of RAM (address space, touched or not).
 *
 * Every repetition gives each allocator fresh memory: ours a new simulated machine (sim_new:
 * a new memfd, so every page faults in zeroed on its first touch, as the first touch of RAM
 * after power-on costs what it costs), the baselines a region of the same kind (a new
 * simulated machine used as plain memory for their metadata). Nothing is prefaulted; the maps
 * and scratch buffers are prepared before the clock starts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"

#define COLD_CORES 2 /* llfree's per-core words: this machine's cores */

/* One timed call on fresh memory: ms, and resident bytes gained. */
struct cold {
    double ms, resident;
};

static struct cold ours(uint64_t ram, struct span **sp, size_t *nsp, uint64_t *total,
                        double *meta_resident, uint64_t *meta_bytes)
{
    struct sim *s = machine(ram);
    struct pmm_build b = {0};
    b.map = sim_map(s);
    b.scratch_size = pmm_map_scratch_size(&b.map);
    b.scratch = malloc(b.scratch_size);
    b.virt_offset = (uint64_t)(uintptr_t)s->mem;
    b.extra_descriptors = 64;
    /* Without firmware hooks nothing is claimed, so the map at "ExitBootServices" is the same. */
    struct pmm_map fin = sim_map(s);
    uint64_t fsize = pmm_map_scratch_size(&fin);
    void *fscratch = malloc(fsize);
    struct pmm *p;
    struct pmm_map_error err;

    uint64_t r0 = resident_bytes();
    double t0 = now_ns();
    if (pmm_build(&b, &p, &err) || pmm_reconcile(p, &fin, fscratch, fsize, 0, &err))
        die("cold: build failed");
    double t1 = now_ns();
    uint64_t r1 = resident_bytes();

    struct pmm_stats st;
    pmm_stats(p, &st);
    *total = st.total;
    *meta_bytes = st.meta * PG;
    unsigned char *vec = malloc(st.meta);
    uint64_t n = 0;
    mincore(s->mem + st.meta_phys, st.meta * PG, vec);
    for (uint64_t i = 0; i < st.meta; i++)
        n += vec[i] & 1;
    *meta_resident = (double)(n * PG);
    *sp = free_spans(p, nsp);
    free(vec);
    free(b.scratch);
    free(fscratch);
    sim_free(s);
    return (struct cold){(t1 - t0) / 1e6, (double)(r1 - r0)};
}

enum peer { BUDDY, LLFREE };

static struct cold peer(enum peer which, uint64_t npages, const struct span *sp, size_t nsp)
{
    uint64_t bytes = which == BUDDY ? buddy_meta_bytes(npages) : llf_meta_bytes(npages, COLD_CORES);
    struct sim *m = sim_new((bytes + PG - 1) / PG * PG); /* fresh memory, page aligned */
    struct buddy b;
    struct llf l;
    uint64_t r0 = resident_bytes();
    double t0 = now_ns();
    if (which == BUDDY)
        buddy_init_spans(&b, m->mem, npages, sp, nsp);
    else
        llf_init(&l, m->mem, npages, COLD_CORES, sp, nsp);
    double t1 = now_ns();
    uint64_t r1 = resident_bytes();
    sim_free(m);
    return (struct cold){(t1 - t0) / 1e6, (double)(r1 - r0)};
}

void bench_cold(void)
{
    const uint64_t ram = 1024 * GIB, npages = (ram + 2 * GIB) / PG; /* machine(): top of RAM */
    double ms[3][RUNS], kib[3][RUNS], meta_kib[RUNS], gib = 1;
    uint64_t meta = 0;
    for (int r = 0; r < RUNS; r++) {
        struct span *sp;
        size_t nsp;
        uint64_t total;
        double mr;
        struct cold c[3];
        c[0] = ours(ram, &sp, &nsp, &total, &mr, &meta);
        c[1] = peer(BUDDY, npages, sp, nsp);
        c[2] = peer(LLFREE, npages, sp, nsp);
        free(sp);
        gib = (double)(total * PG) / (double)GIB;
        for (int k = 0; k < 3; k++) {
            ms[k][r] = c[k].ms;
            kib[k][r] = c[k].resident / 1024 / gib;
        }
        meta_kib[r] = mr / 1024 / gib;
    }
    printf("bench build_cold_1t ram_gib=%.0f pmm_ms=%.1f buddy_ms=%.1f llfree_ms=%.1f "
           "buddy_over_pmm=%.2f llfree_over_pmm=%.2f\n",
           gib, median(ms[0], RUNS), median(ms[1], RUNS), median(ms[2], RUNS),
           median_ratio(ms[1], ms[0], RUNS), median_ratio(ms[2], ms[0], RUNS));
    printf("bench resident_after_build_1t method=statm_rss_delta pmm_kib_per_gib=%.1f "
           "buddy_kib_per_gib=%.1f llfree_kib_per_gib=%.1f buddy_over_pmm=%.2f "
           "llfree_over_pmm=%.2f pmm_meta_run_mincore_kib_per_gib=%.1f\n",
           median(kib[0], RUNS), median(kib[1], RUNS), median(kib[2], RUNS),
           median_ratio(kib[1], kib[0], RUNS), median_ratio(kib[2], kib[0], RUNS),
           median(meta_kib, RUNS));
    printf("bench metadata_1t pmm_kib_per_gib=%.1f buddy_kib_per_gib=%.1f llfree_kib_per_gib=%.1f "
           "pmm_pct_of_ram=%.4f\n",
           (double)meta / 1024 / gib, (double)buddy_meta_bytes(npages) / 1024 / gib,
           (double)llf_meta_bytes(npages, COLD_CORES) / 1024 / gib,
           100.0 * (double)meta / (gib * (double)GIB));
}
