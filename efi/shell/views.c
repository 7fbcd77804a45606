/*
 * views.c - what `pmm` shows: stats, the firmware map as the allocator classifies it, free
 * ranges and a picture of physical memory. Text lines fit an 80-column console: the summary line
 * every front end prints (pmm_summary) is wrapped there, as every longer line is (out.c).
 *
 * Two maps appear, each counted from one source: the one the allocator was built from (its range
 * table: pmm stats) and the firmware's map now (pmm map). They differ by the allocator's own pages,
 * metadata and allocations, which were free at the build and are LoaderData now; pmm map says so.
 */
#include "shell.h"

#define MIB(pages) ((pages) >> 8)

SHELL_STATUS view_stats(struct cmd *c)
{
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    if (c->flags & ARG_FLAG_SFO) {
        say(c, L"ShellCommand,\"pmm\"\n");
        say(c,
            L"PmmSummary,\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\",\"%ld\"\n",
            s.total, s.free, s.used, s.meta, s.alloc, s.withheld, s.largest, s.below4g, s.below16m);
        CHAR16 a[17];
        say(c, L"PmmMetadata,\"%s\",\"%ld\"\n", hex(a, s.meta_phys), s.meta);
        for (int k = 0; k < PMM_NKINDS; k++)
            say(c, L"PmmKind,\"%s\",\"%ld\"\n", kind_name((enum pmm_kind)k), s.kind_pages[k]);
        say(c, L"PmmSections,\"%ld\",\"%ld\",\"%ld\"\n", s.present_sections, s.sections,
            s.unmanaged);
        for (uint32_t n = 0; n < s.nodes; n++) {
            struct pmm_node_stats ns;
            if (!pmm_node_stats(c->pmm, n, &ns))
                say(c, L"PmmNode,\"%d\",\"%ld\",\"%ld\"\n", n, ns.total, ns.free + ns.cached);
        }
        return SHELL_SUCCESS;
    }
    char line[256];
    pmm_summary(c->pmm, line, sizeof line);
    say(c, L"%a\n", line);
    say(c, L"                          pages       MiB\n");
    say(c, L"  usable RAM         %10ld %9ld\n", s.total, MIB(s.total));
    say(c, L"  free               %10ld %9ld\n", s.free, MIB(s.free));
    say(c, L"  allocated          %10ld %9ld\n", s.alloc, MIB(s.alloc));
    say(c, L"  metadata           %10ld %9ld  at 0x%lx-0x%lx\n", s.meta, MIB(s.meta), s.meta_phys,
        s.meta_phys + s.meta * 4096 - 1);
    say(c, L"  withheld           %10ld %9ld  page 0; boot memory until exit\n", s.withheld,
        MIB(s.withheld));
    say(c, L"  largest free run   %10ld %9ld\n", s.largest, MIB(s.largest));
    say(c, L"  free below 4 GiB   %10ld %9ld\n", s.below4g, MIB(s.below4g));
    say(c, L"  free below 16 MiB  %10ld %9ld\n", s.below16m, MIB(s.below16m));
    say(c, L"  the map it was built from: %ld descriptor%s; pages free-now %ld,\n", c->built_ndesc,
        plural(c->built_ndesc), s.kind_pages[PMM_KIND_FREE]);
    say(c, L"    after-exit %ld, never %ld (pmm map: the map now)\n", s.kind_pages[PMM_KIND_BOOT],
        s.kind_pages[PMM_KIND_NEVER]);
    say(c, L"  span %ld page%s (%ld MiB)%s\n", s.span, plural(s.span), MIB(s.span),
        s.reconciled ? L"; reconciled" : L"; boot services alive");
    say(c, L"  sections of 128 MiB: %ld, %ld with RAM (only those have metadata)\n", s.sections,
        s.present_sections);
    if (s.unmanaged)
        say(c, L"  usable but outside those sections: %ld page%s, not used\n", s.unmanaged,
            plural(s.unmanaged));
    for (uint32_t n = 0; s.nodes > 1 && n < s.nodes; n++) { /* NUMA: the ACPI SRAT's nodes */
        struct pmm_node_stats ns;
        if (!pmm_node_stats(c->pmm, n, &ns))
            say(c, L"  node %d: %ld pages, %ld free\n", n, ns.total, ns.free + ns.cached);
    }
    return SHELL_SUCCESS;
}

