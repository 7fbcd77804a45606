/*
 * mapfile.c - text memory maps to EFI descriptors. See mapfile.h for the formats.
 */
#include "mapfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int type;
} type_names[] = {
    /* Linux efi=debug names (arch/x86 and drivers/firmware/efi) */
    {"Reserved", 0},
    {"Loader Code", 1},
    {"Loader Data", 2},
    {"Boot Code", 3},
    {"Boot Data", 4},
    {"Runtime Code", 5},
    {"Runtime Data", 6},
    {"Conventional Memory", 7},
    {"Conventional", 7},
    {"Unusable Memory", 8},
    {"ACPI Reclaim Memory", 9},
    {"ACPI Memory NVS", 10},
    {"Memory Mapped I/O", 11},
    {"MMIO Port Space", 12},
    {"PAL Code", 13},
    {"Persistent Memory", 14},
    {"Unaccepted Memory", 15},
    /* UEFI shell memmap names (EDK II and older shells), compared without case */
    {"LoaderCode", 1},
    {"LoaderData", 2},
    {"BS_code", 3},
    {"BS_data", 4},
    {"RT_code", 5},
    {"RT_data", 6},
    {"available", 7},
    {"Unusable", 8},
    {"ACPI_recl", 9},
    {"ACPIRec", 9},
    {"ACPI_NVS", 10},
    {"MemMapIO", 11},
    {"MMIO", 11},
    {"MemPortIO", 12},
    {"MMIO_Port", 12},
    {"PalCode", 13},
    {"PAL_code", 13},
    {"Persistent", 14},
    {"Unaccepted", 15},
};

