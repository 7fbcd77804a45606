/*
 * checks.c - every response a test kernel asked for, checked against PROTOCOL.md and against
 * what QEMU and the test script gave (lt_exp, from the command line), by routes that do not
 * trust the response itself: the page tables CR3 points at, the CPU's own registers, the CMOS
 * clock, the PIT, the firmware's tables, the kernel's own ELF file.
 *
 * Each check prints one line (lt.c). A requested feature the specification says this machine
 * has (QEMU gives ACPI, SMBIOS, EFI, a TSC ...) must be answered; one it says must stay
 * unanswered here (device tree, RISC-V hart ID, TPM without a TPM) must stay NULL.
 */
#include "lt.h"

struct lt_expect lt_exp;
uint64_t lt_rev;

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

static const char *cmdline; /* the command line, as the loader handed it */
static uint64_t image_phys; /* where the Executable Address response says we are */
uint64_t lt_slide;          /* run-time address minus link address */
static uint64_t stack_size; /* what every CPU's stack must hold at least */
static uint64_t rsdp_phys, smbios32_phys, smbios64_phys;
static int five_level;

/* ---- small helpers ---- */

static uint64_t uptr(const volatile void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* A pointer a response holds: virtual (in the HHDM) and in bootloader-reclaimable memory,
 * as the specification places every response and what it points to. */
static int blr(const volatile void *p, uint64_t len)
{
    uint64_t v = uptr(p);
    return v >= lt_hhdm && v - lt_hhdm < (1ull << 52) &&
           lt_mm_all(v - lt_hhdm, len ? len : 1, T(BOOTLOADER_RECLAIMABLE));
}

/* A NUL-terminated string of printable ASCII, at most max bytes, in bootloader-reclaimable
 * memory; its length, or -1. */
static int64_t blr_string(const char *s, uint64_t max)
{
    if (!blr(s, 1))
        return -1;
    for (uint64_t i = 0; i < max; i++) {
        if (!blr(s + i, 1))
            return -1;
        if (!s[i])
            return (int64_t)i;
        if (s[i] < 0x20 || s[i] > 0x7e)
            return -1;
    }
    return -1;
}

static void *response(vreq *r)
{
    return r ? r->response : 0;
}

/* A requested feature QEMU's machine has: it must be answered, in reclaimable memory. */
static void *answered(const char *name, vreq *r, uint64_t size)
{
    void *p = response(r);
    check(p != 0, name, p ? "answered" : "unanswered, though this machine has it");
    if (p)
        check(blr(p, size), name, "response at %p in bootloader-reclaimable memory", p);
    return p;
}

/* ": WHY at 0xAT" when a walk found something wrong, "" when not: the detail of a failed check. */
static const char *at_msg(char *buf, const char *why, uint64_t at)
{
    if (!why)
        return "";
    lt_snprintf(buf, 96, ": %s at 0x%lx", why, at);
    return buf;
}

static int checksum8(const uint8_t *p, uint64_t n)
{
    uint8_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

static uint32_t crc32(const uint8_t *p, uint64_t n)
{
    uint32_t c = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

static uint16_t rd16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t rd32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Every page of [va, va + len) mapped (writable if asked), its frames in memory of a type in
 * mask: 0, or the first va that is not (why says which). */
static uint64_t pages_in(uint64_t va, uint64_t len, int want_w, uint32_t mask, const char **why)
{
    for (uint64_t a = va & ~(PG - 1); a < va + len; a += PG) {
        struct lt_map m;
        if (!lt_walk(a, &m))
            return *why = "not mapped", a;
        if (want_w && !m.write)
            return *why = "not writable", a;
        if (!lt_mm_all(m.pa & ~(PG - 1), PG, mask))
            return *why = "its frame is not in memory of the expected type", a;
    }
    return *why = 0, 0;
}

/* Whether no usable entry overlaps [pa, pa + len). */
static int not_usable(uint64_t pa, uint64_t len)
{
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        if (e->type == LIMINE_MEMMAP_USABLE && e->base < pa + len && pa < e->base + e->length)
            return 0;
    }
    return 1;
}

/* ---- base revision ---- */

static void base_revision(const struct lt_kernel *k)
{
    if (!k->base_tag) {
        lt_rev = 0;
        lt_printf("info base revision: no tag, so revision 0\n");
        return;
    }
    volatile uint64_t *t = k->base_tag;
    if (k->asked <= 6) {
        /* "if the executable's requested base revision is supported, the 3rd component of the
         * base revision tag must be set to 0"; a loader supporting 3 or later "must always set
         * the 2nd component ... to the base revision actually used" */
        check(t[2] == 0, "base revision supported",
              "third word %lu (want 0: revision %lu honoured)", t[2], k->asked);
        check(t[1] == k->asked, "base revision used", "second word %lu (want %lu)", t[1], k->asked);
        lt_rev = k->asked;
        return;
    }
    /* a revision no loader supports: "leaving the 3rd component unchanged", loaded "using at
     * least base revision 3", the revision used in the 2nd component */
    check(t[2] == k->asked, "unsupported base revision left unchanged", "third word %lu (want %lu)",
          t[2], k->asked);
    int valid = t[1] != LT_BASE_MAGIC1;
    check(valid && t[1] >= 3 && t[1] < k->asked, "base revision used for an unsupported one",
          "second word %s%lu (want the revision used: at least 3, below %lu)",
          valid ? "" : "still the magic ", t[1], k->asked);
    lt_rev = valid && t[1] >= 3 && t[1] < k->asked ? t[1] : 3;
}

/* ---- HHDM and memory map ---- */

static void hhdm(const struct lt_kernel *k)
{
    struct limine_hhdm_response *h = response(k->hhdm);
    if (!h)
        fatal("hhdm", "unanswered: nothing can be read without it");
    lt_hhdm = h->offset;
    /* No test kernel allows 5-level paging (no paging-mode request means 4-level, "DEFAULT";
     * full.c asks for 4-level at most): CR4.LA57 must be clear. */
    five_level = (read_cr4() >> 12) & 1;
    check(!five_level, "paging", "4-level (CR4.LA57 clear), as every test kernel asks");
    uint64_t floor = five_level ? 0xff00000000000000ull : 0xffff800000000000ull;
    check(h->offset >= floor && !(h->offset & (PG - 1)), "hhdm",
          "offset 0x%lx: in the higher half, page aligned", h->offset);
    check(uptr(h) >= h->offset, "hhdm", "response at %p is virtual", (void *)h);
}

static uint64_t mm_usable, mm_blr, mm_exec;

static void memmap(const struct lt_kernel *k)
{
    struct limine_memmap_response *m = response(k->memmap);
    if (!m)
        fatal("memmap", "unanswered");
    if (!m->entry_count || m->entry_count > 4096 || uptr(m->entries) < lt_hhdm)
        fatal("memmap", "%lu entries at %p", m->entry_count, (void *)m->entries);
    lt_mm = m->entries;
    lt_mm_n = m->entry_count;
    uint64_t usable = 0, blr_b = 0, exec = 0, prev = 0, unsorted = 0, unaligned = 0, overlap = 0;
    uint64_t badtype = 0, lowpage = 0, empty = 0;
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        int strict =
            e->type == LIMINE_MEMMAP_USABLE || e->type == LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE;
        if (i && e->base < prev)
            unsorted++;
        prev = e->base;
        if (e->type > LIMINE_MEMMAP_RESERVED_MAPPED ||
            (e->type == LIMINE_MEMMAP_RESERVED_MAPPED && lt_rev < 4))
            badtype++;
        if (!e->length)
            empty++;
        if (strict && ((e->base | e->length) & (PG - 1)))
            unaligned++;
        for (uint64_t j = 0; strict && j < lt_mm_n; j++) {
            const struct limine_memmap_entry *o = lt_mm[j];
            if (j != i && o->base < e->base + e->length && e->base < o->base + o->length)
                overlap++;
        }
        if (e->type == LIMINE_MEMMAP_USABLE)
            usable += e->length, lowpage += e->base < PG;
        if (e->type == LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE)
            blr_b += e->length;
        if (e->type == LIMINE_MEMMAP_EXECUTABLE_AND_MODULES)
            exec += e->length;
    }
    check(blr(m, sizeof *m) && blr(m->entries, lt_mm_n * 8), "memmap",
          "%lu entries; response and pointer array in bootloader-reclaimable memory", lt_mm_n);
    int entries_blr = 1;
    for (uint64_t i = 0; i < lt_mm_n; i++)
        entries_blr &= blr(lt_mm[i], sizeof *lt_mm[i]);
    check(entries_blr, "memmap", "every entry in bootloader-reclaimable memory");
    check(!unsorted, "memmap sorted", "%lu entries out of order", unsorted);
    check(!badtype, "memmap types", "%lu entries of a type base revision %lu does not define",
          badtype, lt_rev);
    check(!empty, "memmap", "%lu entries of length 0", empty);
    check(!unaligned, "memmap aligned",
          "%lu usable or bootloader-reclaimable entries not 4 KiB aligned", unaligned);
    check(!overlap, "memmap disjoint",
          "%lu overlaps of a usable or bootloader-reclaimable entry with another", overlap);
    if (lt_rev <= 2)
        check(!lowpage, "memmap page 0",
              "memory between 0 and 0x1000 is never usable (base revision %lu)", lt_rev);
    mm_usable = usable, mm_blr = blr_b, mm_exec = exec;
}

/* RAM: what QEMU was given bounds it; firmware keeps a few MiB (90% is generous). */
static void memmap_ram(void)
{
    check(mm_usable <= lt_exp.ram && mm_usable + mm_blr + mm_exec <= lt_exp.ram,
          "memmap usable <= RAM", "usable %lu MiB, + reclaimable + executable %lu MiB, RAM %lu MiB",
          mm_usable >> 20, (mm_usable + mm_blr + mm_exec) >> 20, lt_exp.ram >> 20);
    check(mm_usable >= lt_exp.ram / 10 * 9, "memmap usable >= 90% of RAM",
          "usable %lu KiB of %lu KiB", mm_usable >> 10, lt_exp.ram >> 10);
    lt_printf("info memmap: usable=%lu reclaimable=%lu executable=%lu pages\n", mm_usable / PG,
              mm_blr / PG, mm_exec / PG);
}

/* What the HHDM (and, in base revision 0, the identity map) must map, by revision. */
static int hhdm_type(uint64_t type)
{
    switch (type) {
    case LIMINE_MEMMAP_USABLE:
    case LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE:
    case LIMINE_MEMMAP_EXECUTABLE_AND_MODULES:
    case LIMINE_MEMMAP_FRAMEBUFFER:
        return 1;
    case LIMINE_MEMMAP_ACPI_RECLAIMABLE:
    case LIMINE_MEMMAP_ACPI_NVS:
    case LIMINE_MEMMAP_RESERVED_MAPPED:
        return lt_rev >= 4 || lt_rev <= 2;
    default: /* reserved, bad memory: base revision 0 maps every region */
        return lt_rev == 0;
    }
}

/* "These mappings are supervisor, read, write, execute"; write-back except framebuffers,
 * which are write-combining (PAT index 5 when the CPU has the PAT). */
static void hhdm_coverage(void)
{
    int pat = lt_has_pat();
    uint64_t bad = 0, bad_pa = 0, bad_type = 0, checked = 0, id_bad = 0, id_pa = 0;
    const char *why = 0, *id_why = 0;
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        uint64_t lo = e->base & ~(PG - 1), hi = (e->base + e->length + PG - 1) & ~(PG - 1);
        if (!hhdm_type(e->type))
            continue;
        int fb = e->type == LIMINE_MEMMAP_FRAMEBUFFER;
        int want_pat = pat ? (fb ? 5 : 0) : -1;
        const char *w;
        uint64_t at = lt_check_range(lt_hhdm + lo, lo, hi - lo, 1, 1, want_pat, &w);
        checked++;
        if (w && !bad)
            bad = at, bad_pa = at - lt_hhdm, bad_type = e->type, why = w;
        if (lt_rev == 0 && hi > PG) {
            uint64_t l0 = lo < PG ? PG : lo;
            at = lt_check_range(l0, l0, hi - l0, 1, 1, want_pat, &w);
            if (w && !id_bad)
                id_bad = at, id_pa = at, id_why = w;
        }
    }
    char m1[96], m2[96];
    check(!bad, "hhdm maps the regions",
          "%lu regions of the types base revision %lu maps: rwx, %s%s%s%s", checked, lt_rev,
          pat ? "write-back (framebuffers write-combining)" : "", at_msg(m1, why, bad_pa),
          bad ? " in a region of type " : "", bad ? lt_mm_name(bad_type) : "");
    if (lt_rev <= 2) {
        /* "4 GiB and additional memory map regions": the first 4 GiB whole, rwx */
        const char *w;
        uint64_t at = lt_check_range(lt_hhdm, 0, 4 * GiB, 1, 1, -1, &w);
        check(!w, "hhdm maps the first 4 GiB", "rwx, base revision %lu%s", lt_rev,
              at_msg(m1, w, at - lt_hhdm));
    }
    if (lt_rev == 0) {
        const char *w;
        uint64_t at = lt_check_range(PG, PG, 4 * GiB - PG, 1, 1, -1, &w);
        check(!w, "identity map of the first 4 GiB", "from 0x1000, rwx%s", at_msg(m1, w, at));
        check(!id_bad, "identity map of the regions", "every region from 0x1000, rwx, %s%s",
              pat ? "write-back (framebuffers write-combining)" : "", at_msg(m2, id_why, id_pa));
    }
}