/* The firmware's current map, descriptors copied out (after it was read: the copy is not in it)
 * and sorted by address. */
static EFI_MEMORY_DESCRIPTOR *sorted_map(UINTN *n)
{
    struct fwmap m;
    if (EFI_ERROR(map_read(&m)))
        return NULL;
    *n = m.size / m.desc_size;
    EFI_MEMORY_DESCRIPTOR *d = AllocatePool(*n * sizeof *d + 1);
    for (UINTN i = 0; d && i < *n; i++)
        CopyMem(&d[i], (UINT8 *)m.buf + i * m.desc_size, sizeof *d);
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
        err(c, L"pmm map: cannot read the memory map\n");
        return SHELL_DEVICE_ERROR;
    }
    int sfo = c->flags & ARG_FLAG_SFO;
    UINT64 pages[PMM_NKINDS] = {0};
    if (sfo)
        say(c, L"ShellCommand,\"pmm\"\n");
    else
        say(c, L"Type        Start        End              Pages Attributes       Managed as\n");
    for (UINTN i = 0; i < n && !c->quit; i++) {
        enum pmm_kind k = pmm_classify(d[i].Type, d[i].Attribute);
        UINT64 end = d[i].PhysicalStart + d[i].NumberOfPages * 4096 - 1;
        pages[k] += d[i].NumberOfPages;
        CHAR16 a[17], b[17], n[17], t[17], name[16];
        if (sfo)
            say(c, L"PmmMap,\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"\n", type_name(d[i].Type),
                hex(a, d[i].PhysicalStart), hex(b, end), hex(n, d[i].NumberOfPages),
                hex(t, d[i].Attribute), kind_name(k));
        else /* 11 + 1 + 12 + 1 + 12 + 10 + 1 + 16 + 1 + 10 = 75 columns below 256 TiB */
            say(c, L"%s %012lx-%012lx %9ld %016lx %s\n", pad(name, 11, short_type(d[i].Type)),
                d[i].PhysicalStart, end, d[i].NumberOfPages, d[i].Attribute, kind_name(k));
    }
    FreePool(d);
    if (sfo) {
        say(c, L"PmmMapTotal,\"%ld\",\"%ld\",\"%ld\"\n", pages[0], pages[1], pages[2]);
        return SHELL_SUCCESS;
    }
    say(c, L"%ld descriptor%s; pages free-now %ld, after-exit %ld, never %ld\n", n, plural(n),
        pages[0], pages[1], pages[2]);
    if (c->pmm) { /* why free-now is less than in the map it was built from (pmm stats) */
        struct pmm_stats s;
        pmm_stats(c->pmm, &s);
        say(c, L"after-exit includes the allocator's LoaderData: metadata %ld, allocated %ld\n",
            s.meta, s.alloc);
    }
    if (c->app_end) /* what differs once pmm.efi has returned */
        say(c, L"pmm.efi itself: 0x%lx-0x%lx, freed when it returns\n", c->app_base, c->app_end);
    return SHELL_SUCCESS;
}

