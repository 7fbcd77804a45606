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

/* fbcon.c: the same console on the GOP framebuffer, reached at fb_base + offset */
void fbcon_init(const struct pmm_handoff *h, uint64_t offset);
void fbcon_move(const struct pmm_handoff *h, uint64_t offset);
void fbcon_putc(char c);
void fbcon_verdict(int ok);
/* A banner across the bottom rows, white on green (ok) or red; also the loader's fatal screen. */
void fbcon_banner(const char *text, int ok);

/* cpu.c: our own GDT and IDT; exceptions print and fail the run */
void cpu_init(void);

/*
 * paging.c: 4-level tables from allocator pages. paging_init switches to them and continues in
 * next(p) with p in the direct map, on a fresh stack; it never returns. paging_done then frees the
 * loader's tables.
 */
void __attribute__((noreturn))
paging_init(struct pmm *p, const struct pmm_handoff *h, void (*next)(struct pmm *));
void paging_done(struct pmm *p, const struct pmm_handoff *h);

/* handed.c: 0 if the allocated pages are exactly those the block lists; else why, *at where */
const char *handoff_allocated_check(const struct pmm *p, const struct pmm_handoff *h, uint64_t *at);

/* selftest.c: 0 if the allocator passed */
int selftest(struct pmm *p, const struct pmm_handoff *h);

#endif