/* The same bytes through the kernel's own mapping and through the HHDM (and the identity map),
 * in both directions: one memory, not copies. */
static volatile uint64_t probe_word = 0x1122334455667788ull;

static void same_bytes(const struct lt_kernel *k)
{
    if (!image_phys)
        return;
    uint64_t text = (uint64_t)(k->text_end - k->text_start);
    uint64_t off = (uint64_t)(k->text_start - k->image_start);
    const void *via_hhdm = (const void *)(lt_hhdm + image_phys + off);
    check(memcmp(k->text_start, via_hhdm, text) == 0, "hhdm reads the image's bytes",
          "%lu bytes of text at 0x%lx, through 0x%lx", text, image_phys + off, uptr(via_hhdm));
    uint64_t pw = image_phys + (uint64_t)((const char *)&probe_word - k->image_start);
    volatile uint64_t *alias = (volatile uint64_t *)(lt_hhdm + pw);
    probe_word = 0xa5a5a5a500000000ull | (uint32_t)rdtsc();
    int ok = *alias == probe_word;
    *alias = ~probe_word;
    ok &= probe_word == *alias;
    check(ok, "hhdm is the same memory", "a write through either mapping shows in the other");
    if (lt_rev == 0) {
        volatile uint64_t *ident = (volatile uint64_t *)pw;
        ident[0] = 0x5a5a5a5a12345678ull;
        check(probe_word == 0x5a5a5a5a12345678ull && *alias == ident[0],
              "identity map is the same memory",
              "word at 0x%lx through 0x%lx, the HHDM and the "
              "kernel's mapping",
              pw, pw);
    }
}

/* ---- command line ---- */

static void command_line(const struct lt_kernel *k)
{
    struct limine_executable_cmdline_response *c = response(k->cmdline);
    if (!c)
        fatal("cmdline", "unanswered: the expectations are in it");
    int64_t n = blr_string(c->cmdline, 4000);
    check(blr(c, sizeof *c) && n >= 0, "cmdline",
          "response and its string (%ld bytes) in "
          "bootloader-reclaimable memory, printable ASCII",
          n);
    if (n < 0)
        fatal("cmdline", "cannot read it");
    cmdline = c->cmdline;
    lt_printf("info cmdline: \"%s\"\n", cmdline);
    const char *why = lt_parse_cmdline(cmdline, &lt_exp);
    if (why)
        fatal("cmdline", "%s", why);
    if (!lt_streq(lt_exp.test, k->name))
        fatal("cmdline", "test=%s, but this kernel is %s", lt_exp.test, k->name);
    check(1, "cmdline", "arrived whole (its end= hash matches), meant for %s", k->name);
}

/* ---- the entry state of a CPU ---- */

/* The seven descriptors the specification lists, from offset 0. */
static const char *gdt_check(const uint8_t *gdtr)
{
    uint16_t limit = rd16(gdtr);
    uint64_t base = rd64(gdtr + 2);
    if (limit < 7 * 8 - 1)
        return "GDTR limit below 7 descriptors";
    const char *w;
    if (pages_in(base, (uint64_t)limit + 1, 0, T(BOOTLOADER_RECLAIMABLE), &w))
        return "the GDT is not mapped in bootloader-reclaimable memory";
    const uint64_t *d = (const uint64_t *)base;
    if (d[0])
        return "descriptor 0 is not null";
    /* code?, readable/writable, limit, D/B, L */
    static const struct {
        int code;
        uint64_t limit;
        int db, l;
    } want[6] = {{1, 0xffff, 0, 0},     {0, 0xffff, 0, 0}, {1, 0xffffffff, 1, 0},
                 {0, 0xffffffff, 1, 0}, {1, 0, 0, 1},      {0, 0, -1, 0}};
    for (int i = 0; i < 6; i++) {
        uint64_t e = d[i + 1];
        uint64_t lim = (e & 0xffff) | ((e >> 48) & 0xf) << 16;
        uint64_t b = ((e >> 16) & 0xffffff) | ((e >> 56) & 0xff) << 24;
        unsigned access = (unsigned)(e >> 40) & 0xff, fl = (unsigned)(e >> 52) & 0xf;
        if (fl & 8)
            lim = lim << 12 | 0xfff;
        int present = access >> 7, dpl = (access >> 5) & 3, s = (access >> 4) & 1;
        int code = (access >> 3) & 1, rw = (access >> 1) & 1, l = (fl >> 1) & 1, db = (fl >> 2) & 1;
        static char msg[80];
        if (!present || dpl || !s || code != want[i].code || !rw || b ||
            (want[i].limit && lim != want[i].limit) || (want[i].db >= 0 && db != want[i].db) ||
            l != want[i].l) {
            lt_snprintf(msg, sizeof msg, "descriptor 0x%x (0x%016lx) is not as specified",
                        (i + 1) * 8, e);
            return msg;
        }
    }
    return 0;
}

