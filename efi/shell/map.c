/*
 * map.c - the firmware's memory map as the command reads it, and the allocator built from it.
 *
 * What `pmm map` and `pmm save` show must be what `memmap` shows once they have returned. A map
 * buffer allocated for the call and freed after it is itself in the map it receives (a few pages
 * of LoaderData that are Available again by the time the user looks), so the map is read into a
 * buffer that is part of this image instead: the image's pages are in the map before the call and
 * after it. Only a map larger than that buffer needs one from the firmware; it is then kept, as a
 * part of the command that stays (the driver's lifetime, until map_release), never freed between
 * calls. The allocator is built from the same buffer, so the map it was built from lists nothing
 * that is gone when the command returns either; its own metadata is the one change, and
 * `pmm map` names it.
 */
#include "shell.h"

/* 32 KiB: 682 descriptors of 48 bytes (OVMF's size), some five times what PCs and OVMF list. */
static UINT64 inline_buf[4096];
static void *big;      /* a larger buffer from the firmware, kept once needed */
static UINTN big_size; /* its bytes */

EFI_STATUS map_read(struct fwmap *m)
{
    void *buf = big ? big : inline_buf;
    UINTN cap = big ? big_size : sizeof inline_buf;
    for (int tries = 0; tries < 4; tries++) {
        UINTN size = cap, key = 0, dsize = 0;
        UINT32 dver = 0;
        EFI_STATUS st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, buf, &key, &dsize, &dver);
        if (st == EFI_SUCCESS) {
            if (dver != EFI_MEMORY_DESCRIPTOR_VERSION || dsize < sizeof(EFI_MEMORY_DESCRIPTOR))
                return EFI_UNSUPPORTED;
            *m = (struct fwmap){buf, size, cap, key, dsize, dver};
            return EFI_SUCCESS;
        }
        if (st != EFI_BUFFER_TOO_SMALL)
            return st;
        /* room for the descriptors the new buffer itself may add, and some growth after it */
        UINTN want = size + 32 * (dsize ? dsize : sizeof(EFI_MEMORY_DESCRIPTOR));
        void *more = AllocatePool(want);
        if (!more)
            return EFI_OUT_OF_RESOURCES;
        if (big)
            FreePool(big);
        big = buf = more;
        big_size = cap = want;
    }
    return EFI_BUFFER_TOO_SMALL; /* the map kept growing faster than the buffer */
}

void map_release(void)
{
    if (big)
        FreePool(big);
    big = NULL;
    big_size = 0;
}

/*
 * The allocator from the firmware's current map, as fw_build_quiet builds it for the loader (the
 * same CPUs first, the same room for a longer final map), but from map_read's buffer. The scratch
 * pmm_build needs is allocated after the map is read and freed before returning: it is in no map
 * the user sees.
 */
EFI_STATUS map_build(struct pmm **out, struct fw_build_info *info)
{
    *info = (struct fw_build_info){0, 0, PMM_OK, {0, 0}};
    /* first, so whatever the firmware does for them precedes the map: the CPUs, then their nodes */
    cpus_find(&boot_cpus);
    nodes_find(&boot_nodes, &boot_cpus.list);
    struct fwmap m;
    EFI_STATUS st = map_read(&m);
    if (EFI_ERROR(st))
        return st;
    info->ndesc = m.size / m.desc_size;
    info->desc_size = m.desc_size;
    struct pmm_build pb = {0};
    pb.map = (struct pmm_map){m.buf, m.size, m.desc_size};
    pb.scratch_size = pmm_map_scratch_size(&pb.map);
    pb.fw = fw_hooks;
    pb.extra_descriptors = 256;
    pb.max_cpus = boot_cpus.list.n;
    nodes_build(&boot_nodes, &pb); /* the SRAT's nodes and each CPU's */
    pb.scratch = AllocatePool(pb.scratch_size);
    if (!pb.scratch) {
        info->rc = PMM_ENOMEM;
        return EFI_OUT_OF_RESOURCES;
    }
    info->rc = pmm_build(&pb, out, &info->err);
    FreePool(pb.scratch);
    return info->rc ? EFI_LOAD_ERROR : EFI_SUCCESS;
}
