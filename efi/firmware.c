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
    /* first, so whatever the firmware does for them precedes the map: the CPUs, then their nodes */
    cpus_find(&boot_cpus);
    nodes_find(&boot_nodes, &boot_cpus.list);
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
    nodes_build(&boot_nodes, &pb); /* the SRAT's nodes and each CPU's */
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
    nodes_free(&boot_nodes); /* what the build found about the machine, in pool memory */
    cpus_free(&boot_cpus);
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

UINT64 fw_config_table(const EFI_GUID *guid)
{
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
        if (!CompareGuid(&ST->ConfigurationTable[i].VendorGuid, (EFI_GUID *)guid))
            return (UINT64)(UINTN)ST->ConfigurationTable[i].VendorTable;
    return 0;
}

/* Days from 1970-01-01 to the given date (proleptic Gregorian). */
static INT64 days_from_civil(INT64 y, unsigned m, unsigned d)
{
    y -= m <= 2;
    INT64 era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (INT64)doe - 719468;
}

INT64 fw_unix_time(void)
{
    EFI_TIME t;
    if (EFI_ERROR(uefi_call_wrapper(RT->GetTime, 2, &t, NULL)) || t.Month < 1 || t.Month > 12 ||
        t.Day < 1 || t.Day > 31)
        return 0;
    INT64 s =
        days_from_civil(t.Year, t.Month, t.Day) * 86400 + t.Hour * 3600 + t.Minute * 60 + t.Second;
    if (t.TimeZone != EFI_UNSPECIFIED_TIMEZONE) /* UEFI: local time = UTC - TimeZone minutes */
        s += (INT64)t.TimeZone * 60;
    return s;
}

/* A hardware random number: RDSEED or RDRAND, retried as Intel advises; 0 if it fails. */
static int hw_random(int seed, UINT64 *v)
{
    for (int i = 0; i < 100; i++) {
        unsigned char ok;
        if (seed)
            __asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok));
        else
            __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
        if (ok)
            return 1;
    }
    return 0;
}

#define RNG_GUID                                                                                   \
    {                                                                                              \
        0x3152bca5, 0xeade, 0x433d,                                                                \
        {                                                                                          \
            0x86, 0x2e, 0xc0, 0x1c, 0xdc, 0x29, 0x1f, 0x44                                         \
        }                                                                                          \
    }
typedef struct rng_protocol {
    EFI_STATUS(EFIAPI *GetInfo)(struct rng_protocol *, UINTN *, EFI_GUID *);
    EFI_STATUS(EFIAPI *GetRNG)(struct rng_protocol *, EFI_GUID *, UINTN, UINT8 *);
} RNG_PROTOCOL;

const char *fw_random(UINT64 *out, UINT64 n)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    UINT32 max = r[0];
    cpuid(1, 0, r);
    int rdrand = (r[2] >> 30) & 1, rdseed = 0;
    if (max >= 7) {
        cpuid(7, 0, r);
        rdseed = (r[1] >> 18) & 1;
    }
    UINT64 i = 0;
    for (; i < n && rdseed && hw_random(1, &out[i]); i++)
        ;
    if (i == n)
        return "RDSEED";
    for (; i < n && rdrand && hw_random(0, &out[i]); i++)
        ;
    if (i == n)
        return "RDRAND";
    static EFI_GUID guid = RNG_GUID;
    RNG_PROTOCOL *rng = NULL;
    if (!EFI_ERROR(LibLocateProtocol(&guid, (void **)&rng)) && rng &&
        !EFI_ERROR(
            uefi_call_wrapper(rng->GetRNG, 4, rng, NULL, (UINTN)((n - i) * 8), (UINT8 *)&out[i])))
        return "EFI_RNG_PROTOCOL";
    /* Nothing stronger: the TSC, stirred (splitmix64). Enough for a slide, not for keys. */
    UINT64 x = rdtsc();
    for (; i < n; i++) {
        x += 0x9e3779b97f4a7c15ull ^ rdtsc();
        UINT64 z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        out[i] = z ^ (z >> 31);
    }
    return "the TSC (no hardware random number source)";
}

UINT64 fw_tsc_hz(void)
{
    UINT64 best = ~0ull;
    for (int i = 0; i < 3; i++) { /* the shortest of three: a preempted vCPU only lengthens it */
        UINT64 t0 = rdtsc();
        uefi_call_wrapper(BS->Stall, 1, 10000);
        UINT64 d = rdtsc() - t0;
        best = d < best ? d : best;
    }
    return best * 100;
}