/* What the specification says of a CPU at entry; ap: a released AP (RDI holds its info). */
static void entry_state(const char *who, const struct cpu_state *s, int ap)
{
    char name[48];
    lt_snprintf(name, sizeof name, "%s entry state", who);
    int zero = 1;
    for (int i = 0; i < 15; i++)
        zero &= s->gpr[i] == 0 || (ap && i == ST_RDI / 8);
    check(zero, name, "rax-r15 zero%s", ap ? " but rdi" : "");
    check(s->ret == 0, name, "return address 0 pushed (found 0x%lx)", s->ret);
    check(!(s->rflags & (1u << 9 | 1u << 10 | 1u << 17)), name, "RFLAGS 0x%lx: IF, DF, VM clear",
          s->rflags);
    if (lt_rev >= 5)
        check(s->rflags == 2, name, "RFLAGS 0x%lx is 0x2 (base revision %lu)", s->rflags, lt_rev);
    check(s->cs == 0x28 && s->ds == 0x30 && s->es == 0x30 && s->ss == 0x30 && s->fs == 0x30 &&
              s->gs == 0x30,
          name, "CS 0x%lx, DS ES SS FS GS 0x%lx 0x%lx 0x%lx 0x%lx 0x%lx", s->cs, s->ds, s->es,
          s->ss, s->fs, s->gs);
    check(!s->fsbase && !s->gsbase, name, "FS and GS bases 0 (0x%lx, 0x%lx)", s->fsbase, s->gsbase);
    const uint64_t cr0_need = 1u << 0 | 1u << 4 | 1u << 16 | 1ull << 31; /* PE ET WP PG */
    check((s->cr0 & cr0_need) == cr0_need, name, "CR0 0x%lx: PE, ET, WP, PG set", s->cr0);
    uint64_t cr4_need = 1u << 5;
    check((s->cr4 & (1u << 5)) && !((s->cr4 >> 12) & 1), name,
          "CR4 0x%lx: PAE set, LA57 clear (4-level paging asked)", s->cr4);
    uint64_t efer_need = 1u << 8 | 1u << 10 | (lt_has_nx() ? 1u << 11 : 0);
    check((s->efer & efer_need) == efer_need, name, "EFER 0x%lx: LME, LMA%s set", s->efer,
          lt_has_nx() ? ", NXE (the CPU has NX)" : "");
    if (lt_rev >= 5) {
        check(s->cr0 == cr0_need && s->cr4 == cr4_need && s->efer == efer_need, name,
              "no other CR0, CR4, EFER bits (0x%lx 0x%lx 0x%lx; want 0x%lx 0x%lx 0x%lx)", s->cr0,
              s->cr4, s->efer, cr0_need, cr4_need, efer_need);
        check(rd16(s->idtr) == 0 && rd64(s->idtr + 2) == 0, name, "IDTR base 0x%lx limit 0x%x",
              rd64(s->idtr + 2), rd16(s->idtr));
        check(s->ldtr == 0, name, "LDTR null (0x%lx)", s->ldtr);
        /* "The task register is loaded with base 0 and limit 0": a TSS descriptor saying so */
        uint64_t gb = rd64(s->gdtr + 2), gl = rd16(s->gdtr), tr = s->tr & ~7ull;
        int ok = tr && !(s->tr & 4) && tr + 15 <= gl;
        uint64_t lo = ok ? ((const uint64_t *)gb)[tr / 8] : 0;
        uint64_t hi = ok ? ((const uint64_t *)gb)[tr / 8 + 1] : 0;
        unsigned type = (unsigned)(lo >> 40) & 0x1f;
        uint64_t base =
            ((lo >> 16) & 0xffffff) | ((lo >> 56) & 0xff) << 24 | (hi & 0xffffffff) << 32;
        uint64_t limit = (lo & 0xffff) | ((lo >> 48) & 0xf) << 16;
        check(ok && (type == 9 || type == 11) && base == 0 && limit == 0, name,
              "TR 0x%lx: a 64-bit TSS descriptor with base 0 and limit 0", s->tr);
    }
    const char *g = gdt_check(s->gdtr);
    check(!g, name, "GDT at 0x%lx: %s", rd64(s->gdtr + 2),
          g ? g : "the 7 descriptors as specified");
}

/* The stack a CPU entered on: at least stack_size bytes below the return address, mapped
 * writable, in bootloader-reclaimable memory. */
static void stack_of(const char *who, const struct cpu_state *s, int write_probe)
{
    char name[48];
    lt_snprintf(name, sizeof name, "%s stack", who);
    uint64_t top = s->rsp + 8, lo = top - stack_size;
    const char *why;
    uint64_t at = pages_in(lo, stack_size, 1, T(BOOTLOADER_RECLAIMABLE), &why);
    char msg[96];
    check(!why, name, "%lu bytes below 0x%lx: writable, bootloader-reclaimable%s", stack_size, top,
          at_msg(msg, why, at));
    if (why || !write_probe)
        return;
    /* the lowest byte we may use, through the stack and through the HHDM */
    struct lt_map m;
    lt_walk(lo, &m);
    volatile uint8_t *v = (volatile uint8_t *)lo, *h = (volatile uint8_t *)(lt_hhdm + m.pa);
    uint8_t old = *v;
    *v = 0x5c;
    int ok = *h == 0x5c;
    *v = old;
    check(ok, name, "its lowest byte 0x%lx is frame 0x%lx through the HHDM", lo, m.pa);
}

static void pat_check(const char *who)
{
    if (!lt_has_pat())
        return;
    uint64_t pat = rdmsr(0x277) & 0xffffffffffffull;
    check(pat == 0x010500070406ull, who, "PAT 0x%lx: WB WT UC- UC WP WC in PAT0-5", pat);
}

/* The local APIC (base revision 5): enabled, SVR 0x1FF, TPR 0, maskable LVT entries masked. */
struct lapic_view {
    uint64_t base_msr;
    uint32_t svr, tpr, ver, lvt[7];
};
static volatile uint32_t *lapic; /* mapped by the BSP; the same frame is each CPU's own APIC */

static void lapic_read(struct lapic_view *v)
{
    static const uint16_t reg[7] = {0x2f0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370};
    v->base_msr = rdmsr(0x1b);
    if (!lapic)
        return;
    v->svr = lapic[0xf0 / 4];
    v->tpr = lapic[0x80 / 4];
    v->ver = lapic[0x30 / 4];
    for (int i = 0; i < 7; i++)
        v->lvt[i] = lapic[reg[i] / 4];
}

static void lapic_check(const char *who, const struct lapic_view *v)
{
    char name[48];
    lt_snprintf(name, sizeof name, "%s local APIC", who);
    check(!((v->base_msr >> 10) & 1), name, "x2APIC off (IA32_APIC_BASE 0x%lx), none asked for",
          v->base_msr);
    if (lt_rev < 5 || !lapic)
        return;
    check((v->base_msr >> 11) & 1, name, "enabled in IA32_APIC_BASE");
    check(v->svr == 0x1ff && v->tpr == 0, name, "SVR 0x%x (want 0x1ff), TPR 0x%x (want 0)", v->svr,
          v->tpr);
    unsigned maxlvt = (v->ver >> 16) & 0xff, unmasked = 0;
    /* CMCI (index 0) exists with 7 entries, thermal (2) with 5, performance (3) with 4 */
    for (int i = 0; i < 7; i++) {
        if ((i == 0 && maxlvt < 6) || (i == 2 && maxlvt < 5) || (i == 3 && maxlvt < 4))
            continue;
        unsigned mode = (v->lvt[i] >> 8) & 7;
        int maskable = mode == 0 || mode == 1 || mode == 4 || mode == 7;
        if (maskable && !((v->lvt[i] >> 16) & 1))
            unmasked |= 1u << i;
    }
    check(!unmasked, name,
          "every fixed, lowest-priority, NMI and ExtINT LVT entry masked "
          "(unmasked: 0x%x of CMCI timer thermal perf LINT0 LINT1 error)",
          unmasked);
}

/* ---- the features ---- */

static void bootloader_info(const struct lt_kernel *k)
{
    struct limine_bootloader_info_response *r = response(k->info);
    if (k->unlisted && k->unlisted == k->info) {
        check(!r, "bootloader info",
              "left out of .limine_reqs, so unanswered (the list replaces the scan)");
        return;
    }
    if (!(r = answered("bootloader info", k->info, sizeof *r)))
        return;
    int64_t n = blr_string(r->name, 256), v = blr_string(r->version, 256);
    check(n > 0 && v > 0, "bootloader info",
          "name and version: non-empty ASCII strings in "
          "bootloader-reclaimable memory");
    if (n > 0 && v > 0)
        lt_printf("info bootloader: %s %s\n", r->name, r->version);
}

static void firmware_type(const struct lt_kernel *k)
{
    struct limine_firmware_type_response *r = answered("firmware type", k->fwtype, sizeof *r);
    if (r)
        check(r->firmware_type == LIMINE_FIRMWARE_TYPE_EFI64, "firmware type",
              "%lu (want 2, EFI64: OVMF x64)", r->firmware_type);
}

static void stack_size_feature(const struct lt_kernel *k)
{
    uint64_t asked = k->stack ? k->stack->arg : 0;
    stack_size = asked > 65536 ? asked : 65536;
    if (k->stack)
        answered("stack size", (vreq *)k->stack, 8);
    stack_of("BSP", &lt_bsp_state, 1);
}

static void paging_mode(const struct lt_kernel *k)
{
    struct limine_paging_mode_response *r = answered("paging mode", (vreq *)k->paging, sizeof *r);
    if (!r)
        return;
    /* asked: 4-level, at most 4-level; the response must say what CR4 says */
    check(r->mode == 0 && !five_level, "paging mode",
          "mode %lu, CR4.LA57 %d (want 0, 4-level, as asked)", r->mode, five_level);
}

