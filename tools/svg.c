/*
 * svg.c - the physical address space as a strip of segments: free, allocated, metadata, withheld
 * (usable but not in the pool), reserved, MMIO and holes. Widths grow with log2(pages), so a
 * one-page ACPI table stays visible next to 60 GiB of RAM; each segment is labelled with its
 * start address and size where it has room, and carries a tooltip with the exact range.
 */
#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum seg { FREE, ALLOC, META, WITHHELD, RESERVED, MMIO, HOLE, NSEG };
static const char *const names[NSEG] = {"free",     "allocated", "metadata", "withheld",
                                        "reserved", "MMIO",      "no memory"};
static const char *const colors[NSEG] = {"#4caf50", "#e53935", "#8e24aa", "#ffb300",
                                         "#607d8b", "#6d4c41", "#eeeeee"};

struct segs {
    struct {
        uint64_t start, pages;
        enum seg kind;
    } * v;
    size_t n, cap;
};

static void add(struct segs *s, uint64_t start, uint64_t pages, enum seg kind)
{
    if (!pages)
        return;
    if (s->n && s->v[s->n - 1].kind == kind &&
        s->v[s->n - 1].start + s->v[s->n - 1].pages == start) {
        s->v[s->n - 1].pages += pages;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].start = start;
    s->v[s->n].pages = pages;
    s->v[s->n++].kind = kind;
}

/* Split usable [a, b) into free, allocated, metadata and withheld pieces. */
static void usable(struct segs *s, const struct pmm *p, uint64_t a, uint64_t b, uint64_t meta,
                   uint64_t mend)
{
    while (a < b) {
        uint64_t fs, fn, as, an;
        if (!pmm_next_free_range(p, a, &fs, &fn) || fs >= b)
            fs = b, fn = 0;
        if (!pmm_next_alloc_range(p, a, &as, &an) || as >= b)
            as = b, an = 0;
        uint64_t next = fs < as ? fs : as;
        if (meta < next && mend > a) { /* metadata comes first */
            uint64_t ms = meta > a ? meta : a;
            add(s, a, ms - a, WITHHELD);
            uint64_t me = mend < b ? mend : b;
            add(s, ms, me - ms, META);
            a = me;
            continue;
        }
        add(s, a, next - a, WITHHELD);
        if (next == b)
            break;
        uint64_t end = next == fs ? fs + fn : as + an;
        end = end < b ? end : b;
        add(s, next, end - next, next == fs ? FREE : ALLOC);
        a = end;
    }
}

static void human(char *buf, size_t len, uint64_t pages)
{
    double kib = (double)pages * 4;
    const char *u[] = {"KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (kib >= 1024 && i < 3) {
        kib /= 1024;
        i++;
    }
    snprintf(buf, len, kib < 10 ? "%.1f %s" : "%.0f %s", kib, u[i]);
}

int svg_write(const struct pmm *p, const char *path, const char *title, const char *summary)
{
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t n, cur = 0, meta = st.meta_phys >> 12, mend = meta + st.meta;
    const struct pmm_range *r = pmm_ranges(p, &n);
    struct segs s = {0};
    for (uint64_t i = 0; i < n; i++) {
        add(&s, cur, r[i].start > cur ? r[i].start - cur : 0, HOLE);
        uint64_t end = r[i].start + r[i].npages;
        if (r[i].kind == PMM_KIND_NEVER)
            add(&s, r[i].start, r[i].npages,
                r[i].type == PMM_EFI_MMIO || r[i].type == PMM_EFI_MMIO_PORT ? MMIO : RESERVED);
        else
            usable(&s, p, r[i].start, end, meta, mend);
        cur = end;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const double row_w = 1500, row_h = 64, left = 20;
    double x = left, y = 110, maxy = y;
    /* first pass for the height */
    for (size_t i = 0; i < s.n; i++) {
        double w = 6 + 7 * log2(1 + (double)s.v[i].pages);
        if (x + w > left + row_w)
            x = left, maxy += row_h;
        x += w;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"monospace\" font-size=\"11\">\n",
            row_w + 2 * left, maxy + row_h + 20);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">uefi-pmm: %s</text>\n", left, title);
    fprintf(f, "<text x=\"%.0f\" y=\"42\">%s</text>\n", left, summary);
    fprintf(f,
            "<text x=\"%.0f\" y=\"60\">width grows with log2(pages): small ranges stay visible; "
            "hover a segment for its exact range</text>\n",
            left);
    for (int k = 0; k < NSEG; k++) {
        fprintf(
            f, "<rect x=\"%.0f\" y=\"72\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"#333\"/>",
            left + k * 130.0, colors[k]);
        fprintf(f, "<text x=\"%.0f\" y=\"83\">%s</text>\n", left + k * 130.0 + 20, names[k]);
    }
    x = left;
    for (size_t i = 0; i < s.n; i++) {
        double w = 6 + 7 * log2(1 + (double)s.v[i].pages);
        if (x + w > left + row_w)
            x = left, y += row_h;
        char size[32];
        human(size, sizeof size, s.v[i].pages);
        unsigned long long a = s.v[i].start << 12, e = (s.v[i].start + s.v[i].pages) << 12;
        fprintf(
            f,
            "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"24\" fill=\"%s\" "
            "stroke=\"#333\" stroke-width=\"0.5\"><title>%s 0x%llx-0x%llx (%s)</title></rect>\n",
            x, y, w, colors[s.v[i].kind], names[s.v[i].kind], a, e - 1, size);
        if (w > 70)
            fprintf(
                f,
                "<text x=\"%.1f\" y=\"%.0f\">0x%llx</text><text x=\"%.1f\" y=\"%.0f\">%s</text>\n",
                x + 2, y + 36, a, x + 2, y + 48, size);
        x += w;
    }
    fprintf(f, "</svg>\n");
    free(s.v);
    return fclose(f) ? -1 : 0;
}
