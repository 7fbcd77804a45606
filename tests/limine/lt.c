/*
 * lt.c - see lt.h: output, checks, the command line, CPU facts, the page-table walker and the
 * memory-map lookups every test kernel shares.
 */
#include "lt.h"

_Static_assert(__builtin_offsetof(struct cpu_state, rsp) == ST_RSP, "state.h offsets");
_Static_assert(__builtin_offsetof(struct cpu_state, cr0) == ST_CR0, "state.h offsets");
_Static_assert(__builtin_offsetof(struct cpu_state, cs) == ST_CS, "state.h offsets");
_Static_assert(__builtin_offsetof(struct cpu_state, gdtr) == ST_GDTR, "state.h offsets");
_Static_assert(__builtin_offsetof(struct cpu_state, tr) == ST_TR, "state.h offsets");
_Static_assert(__builtin_offsetof(struct cpu_state, done) == ST_DONE, "state.h offsets");
_Static_assert(sizeof(struct cpu_state) == ST_SIZE, "state.h size");

/* ---- memory and strings: what the compiler may call by itself, and a few helpers ---- */

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q)
        return memcpy(d, s, n);
    while (n--)
        p[n] = q[n];
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i])
            return p[i] < q[i] ? -1 : 1;
    return 0;
}

size_t lt_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int lt_streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* FNV-1a, 64 bits: the test script computes the same over each file it writes. */
uint64_t fnv64(const void *p, uint64_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- formatted output ---- */

struct sink {
    char *buf;
    size_t cap, len;
};

static void put(struct sink *s, char c)
{
    if (s->buf) {
        if (s->len + 1 < s->cap)
            s->buf[s->len] = c;
    } else {
        outb(0xe9, (uint8_t)c);
    }
    s->len++;
}

static void vformat(struct sink *s, const char *f, va_list ap)
{
    for (; *f; f++) {
        if (*f != '%') {
            put(s, *f);
            continue;
        }
        f++;
        int zero = 0, width = 0, longs = 0;
        if (*f == '0')
            zero = 1, f++;
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l' || *f == 'z')
            longs++, f++;
        char tmp[24];
        int n = 0, neg = 0;
        uint64_t v;
        switch (*f) {
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            for (int k = (int)lt_strlen(str); k < width; k++)
                put(s, ' ');
            while (*str)
                put(s, *str++);
            continue;
        }
        case 'c':
            put(s, (char)va_arg(ap, int));
            continue;
        case '%':
            put(s, '%');
            continue;
        case 'p':
            v = (uint64_t)(uintptr_t)va_arg(ap, void *);
            put(s, '0');
            put(s, 'x');
            do
                tmp[n++] = "0123456789abcdef"[v & 15];
            while (v >>= 4);
            break;
        case 'x':
            v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            do
                tmp[n++] = "0123456789abcdef"[v & 15];
            while (v >>= 4);
            break;
        case 'd':
        case 'i': {
            int64_t sv = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            neg = sv < 0;
            v = neg ? 0 - (uint64_t)sv : (uint64_t)sv;
            do
                tmp[n++] = (char)('0' + v % 10);
            while (v /= 10);
            break;
        }
        case 'u':
            v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            do
                tmp[n++] = (char)('0' + v % 10);
            while (v /= 10);
            break;
        default:
            put(s, '%');
            put(s, *f);
            continue;
        }
        if (neg)
            put(s, '-');
        for (int k = n + neg; k < width; k++)
            put(s, zero ? '0' : ' ');
        while (n)
            put(s, tmp[--n]);
    }
}

