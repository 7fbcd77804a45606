/*
 * bench.h - what the benchmark files share. Every figure is the median of RUNS runs, measured in
 * the same run as the figures it is compared with; one line per figure: bench NAME key=value ...
 * A ratio between two allocators is taken inside each repetition (both measured back to back)
 * and the median of those ratios is printed, so that a slow stretch of this shared host lands on
 * both sides of a ratio.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "baselines.h"
#include "pmm.h"
#include "sim.h"

#define RUNS 5
#define PG   4096ull
#define MIB  (1ull << 20)
#define GIB  (1ull << 30)

double now_ns(void);
double median(double *v, int n);
/* Median over n repetitions of peer[r] / ours[r]: above 1, ours is faster (or smaller). */
double median_ratio(const double *peer, const double *ours, int n);
void shuffle(uint64_t *v, uint64_t n);
void die(const char *why); /* print "bench: why" and exit 1 */

/* A PC-like map with `ram` bytes of RAM (bench.c), and the allocator built and reconciled on it
 * with s->max_cpus per-CPU caches. */
struct sim *machine(uint64_t ram);
struct pmm *built(struct sim *s);

/* The pages p has free now, as spans (malloc'd, *n of them), for the baselines to start from. */
struct span *free_spans(const struct pmm *p, size_t *n);

/* The buddy and the LLFree-style baseline with the same free pages as p (page numbers below
 * npages), their metadata in malloc'd memory; llfree with `cores` cores. */
struct peers {
    struct buddy b;
    struct llf l;
    void *bmeta, *lmeta;
};
void peers_init(struct peers *x, const struct pmm *p, uint64_t npages, uint32_t cores);
void peers_destroy(struct peers *x);

/* Resident bytes of this process now (/proc/self/statm, second field). */
uint64_t resident_bytes(void);

/* smp.c: the per-CPU caches */
void bench_percpu_pair(void);
void bench_threads(void);
void bench_cross_cpu(void);
/* smp.c: a test-and-test-and-set lock for the baselines that take one (ctx: a uint32_t, zeroed) */
void tas_lock(void *ctx);
void tas_unlock(void *ctx);

/* frag.c: 2 MiB runs in fragmented memory */
void bench_runs(void);
void bench_run_pairs(int half_used);
void bench_frag(void);

/* cold.c: building on never-touched memory */
void bench_cold(void);

/* mixed.c: many threads, one allocator */
void bench_mixed(void);
void bench_llfree_check(void);

#endif