static void framebuffer(const struct lt_kernel *k)
{
    struct limine_framebuffer_response *r = response(k->fb);
    if (!lt_exp.fb) {
        /* "If no framebuffer is available, no response will be provided." */
        check(!r, "framebuffer", "no display adapter: %s", r ? "answered anyway" : "unanswered");
        return;
    }
    if (!(r = answered("framebuffer", k->fb, sizeof *r)))
        return;
    if (!check(r->framebuffer_count >= 1 && blr(r->framebuffers, 8) &&
                   blr(r->framebuffers[0], sizeof(struct limine_framebuffer)),
               "framebuffer", "%lu framebuffers, list and structure in reclaimable memory",
               r->framebuffer_count))
        return;
    struct limine_framebuffer *f = r->framebuffers[0];
    check(f->width == lt_exp.fb_w && f->height == lt_exp.fb_h && f->bpp == lt_exp.fb_bpp,
          "framebuffer mode", "%lux%lux%u (limine.conf asked %lux%lux%lu of QEMU's std VGA)",
          f->width, f->height, f->bpp, lt_exp.fb_w, lt_exp.fb_h, lt_exp.fb_bpp);
    check(f->pitch >= f->width * f->bpp / 8 && f->pitch % 4 == 0, "framebuffer pitch",
          "%lu bytes per line for %lu pixels of %u bits", f->pitch, f->width, f->bpp);
    int r0 = lt_exp.fb_bgr ? 16 : 0, b0 = lt_exp.fb_bgr ? 0 : 16;
    check(f->memory_model == LIMINE_FRAMEBUFFER_RGB && f->red_mask_size == 8 &&
              f->red_mask_shift == r0 && f->green_mask_size == 8 && f->green_mask_shift == 8 &&
              f->blue_mask_size == 8 && f->blue_mask_shift == b0,
          "framebuffer masks", "model %u, red %u@%u green %u@%u blue %u@%u (want %s)",
          f->memory_model, f->red_mask_size, f->red_mask_shift, f->green_mask_size,
          f->green_mask_shift, f->blue_mask_size, f->blue_mask_shift,
          lt_exp.fb_bgr ? "BGR: blue in the low byte" : "RGB: red in the low byte");
    uint64_t va = uptr(f->address), bytes = f->pitch * f->height, pa = va - lt_hhdm;
    const char *why;
    char m[96];
    uint64_t at = lt_check_range(va, pa, bytes, 1, 0, lt_has_pat() ? 5 : -1, &why);
    check(va >= lt_hhdm && !why, "framebuffer mapping", "0x%lx -> 0x%lx, %lu bytes, writable%s%s",
          va, pa, bytes, lt_has_pat() ? ", write-combining (PAT 5)" : "", at_msg(m, why, at));
    check(not_usable(pa, bytes), "framebuffer not usable", "no usable entry overlaps 0x%lx+%lu", pa,
          bytes);
    if (!why) {
        volatile uint32_t *px = (volatile uint32_t *)(va + bytes - 4);
        *px = 0x00c0ffee;
        check(*px == 0x00c0ffee, "framebuffer memory", "its last pixel reads back what we wrote");
    }
    if (f->edid) {
        const uint8_t *e = f->edid;
        static const uint8_t hdr[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
        check(f->edid_size >= 128 && blr(e, f->edid_size) && memcmp(e, hdr, 8) == 0 &&
                  checksum8(e, 128),
              "framebuffer EDID", "%lu bytes: header, checksum, in reclaimable memory",
              f->edid_size);
    } else {
        lt_printf("info framebuffer: no EDID\n");
    }
    if (!check(r->revision >= 1, "framebuffer modes", "response revision %lu (modes from 1)",
               r->revision))
        return;
    int found = 0, ok = f->mode_count >= 1 && blr(f->modes, f->mode_count * 8);
    for (uint64_t i = 0; ok && i < f->mode_count; i++) {
        const struct limine_video_mode *m = f->modes[i];
        ok = blr(m, sizeof *m);
        found |= ok && m->width == f->width && m->height == f->height && m->pitch == f->pitch &&
                 m->bpp == f->bpp && m->memory_model == f->memory_model &&
                 m->red_mask_shift == f->red_mask_shift && m->blue_mask_shift == f->blue_mask_shift;
    }
    check(ok && found, "framebuffer modes",
          "%lu modes in reclaimable memory, the current one "
          "among them",
          f->mode_count);
}

static void executable_address(const struct lt_kernel *k)
{
    struct limine_executable_address_response *r =
        answered("executable address", k->exec_addr, sizeof *r);
    if (!r)
        return;
    uint64_t vb = uptr(k->image_start), size = (uint64_t)(k->image_end - k->image_start);
    check(r->virtual_base == vb, "executable address", "virtual_base 0x%lx, running at 0x%lx",
          r->virtual_base, vb);
    check(!(r->physical_base & (PG - 1)), "executable address", "physical_base 0x%lx page aligned",
          r->physical_base);
    /* physically contiguous, one offset: every page of the image translates to base + offset;
     * "write-back (WB) caching ... PAT[0]" */
    const char *why;
    char msg[96];
    uint64_t at = lt_check_range(vb, r->physical_base, size, 0, 0, lt_has_pat() ? 0 : -1, &why);
    check(!why, "executable address", "%lu pages at 0x%lx are frames from 0x%lx on, write-back%s",
          size / PG, vb, r->physical_base, at_msg(msg, why, at));
    image_phys = why ? 0 : r->physical_base;
    check(lt_mm_all(r->physical_base, size, T(EXECUTABLE_AND_MODULES)), "executable memory",
          "its frames are executable-and-modules (neither usable nor reclaimable: the kernel "
          "would free itself)");
    /* "PF_X controls executability and PF_W controls writability" */
    uint64_t bad = 0;
    int nx = lt_has_nx();
    for (uint64_t a = vb; a < vb + size && !bad; a += PG) {
        struct lt_map m;
        if (!lt_walk(a, &m))
            bad = a;
        else if (a < uptr(k->text_end))
            bad = m.write || !m.exec ? a : 0;
        else if (a < uptr(k->rodata_end))
            bad = m.write || (nx && m.exec) ? a : 0;
        else
            bad = !m.write || (nx && m.exec) ? a : 0;
    }
    check(!bad, "segment permissions", "text r-x, rodata r--, data rw-%s",
          at_msg(msg, bad ? "not so" : 0, bad));
}

/* The ELF file the loader read, against the running image. */
static uint64_t elf_slide_check(const struct lt_kernel *k, const uint8_t *f, uint64_t size)
{
    static const uint8_t magic[4] = {0x7f, 'E', 'L', 'F'};
    if (!check(size >= 64 && memcmp(f, magic, 4) == 0 && f[4] == 2 && f[5] == 1 &&
                   rd16(f + 18) == 62,
               "executable file ELF", "64-bit little-endian x86_64 ELF"))
        return 0;
    uint16_t type = rd16(f + 16), phnum = rd16(f + 56), phent = rd16(f + 54);
    uint64_t phoff = rd64(f + 32), entry = rd64(f + 24);
    check(type == (k->pie ? 3 : 2), "executable file ELF", "type %u (%s)", type,
          k->pie ? "ET_DYN" : "ET_EXEC");
    if (!check(phent == 56 && phoff + (uint64_t)phnum * 56 <= size, "executable file ELF",
               "%u program headers inside the file", phnum))
        return 0;
    uint64_t vlo = ~0ull, align = 1;
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + i * 56ull;
        if (rd32(ph) != 1) /* PT_LOAD */
            continue;
        uint64_t va = rd64(ph + 16) & ~(PG - 1);
        vlo = va < vlo ? va : vlo;
        align = rd64(ph + 48) > align ? rd64(ph + 48) : align;
    }
    lt_slide = uptr(k->image_start) - vlo;
    check(entry + lt_slide == uptr(k->elf_entry), "executable file ELF",
          "e_entry 0x%lx + slide 0x%lx is the ELF entry the kernel has at 0x%lx", entry, lt_slide,
          uptr(k->elf_entry));
    /* the loaded text is the file's text (no relocation touches text: linked with -z text) */
    int same = 1, n = 0;
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + i * 56ull;
        uint32_t flags = rd32(ph + 4);
        if (rd32(ph) != 1 || !(flags & 1) || (flags & 2))
            continue;
        uint64_t off = rd64(ph + 8), va = rd64(ph + 16), fsz = rd64(ph + 32);
        n++;
        same &= off + fsz <= size && memcmp(f + off, (const void *)(va + lt_slide), fsz) == 0;
    }
    check(same && n, "executable file ELF", "its %d executable segment(s) are the running text", n);
    if (k->pie) {
        /* "a slide of at least 0xffffffff80000000 - min_vaddr"; ELF wants p_align kept; the
         * 2 MiB is this loader's own promise (efi/preflight.h: the image stays mappable with
         * large pages), not the specification's */
        lt_printf("info pie: slide 0x%lx (minimum 0x%lx), p_align 0x%lx\n", lt_slide,
                  KERNEL_BASE - vlo, align);
        check(lt_slide >= KERNEL_BASE - vlo && uptr(k->image_start) >= KERNEL_BASE, "pie slide",
              "0x%lx: the image at 0x%lx, at or above 0xffffffff80000000", lt_slide,
              uptr(k->image_start));
        check(lt_slide % align == 0 && lt_slide % (2 * MiB) == 0, "pie slide",
              "a multiple of p_align 0x%lx and of 2 MiB", align);
    } else {
        check(lt_slide == 0, "executable placement", "linked at 0x%lx, runs there", vlo);
    }
    return lt_slide;
}

/* A limine_file against what the script wrote. */
static void file_check(const char *name, const struct limine_file *f,
                       const struct lt_file_expect *e)
{
    int64_t pl = blr_string(f->path, 1024), sl = blr_string(f->string, 4096);
    check(blr(f, sizeof *f) && pl > 0 && sl >= 0, name,
          "structure, path and string in bootloader-reclaimable memory");
    if (pl <= 0 || sl < 0)
        return;
    check(lt_streq(f->path, e->path), name, "path \"%s\" (want \"%s\")", f->path, e->path);
    check(lt_streq(f->string, e->string ? e->string : f->string), name,
          "string \"%s\" (want \"%s\")", f->string, e->string ? e->string : "");
    uint64_t va = uptr(f->address), pa = va - lt_hhdm;
    int where = va >= lt_hhdm && !(va & (PG - 1));
    check(where && f->size == e->size, name, "%lu bytes (want %lu) at 0x%lx, 4 KiB aligned",
          f->size, e->size, va);
    if (!where || f->size != e->size)
        return;
    const char *why;
    uint64_t at = lt_check_range(va, pa, f->size ? f->size : 1, 0, 0, -1, &why);
    char m[96];
    check(!why, name, "mapped through the HHDM%s", at_msg(m, why, at));
    if (why)
        return;
    uint64_t h = fnv64(f->address, f->size);
    check(h == e->hash, name, "FNV-1a 0x%016lx (want 0x%016lx: the file the script wrote)", h,
          e->hash);
    uint64_t span = (f->size + PG - 1) & ~(PG - 1);
    check(lt_mm_all(pa, span ? span : PG, T(EXECUTABLE_AND_MODULES) | T(BOOTLOADER_RECLAIMABLE)),
          name, "its pages are executable-and-modules or reclaimable, never usable");
    check(f->media_type == 0 && !rd32(f->tftp_ipv4) && !f->tftp_port, name,
          "media generic, no TFTP (read from a disk)");
    static const uint8_t zero[16];
    if (lt_exp.gpt) {
        /* zero means "unset" for each of these; set, they must be the disk's */
        check(f->partition_index == 0 || f->partition_index == 1, name,
              "partition index %u (the ESP is partition 1)", f->partition_index);
        check(!memcmp(&f->gpt_part_uuid, zero, 16) ||
                  !memcmp(&f->gpt_part_uuid, lt_exp.part_guid, 16),
              name, "GPT partition UUID %s",
              memcmp(&f->gpt_part_uuid, zero, 16) ? "is the ESP's" : "unset");
        check(!memcmp(&f->gpt_disk_uuid, zero, 16) ||
                  !memcmp(&f->gpt_disk_uuid, lt_exp.disk_guid, 16),
              name, "GPT disk UUID %s",
              memcmp(&f->gpt_disk_uuid, zero, 16) ? "is the disk's" : "unset");
        lt_printf("info %s: partition %u, GPT partition UUID %s, disk UUID %s\n", name,
                  f->partition_index, memcmp(&f->gpt_part_uuid, zero, 16) ? "set" : "unset",
                  memcmp(&f->gpt_disk_uuid, zero, 16) ? "set" : "unset");
    } else {
        /* the firmware may see the whole disk (partition 0) or mformat's MBR entry for it */
        check((f->partition_index == 0 || f->partition_index == 1) &&
                  (!f->mbr_disk_id || f->mbr_disk_id == lt_exp.mbr_id) &&
                  !memcmp(&f->gpt_disk_uuid, zero, 16) && !memcmp(&f->gpt_part_uuid, zero, 16),
              name,
              "MBR disk: partition %u (0 or 1), MBR ID 0x%x (unset, or the disk's 0x%x), "
              "no GPT UUIDs",
              f->partition_index, f->mbr_disk_id, lt_exp.mbr_id);
        lt_printf("info %s: partition %u, MBR ID %s\n", name, f->partition_index,
                  f->mbr_disk_id ? "set" : "unset");
    }
}