void lt_printf(const char *fmt, ...)
{
    struct sink s = {0, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
}

int lt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    struct sink s = {buf, n, 0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = 0;
    return (int)s.len;
}

/* ---- checks and the verdict ---- */

static unsigned nchecks, nfailed;

int check(int ok, const char *name, const char *fmt, ...)
{
    struct sink s = {0, 0, 0};
    nchecks++;
    nfailed += !ok;
    lt_printf("%s %s: ", ok ? "ok  " : "FAIL", name);
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
    put(&s, '\n');
    return ok;
}

void finish(void)
{
    /* A kernel that checked nothing proves nothing: that is a failure too. */
    if (nchecks == 0)
        nfailed = 1;
    if (nfailed)
        lt_printf("verdict: FAIL (%u of %u checks failed)\n", nfailed, nchecks);
    else
        lt_printf("verdict: PASS (%u checks)\n", nchecks);
    outb(0xf4, nfailed ? 0x11 : 0x10);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void fatal(const char *name, const char *fmt, ...)
{
    struct sink s = {0, 0, 0};
    nchecks++;
    nfailed++;
    lt_printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
    lt_printf(" (cannot go on)\n");
    finish();
}

/* ---- the command line ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decoded copies of the values live here (the command line itself stays as the loader gave it). */
static char pool[4096];
static size_t pool_used;

/* Copy [s, e) into the pool, %XX decoded; 0 if it does not fit or an escape is malformed. */
static const char *decode(const char *s, const char *e)
{
    char *d = pool + pool_used, *start = d;
    while (s < e) {
        if (d >= pool + sizeof pool - 1)
            return 0;
        if (*s == '%') {
            if (e - s < 3 || hexval(s[1]) < 0 || hexval(s[2]) < 0)
                return 0;
            *d++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        } else {
            *d++ = *s++;
        }
    }
    *d++ = 0;
    pool_used = (size_t)(d - pool);
    return start;
}

static int number(const char *s, const char *e, int base, uint64_t *out)
{
    uint64_t v = 0;
    if (s == e)
        return 0;
    for (; s < e; s++) {
        int d = hexval(*s);
        if (d < 0 || d >= base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 1;
}

static int size_value(const char *s, const char *e, uint64_t *out)
{
    uint64_t mul = 1;
    if (e > s) {
        char u = e[-1];
        mul = u == 'K' ? 1ull << 10 : u == 'M' ? 1ull << 20 : u == 'G' ? 1ull << 30 : 1;
        if (mul != 1)
            e--;
    }
    if (!number(s, e, 10, out))
        return 0;
    *out *= mul;
    return 1;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into EFI GUID byte order (the first three fields
 * little-endian), which is also limine_uuid's layout. */
static int guid_value(const char *s, const char *e, uint8_t g[16])
{
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t raw[16];
    int n = 0;
    for (; s < e && n < 32; s++) {
        if (*s == '-')
            continue;
        int d = hexval(*s);
        if (d < 0)
            return 0;
        raw[n / 2] = (uint8_t)(n & 1 ? raw[n / 2] | d : d << 4);
        n++;
    }
    if (n != 32 || s != e)
        return 0;
    for (int i = 0; i < 16; i++)
        g[i] = raw[order[i]];
    return 1;
}

/* PATH;SIZE;HASH[;STRING] */
static int file_value(const char *s, const char *e, struct lt_file_expect *f, int with_string)
{
    const char *f1 = s, *f2, *f3, *f4 = e;
    for (f2 = f1; f2 < e && *f2 != ';'; f2++)
        ;
    if (f2 == e)
        return 0;
    for (f3 = f2 + 1; f3 < e && *f3 != ';'; f3++)
        ;
    if (f3 == e)
        return 0;
    if (with_string) {
        for (f4 = f3 + 1; f4 < e && *f4 != ';'; f4++)
            ;
        if (f4 == e)
            return 0;
    }
    f->path = decode(f1, f2);
    f->string = with_string ? decode(f4 + 1, e) : 0;
    return f->path && (!with_string || f->string) && number(f2 + 1, f3, 10, &f->size) &&
           number(f3 + 1, f4, 16, &f->hash);
}

static int word_is(const char *k, const char *ke, const char *want)
{
    size_t n = lt_strlen(want);
    return (size_t)(ke - k) == n && memcmp(k, want, n) == 0;
}

const char *lt_parse_cmdline(const char *s, struct lt_expect *e)
{
    memset(e, 0, sizeof *e);
    e->q35 = -1;
    size_t len = lt_strlen(s);
    const char *endw = 0;
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(s + i, " end=", 5) == 0)
            endw = s + i;
    if (!endw)
        return "no end=HASH word: the command line is not the test script's, or was cut";
    uint64_t want;
    if (!number(endw + 5, s + len, 16, &want))
        return "end= is not a hexadecimal hash";
    if (fnv64(s, (uint64_t)(endw - s)) != want)
        return "end= does not match the hash of what precedes it: the line arrived changed";
    int have_test = 0, have_ram = 0, have_cpus = 0, have_fb = 0, have_self = 0;
    for (const char *p = s; p < endw;) {
        while (p < endw && *p == ' ')
            p++;
        const char *w = p;
        while (p < endw && *p != ' ')
            p++;
        if (w == p)
            break;
        const char *eq = w;
        while (eq < p && *eq != '=')
            eq++;
        if (eq == p)
            return "a word without '='";
        const char *v = eq + 1;
        int ok = 1;
        if (word_is(w, eq, "test")) {
            e->test = decode(v, p);
            have_test = ok = e->test != 0;
        } else if (word_is(w, eq, "ram")) {
            have_ram = ok = size_value(v, p, &e->ram);
        } else if (word_is(w, eq, "cpus")) {
            uint64_t n;
            have_cpus = ok = number(v, p, 10, &n) && n >= 1 && n <= 1024;
            e->cpus = (uint32_t)n;
        } else if (word_is(w, eq, "bsp")) {
            uint64_t n;
            ok = number(v, p, 10, &n);
            e->bsp = (uint32_t)n;
        } else if (word_is(w, eq, "machine")) {
            e->q35 = word_is(v, p, "q35") ? 1 : word_is(v, p, "pc") ? 0 : -1;
            ok = e->q35 >= 0;
        } else if (word_is(w, eq, "fb")) {
            have_fb = 1;
            if (!word_is(v, p, "none")) {
                const char *x1 = v, *x2, *c;
                for (x2 = x1; x2 < p && *x2 != 'x'; x2++)
                    ;
                const char *x3 = x2 + 1;
                while (x3 < p && *x3 != 'x')
                    x3++;
                for (c = x3; c < p && *c != ':'; c++)
                    ;
                ok = x2 < p && x3 < p && c < p && number(x1, x2, 10, &e->fb_w) &&
                     number(x2 + 1, x3, 10, &e->fb_h) && number(x3 + 1, c, 10, &e->fb_bpp) &&
                     (word_is(c + 1, p, "rgb") || word_is(c + 1, p, "bgr"));
                e->fb = 1;
                e->fb_bgr = ok && word_is(c + 1, p, "bgr");
            }
        } else if (word_is(w, eq, "self")) {
            have_self = ok = file_value(v, p, &e->self, 0);
        } else if (word_is(w, eq, "mod") || word_is(w, eq, "imod")) {
            int internal = word_is(w, eq, "imod");
            uint32_t *n = internal ? &e->nimods : &e->nmods;
            if (*n == LT_MAX_MODS)
                return "too many mod= or imod= words";
            ok = file_value(v, p, internal ? &e->imods[*n] : &e->mods[*n], 1);
            (*n)++;
        } else if (word_is(w, eq, "disk")) {
            if (p - v == 12 && memcmp(v, "mbr:", 4) == 0) {
                uint64_t id;
                ok = number(v + 4, p, 16, &id);
                e->gpt = 0;
                e->mbr_id = (uint32_t)id;
            } else {
                ok = p - v == 4 + 36 + 1 + 36 && memcmp(v, "gpt:", 4) == 0 && v[40] == ':' &&
                     guid_value(v + 4, v + 40, e->disk_guid) && guid_value(v + 41, p, e->part_guid);
                e->gpt = 1;
            }
        } else {
            return "an unknown key";
        }
        if (!ok)
            return "a value this kernel cannot read";
    }
    if (!have_test || !have_ram || !have_cpus || !have_fb || !have_self)
        return "test=, ram=, cpus=, fb= and self= are all required";
    return 0;
}

/* ---- CPU facts ---- */

uint32_t lt_apic_id(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] >= 0xb) {
        uint32_t x[4];
        cpuid(0xb, 0, x);
        if (x[1] != 0) /* leaf 0xB is implemented: EDX is the 32-bit x2APIC ID */
            return x[3];
    }
    cpuid(1, 0, r);
    return r[1] >> 24;
}

int lt_has_nx(void)
{
    uint32_t r[4];
    cpuid(0x80000000u, 0, r);
    if (r[0] < 0x80000001u)
        return 0;
    cpuid(0x80000001u, 0, r);
    return (r[3] >> 20) & 1;
}

int lt_has_pat(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return (r[3] >> 16) & 1;
}

/* ---- the memory map ---- */

struct limine_memmap_entry **lt_mm;
uint64_t lt_mm_n;
uint64_t lt_hhdm;

const struct limine_memmap_entry *lt_mm_at(uint64_t pa)
{
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        if (pa >= e->base && pa - e->base < e->length)
            return e;
    }
    return 0;
}

int lt_mm_all(uint64_t pa, uint64_t len, uint32_t mask)
{
    uint64_t end = pa + len;
    while (pa < end) {
        const struct limine_memmap_entry *e = lt_mm_at(pa);
        if (!e || e->type > 31 || !(mask & (1u << e->type)))
            return 0;
        pa = e->base + e->length;
    }
    return 1;
}

const char *lt_mm_name(uint64_t type)
{
    static const char *const names[] = {"usable",
                                        "reserved",
                                        "ACPI reclaimable",
                                        "ACPI NVS",
                                        "bad memory",
                                        "bootloader-reclaimable",
                                        "executable and modules",
                                        "framebuffer",
                                        "reserved (mapped)"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown type";
}

/* ---- paging ---- */

static uint64_t bad_table; /* a table page outside bootloader-reclaimable memory, once seen */
static int tables_checked;

int lt_walk(uint64_t va, struct lt_map *m)
{
    int levels = (read_cr4() >> 12) & 1 ? 5 : 4;
    uint64_t table = read_cr3() & PHYS_MASK;
    int w = 1, x = 1;
    for (int l = levels; l >= 1; l--) {
        if (lt_mm_n && !lt_mm_all(table, PG, T(BOOTLOADER_RECLAIMABLE)) && !bad_table)
            bad_table = table;
        tables_checked = 1;
        int shift = 12 + 9 * (l - 1);
        uint64_t e = ((volatile uint64_t *)(lt_hhdm + table))[(va >> shift) & 511];
        if (!(e & 1))
            return 0;
        w &= (int)(e >> 1) & 1;
        x &= !(e >> 63);
        if (l == 1 || (l <= 3 && (e & 0x80))) {
            uint64_t size = 1ull << shift;
            int pat = l == 1 ? (int)(e >> 7) & 1 : (int)(e >> 12) & 1;
            m->pa = (e & PHYS_MASK & ~(size - 1)) + (va & (size - 1));
            m->size = size;
            m->write = w;
            m->exec = x;
            m->pat = pat << 2 | (int)((e >> 4) & 1) << 1 | (int)((e >> 3) & 1);
            return 1;
        }
        table = e & PHYS_MASK;
    }
    return 0;
}

uint64_t lt_check_range(uint64_t va, uint64_t pa, uint64_t len, int want_w, int want_x, int pat,
                        const char **why)
{
    uint64_t end = va + len;
    while (va < end) {
        struct lt_map m;
        if (!lt_walk(va, &m))
            return *why = "not mapped", va;
        if (m.pa != pa)
            return *why = "mapped to another physical address", va;
        if (want_w && !m.write)
            return *why = "not writable", va;
        if (want_x && !m.exec)
            return *why = "not executable", va;
        if (pat >= 0 && m.pat != pat)
            return *why = m.pat == 5 ? "cached write-combining" : "cached otherwise", va;
        uint64_t step = m.size - (va & (m.size - 1));
        if (va + step < va)
            break;
        va += step, pa += step;
    }
    return *why = 0, 0;
}

int lt_tables_ok(uint64_t *bad)
{
    *bad = bad_table;
    return tables_checked && !bad_table;
}

/* ---- a window of our own mappings, for physical addresses the HHDM leaves out ---- */

static uint64_t window, *window_pt, window_used;

static uint64_t take_page(void)
{
    /* Pages from the top of the highest usable entry down: usable memory is the kernel's to
     * use. The memory map itself is left as the loader wrote it. */
    static uint64_t taken;
    for (uint64_t i = lt_mm_n; i-- > 0;) {
        const struct limine_memmap_entry *e = lt_mm[i];
        if (e->type == LIMINE_MEMMAP_USABLE && e->length >= (taken + 1) * PG) {
            uint64_t pa = e->base + e->length - ++taken * PG;
            memset((void *)(lt_hhdm + pa), 0, PG);
            return pa;
        }
    }
    fatal("lt_phys", "no usable page left for a page table");
}

void *lt_phys(uint64_t pa, uint64_t len)
{
    struct lt_map m;
    uint64_t first = pa & ~(PG - 1), pages = (pa + len - first + PG - 1) / PG;
    int mapped = 1;
    for (uint64_t i = 0; i < pages && mapped; i++)
        mapped = lt_walk(lt_hhdm + first + i * PG, &m) && m.pa == first + i * PG;
    if (mapped)
        return (void *)(lt_hhdm + pa);
    if (!window) {
        /* an upper-half PML4 slot nobody uses (4-level paging: the loader's HHDM and kernel
         * slots are taken, the rest are free) */
        uint64_t *pml4 = (uint64_t *)(lt_hhdm + (read_cr3() & PHYS_MASK));
        uint64_t slot = 0;
        for (uint64_t s = 300; s < 500 && !slot; s++)
            if (!(pml4[s] & 1))
                slot = s;
        if (!slot || (read_cr4() >> 12) & 1)
            fatal("lt_phys", "no free upper-half PML4 slot for a mapping window");
        uint64_t pdpt = take_page(), pd = take_page(), pt = take_page();
        ((uint64_t *)(lt_hhdm + pdpt))[0] = pd | 3;
        ((uint64_t *)(lt_hhdm + pd))[0] = pt | 3;
        pml4[slot] = pdpt | 3;
        window = 0xffff000000000000ull | slot << 39;
        window_pt = (uint64_t *)(lt_hhdm + pt);
    }
    if (window_used + pages > 512)
        fatal("lt_phys", "the mapping window is full");
    uint64_t va = window + window_used * PG;
    for (uint64_t i = 0; i < pages; i++) {
        window_pt[window_used + i] = (first + i * PG) | 3 | (lt_has_nx() ? 1ull << 63 : 0);
        __asm__ volatile("invlpg (%0)" : : "r"(va + i * PG) : "memory");
    }
    window_used += pages;
    return (void *)(va + (pa - first));
}
