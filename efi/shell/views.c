/*
 * views.c - what `pmm` shows: stats, the firmware map as the allocator classifies it, free
 * ranges, a picture of physical memory, and the map saved for the host simulator.
 */
#include "shell.h"

#define MIB(pages) ((pages) >> 8)

SHELL_STATUS view_stats(struct cmd *c)
{
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    if (c->sfo) {
        say(c, L"ShellCommand,\"pmm\"\n");
        say(c,
            L"PmmSummary,\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\"\n",
            s.total, s.free, s.used, s.meta, s.alloc, s.withheld, s.largest, s.below4g, s.below16m);
        CHAR16 a[17];
        say(c, L"PmmMetadata,\"%s\",\"%ld\"\n", hex(a, s.meta_phys), s.meta);
        for (int k = 0; k < PMM_NKINDS; k++)
            say(c, L"PmmKind,\"%s\",\"%ld\"\n", kind_name((enum pmm_kind)k), s.kind_pages[k]);
        return SHELL_SUCCESS;
    }
    char line[256];
    pmm_summary(c->pmm, line, sizeof line);
    say(c, L"%a\n", line);
    say(c, L"  usable RAM          %10ld pages  %6ld MiB\n", s.total, MIB(s.total));
    say(c, L"  free                %10ld pages  %6ld MiB\n", s.free, MIB(s.free));
    say(c, L"  allocated           %10ld pages  %6ld MiB\n", s.alloc, MIB(s.alloc));
    say(c, L"  metadata            %10ld pages  at 0x%lx-0x%lx\n", s.meta, s.meta_phys,
        s.meta_phys + s.meta * 4096 - 1);
    say(c, L"  withheld            %10ld pages  (page 0; boot memory until ExitBootServices)\n",
        s.withheld);
    say(c, L"  largest free run    %10ld pages  %6ld MiB\n", s.largest, MIB(s.largest));
    say(c, L"  free below 4 GiB    %10ld pages\n", s.below4g);
    say(c, L"  free below 16 MiB   %10ld pages\n", s.below16m);
    say(c, L"  map kinds: free now %ld, free after exit %ld, never %ld pages\n",
        s.kind_pages[PMM_KIND_FREE], s.kind_pages[PMM_KIND_BOOT], s.kind_pages[PMM_KIND_NEVER]);
    say(c, L"  bitmap covers %ld pages (%ld MiB)%s\n", s.span, MIB(s.span),
        s.reconciled ? L"; reconciled" : L"; boot services alive");
    return SHELL_SUCCESS;
}

/* The firmware's current map, descriptors copied out and sorted by address. */
static EFI_MEMORY_DESCRIPTOR *sorted_map(UINTN *n)
{
    struct fwmap m;
    if (EFI_ERROR(fw_get_map(&m)))
        return NULL;
    *n = m.size / m.desc_size;
    EFI_MEMORY_DESCRIPTOR *d = AllocatePool(*n * sizeof *d + 1);
    for (UINTN i = 0; d && i < *n; i++)
        CopyMem(&d[i], (UINT8 *)m.buf + i * m.desc_size, sizeof *d);
    FreePool(m.buf);
    for (UINTN i = 1; d && i < *n; i++) { /* insertion sort: maps are short */
        EFI_MEMORY_DESCRIPTOR t = d[i];
        UINTN j = i;
        for (; j > 0 && d[j - 1].PhysicalStart > t.PhysicalStart; j--)
            d[j] = d[j - 1];
        d[j] = t;
    }
    return d;
}

