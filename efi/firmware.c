/*
 * firmware.c - what the loader asks of the firmware while boot services are alive.
 */
#include "loader.h"

/* Descriptors of headroom: the map grows between our calls (recent platforms need 32+). */
#define MAP_SLACK 64

EFI_STATUS fw_get_map(struct fwmap *m)
{
    UINTN size = 0, key, dsize;
    UINT32 dver;
    EFI_STATUS st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, NULL, &key, &dsize, &dver);
    if (st != EFI_BUFFER_TOO_SMALL)
        return st == EFI_SUCCESS ? EFI_DEVICE_ERROR : st;
    m->cap = size + MAP_SLACK * dsize;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, m->cap, &m->buf);
    if (EFI_ERROR(st))
        return st;
    m->size = m->cap;
    st = uefi_call_wrapper(BS->GetMemoryMap, 5, &m->size, m->buf, &m->key, &m->desc_size,
                           &m->desc_version);
    if (EFI_ERROR(st))
        return st;
    if (m->desc_version != EFI_MEMORY_DESCRIPTOR_VERSION || m->desc_size < 40) {
        Print(L"loader: memory map descriptor version %d size %d not supported\n", m->desc_version,
              m->desc_size);
        return EFI_UNSUPPORTED;
    }
    return EFI_SUCCESS;
}

EFI_STATUS fw_build_quiet(struct pmm **out, struct fw_build_info *info)
{
    *info = (struct fw_build_info){0, 0, PMM_OK, {0, 0}};
    cpus_find(&boot_cpus); /* first, so whatever the firmware does for it precedes the map */
    struct fwmap m;
    EFI_STATUS st = fw_get_map(&m);
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
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, pb.scratch_size, &pb.scratch);
    if (EFI_ERROR(st)) {
        FreePool(m.buf);
        info->rc = PMM_ENOMEM;
        return st;
    }
    info->rc = pmm_build(&pb, out, &info->err);
    FreePool(pb.scratch);
    FreePool(m.buf);
    return info->rc ? EFI_LOAD_ERROR : EFI_SUCCESS;
}

EFI_STATUS fw_build_pmm(struct pmm **out, const CHAR16 *who)
{
    struct fw_build_info info;
    EFI_STATUS st = fw_build_quiet(out, &info);
    if (EFI_ERROR(st) && info.rc == PMM_OK) {
        Print(L"%s: GetMemoryMap failed: %r\n", who, st);
        return st;
    }
    if (info.rc) {
        Print(L"%s: cannot build the allocator: %a", who, pmm_strerror(info.rc));
        if (info.err.why)
            Print(L": %a (descriptor %ld)", info.err.why, info.err.index);
        Print(L"\n");
        return st;
    }
    char line[200];
    pmm_summary(*out, line, sizeof line);
    Print(L"%s: %d descriptors of %d bytes; %a\n", who, info.ndesc, info.desc_size, line);
    return EFI_SUCCESS;
}

void fw_release_pmm(struct pmm *p)
{
    UINT64 start, n;
    for (UINT64 pfn = 1; pmm_next_alloc_range(p, pfn, &start, &n); pfn = start + n) {
        if (pmm_free_run(p, start << 12, n) == PMM_OK)
            continue;                              /* released to the firmware as it goes */
        for (UINT64 a = start; a < start + n; a++) /* shared pages: drop every reference */
            while (pmm_ref_dec(p, a << 12) == PMM_OK)
                ;
    }
    uefi_call_wrapper(BS->FreePages, 2, pmm_state_phys(p), pmm_meta_pages(p));
}

static int claim(void *ctx, uint64_t phys, uint64_t npages)
{
    (void)ctx;
    EFI_PHYSICAL_ADDRESS a = phys;
    EFI_STATUS st =
        uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, (UINTN)npages, &a);
    return EFI_ERROR(st) ? -1 : 0;
}

static void release(void *ctx, uint64_t phys, uint64_t npages)
{
    (void)ctx;
    uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)phys, (UINTN)npages);
}

struct pmm_firmware fw_hooks = {claim, release, 0};

void fw_graphics(struct pmm_handoff *h)
{
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
    h->fb_format = PMM_FB_NONE;
    if (EFI_ERROR(LibLocateProtocol(&GraphicsOutputProtocol, (void **)&gop)) || !gop ||
        !gop->Mode || !gop->Mode->Info)
        return;
    EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *i = gop->Mode->Info;
    if (i->PixelFormat >= PixelBltOnly)
        return;
    h->fb_base = gop->Mode->FrameBufferBase;
    h->fb_size = gop->Mode->FrameBufferSize;
    h->fb_width = i->HorizontalResolution;
    h->fb_height = i->VerticalResolution;
    h->fb_stride = i->PixelsPerScanLine;
    h->fb_format = (uint32_t)i->PixelFormat;
}

UINT64 fw_rsdp(void)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    UINT64 old = 0;
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
        if (!CompareGuid(&t->VendorGuid, &acpi20))
            return (UINT64)(UINTN)t->VendorTable;
        if (!CompareGuid(&t->VendorGuid, &acpi10))
            old = (UINT64)(UINTN)t->VendorTable;
    }
    return old;
}

/* The firmware's 5-minute watchdog would reset a PC whose kernel runs long after exit. */
void fw_disable_watchdog(void)
{
    EFI_STATUS st = uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    if (EFI_ERROR(st))
        Print(L"loader: cannot disable the firmware watchdog: %r\n", st);
    else
        Print(L"loader: firmware watchdog off\n");
}