const struct limine_file *lt_exec_file;

static void executable_file(const struct lt_kernel *k)
{
    struct limine_executable_file_response *r =
        answered("executable file", k->exec_file, sizeof *r);
    if (!r || !blr(r->executable_file, sizeof(struct limine_file)))
        return;
    const struct limine_file *f = r->executable_file;
    lt_exec_file = f;
    struct lt_file_expect e = lt_exp.self;
    e.string = cmdline;
    file_check("executable file", f, &e);
    if (cmdline)
        check(f->string == cmdline, "executable file",
              "string is the same memory as the command line (%p, %p)", (void *)f->string,
              (void *)cmdline);
    if (f->size == e.size && uptr(f->address) >= lt_hhdm)
        elf_slide_check(k, f->address, f->size);
}

/* The ELF entry of a kernel with an Entry Point request fails the run if the loader goes there
 * (full.c); arriving here through lt_entry is the proof, the response the acknowledgement. */
static void entry_point(const struct lt_kernel *k)
{
    if (k->entry && answered("entry point", (vreq *)k->entry, 8))
        lt_printf("info entry point: entered at 0x%lx, the request's; the ELF entry is 0x%lx\n",
                  uptr(k->entered), uptr(k->elf_entry));
}

static void modules(const struct lt_kernel *k)
{
    struct limine_module_response *r = response((vreq *)k->module);
    uint32_t want = lt_exp.nimods + lt_exp.nmods;
    if (!want) {
        check(!r, "modules", "none given: %s", r ? "answered anyway" : "unanswered, as specified");
        return;
    }
    if (!(r = answered("modules", (vreq *)k->module, sizeof *r)))
        return;
    if (lt_exp.nimods)
        check(r->revision >= 1, "modules", "response revision %lu (internal modules from 1)",
              r->revision);
    if (!check(r->module_count == want && blr(r->modules, want * 8), "modules",
               "%lu modules (want %u internal, then %u from limine.conf)", r->module_count,
               lt_exp.nimods, lt_exp.nmods))
        return;
    for (uint32_t i = 0; i < want; i++) {
        char name[32];
        int internal = i < lt_exp.nimods;
        lt_snprintf(name, sizeof name, "%s %u", internal ? "internal module" : "module",
                    internal ? i : i - lt_exp.nimods);
        file_check(name, r->modules[i],
                   internal ? &lt_exp.imods[i] : &lt_exp.mods[i - lt_exp.nimods]);
    }
    /* "all 4KiB chunks of memory they cover for themselves exclusively" */
    int overlap = 0;
    for (uint32_t i = 0; i < want; i++) {
        uint64_t a = uptr(r->modules[i]->address), an = (r->modules[i]->size + PG - 1) & ~(PG - 1);
        for (uint32_t j = i + 1; j < want; j++) {
            uint64_t b = uptr(r->modules[j]->address),
                     bn = (r->modules[j]->size + PG - 1) & ~(PG - 1);
            overlap |= a < b + bn && b < a + an;
        }
        if (image_phys) {
            uint64_t ip = image_phys + lt_hhdm, in = (uint64_t)(k->image_end - k->image_start);
            overlap |= a < ip + in && ip < a + an;
        }
        if (lt_exec_file) {
            uint64_t x = uptr(lt_exec_file->address),
                     xn = (lt_exec_file->size + PG - 1) & ~(PG - 1);
            overlap |= a < x + xn && x < a + an;
        }
    }
    check(!overlap, "modules",
          "each module's pages its own: no other module, no kernel image, "
          "no kernel file");
}

/* ---- ACPI, SMBIOS, EFI ---- */

/* A firmware table by physical address, through the HHDM if it maps it (else our window). */
static const uint8_t *table(uint64_t pa, uint64_t len)
{
    return lt_phys(pa, len);
}

#define ACPI_TYPES (T(ACPI_RECLAIMABLE) | T(ACPI_NVS) | T(RESERVED_MAPPED))

/* The MADT's enabled processors: APIC ID and ACPI UID, for the MP response's processor_id. */
static uint32_t madt_apic[64], madt_uid[64], madt_n;

static void acpi_tables(uint64_t rsdp)
{
    const uint8_t *r = table(rsdp, 36);
    int x = r[15] >= 2;
    uint64_t sdt = x ? rd64(r + 24) : rd32(r + 16);
    const uint8_t *t = table(sdt, 36);
    uint32_t tl = rd32(t + 4), es = x ? 8 : 4;
    t = table(sdt, tl);
    int placed =
        lt_rev < 4 || (lt_mm_all(rsdp, x ? 36 : 20, ACPI_TYPES) && lt_mm_all(sdt, tl, ACPI_TYPES));
    uint32_t ntables = 0, cpus = 0, mcfg = 0, unmasked = 0, ioapics = 0;
    uint64_t unplaced = 0;
    for (uint32_t at = 36; at + es <= tl; at += es) {
        uint64_t a = x ? rd64(t + at) : rd32(t + at);
        const uint8_t *h = table(a, 36);
        uint32_t len = rd32(h + 4);
        h = table(a, len);
        ntables++;
        if (lt_rev >= 4 && !lt_mm_all(a, len, ACPI_TYPES) && !unplaced)
            unplaced = a;
        if (!memcmp(h, "MCFG", 4))
            mcfg = 1;
        if (!memcmp(h, "FACP", 4) && len >= 148) {
            /* FACS, DSDT and their 64-bit forms (X_FIRMWARE_CTRL 132, X_DSDT 140) */
            uint64_t ptrs[4] = {rd32(h + 36), rd32(h + 40), rd64(h + 132), rd64(h + 140)};
            for (int i = 0; i < 4; i++) {
                if (!ptrs[i])
                    continue;
                const uint8_t *s = table(ptrs[i], 8);
                uint32_t sl = rd32(s + 4);
                if (lt_rev >= 4 && !lt_mm_all(ptrs[i], sl, ACPI_TYPES) && !unplaced)
                    unplaced = ptrs[i];
            }
        }
        if (!memcmp(h, "APIC", 4)) {
            for (uint32_t e = 44; e + 2 <= len && h[e + 1] >= 2; e += h[e + 1]) {
                int lapic = h[e] == 0 && (rd32(h + e + 4) & 1);
                int x2apic = h[e] == 9 && h[e + 1] >= 16 && (rd32(h + e + 8) & 1);
                if ((lapic || x2apic) && madt_n < 64) {
                    madt_apic[madt_n] = lapic ? h[e + 3] : rd32(h + e + 4);
                    madt_uid[madt_n++] = lapic ? h[e + 2] : rd32(h + e + 12);
                }
                cpus += lapic || x2apic;
                if (h[e] == 1 && h[e + 1] >= 12) {
                    /* an I/O APIC: its fixed and lowest-priority entries masked (and, from
                     * base revision 5, NMI and ExtINT ones) */
                    volatile uint32_t *io = lt_phys(rd32(h + e + 4), 0x20);
                    io[0] = 1;
                    uint32_t n = ((io[4] >> 16) & 0xff) + 1;
                    for (uint32_t k = 0; k < n && k < 240; k++) {
                        io[0] = 0x10 + 2 * k;
                        uint32_t lo = io[4];
                        unsigned mode = (lo >> 8) & 7;
                        int must = mode <= 1 || (lt_rev >= 5 && (mode == 4 || mode == 7));
                        unmasked += must && !((lo >> 16) & 1);
                    }
                    ioapics++;
                }
            }
        }
    }
    char m[96];
    if (lt_rev >= 4)
        check(placed && !unplaced, "ACPI tables placed",
              "RSDP, %s and the %u tables it lists, FACS and DSDT: in ACPI or reserved-mapped "
              "regions (base revision %lu)%s",
              x ? "XSDT" : "RSDT", ntables, lt_rev,
              at_msg(m, placed && !unplaced ? 0 : "not so", unplaced));
    check(cpus == lt_exp.cpus, "ACPI MADT", "%u enabled CPUs (QEMU was given %u)", cpus,
          lt_exp.cpus);
    if (lt_exp.q35 >= 0)
        check(mcfg == (uint32_t)lt_exp.q35, "ACPI", "%s MCFG table (machine %s)",
              mcfg ? "an" : "no", lt_exp.q35 ? "q35" : "pc");
    check(ioapics && !unmasked, "I/O APIC",
          "%u redirection entries unmasked that the "
          "specification masks (%u I/O APICs)",
          unmasked, ioapics);
}

