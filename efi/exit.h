/*
 * exit.h - leaving boot services (exit.c). Plain gnu-efi headers and the allocator only, no
 * gnu-efi library: the host test (tests/host/test_exit.c) compiles exit.c against a fake
 * boot-services table.
 */
#ifndef PMM_EXIT_H
#define PMM_EXIT_H

#include <efi.h>

#include "pmm.h"

/* A memory map buffer and what GetMemoryMap last wrote into it. */
struct fwmap {
    void *buf;
    UINTN size, cap, key, desc_size;
    UINT32 desc_version;
};

struct exit_ctx {
    EFI_BOOT_SERVICES *bs;
    EFI_HANDLE image;
    struct pmm *pmm;     /* the map buffer and the scratch are its runs; grown ones are too */
    UINT64 virt_offset;  /* its pages are reached at physical + this (0 in the loader) */
    struct fwmap *final; /* cap: bytes, a whole number of pages; desc_size: from an earlier call */
    void **scratch;      /* reconcile scratch, pmm_map_scratch_size() of a map filling final */
    UINT64 *scratch_size;
    /* Reports a failure after the first ExitBootServices call without boot services and never
     * returns (the loader halts with the message on screen). */
    void (*fatal)(void *ctx, const char *what, EFI_STATUS st);
    void *ctx;
};

/* Calls to GetMemoryMap + ExitBootServices before giving up (growing the buffer counts as one). */
#define EXIT_TRIES 16

/*
 * Fill x->final and exit boot services. Returns EFI_SUCCESS once ExitBootServices accepted the map
 * now in x->final, or an error only if ExitBootServices was never called (boot services are intact
 * and the caller may give everything back). Once it has been called, every failure ends in
 * x->fatal. Between the first ExitBootServices call and success it calls nothing but
 * GetMemoryMap, ExitBootServices and, through the allocator's claim hooks, AllocatePages and
 * FreePages, as the UEFI spec allows.
 */
EFI_STATUS exit_boot_services(struct exit_ctx *x);

#endif
