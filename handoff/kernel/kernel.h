/*
 * kernel.h - the kernel stub's parts. The flow is in main.c.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stdint.h>

#include "handoff.h"
#include "pmm.h"
#include "x86.h"

#define HHDM 0xffff800000000000ull /* the kernel's direct map of physical memory */

/* console.c: COM1 (and later the framebuffer) */
void con_init(void);
void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);
/* Verdict to the console, then isa-debug-exit (QEMU exits 33 on success, 35 on failure) or halt. */
void __attribute__((noreturn)) kexit(int ok);
void __attribute__((noreturn)) panic(const char *fmt, ...);
/* Take the console for a failure report: other CPUs that print from now on stop. */
void con_panic_lock(void);
/* Keep the console across several kprintf calls (one line of many pieces), then let it go. */
void con_hold(void);
void con_release(void);

/* fbcon.c: the same console on the GOP framebuffer, reached at fb_base + offset */
void fbcon_init(const struct pmm_handoff *h, uint64_t offset);
void fbcon_move(const struct pmm_handoff *h, uint64_t offset);
void fbcon_putc(char c);
void fbcon_verdict(int ok);
/* A banner across the bottom rows, white on green (ok) or red; also the loader's fatal screen. */
void fbcon_banner(const char *text, int ok);

/* cpu.c: our own GDT and IDT (one set per CPU); exceptions print and fail the run */
struct cpu_tables {
    uint64_t gdt[3];      /* null, 64-bit code 0x08, data 0x10 */
    uint64_t idt[2 * 32]; /* the 32 exception vectors */
};
void cpu_init(void); /* the boot CPU's, static */
void cpu_tables_init(struct cpu_tables *t);
void cpu_tables_load(const struct cpu_tables *t);

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(msr) : "memory");
}

/* tsc.c: the TSC calibrated against the PIT (10 GHz assumed without one: delays only lengthen) */
uint64_t tsc_calibrate(uint64_t *bracket);
uint64_t tsc_hz(void);
int tsc_from_pit(void);
uint64_t tsc_from_us(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);
void udelay(uint64_t us);

/* apic.c: the local APIC in the boot CPU's mode, xAPIC (MMIO) or x2APIC (MSRs) */
const char *apic_init(struct pmm *p); /* 0, or why not */
int apic_ready(void);
int apic_x2(void);
int apic_x2_supported(void);
uint64_t apic_base(void);
uint32_t apic_id(void);
#define APIC_IPI_INIT    0x4500u /* INIT, level assert, edge, physical destination */
#define APIC_IPI_STARTUP 0x4600u /* STARTUP (SIPI) | the vector: the start page number */
const char *apic_ipi(uint32_t dest, uint32_t icr);

/*
 * paging.c: 4-level tables from allocator pages. paging_init switches to them and continues in
 * next(p) with p in the direct map, on a fresh stack; it never returns. paging_done then frees the
 * loader's tables.
 */
void __attribute__((noreturn))
paging_init(struct pmm *p, const struct pmm_handoff *h, void (*next)(struct pmm *));
void paging_done(struct pmm *p, const struct pmm_handoff *h);
/* The kernel's PML4 (physical), and a device page at phys mapped uncached; see paging.c. */
uint64_t paging_root(void);
void *paging_map_mmio(struct pmm *p, uint64_t phys);

/* handed.c: 0 if the allocated pages are exactly those the block lists; else why, *at where */
const char *handoff_allocated_check(const struct pmm *p, const struct pmm_handoff *h, uint64_t *at);

/*
 * smp.c: the other CPUs. smp_init gives the allocator its spinlock and the caller's CPU index
 * (pmm_set_lock, pmm_set_cpu_self; before any AP starts); smp_start starts every AP the handoff
 * block lists and returns how many CPUs are up (the BSP included); smp_run runs fn(index, arg)
 * on every CPU that is up, the BSP too, and returns how many finished; smp_park stops the APs
 * (cli; hlt). Indexes are the handoff list's.
 */
void smp_init(struct pmm *p, const struct pmm_handoff *h);
uint32_t smp_start(struct pmm *p, const struct pmm_handoff *h);
uint32_t smp_run(void (*fn)(uint32_t cpu, void *arg), void *arg);
void smp_park(void);
uint32_t smp_cpus_listed(void);
uint32_t smp_cpus_up(void);
int smp_cpu_up(uint32_t index);
uint32_t smp_apic_id(uint32_t index);
uint32_t smp_this_cpu(void); /* the calling CPU's index (what pmm_set_cpu_self is given) */

/* selftest.c: 0 if the allocator passed */
int selftest(struct pmm *p, const struct pmm_handoff *h);
/* selftest_smp.c: the same on every CPU that is up, at once; 0 if it passed */
int selftest_smp(struct pmm *p);

#endif