static void rsdp(const struct lt_kernel *k)
{
    struct limine_rsdp_response *r = answered("RSDP", k->rsdp, sizeof *r);
    if (!r)
        return;
    /* "Physical for base revision 3 only." */
    int phys = lt_rev == 3;
    int ok = phys ? r->address < lt_hhdm && r->address : r->address >= lt_hhdm;
    check(ok, "RSDP", "address 0x%lx is %s (base revision %lu)", r->address,
          phys ? "physical" : "virtual (HHDM)", lt_rev);
    if (!ok)
        return;
    uint64_t pa = phys ? r->address : r->address - lt_hhdm;
    if (!phys) {
        struct lt_map m;
        check(lt_walk(r->address, &m) && m.pa == pa, "RSDP", "its virtual address is mapped");
    }
    const uint8_t *p = table(pa, 36);
    int sig = memcmp(p, "RSD PTR ", 8) == 0;
    int sum = checksum8(p, 20) && (p[15] < 2 || (rd32(p + 20) >= 36 && checksum8(p, rd32(p + 20))));
    check(sig && sum, "RSDP", "\"RSD PTR \", checksums of the first 20 and (ACPI 2) all bytes");
    if (sig && sum) {
        rsdp_phys = pa;
        acpi_tables(pa);
    }
}

static void smbios(const struct lt_kernel *k)
{
    struct limine_smbios_response *r = answered("SMBIOS", k->smbios, sizeof *r);
    if (!r)
        return;
    int phys = lt_rev == 3 || lt_rev == 4;
    check(r->entry_32 || r->entry_64, "SMBIOS", "entry_32 0x%lx, entry_64 0x%lx: at least one",
          r->entry_32, r->entry_64);
    uint64_t e[2] = {r->entry_32, r->entry_64};
    for (int i = 0; i < 2; i++) {
        if (!e[i])
            continue;
        const char *name = i ? "SMBIOS 64-bit entry" : "SMBIOS 32-bit entry";
        int ok = phys ? e[i] < lt_hhdm : e[i] >= lt_hhdm;
        check(ok, name, "0x%lx is %s (base revision %lu)", e[i], phys ? "physical" : "virtual",
              lt_rev);
        if (!ok)
            continue;
        uint64_t pa = phys ? e[i] : e[i] - lt_hhdm;
        const uint8_t *p = table(pa, 32);
        uint32_t len = i ? p[6] : p[5];
        int good = i ? memcmp(p, "_SM3_", 5) == 0 : memcmp(p, "_SM_", 4) == 0;
        good = good && len >= (i ? 24u : 31u) && checksum8(table(pa, len), len);
        check(good, name, "anchor %s, checksum over %u bytes", i ? "_SM3_" : "_SM_", len);
        if (i)
            smbios64_phys = pa;
        else
            smbios32_phys = pa;
        if (good && lt_rev >= 5) {
            uint64_t st = i ? rd64(p + 0x10) : rd32(p + 0x18);
            uint64_t sl = i ? rd32(p + 0x0c) : rd16(p + 0x16);
            check(lt_mm_all(pa, len, T(RESERVED_MAPPED)) && lt_mm_all(st, sl, T(RESERVED_MAPPED)),
                  name,
                  "entry point and its %lu-byte structure table at 0x%lx in "
                  "reserved-mapped regions (base revision %lu)",
                  sl, st, lt_rev);
        }
    }
}

static const uint8_t guid_acpi2[16] = {0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
                                       0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81};
static const uint8_t guid_smbios[16] = {0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11,
                                        0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d};
static const uint8_t guid_smbios3[16] = {0x44, 0x15, 0xfd, 0xf2, 0x94, 0x97, 0x2c, 0x4a,
                                         0x99, 0x2f, 0xe5, 0xbb, 0xcf, 0x20, 0xe3, 0x94};

static void efi_system_table(const struct lt_kernel *k)
{
    struct limine_efi_system_table_response *r = answered("EFI system table", k->est, sizeof *r);
    if (!r)
        return;
    int phys = lt_rev == 3 || lt_rev == 4;
    int ok = phys ? r->address < lt_hhdm && r->address : r->address >= lt_hhdm;
    check(ok, "EFI system table", "0x%lx is %s (base revision %lu)", r->address,
          phys ? "physical" : "virtual", lt_rev);
    if (!ok)
        return;
    uint64_t pa = phys ? r->address : r->address - lt_hhdm;
    const uint8_t *st = table(pa, 120);
    uint32_t hsize = rd32(st + 12);
    int sig = rd64(st) == 0x5453595320494249ull && rd32(st + 8) >= 0x20000 && hsize >= 120;
    check(sig, "EFI system table", "signature \"IBI SYST\", revision 0x%x, header %u bytes",
          rd32(st + 8), hsize);
    if (!sig)
        return;
    /* after ExitBootServices the firmware clears BootServices and recomputes the header CRC */
    uint8_t hdr[512];
    uint32_t hn = hsize < sizeof hdr ? hsize : sizeof hdr;
    memcpy(hdr, table(pa, hn), hn);
    uint32_t crc = rd32(hdr + 16);
    memset(hdr + 16, 0, 4);
    check(crc32(hdr, hn) == crc && rd64(st + 96) == 0, "EFI system table",
          "header CRC32 0x%x holds, BootServices NULL: boot services were exited", crc);
    uint64_t rt = rd64(st + 88), n = rd64(st + 104), ct = rd64(st + 112), vendor = rd64(st + 24);
    check(rd64(table(rt, 24)) == 0x56524553544e5552ull, "EFI runtime services",
          "table at 0x%lx signed \"RUNTSERV\"", rt);
    if (lt_rev >= 5) {
        uint64_t vl = 0;
        const uint16_t *v = (const uint16_t *)table(vendor, 512);
        while (vl < 256 && v[vl])
            vl++;
        check(lt_mm_all(pa, hsize, T(RESERVED_MAPPED)) && lt_mm_all(rt, 24, T(RESERVED_MAPPED)) &&
                  lt_mm_all(ct, n * 24, T(RESERVED_MAPPED)) &&
                  lt_mm_all(vendor, vl * 2 + 2, T(RESERVED_MAPPED)),
              "EFI system table placed",
              "table, runtime services, %lu configuration tables and "
              "vendor string in reserved-mapped regions (base revision %lu)",
              n, lt_rev);
    }
    /* The firmware's own configuration tables against the RSDP and SMBIOS responses. */
    const uint8_t *cfg = table(ct, n * 24);
    uint64_t acpi = 0, sm = 0, sm3 = 0;
    for (uint64_t i = 0; i < n && i < 64; i++) {
        const uint8_t *c = cfg + i * 24;
        acpi = memcmp(c, guid_acpi2, 16) ? acpi : rd64(c + 16);
        sm = memcmp(c, guid_smbios, 16) ? sm : rd64(c + 16);
        sm3 = memcmp(c, guid_smbios3, 16) ? sm3 : rd64(c + 16);
    }
    if (response(k->rsdp))
        check(acpi == rsdp_phys, "RSDP is the firmware's", "0x%lx, the ACPI 2.0 table says 0x%lx",
              rsdp_phys, acpi);
    if (response(k->smbios))
        check(sm == smbios32_phys && sm3 == smbios64_phys, "SMBIOS is the firmware's",
              "0x%lx and 0x%lx, the configuration tables say 0x%lx and 0x%lx", smbios32_phys,
              smbios64_phys, sm, sm3);
}

