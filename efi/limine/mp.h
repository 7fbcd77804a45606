/*
 * mp.h - the APs, started after ExitBootServices and parked for the kernel (mp.c, stubs.S).
 */
#ifndef PMM_LIMINE_MP_H
#define PMM_LIMINE_MP_H

#include <stdint.h>

#include "limine.h"
#include "machine.h"

struct ap_ctx;

struct mp_setup {
    const struct machine *m;
    uint64_t tsc_hz;
    uint64_t hhdm;
    uint64_t cr3;     /* the kernel's top table, below 4 GiB */
    uint64_t gdtr[2]; /* 10 bytes: limit, virtual base */
    uint64_t park;    /* the parking code's virtual address */
    uint64_t tramp;   /* the start-up page, below 1 MiB */
    uint32_t ncpus, bsp;
    struct ap_ctx *ctx; /* ncpus of them, where the HHDM maps them (the APs reach them there) */
    const char *why;    /* after mp_start: why the APs were not started at all, or 0 */
};

/* Per CPU, filled by the caller: the mp_info it parks with, its stack, its UID, its TSS. */
struct ap_ctx {
    const struct mp_setup *s;
    uint32_t lapic_id, uid;
    uint64_t info;  /* its struct limine_mp_info, virtual */
    uint64_t stack; /* top, virtual */
    uint64_t tss;   /* TSS selector (base revision 5), else 0 */
    uint32_t up;    /* set by the AP once parked */
    uint32_t pad;
};

/* Bytes of the AP slot table mp_start writes at slots (reached by the APs through the HHDM). */
uint64_t mp_slots_size(uint32_t ncpus);

/*
 * Start every AP of s->ctx (all but s->bsp) with INIT-SIPI-SIPI and wait until each has parked
 * (or a timeout). Returns how many APs parked; those that did not are reported on COM1 and held
 * in INIT (they can never run the trampoline late). slots: mp_slots_size bytes.
 */
uint32_t mp_start(struct mp_setup *s, void *slots);

#endif
