/*
 * exit.c - ExitBootServices, retried the way the spec allows.
 *
 * After the first ExitBootServices call, failed or not, a loader may call only GetMemoryMap,
 * ExitBootServices and the memory allocation services (UEFI 2.10, section 7.4). EDK2 stops its
 * timer before it checks the map key and does not restart it, so printing, waiting on an event or
 * returning to the boot manager may hang or worse. So this file calls only those services, through
 * the table it is given, and once ExitBootServices has been called no failure returns.
 *
 * A stale key (EFI_INVALID_PARAMETER: something allocated since our GetMemoryMap) means refill
 * and retry. A map that no longer fits the buffer is not a reason to give up: a larger buffer and
 * a larger reconcile scratch come from the allocator, whose claim hook is AllocatePages (a memory
 * allocation service), and the old ones go back through FreePages.
 */
#include "exit.h"

#define GROW_SLACK 64 /* descriptors of headroom: allocating the new buffer adds some */

static UINT64 pages_for(UINT64 bytes)
{
    return (bytes + 4095) / 4096;
}

static void __attribute__((noreturn)) die(struct exit_ctx *x, const char *what, EFI_STATUS st)
{
    x->fatal(x->ctx, what, st);
    for (;;) /* fatal never returns; if it did, stopping here is still not returning */
        ;
}

/* Room for a map of `need` bytes: 0, or why not (nothing changed then). */
static const char *grow(struct exit_ctx *x, UINTN need)
{
    UINT64 dsize = x->final->desc_size >= 40 ? x->final->desc_size : 48;
    UINT64 pages = pages_for(need + GROW_SLACK * dsize), cap = pages * 4096;
    struct pmm_map m = {0, cap - cap % dsize, dsize};
    UINT64 xsize = pmm_map_scratch_size(&m), buf, scratch, off = x->virt_offset;
    if (pmm_alloc_run(x->pmm, pages, 4096, 0, &buf))
        return "no memory for a larger memory map buffer";
    if (pmm_alloc_run(x->pmm, pages_for(xsize), 4096, 0, &scratch)) {
        pmm_free_run(x->pmm, buf, pages);
        return "no memory for a larger reconcile scratch buffer";
    }
    pmm_free_run(x->pmm, (UINT64)(UINTN)x->final->buf - off, pages_for(x->final->cap));
    pmm_free_run(x->pmm, (UINT64)(UINTN)*x->scratch - off, pages_for(*x->scratch_size));
    x->final->buf = (void *)(UINTN)(buf + off);
    x->final->cap = cap;
    *x->scratch = (void *)(UINTN)(scratch + off);
    *x->scratch_size = xsize;
    return 0;
}

EFI_STATUS exit_boot_services(struct exit_ctx *x)
{
    EFI_BOOT_SERVICES *bs = x->bs;
    struct fwmap *f = x->final;
    int called = 0; /* ExitBootServices was called: no way back from here */
    EFI_STATUS st = EFI_SUCCESS;
    for (int i = 0; i < EXIT_TRIES; i++) {
        f->size = f->cap;
        st = uefi_call_wrapper(bs->GetMemoryMap, 5, &f->size, f->buf, &f->key, &f->desc_size,
                               &f->desc_version);
        if (st == EFI_BUFFER_TOO_SMALL) {
            const char *why = grow(x, f->size);
            if (!why)
                continue;
            if (!called)
                return EFI_OUT_OF_RESOURCES;
            die(x, why, st);
        }
        if (EFI_ERROR(st)) {
            if (!called)
                return st;
            die(x, "GetMemoryMap failed after ExitBootServices refused a map", st);
        }
#ifdef PMM_TEST_STALE_KEY
        f->key ^=
            0x5a5a; /* tests/qemu/exitfail.sh: every key stale, as if the map always changed */
#endif
        /* Nothing between the GetMemoryMap above and this call: no output, no allocation. */
        st = uefi_call_wrapper(bs->ExitBootServices, 2, x->image, f->key);
        called = 1;
        if (st == EFI_SUCCESS)
            return EFI_SUCCESS;
        if (st != EFI_INVALID_PARAMETER)
            die(x, "ExitBootServices failed", st);
    }
    if (!called)
        return EFI_BUFFER_TOO_SMALL;
    die(x, "ExitBootServices refused every memory map (the map key went stale each time)", st);
}