static void efi_memmap(const struct lt_kernel *k)
{
    struct limine_efi_memmap_response *r = answered("EFI memory map", k->efi_memmap, sizeof *r);
    if (!r)
        return;
    uint64_t ds = r->desc_size, n = ds ? r->memmap_size / ds : 0;
    if (!check(ds >= 40 && n && r->memmap_size % ds == 0 && r->desc_version == 1 &&
                   blr(r->memmap, r->memmap_size),
               "EFI memory map", "%lu descriptors of %lu bytes, version %lu, in reclaimable memory",
               n, ds, r->desc_version))
        return;
    const uint8_t *base = r->memmap;
    uint64_t bad = 0, overlaps = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct lt_efi_desc *d = (const void *)(base + i * ds);
        if ((d->phys & (PG - 1)) || !d->pages || d->pages > (1ull << 40) ||
            (d->type > EFI_UNACCEPTED && d->type < 0x70000000u))
            bad++;
        for (uint64_t j = i + 1; j < n; j++) {
            const struct lt_efi_desc *o = (const void *)(base + j * ds);
            overlaps += d->phys < o->phys + o->pages * PG && o->phys < d->phys + d->pages * PG;
        }
    }
    check(!bad && !overlaps, "EFI memory map",
          "descriptors aligned, non-empty, known types (%lu "
          "bad), disjoint (%lu overlaps)",
          bad, overlaps);
    /* The specification's conversion: runtime -> reserved (reserved-mapped from revision 5),
     * ACPI reclaim -> ACPI reclaimable, ACPI NVS -> ACPI NVS; conventional, loader and
     * boot-services RAM -> usable or reclaimable (or the kernel's and modules'); anything else
     * -> reserved. Page by page, every page of each descriptor. */
    uint64_t wrong = 0, wrong_at = 0, wrong_type = 0, wrong_efi = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct lt_efi_desc *d = (const void *)(base + i * ds);
        uint32_t allowed;
        int must_cover;
        switch (d->type) {
        case EFI_RT_CODE:
        case EFI_RT_DATA:
            allowed = lt_rev >= 5 ? T(RESERVED_MAPPED) : T(RESERVED);
            must_cover = 1;
            break;
        case EFI_ACPI_RECLAIM:
            allowed = T(ACPI_RECLAIMABLE);
            must_cover = 1;
            break;
        case EFI_ACPI_NVS:
            allowed = T(ACPI_NVS);
            must_cover = 1;
            break;
        case EFI_CONVENTIONAL:
        case EFI_LOADER_CODE:
        case EFI_LOADER_DATA:
        case EFI_BS_CODE:
        case EFI_BS_DATA:
            /* what the loader or its tables took stays reclaimable; tables the revision keeps
             * mapped may be reserved-mapped; page 0 may be reserved */
            allowed = T(USABLE) | T(BOOTLOADER_RECLAIMABLE) | T(EXECUTABLE_AND_MODULES) |
                      (lt_rev >= 4 ? T(RESERVED_MAPPED) : 0);
            must_cover = 1;
            break;
        default:
            allowed = T(RESERVED) | (lt_rev >= 4 ? T(RESERVED_MAPPED) : 0) | T(FRAMEBUFFER);
            must_cover = 0;
            break;
        }
        for (uint64_t p = 0; p < d->pages; p++) {
            uint64_t pa = d->phys + p * PG;
            const struct limine_memmap_entry *e = lt_mm_at(pa);
            uint32_t ok_here = allowed | (pa == 0 ? T(RESERVED) : 0);
            if (!e) {
                if (must_cover && !wrong++)
                    wrong_at = pa, wrong_type = 99, wrong_efi = d->type;
                continue;
            }
            if (!((1u << e->type) & ok_here) && !wrong++)
                wrong_at = pa, wrong_type = e->type, wrong_efi = d->type;
            /* skip to the end of this entry, within the descriptor */
            uint64_t end = e->base + e->length;
            if (end > pa + PG)
                p += (end - pa) / PG - 1;
        }
    }
    char m[96] = "";
    if (wrong)
        lt_snprintf(m, sizeof m, "; the first, EFI type %lu at 0x%lx, is %s", wrong_efi, wrong_at,
                    wrong_type == 99 ? "in no entry" : lt_mm_name(wrong_type));
    check(!wrong, "memmap types from EFI types",
          "every page of every EFI descriptor has the type the specification converts it to (%lu "
          "pages not)%s",
          wrong, m);
    /* and the other way: every usable, reclaimable or executable page was RAM in EFI's map */
    uint64_t stray = 0, stray_at = 0;
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        if (e->type != LIMINE_MEMMAP_USABLE && e->type != LIMINE_MEMMAP_BOOTLOADER_RECLAIMABLE &&
            e->type != LIMINE_MEMMAP_EXECUTABLE_AND_MODULES)
            continue;
        for (uint64_t pa = e->base & ~(PG - 1); pa < e->base + e->length; pa += PG) {
            int ram = 0;
            for (uint64_t j = 0; j < n && !ram; j++) {
                const struct lt_efi_desc *d = (const void *)(base + j * ds);
                ram = pa >= d->phys && pa - d->phys < d->pages * PG &&
                      (d->type == EFI_CONVENTIONAL ||
                       (d->type >= EFI_LOADER_CODE && d->type <= EFI_BS_DATA));
                if (pa >= d->phys && pa - d->phys < d->pages * PG && ram) {
                    uint64_t skip = d->phys + d->pages * PG;
                    if (skip > e->base + e->length)
                        skip = e->base + e->length;
                    pa = skip - PG; /* the rest of this descriptor in one step */
                }
            }
            if (!ram && !stray++)
                stray_at = pa;
        }
    }
    m[0] = 0;
    if (stray)
        lt_snprintf(m, sizeof m, "; the first at 0x%lx", stray_at);
    check(!stray, "memmap RAM is EFI RAM",
          "usable, reclaimable and executable pages were all conventional, loader or "
          "boot-services memory (%lu not)%s",
          stray, m);
}

/* The CMOS clock, as UNIX seconds: QEMU's RTC, read without the loader. */
static int64_t rtc_now(void)
{
    uint8_t v[7], b;
    static const uint8_t reg[7] = {0, 2, 4, 7, 8, 9, 0x32};
    for (int tries = 0; tries < 1000000; tries++) {
        outb(0x70, 0x0a);
        if (!(inb(0x71) & 0x80))
            break;
    }
    for (int i = 0; i < 7; i++) {
        outb(0x70, reg[i]);
        v[i] = inb(0x71);
    }
    outb(0x70, 0x0b);
    b = inb(0x71);
    int pm = v[2] & 0x80;
    v[2] &= 0x7f;
    if (!(b & 4))
        for (int i = 0; i < 7; i++)
            v[i] = (uint8_t)((v[i] >> 4) * 10 + (v[i] & 15));
    if (!(b & 2) && pm)
        v[2] = (uint8_t)((v[2] % 12) + 12);
    int64_t y = (v[6] >= 19 && v[6] <= 21 ? v[6] : 20) * 100 + v[5], m = v[4], d = v[3];
    /* days from civil (proleptic Gregorian) */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + v[2] * 3600 + v[1] * 60 + v[0];
}

static void date_at_boot(const struct lt_kernel *k)
{
    struct limine_date_at_boot_response *r = answered("date at boot", k->date, sizeof *r);
    if (!r)
        return;
    int64_t now = rtc_now(), d = now - r->timestamp;
    check(r->timestamp >= 1704067200 && d >= -5 && d <= 600, "date at boot",
          "%ld, after 2024; the RTC now says %ld (%ld s later)", r->timestamp, now, d);
}

/* The TSC's rate against the PIT's channel 2 over 50 ms. */
static uint64_t tsc_by_pit(void)
{
    uint8_t g = inb(0x61);
    outb(0x61, (uint8_t)((g & ~0x02) | 0x01));
    outb(0x43, 0xb0);       /* channel 2, lobyte/hibyte, mode 0 */
    uint16_t count = 59659; /* 50 ms of 1193182 Hz */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
    g = inb(0x61);
    outb(0x61, g & ~1);
    outb(0x61, g | 1);
    uint64_t t0 = rdtsc(), spins = 0;
    while (!(inb(0x61) & 0x20) && spins++ < 100000000)
        ;
    return (rdtsc() - t0) * 20;
}

static void tsc_frequency(const struct lt_kernel *k)
{
    struct limine_tsc_frequency_response *r = answered("TSC frequency", k->tsc, sizeof *r);
    if (!r)
        return;
    uint64_t pit = tsc_by_pit();
    check(r->frequency >= 100000000ull && r->frequency <= 20000000000ull && pit &&
              r->frequency > pit / 10 * 7 && r->frequency < pit / 10 * 13,
          "TSC frequency", "%lu Hz; the PIT measures %lu Hz (within 30%%)", r->frequency, pit);
}

static void entropy(const struct lt_kernel *k)
{
    struct limine_entropy_response *r = answered("entropy", (vreq *)k->entropy, sizeof *r);
    if (!r)
        return;
    uint64_t n = r->value_count;
    int ok = n >= 2 && n <= k->entropy->arg && blr(r->values, n * 8);
    int equal = 1, zero = 1;
    for (uint64_t i = 0; ok && i < n; i++)
        equal &= r->values[i] == r->values[0], zero &= r->values[i] == 0;
    check(ok && !equal && !zero, "entropy",
          "%lu values of %lu asked, in reclaimable memory, "
          "not all equal, not all zero",
          n, k->entropy->arg);
}

static void others(const struct lt_kernel *k)
{
    struct limine_bootloader_performance_response *p = response(k->perf);
    if (k->perf && p)
        check(blr(p, sizeof *p) && p->reset_usec <= p->init_usec && p->init_usec <= p->exec_usec,
              "bootloader performance", "reset %lu <= init %lu <= exec %lu us", p->reset_usec,
              p->init_usec, p->exec_usec);
    else if (k->perf)
        lt_printf("info bootloader performance: unanswered (optional)\n");
    if (k->iommu)
        answered("keep IOMMU", k->iommu, 8);
    /* on x86_64, with no device tree, no TPM and no RISC-V: "no response will be provided" */
    if (k->dtb)
        check(!response(k->dtb), "device tree blob", "unanswered (x86_64, no DTB)");
    if (k->hartid)
        check(!response(k->hartid), "RISC-V BSP hart ID", "unanswered on x86_64");
    if (k->tpm)
        check(!response(k->tpm), "TPM event log", "unanswered (QEMU was given no TPM)");
    if (k->flanterm) {
        struct limine_flanterm_fb_init_params_response *f = response(k->flanterm);
        struct limine_framebuffer_response *fb = response(k->fb);
        if (!lt_exp.fb)
            check(!f, "flanterm parameters", "unanswered: no framebuffer");
        else if (f)
            check(blr(f, sizeof *f) && fb && f->entry_count == fb->framebuffer_count,
                  "flanterm parameters", "one entry per framebuffer");
        else
            lt_printf("info flanterm parameters: unanswered (the loader has no Flanterm)\n");
    }
    if (k->unknown)
        check(k->unknown->response == k->unknown_was, "unknown request",
              "response pointer left as it was (%p)", k->unknown->response);
}

/* "The A20 gate is opened": two usable pages whose addresses differ in bit 20 alone are two
 * pages, not one seen twice. */
static void a20(void)
{
    for (uint64_t i = 0; i < lt_mm_n; i++) {
        const struct limine_memmap_entry *e = lt_mm[i];
        for (uint64_t pa = e->base; e->type == LIMINE_MEMMAP_USABLE && pa < e->base + e->length;
             pa += PG) {
            if (!(pa & (1u << 20)) || !lt_mm_all(pa & ~((uint64_t)1 << 20), PG, T(USABLE)))
                continue;
            volatile uint64_t *hi = (volatile uint64_t *)(lt_hhdm + pa);
            volatile uint64_t *lo = (volatile uint64_t *)(lt_hhdm + (pa & ~((uint64_t)1 << 20)));
            *lo = 0x1010101010101010ull;
            *hi = 0x2020202020202020ull;
            check(*lo == 0x1010101010101010ull, "A20", "0x%lx and 0x%lx are different memory",
                  pa & ~((uint64_t)1 << 20), pa);
            return;
        }
    }
    lt_printf("info A20: no two usable pages differ in bit 20 alone; not checked\n");
}