SHELL_STATUS view_ranges(struct cmd *c)
{
    UINT64 start, len, runs = 0, best = 0, total = 0;
    int sfo = c->flags & ARG_FLAG_SFO;
    if (sfo)
        say(c, L"ShellCommand,\"pmm\"\n");
    else
        say(c, L"  Start          End                 Pages       KiB\n");
    for (UINT64 pfn = 0; !c->quit && pmm_next_free_range(c->pmm, pfn, &start, &len);
         pfn = start + len) {
        CHAR16 a[17], b[17];
        if (sfo)
            say(c, L"PmmRanges,\"%s\",\"%s\",\"%ld\"\n", hex(a, start << 12),
                hex(b, ((start + len) << 12) - 1), len);
        else
            say(c, L"  0x%012lx-0x%012lx %10ld %9ld\n", start << 12, ((start + len) << 12) - 1, len,
                len * 4);
        runs++;
        total += len;
        best = len > best ? len : best;
    }
    if (!sfo)
        say(c, L"%ld free range%s, %ld page%s; largest run %ld page%s (%ld MiB)\n", runs,
            plural(runs), total, plural(total), best, plural(best), MIB(best));
    return SHELL_SUCCESS;
}

/* The range-table entry for pfn, or NULL for a hole. */
const struct pmm_range *range_of(struct pmm *p, UINT64 pfn)
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

#define PIC_MAX_WIDTH 64
#define PIC_MAX_LINES 20

/*
 * One character per slice of [0, span); a slice is a power of two of pages, so every row starts at
 * a round address. Priority: M if the slice holds metadata, # if any page in it is allocated
 * (exact: one pass over the allocated runs, a word of the bitmap at a time), otherwise the most
 * common state among up to 32 pages sampled across it.
 */
SHELL_STATUS view_picture(struct cmd *c)
{
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    UINTN cols = 80, rows = 25;
    uefi_call_wrapper(ST->ConOut->QueryMode, 4, ST->ConOut, ST->ConOut->Mode->Mode, &cols, &rows);
    /* "0x000000000000 |" + row + "|" must stay below the console's width */
    UINT64 width = cols >= 18 + PIC_MAX_WIDTH ? PIC_MAX_WIDTH : PIC_MAX_WIDTH / 2;
    UINT64 slice = 1;
    while (slice * width * PIC_MAX_LINES < s.span)
        slice <<= 1;
    UINT64 nslices = (s.span + slice - 1) / slice;
    static CHAR16 cell[PIC_MAX_WIDTH * PIC_MAX_LINES];
    for (UINT64 i = 0; i < nslices; i++)
        cell[i] = 0;
    UINT64 start, n;
    for (UINT64 pfn = 0; pmm_next_alloc_range(c->pmm, pfn, &start, &n); pfn = start + n)
        for (UINT64 i = start / slice; i <= (start + n - 1) / slice; i++)
            cell[i] = L'#';
    UINT64 meta = s.meta_phys >> 12;
    for (UINT64 i = meta / slice; s.meta && i <= (meta + s.meta - 1) / slice; i++)
        cell[i] = L'M';
    static const CHAR16 order[] = L".wri ";
    for (UINT64 i = 0; i < nslices; i++) {
        if (cell[i])
            continue;
        UINT64 count[5] = {0}, step = slice > 32 ? slice / 32 : 1, first = i * slice;
        for (UINT64 pfn = first; pfn < first + slice && pfn < s.span; pfn += step)
            for (int g = 0; g < 5; g++)
                if (order[g] == glyph(c->pmm, pfn))
                    count[g]++;
        int best = 0;
        for (int g = 1; g < 5; g++)
            if (count[g] > count[best])
                best = g;
        cell[i] = order[best];
    }
    for (UINT64 l = 0; l * width < nslices && !c->quit; l++) {
        CHAR16 row[PIC_MAX_WIDTH + 1];
        UINT64 k = 0;
        for (; k < width && l * width + k < nslices; k++)
            row[k] = cell[l * width + k];
        row[k] = 0;
        say(c, L"0x%012lx |%s|\n", l * width * slice * 4096, row);
    }
    say(c, L"one character = %ld KiB: # any page allocated, M metadata, . free,\n", slice * 4);
    say(c, L"w withheld (boot memory), r reserved/runtime/ACPI, i MMIO, blank: no memory\n");
    return SHELL_SUCCESS;
}