SHELL_STATUS view_map(struct cmd *c)
{
    UINTN n;
    EFI_MEMORY_DESCRIPTOR *d = sorted_map(&n);
    if (!d) {
        say(c, L"pmm: cannot read the memory map\n");
        return SHELL_DEVICE_ERROR;
    }
    UINT64 pages[PMM_NKINDS] = {0};
    if (c->sfo)
        say(c, L"ShellCommand,\"pmm\"\n");
    else
        say(c,
            L"Type                    Start            End              Pages    Attributes       "
            L"Managed as\n");
    for (UINTN i = 0; i < n && !c->quit; i++) {
        enum pmm_kind k = pmm_classify(d[i].Type, d[i].Attribute);
        UINT64 end = d[i].PhysicalStart + d[i].NumberOfPages * 4096 - 1;
        pages[k] += d[i].NumberOfPages;
        CHAR16 a[17], b[17], n[17], t[17], name[24];
        if (c->sfo)
            say(c, L"PmmMap,\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"\n", type_name(d[i].Type),
                hex(a, d[i].PhysicalStart), hex(b, end), hex(n, d[i].NumberOfPages),
                hex(t, d[i].Attribute), kind_name(k));
        else
            say(c, L"%s %016lx-%016lx %8lx %016lx %s\n", pad(name, 23, type_name(d[i].Type)),
                d[i].PhysicalStart, end, d[i].NumberOfPages, d[i].Attribute, kind_name(k));
    }
    if (c->sfo)
        say(c, L"PmmMapTotal,\"%ld\",\"%ld\",\"%ld\"\n", pages[0], pages[1], pages[2]);
    else
        say(c, L"%ld descriptors; pages free now %ld, free after exit %ld, never %ld\n", n,
            pages[0], pages[1], pages[2]);
    FreePool(d);
    return SHELL_SUCCESS;
}

SHELL_STATUS view_free(struct cmd *c)
{
    UINT64 start, len, runs = 0, best = 0, total = 0;
    if (c->sfo)
        say(c, L"ShellCommand,\"pmm\"\n");
    for (UINT64 pfn = 0; !c->quit && pmm_next_free_range(c->pmm, pfn, &start, &len);
         pfn = start + len) {
        CHAR16 a[17], b[17];
        if (c->sfo)
            say(c, L"PmmFree,\"%s\",\"%s\",\"%ld\"\n", hex(a, start << 12),
                hex(b, ((start + len) << 12) - 1), len);
        else
            say(c, L"  0x%012lx-0x%012lx %10ld pages %8ld KiB\n", start << 12,
                ((start + len) << 12) - 1, len, len * 4);
        runs++;
        total += len;
        best = len > best ? len : best;
    }
    if (!c->sfo)
        say(c, L"%ld free ranges, %ld pages; largest run %ld pages (%ld MiB)\n", runs, total, best,
            MIB(best));
    return SHELL_SUCCESS;
}