/* The MTRRs a CPU runs with, as one hash: the APs' must be the BSP's ("synchronised by the
 * bootloader to match the BSP"). */
static uint64_t mtrr_hash(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!((r[3] >> 12) & 1))
        return 0;
    uint64_t v[64], n = 0, cap = rdmsr(0xfe);
    v[n++] = rdmsr(0x2ff);
    for (uint32_t i = 0; i < (cap & 0xff) && i < 16; i++)
        v[n++] = rdmsr(0x200 + 2 * i), v[n++] = rdmsr(0x201 + 2 * i);
    if ((cap >> 8) & 1) {
        static const uint16_t fixed[11] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                           0x26b, 0x26c, 0x26d, 0x26e, 0x26f};
        for (int i = 0; i < 11; i++)
            v[n++] = rdmsr(fixed[i]);
    }
    return fnv64(v, n * 8);
}

static void machine_state(void)
{
    entry_state("BSP", &lt_bsp_state, 0);
    pat_check("BSP PAT");
    uint8_t m1 = inb(0x21), m2 = inb(0xa1);
    check(m1 == 0xff && m2 == 0xff, "legacy PICs", "IRQs masked (0x%x 0x%x)", m1, m2);
    a20();
    uint64_t bad;
    int tables = lt_tables_ok(&bad);
    char m[96];
    check(tables, "page tables", "every table page walked is bootloader-reclaimable%s",
          at_msg(m, bad ? "not the page" : 0, bad));
}

void lt_check_all(const struct lt_kernel *k)
{
    lt_printf("info %s: started, entry state saved\n", k->name);
    base_revision(k);
    hhdm(k);
    memmap(k);
    command_line(k);
    memmap_ram();
    lt_printf("info base revision %lu, HHDM 0x%lx, %lu memory map entries\n", lt_rev, lt_hhdm,
              lt_mm_n);
    entry_point(k);
    stack_size_feature(k);
    if (k->exec_addr)
        executable_address(k);
    if (k->exec_file)
        executable_file(k);
    same_bytes(k);
    hhdm_coverage();
    if (k->info)
        bootloader_info(k);
    if (k->fwtype)
        firmware_type(k);
    if (k->paging)
        paging_mode(k);
    if (k->fb)
        framebuffer(k);
    if (k->module)
        modules(k);
    if (k->rsdp)
        rsdp(k);
    if (k->smbios)
        smbios(k);
    if (k->est)
        efi_system_table(k);
    if (k->efi_memmap)
        efi_memmap(k);
    if (k->date)
        date_at_boot(k);
    if (k->tsc)
        tsc_frequency(k);
    if (k->entropy)
        entropy(k);
    others(k);
    if (lt_rev >= 5)
        lapic = lt_phys(rdmsr(0x1b) & PHYS_MASK, PG);
    struct lapic_view v;
    lapic_read(&v);
    if (k->mp)
        lapic_check("BSP", &v);
    machine_state();
}

/* ---- MP ---- */

struct ap_slot {
    struct cpu_state st;
    uint32_t apic_id;
    uint32_t same_cr3;
    uint64_t pat, mtrr;
    struct lapic_view lapic;
    volatile uint32_t answered;
};
#define MAX_CPUS 64
static struct ap_slot slots[MAX_CPUS];

/* A released AP, after entry.S saved its state: what C can read, then done. */
void lt_ap_main(struct limine_mp_info *info);
void lt_ap_main(struct limine_mp_info *info)
{
    struct ap_slot *s = (struct ap_slot *)info->extra_argument;
    s->apic_id = lt_apic_id();
    s->pat = lt_has_pat() ? rdmsr(0x277) : 0;
    s->mtrr = mtrr_hash();
    s->same_cr3 = (read_cr3() & PHYS_MASK) == (lt_bsp_state.cr3 & PHYS_MASK);
    if (s->same_cr3)
        lapic_read(&s->lapic);
    else
        s->lapic.base_msr = rdmsr(0x1b);
    __atomic_store_n(&s->answered, 1, __ATOMIC_RELEASE);
}

void lt_check_mp(const struct lt_kernel *k)
{
    struct limine_mp_response *r = answered("MP", (vreq *)k->mp, sizeof *r);
    if (!r)
        return;
    uint32_t me = lt_apic_id();
    check(!(r->flags & 1), "MP", "flags 0x%x: x2APIC not enabled (not asked)", r->flags);
    check(r->cpu_count == lt_exp.cpus, "MP cpu_count", "%lu (QEMU was given %u)", r->cpu_count,
          lt_exp.cpus);
    check(r->bsp_lapic_id == me && me == lt_exp.bsp, "MP BSP",
          "bsp_lapic_id %u; this CPU's APIC "
          "ID %u; QEMU's boot CPU %u",
          r->bsp_lapic_id, me, lt_exp.bsp);
    uint64_t n = r->cpu_count;
    if (!check(n >= 1 && n <= MAX_CPUS && blr(r->cpus, n * 8), "MP",
               "%lu CPUs listed in "
               "reclaimable memory",
               n))
        return;
    int ok = 1, bsps = 0, dup = 0, nulls = 1;
    for (uint64_t i = 0; i < n; i++) {
        struct limine_mp_info *c = r->cpus[i];
        ok &= blr(c, sizeof *c);
        if (!ok)
            break;
        bsps += c->lapic_id == r->bsp_lapic_id;
        nulls &= c->goto_address == 0;
        for (uint64_t j = 0; j < i; j++)
            dup |=
                r->cpus[j]->lapic_id == c->lapic_id || r->cpus[j]->processor_id == c->processor_id;
    }
    check(ok && bsps == 1 && !dup, "MP cpus",
          "infos in reclaimable memory, APIC IDs and ACPI "
          "UIDs unique, the BSP among them once");
    check(ok && nulls, "MP goto_address", "NULL for every CPU at entry");
    if (ok && madt_n) {
        /* "processor_id - ACPI Processor UID as specified by the MADT"; lapic_id likewise */
        uint64_t unmatched = 0;
        for (uint64_t i = 0; i < n; i++) {
            int found = 0;
            for (uint32_t j = 0; j < madt_n; j++)
                found |=
                    madt_apic[j] == r->cpus[i]->lapic_id && madt_uid[j] == r->cpus[i]->processor_id;
            unmatched += !found;
        }
        check(!unmatched, "MP cpus", "APIC IDs and ACPI UIDs as the MADT lists them (%lu not)",
              unmatched);
    }
    if (!ok)
        return;
    /* Release each AP: its slot first, then goto_address with a release store. */
    uint32_t aps = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct limine_mp_info *c = r->cpus[i];
        if (c->lapic_id == r->bsp_lapic_id)
            continue;
        c->extra_argument = (uint64_t)(uintptr_t)&slots[i];
        __atomic_store_n(&c->goto_address, lt_ap_entry, __ATOMIC_SEQ_CST);
        aps++;
    }
    uint64_t hz = 3000000000ull, t0 = rdtsc();
    struct limine_tsc_frequency_response *t = response(k->tsc);
    if (t && t->frequency)
        hz = t->frequency;
    uint32_t up = 0;
    while (rdtsc() - t0 < 5 * hz) {
        up = 0;
        for (uint64_t i = 0; i < n; i++)
            up += r->cpus[i]->lapic_id != r->bsp_lapic_id &&
                  __atomic_load_n(&slots[i].answered, __ATOMIC_ACQUIRE);
        if (up == aps)
            break;
        pause();
    }
    check(up == aps, "MP release", "%u of %u APs ran our function through goto_address", up, aps);
    /* Each AP: its state, its own stack, the info it was given. */
    for (uint64_t i = 0; i < n; i++) {
        struct limine_mp_info *c = r->cpus[i];
        struct ap_slot *s = &slots[i];
        if (c->lapic_id == r->bsp_lapic_id || !s->answered)
            continue;
        char who[24];
        lt_snprintf(who, sizeof who, "AP %u", c->lapic_id);
        check(s->st.gpr[ST_RDI / 8] == uptr(c) && s->apic_id == c->lapic_id, who,
              "RDI 0x%lx is its info; CPUID says APIC ID %u", s->st.gpr[ST_RDI / 8], s->apic_id);
        entry_state(who, &s->st, 1);
        stack_of(who, &s->st, 0);
        if (lt_has_pat())
            check((s->pat & 0xffffffffffffull) == 0x010500070406ull, who, "PAT 0x%lx", s->pat);
        lapic_check(who, &s->lapic);
        check(s->mtrr == mtrr_hash(), who, "MTRRs the BSP's (hash 0x%lx)", s->mtrr);
        if (lt_rev >= 5 && !s->same_cr3)
            lt_printf("info %s: on other page tables; its local APIC not read\n", who);
    }
    /* distinct stacks: no two CPUs' [rsp + 8 - stack_size, rsp + 8) share a frame */
    int shared = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct cpu_state *a =
            r->cpus[i]->lapic_id == r->bsp_lapic_id ? &lt_bsp_state : &slots[i].st;
        if (a != &lt_bsp_state && !slots[i].answered)
            continue;
        for (uint64_t j = i + 1; j < n; j++) {
            const struct cpu_state *b =
                r->cpus[j]->lapic_id == r->bsp_lapic_id ? &lt_bsp_state : &slots[j].st;
            if (b != &lt_bsp_state && !slots[j].answered)
                continue;
            for (uint64_t x = (a->rsp + 8 - stack_size) & ~(PG - 1); x < a->rsp + 8; x += PG) {
                struct lt_map mx, my;
                if (!lt_walk(x, &mx))
                    continue;
                for (uint64_t y = (b->rsp + 8 - stack_size) & ~(PG - 1); y < b->rsp + 8; y += PG)
                    shared |= lt_walk(y, &my) && (my.pa & ~(PG - 1)) == (mx.pa & ~(PG - 1));
            }
        }
    }
    check(!shared, "MP stacks", "every CPU on its own stack (no frame shared)");
}