/* Size and shift of the contiguous run of set bits in a mask. */
static void mask_bits(UINT32 m, UINT8 *size, UINT8 *shift)
{
    *size = *shift = 0;
    if (!m)
        return;
    while (!(m & 1))
        m >>= 1, (*shift)++;
    while (m & 1)
        m >>= 1, (*size)++;
}

static int mode_of(EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *i, struct limine_video_mode *m)
{
    static const UINT32 rgb[4] = {0xff, 0xff00, 0xff0000, 0xff000000};
    static const UINT32 bgr[4] = {0xff0000, 0xff00, 0xff, 0xff000000};
    const UINT32 *k;
    if (i->PixelFormat == PixelRedGreenBlueReserved8BitPerColor)
        k = rgb;
    else if (i->PixelFormat == PixelBlueGreenRedReserved8BitPerColor)
        k = bgr;
    else if (i->PixelFormat == PixelBitMask)
        k = (const UINT32 *)&i->PixelInformation;
    else
        return 0; /* BLT only: no framebuffer */
    SetMem(m, sizeof *m, 0);
    m->width = i->HorizontalResolution;
    m->height = i->VerticalResolution;
    m->bpp = 32;
    m->pitch = (UINT64)i->PixelsPerScanLine * 4;
    m->memory_model = LIMINE_FRAMEBUFFER_RGB;
    mask_bits(k[0], &m->red_mask_size, &m->red_mask_shift);
    mask_bits(k[1], &m->green_mask_size, &m->green_mask_shift);
    mask_bits(k[2], &m->blue_mask_size, &m->blue_mask_shift);
    return 1;
}

static EFI_GUID edid_active = {
    0xbd8c1056, 0x9f36, 0x44ec, {0x92, 0xa8, 0xa6, 0x33, 0x7f, 0x81, 0x79, 0x86}};
static EFI_GUID edid_found = {
    0x1c0c34f6, 0xd380, 0x41fa, {0xa0, 0x49, 0x8a, 0xd0, 0x6c, 0x1a, 0x66, 0xaa}};
struct edid_protocol {
    UINT32 size;
    UINT8 *edid;
};

int fw_framebuffer(struct fbinfo *fb, UINT32 w, UINT32 h, UINT32 bpp)
{
    SetMem(fb, sizeof *fb, 0);
    EFI_HANDLE handle = 0;
    UINTN n = 0;
    EFI_HANDLE *hs = 0;
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
    if (!EFI_ERROR(LibLocateHandle(ByProtocol, &GraphicsOutputProtocol, NULL, &n, &hs)) && n) {
        handle = hs[0];
        uefi_call_wrapper(BS->HandleProtocol, 3, handle, &GraphicsOutputProtocol, (void **)&gop);
        FreePool(hs);
    }
    if (!gop || !gop->Mode)
        return 0;
    UINT32 max = gop->Mode->MaxMode;
    fb->modes = AllocatePool((max ? max : 1) * sizeof *fb->modes);
    for (UINT32 m = 0; fb->modes && m < max; m++) {
        EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *i;
        UINTN isz;
        if (EFI_ERROR(uefi_call_wrapper(gop->QueryMode, 4, gop, m, &isz, &i)))
            continue;
        int ok = mode_of(i, &fb->modes[fb->nmodes]);
        if (ok && w && i->HorizontalResolution == w && i->VerticalResolution == h &&
            (bpp == 0 || bpp == 32) && m != gop->Mode->Mode)
            uefi_call_wrapper(gop->SetMode, 2, gop, m);
        fb->nmodes += ok;
        FreePool(i);
    }
    EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *i = gop->Mode->Info;
    struct limine_video_mode cur;
    if (!i || !mode_of(i, &cur) || !gop->Mode->FrameBufferBase)
        return 0;
    fb->base = gop->Mode->FrameBufferBase;
    fb->size = gop->Mode->FrameBufferSize;
    fb->width = i->HorizontalResolution;
    fb->height = i->VerticalResolution;
    fb->stride = i->PixelsPerScanLine;
    fb->format = i->PixelFormat;
    CopyMem(fb->masks, &i->PixelInformation, sizeof fb->masks);
    struct edid_protocol *e = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, handle, &edid_active, (void **)&e)) ||
        !e || !e->size)
        uefi_call_wrapper(BS->HandleProtocol, 3, handle, &edid_found, (void **)&e);
    if (e && e->size && e->edid) {
        fb->edid = e->edid;
        fb->edid_size = e->size;
    }
    return 1;
}
