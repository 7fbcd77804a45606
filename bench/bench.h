/*
 * bench.h - what the benchmark files share. Every figure is the median of RUNS runs, measured in
 * the same run as the figures it is compared with; one line per figure: bench NAME key=value ...
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

#include "pmm.h"
#include "sim.h"

#define RUNS 5
#define PG   4096ull
#define MIB  (1ull << 20)
#define GIB  (1ull << 30)

double now_ns(void);
double median(double *v, int n);
void shuffle(uint64_t *v, uint64_t n);

/* A PC-like map with `ram` bytes of RAM (bench.c), and the allocator built and reconciled on it
 * with s->max_cpus per-CPU caches. */
struct sim *machine(uint64_t ram);
struct pmm *built(struct sim *s);

/* smp.c: the per-CPU caches */
void bench_percpu_pair(void);
void bench_threads(void);
void bench_cross_cpu(void);

#endif