/* The range-table entry for pfn, or NULL for a hole. */
static const struct pmm_range *range_of(struct pmm *p, UINT64 pfn)
{
    UINT64 n;
    const struct pmm_range *r = pmm_ranges(p, &n);
    UINT64 lo = 0, hi = n;
    while (lo < hi) {
        UINT64 mid = lo + (hi - lo) / 2;
        if (r[mid].start + r[mid].npages <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && r[lo].start <= pfn ? &r[lo] : NULL;
}

static CHAR16 glyph(struct pmm *p, UINT64 pfn)
{
    switch (pmm_page_state(p, pfn)) {
    case PMM_PAGE_FREE:
        return L'.';
    case PMM_PAGE_ALLOC:
        return L'#';
    case PMM_PAGE_META:
        return L'M';
    case PMM_PAGE_WITHHELD:
        return L'w';
    case PMM_PAGE_NEVER: {
        const struct pmm_range *r = range_of(p, pfn);
        return r && (r->type == PMM_EFI_MMIO || r->type == PMM_EFI_MMIO_PORT) ? L'i' : L'r';
    }
    default:
        return L' ';
    }
}

/*
 * One character per slice of [0, span). A slice shows M if it holds metadata, # if any sampled
 * page is allocated, otherwise the most common of its sampled pages (up to 32 per slice).
 */
SHELL_STATUS view_picture(struct cmd *c)
{
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    UINTN cols = 80, rows = 25;
    uefi_call_wrapper(ST->ConOut->QueryMode, 4, ST->ConOut, ST->ConOut->Mode->Mode, &cols, &rows);
    UINT64 width = cols > 40 ? cols - 18 : 22, lines = 16;
    if (width > 128)
        width = 128;
    UINT64 slice = (s.span + width * lines - 1) / (width * lines);
    UINT64 meta = s.meta_phys >> 12;
    static const CHAR16 order[] = L".w r i#M";
    for (UINT64 l = 0; l < lines && !c->quit; l++) {
        CHAR16 row[140];
        UINT64 k = 0;
        for (; k < width; k++) {
            UINT64 first = (l * width + k) * slice;
            if (first >= s.span)
                break;
            UINT64 count[8] = {0}, step = slice > 32 ? slice / 32 : 1;
            for (UINT64 pfn = first; pfn < first + slice && pfn < s.span; pfn += step)
                for (int g = 0; g < 8; g++)
                    if (order[g] == glyph(c->pmm, pfn))
                        count[g]++;
            UINT64 best = 0;
            for (int g = 1; g < 8; g++)
                if (count[g] > count[best])
                    best = (UINT64)g;
            if (count[6])
                best = 6;
            if (meta < first + slice && meta + s.meta > first)
                best = 7;
            row[k] = order[best];
        }
        row[k] = 0;
        if (k)
            say(c, L"0x%012lx |%s|\n", l * width * slice * 4096, row);
    }
    say(c,
        L"one character = %ld KiB.  . free  # allocated  M metadata  w withheld (boot memory)\n"
        L"r reserved/runtime/ACPI  i MMIO  (blank) no memory\n",
        slice * 4);
    return SHELL_SUCCESS;
}

/*
 * The firmware map in the Linux efi=debug numeric format, which tools/mapfile.c (and so the host
 * simulator) reads: type numbers and attributes exactly as the firmware gave them.
 */
SHELL_STATUS save_map(struct cmd *c, const CHAR16 *path)
{
    struct fwmap m;
    if (EFI_ERROR(fw_get_map(&m))) {
        say(c, L"pmm: cannot read the memory map\n");
        return SHELL_DEVICE_ERROR;
    }
    UINTN n = m.size / m.desc_size, cap = 200 * (n + 4), len = 0;
    CHAR8 *text = AllocatePool(cap);
    CHAR16 line[200];
    UnicodeSPrint(line, sizeof line,
                  L"# uefi-pmm: memory map saved by `pmm save`; DescriptorSize=%ld version=%d\n",
                  m.desc_size, m.desc_version);
    for (UINTN i = 0; text && i <= n; i++) {
        if (i > 0) {
            EFI_MEMORY_DESCRIPTOR *d =
                (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)m.buf + (i - 1) * m.desc_size);
            UnicodeSPrint(
                line, sizeof line,
                L"efi: mem%02ld: type=%d, attr=0x%lx, range=[0x%016lx-0x%016lx) (%ldMB)\n", i - 1,
                d->Type, d->Attribute, d->PhysicalStart, d->PhysicalStart + d->NumberOfPages * 4096,
                d->NumberOfPages >> 8);
        }
        for (CHAR16 *q = line; *q && len < cap; q++)
            text[len++] = (CHAR8)*q;
    }
    FreePool(m.buf);
    if (!text)
        return SHELL_OUT_OF_RESOURCES;
    SHELL_FILE_HANDLE fh;
    uefi_call_wrapper(c->shell->DeleteFileByName, 1, path);
    EFI_STATUS st =
        uefi_call_wrapper(c->shell->OpenFileByName, 3, path, &fh,
                          EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE);
    if (!EFI_ERROR(st)) {
        UINTN size = len;
        st = uefi_call_wrapper(c->shell->WriteFile, 3, fh, &size, text);
        uefi_call_wrapper(c->shell->CloseFile, 1, fh);
    }
    FreePool(text);
    if (EFI_ERROR(st)) {
        say(c, L"pmm: cannot write %s: %r\n", path, st);
        return SHELL_DEVICE_ERROR;
    }
    say(c, L"pmm: saved %ld descriptors to %s\n", n, path);
    return SHELL_SUCCESS;
}
