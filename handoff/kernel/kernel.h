/*
 * kernel.h - the kernel stub's parts. The flow is in main.c.
 *
 * The stub is a Limine-protocol kernel (include/limine.h) that takes the live allocator through
 * uefi-pmm's own request (include/handoff.h): one client of that ABI, and the one `make test`
 * boots on every machine shape.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stdint.h>

#include "fbcon.h"
#include "handoff.h"
#include "limine.h"
#include "pmm.h"
#include "x86.h"

/* What the loader answered, checked once in main.c and read everywhere after. */
struct boot_info {
    uint64_t hhdm;                       /* virtual = physical + hhdm */
    unsigned levels;                     /* paging: 4 or 5 (CR4.LA57), as the response says */
    uint64_t kernel_phys, kernel_virt;   /* Executable Address */
    uint64_t kernel_pages;               /* the image, from the linker's bounds */
    struct limine_memmap_entry **memmap; /* the Limine memory map */
    uint64_t memmap_count;
    const struct limine_efi_memmap_response *efi_memmap;
    struct limine_mp_response *mp;  /* 0 without APs */
    const struct pmm_response *pmm; /* checked: pmm_response_verify */
    uint64_t revision;              /* the base revision the loader used */
    uint64_t tsc_hz;                /* 0 if the loader could not tell */
};
extern struct boot_info boot;
#define HHDM (boot.hhdm)

/* arrival.c: at entry, before any response is used: CR4.LA57 read into boot.levels, the Limine
 * responses the stub builds on checked (handoff/limine_verify.c), boot filled in; a refusal
 * names the field and fails the run */
void arrival(void);

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

/* cpu.c: our own GDT and IDT (one set per CPU); exceptions print and fail the run */
struct cpu_tables {
    uint64_t gdt[3];      /* null, 64-bit code 0x08, data 0x10 */
    uint64_t idt[2 * 32]; /* the 32 exception vectors */
};
void cpu_init(void);        /* the boot CPU's, static */
uint32_t cpu_apic_id(void); /* this CPU's initial APIC ID, 32 bits (CPUID leaf 0Bh, else 1) */
void cpu_tables_init(struct cpu_tables *t);
void cpu_tables_load(const struct cpu_tables *t);

/* tsc.c: the TSC's rate: the loader's figure, else calibrated against the PIT (10 GHz assumed
 * without one: delays only lengthen) */
uint64_t tsc_calibrate(uint64_t *bracket);
uint64_t tsc_hz(void);
int tsc_from_pit(void);
void tsc_set_hz(uint64_t hz);
uint64_t tsc_from_us(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);

/*
 * paging.c: the kernel's own tables from allocator pages: the same HHDM as the loader's (so every
 * pointer it handed over stays valid), no execute there, and the image by its sections (W^X).
 * paging_done then frees the loader's tables.
 */
void paging_init(struct pmm *p);
void paging_done(struct pmm *p);
uint64_t paging_root(void); /* the kernel's top table (physical) */

/*
 * la57.c: the paging mode, settled before paging_init builds the tables (prints "kernel: paging:
 * N-level"): 5-level wherever the CPU has LA57, switching itself if the loader did not answer the
 * Paging Mode request; then each AP follows (paging_mode_ap, before it loads the kernel's
 * tables), and paging_mode_done frees what the switch used once every CPU is on those.
 */
void paging_mode_settle(struct pmm *p);
void paging_mode_ap(void);
void paging_mode_done(struct pmm *p);

/* handed.c: 0 if the allocated pages are exactly those the response hands over; else why, *at
 * where */
const char *handoff_allocated_check(const struct pmm *p, const struct pmm_response *r,
                                    uint64_t *at);
/* Free the runs of one kind (PMM_HANDED_*) handed over: the kernel is done with them. */
uint64_t handed_free(struct pmm *p, const struct pmm_response *r, uint32_t kind);

/*
 * smp.c: the other CPUs, parked by the loader (Limine MP). smp_init gives the allocator the
 * calling CPU's index (pmm_set_cpu_self); smp_start releases every parked AP onto
 * the kernel's own tables and returns how many CPUs are up (the BSP included); smp_run runs
 * fn(index, arg) on every CPU that is up and returns how many finished; smp_park stops the APs.
 * Indexes are the allocator's (the response's cpus[]).
 */
void smp_init(struct pmm *p);
uint32_t smp_start(struct pmm *p);
uint32_t smp_run(void (*fn)(uint32_t cpu, void *arg), void *arg);
void smp_park(void);
uint32_t smp_cpus_listed(void);
uint32_t smp_cpus_up(void);
int smp_cpu_up(uint32_t index);
uint32_t smp_apic_id(uint32_t index);
uint32_t smp_this_cpu(void); /* the calling CPU's index (what pmm_set_cpu_self is given) */

/* numa.c: the nodes, their memory and distances, and each CPU's node, as the response says */
void numa_report(const struct pmm_response *r);

/* selftest.c: 0 if the allocator passed; selftest_entry before the kernel's first allocation */
int selftest_entry(struct pmm *p);
int selftest(struct pmm *p);
/* selftest_smp.c: the same on every CPU that is up, at once; 0 if it passed */
int selftest_smp(struct pmm *p);

#endif