int mapfile_type_by_name(const char *name, size_t len)
{
    while (len && isspace((unsigned char)name[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strlen(type_names[i].name) == len && !strncasecmp(type_names[i].name, name, len))
            return type_names[i].type;
    return -1;
}

/*
 * mf->error = "NAME:LINE: why" (":LINE" only if line > 0). Any name fits: when the whole text
 * would not, the name loses its start ("...") so the line number and the reason survive.
 */
static int fail(struct mapfile *mf, const char *name, int line, const char *fmt, ...)
{
    char why[sizeof mf->error];
    int at = line > 0 ? snprintf(why, sizeof why, ":%d: ", line) : snprintf(why, sizeof why, ": ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + at, sizeof why - (size_t)at, fmt, ap); /* at < 16: the prefix always fits */
    va_end(ap);
    size_t wn = strlen(why), room = sizeof mf->error - 1 - wn, n = strlen(name);
    char *o = mf->error;
    if (n > room) {
        size_t keep = room >= 3 ? room - 3 : 0;
        if (room >= 3) {
            memcpy(o, "...", 3);
            o += 3;
        }
        name += n - keep;
        n = keep;
    }
    memcpy(o, name, n);
    memcpy(o + n, why, wn + 1);
    return -1;
}

static int add(struct mapfile *mf, uint32_t type, uint64_t start, uint64_t pages, uint64_t attr)
{
    if (mf->n == mf->cap) {
        size_t cap = mf->cap ? mf->cap * 2 : 64;
        struct pmm_efi_desc *d = realloc(mf->desc, cap * sizeof *d);
        if (!d)
            return -1;
        mf->desc = d;
        mf->cap = cap;
    }
    mf->desc[mf->n++] = (struct pmm_efi_desc){type, 0, start, 0, pages, attr};
    return 0;
}

/* Attribute names Linux prints in the named format's columns. */
static uint64_t attr_by_name(const char *s, size_t len)
{
    static const struct {
        const char *name;
        uint64_t bit;
    } names[] = {{"UC", 0x1},      {"WC", 0x2},         {"WT", 0x4},       {"WB", 0x8},
                 {"UCE", 0x10},    {"WP", 0x1000},      {"RP", 0x2000},    {"XP", 0x4000},
                 {"NV", 0x8000},   {"MR", 0x10000},     {"RO", 0x20000},   {"SP", 0x40000},
                 {"CPU", 0x80000}, {"RUN", 1ull << 63}, {"??", 1ull << 40}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && !strncmp(names[i].name, s, len))
            return names[i].bit;
    return 0;
}

/* "range=[a-b]" or "range=[a-b)": start and page count. */
static int parse_range(const char *r, uint64_t *start, uint64_t *pages, const char **why)
{
    unsigned long long a, b;
    char close;
    int used = 0;
    if (sscanf(r, "range=[%llx-%llx%c%n", &a, &b, &close, &used) != 3 || used == 0) {
        *why = "range=[start-end] does not parse";
        return -1;
    }
    if (close == ']') {
        if (b == ~0ull) {
            *why = "range end wraps past 2^64";
            return -1;
        }
        b++;
    } else if (close != ')') {
        *why = "range must close with ']' or ')'";
        return -1;
    }
    if (b < a) {
        *why = "range ends before it starts";
        return -1;
    }
    if ((a & 0xfff) || (b & 0xfff)) {
        *why = "range is not page aligned";
        return -1;
    }
    *start = a;
    *pages = (b - a) >> 12;
    return 0;
}

static int parse_linux(struct mapfile *mf, const char *name, int ln, const char *line,
                       const char *mem)
{
    const char *why = "line does not parse";
    const char *r = strstr(mem, "range=[");
    uint64_t start, pages, attr = 0;
    unsigned type;
    if (!r)
        return fail(mf, name, ln, "descriptor line has no range=[...]");
    const char *t = strstr(mem, "type=");
    if (t && t < r) {
        unsigned long long a;
        if (sscanf(t, "type=%u, attr=%llx", &type, &a) != 2)
            return fail(mf, name, ln, "expected 'type=N, attr=0x...': %.80s", line);
        attr = a;
    } else {
        const char *open = strchr(mem, '[');
        const char *bar = open ? strchr(open, '|') : 0;
        const char *close = bar ? strchr(bar, ']') : 0;
        if (!open || !bar || !close || close > r)
            return fail(mf, name, ln, "expected '[Type name|attributes]' before range=");
        int ty = mapfile_type_by_name(open + 1, (size_t)(bar - open - 1));
        if (ty < 0)
            return fail(mf, name, ln, "unknown memory type '%.*s'", (int)(bar - open - 1),
                        open + 1);
        type = (unsigned)ty;
        for (const char *c = bar; c < close;) {
            while (c < close && (*c == '|' || *c == ' '))
                c++;
            const char *e = c;
            while (e < close && *e != '|' && *e != ' ')
                e++;
            if (e > c && !strncmp(c, "attr=0x", 7)) {
                /* Linux prints the raw value when bits it has no name for are set */
                char *end;
                attr |= strtoull(c + 7, &end, 16);
                if (end != e)
                    return fail(mf, name, ln, "attr=0x... does not parse");
            } else if (e > c) {
                uint64_t bit = attr_by_name(c, (size_t)(e - c));
                if (!bit)
                    return fail(mf, name, ln, "unknown attribute '%.*s'", (int)(e - c), c);
                attr |= bit;
            }
            c = e;
        }
    }
    if (parse_range(r, &start, &pages, &why))
        return fail(mf, name, ln, "%s", why);
    return add(mf, type, start, pages, attr) ? fail(mf, name, ln, "out of memory") : 0;
}

/* UEFI shell memmap: "Name  start-end  pages  attr" in hex, end inclusive. */
static int parse_shell(struct mapfile *mf, const char *name, int ln, const char *line, int *hit)
{
    char tname[32];
    unsigned long long a, b, pages, attr;
    *hit = 0;
    if (sscanf(line, " %31s %llx-%llx %llx %llx", tname, &a, &b, &pages, &attr) != 5)
        return 0;
    int ty = mapfile_type_by_name(tname, strlen(tname));
    if (ty < 0)
        return 0; /* a header or summary line */
    *hit = 1;
    if (b < a || ((b + 1 - a) >> 12) != pages || (a & 0xfff) || ((b + 1 - a) & 0xfff))
        return fail(mf, name, ln, "start-end is not whole pages matching the page count %llx",
                    pages);
    return add(mf, (uint32_t)ty, a, pages, attr) ? fail(mf, name, ln, "out of memory") : 0;
}

/*
 * "SRAT: Node N PXM P [mem 0xA-0xB]" (B inclusive), optionally "hotplug": a node's memory.
 * Returns 0 (not such a line: *hit clear), or -1 with the error set for one that does not parse.
 */
static int parse_srat(struct mapfile *mf, const char *name, int ln, const char *line, int *hit)
{
    const char *s = strstr(line, "SRAT: Node ");
    *hit = 0;
    if (!s || !strstr(s, "[mem "))
        return 0;
    *hit = 1;
    unsigned node, pxm;
    unsigned long long a, b;
    if (sscanf(s, "SRAT: Node %u PXM %u [mem 0x%llx-0x%llx]", &node, &pxm, &a, &b) != 4)
        return fail(mf, name, ln, "SRAT line does not read 'Node N PXM P [mem 0xA-0xB]'");
    if (b < a || (a & 0xfff) || ((b + 1) & 0xfff) || node >= PMM_MAX_NODES)
        return fail(mf, name, ln, "SRAT range not whole pages, or node above %d", PMM_MAX_NODES);
    if (mf->nnuma == mf->numa_cap) {
        size_t cap = mf->numa_cap ? 2 * mf->numa_cap : 16;
        struct pmm_numa_range *r = realloc(mf->numa, cap * sizeof *r);
        if (!r)
            return fail(mf, name, ln, "out of memory");
        mf->numa = r;
        mf->numa_cap = cap;
    }
    mf->numa[mf->nnuma++] = (struct pmm_numa_range){a >> 12, ((b - a) >> 12) + 1, node,
                                                    strstr(s, "hotplug") ? PMM_NUMA_HOTPLUG : 0};
    if (node + 1 > mf->nnodes)
        mf->nnodes = node + 1;
    return 0;
}

/* Sort the SRAT ranges and merge touching ones of a node; overlapping ones are an error. */
static int numa_sort(struct mapfile *mf, const char *name)
{
    for (size_t i = 1; i < mf->nnuma; i++) {
        struct pmm_numa_range t = mf->numa[i];
        size_t j = i;
        for (; j && mf->numa[j - 1].start > t.start; j--)
            mf->numa[j] = mf->numa[j - 1];
        mf->numa[j] = t;
    }
    size_t k = 0;
    for (size_t i = 0; i < mf->nnuma; i++) {
        struct pmm_numa_range *last = k ? &mf->numa[k - 1] : 0;
        if (last && last->start + last->npages > mf->numa[i].start)
            return fail(mf, name, 0, "SRAT ranges overlap at page 0x%llx",
                        (unsigned long long)mf->numa[i].start);
        if (last && last->start + last->npages == mf->numa[i].start &&
            last->node == mf->numa[i].node && last->flags == mf->numa[i].flags)
            last->npages += mf->numa[i].npages;
        else
            mf->numa[k++] = mf->numa[i];
    }
    mf->nnuma = k;
    return 0;
}

/*
 * Linux 2.6 printed the numeric form without the "efi: " prefix: "mem00: type=7, attr=0xf,
 * range=[...)". Such a line is one whose word "memNN:" (NN decimal) is followed by " type=";
 * returns the "mem", or NULL for every other line (a whole dmesg has many words starting "mem").
 */
static const char *bare_mem(const char *line)
{
    for (const char *m = strstr(line, "mem"); m; m = strstr(m + 1, "mem")) {
        if (m > line && !isspace((unsigned char)m[-1]) && m[-1] != ']')
            continue;
        const char *d = m + 3;
        while (isdigit((unsigned char)*d))
            d++;
        if (d > m + 3 && !strncmp(d, ": type=", 7))
            return m;
    }
    return 0;
}

int mapfile_parse(struct mapfile *mf, const char *name, const char *text)
{
    int ln = 0;
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char line[1024];
        ln++;
        if (len >= sizeof line)
            return fail(mf, name, ln, "line longer than %zu characters", sizeof line - 1);
        memcpy(line, s, len);
        line[len] = 0;
        if (len && line[len - 1] == '\r')
            line[len - 1] = 0;
        s = nl ? nl + 1 : s + len;

        const char *lead = line;
        while (isspace((unsigned char)*lead))
            lead++;
        if (*lead == '#' || !*lead)
            continue;
        const char *efi = strstr(line, "efi: mem");
        if (!efi)
            efi = strstr(line, "EFI: mem");
        const char *mem = efi ? efi + 5 : bare_mem(line);
        if (mem) {
            if (parse_linux(mf, name, ln, line, mem))
                return -1;
            continue;
        }
        int hit;
        if (parse_srat(mf, name, ln, line, &hit))
            return -1;
        if (hit)
            continue;
        if (parse_shell(mf, name, ln, line, &hit))
            return -1;
    }
    if (!mf->n)
        return fail(mf, name, ln, "no memory descriptors found");
    return numa_sort(mf, name);
}

int mapfile_read(struct mapfile *mf, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(mf, path, 0, "cannot open: %s", strerror(errno));
    long size = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    char *text = size >= 0 && !fseek(f, 0, SEEK_SET) ? malloc((size_t)size + 1) : 0;
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!text || got != (size_t)size) {
        free(text);
        return fail(mf, path, 0, "cannot read");
    }
    text[size] = 0;
    int rc = mapfile_parse(mf, path, text);
    free(text);
    return rc;
}

void mapfile_free(struct mapfile *mf)
{
    free(mf->desc);
    free(mf->numa);
    memset(mf, 0, sizeof *mf);
}

void *mapfile_pack(const struct mapfile *mf, size_t desc_size, size_t *map_size)
{
    unsigned char *buf = calloc(mf->n ? mf->n : 1, desc_size);
    for (size_t i = 0; buf && i < mf->n; i++)
        memcpy(buf + i * desc_size, &mf->desc[i], sizeof mf->desc[i]);
    *map_size = mf->n * desc_size;
    return buf;
}
