/*
 * machine.c - see machine.h. Facts from the Intel SDM (vol. 3A: 11.11.8 MTRR changes, 11.12 PAT,
 * 10.4-10.5 the local APIC and its LVT, 10.12 x2APIC), the 82093AA I/O APIC datasheet, Intel's
 * VT-d specification (10.4.4-10.4.5: GCMD, GSTS) and AMD's IOMMU specification (3.4: the control
 * register at MMIO offset 18h).
 */
#include "machine.h"

#include "x86.h"

#define MSR_APIC_BASE 0x1bu
#define MSR_MTRRCAP   0xfeu
#define MSR_PAT       0x277u
#define MSR_MTRR_DEF  0x2ffu
#define APIC_X2       (1u << 10)
#define APIC_EN       (1u << 11)
#define CR0_PE        (1ull << 0)
#define CR0_ET        (1ull << 4)
#define CR0_NW        (1ull << 29)
#define CR0_CD        (1ull << 30)
#define CR0_WP        (1ull << 16)
#define CR0_PG        (1ull << 31)
#define CR4_PAE       (1ull << 5)
#define CR4_PGE       (1ull << 7)
#define CR4_LA57      (1ull << 12)
#define EFER_LME      (1ull << 8)
#define EFER_LMA      (1ull << 10)
#define EFER_NXE      (1ull << 11)

static uint64_t read_cr(int n)
{
    uint64_t v = 0;
    if (n == 0)
        __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    else
        __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static void write_cr(int n, uint64_t v)
{
    if (n == 0)
        __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
    else
        __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static int has(uint32_t leaf, int reg, int bit)
{
    uint32_t r[4];
    cpuid(leaf & 0x80000000u, 0, r);
    if (r[0] < leaf)
        return 0;
    cpuid(leaf, 0, r);
    return (r[reg] >> bit) & 1;
}

static void add_mtrr(struct machine *m, uint32_t msr)
{
    if (m->nmtrr < MACHINE_MAX_MTRRS) {
        m->mtrr_msr[m->nmtrr] = msr;
        m->mtrr_val[m->nmtrr++] = rdmsr(msr);
    }
}

void machine_init(struct machine *m, uint64_t revision, unsigned levels, int want_x2apic)
{
    m->revision = revision;
    int nx = has(0x80000001u, 3, 20);
    if (revision >= 5) { /* every bit the specification does not name is clear */
        m->cr0 = CR0_PE | CR0_ET | CR0_WP | CR0_PG;
        m->cr4 = CR4_PAE | (levels == 5 ? CR4_LA57 : 0);
        m->efer = EFER_LME | EFER_LMA | (nx ? EFER_NXE : 0);
    } else { /* the firmware's, with what the specification names */
        m->cr0 = (read_cr(0) | CR0_PE | CR0_WP | CR0_PG) & ~(CR0_CD | CR0_NW);
        m->cr4 = (read_cr(4) | CR4_PAE) & ~CR4_LA57;
        m->cr4 |= levels == 5 ? CR4_LA57 : 0;
        m->efer = rdmsr(0xc0000080u) | EFER_LME | (nx ? EFER_NXE : 0);
    }
    m->pat = has(1, 3, 16);
    m->x2apic = want_x2apic && has(1, 2, 21);
    m->nmtrr = 0;
    if (has(1, 3, 12)) { /* MTRRs: the APs copy the BSP's, as the SDM requires */
        uint64_t cap = rdmsr(MSR_MTRRCAP);
        for (uint32_t i = 0; i < (cap & 0xff) && i < 28; i++) {
            add_mtrr(m, 0x200 + 2 * i);
            add_mtrr(m, 0x201 + 2 * i);
        }
        if (cap & (1u << 8)) {
            static const uint32_t fixed[] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                             0x26b, 0x26c, 0x26d, 0x26e, 0x26f};
            for (unsigned i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
                add_mtrr(m, fixed[i]);
        }
        add_mtrr(m, MSR_MTRR_DEF);
    }
}

static void wbinvd(void)
{
    __asm__ volatile("wbinvd" ::: "memory");
}

/* SDM 11.11.8: caches off and flushed, MTRRs off, written, on, caches on. */
static void load_mtrrs(const struct machine *m)
{
    if (!m->nmtrr)
        return;
    uint64_t cr0 = read_cr(0), cr4 = read_cr(4);
    write_cr(0, (cr0 | CR0_CD) & ~CR0_NW);
    wbinvd();
    write_cr(4, cr4 & ~CR4_PGE); /* flush the TLB, global entries too */
    write_cr(4, cr4);
    wrmsr(MSR_MTRR_DEF, rdmsr(MSR_MTRR_DEF) & ~0xc00ull);
    for (uint32_t i = 0; i < m->nmtrr; i++)
        if (m->mtrr_msr[i] != MSR_MTRR_DEF)
            wrmsr(m->mtrr_msr[i], m->mtrr_val[i]);
    for (uint32_t i = 0; i < m->nmtrr; i++)
        if (m->mtrr_msr[i] == MSR_MTRR_DEF)
            wrmsr(MSR_MTRR_DEF, m->mtrr_val[i]);
    wbinvd();
    write_cr(0, cr0);
}

int machine_x2apic(void)
{
    return (rdmsr(MSR_APIC_BASE) & APIC_X2) != 0;
}

/* The local APIC's mode: x2APIC on, or back to xAPIC (which needs the APIC off in between). */
static void apic_mode(int x2)
{
    uint64_t b = rdmsr(MSR_APIC_BASE);
    if (x2 && !(b & APIC_X2)) {
        wrmsr(MSR_APIC_BASE, b | APIC_EN | APIC_X2);
    } else if (!x2 && (b & APIC_X2)) {
        wrmsr(MSR_APIC_BASE, b & ~(uint64_t)(APIC_EN | APIC_X2));
        wrmsr(MSR_APIC_BASE, (b & ~(uint64_t)APIC_X2) | APIC_EN);
    } else if (!(b & APIC_EN)) {
        wrmsr(MSR_APIC_BASE, b | APIC_EN);
    }
}

static uint32_t apic_rd(uint32_t reg)
{
    if (machine_x2apic())
        return (uint32_t)rdmsr(0x800 + reg / 16);
    uint64_t base = rdmsr(MSR_APIC_BASE) & 0x000ffffffffff000ull;
    return *(volatile uint32_t *)(uintptr_t)(base + reg);
}

static void apic_wr(uint32_t reg, uint32_t v)
{
    if (machine_x2apic()) {
        wrmsr(0x800 + reg / 16, v);
        return;
    }
    uint64_t base = rdmsr(MSR_APIC_BASE) & 0x000ffffffffff000ull;
    *(volatile uint32_t *)(uintptr_t)(base + reg) = v;
}

static int maskable(uint32_t lvt) /* delivery mode fixed, lowest priority, NMI or ExtINT */
{
    uint32_t mode = (lvt >> 8) & 7;
    return mode == 0 || mode == 1 || mode == 4 || mode == 7;
}

static uint32_t le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* MADT entries (after its 44-byte header) of one type: fn(entry, length) for each. */
#define MADT_EACH(m, t, e, len)                                                                    \
    for (uint32_t at_ = 44; (m)->madt && at_ + 2 <= (m)->madt_len && (m)->madt[at_ + 1] >= 2 &&    \
                            at_ + (m)->madt[at_ + 1] <= (m)->madt_len;                             \
         at_ += (m)->madt[at_ + 1])                                                                \
        if ((e = (m)->madt + at_, len = e[1], e[0] == (t)))

/* Base revision 5: the local APIC enabled, SVR 0x1ff, TPR 0, its LVT masked, LINT NMIs set. */
static void lapic_defined(const struct machine *m, uint32_t uid)
{
    apic_wr(0xf0, 0x1ff);
    apic_wr(0x80, 0);
    uint32_t maxlvt = (apic_rd(0x30) >> 16) & 0xff;
    static const uint32_t lvt[] = {0x320, 0x350, 0x360, 0x370, 0x340, 0x330, 0x2f0};
    static const uint32_t needs[] = {0, 0, 0, 0, 4, 5, 6}; /* maximum LVT entry for it to exist */
    for (unsigned i = 0; i < sizeof lvt / sizeof lvt[0]; i++) {
        if (maxlvt < needs[i])
            continue;
        uint32_t v = apic_rd(lvt[i]);
        if (maskable(v))
            apic_wr(lvt[i], v | (1u << 16));
    }
    const uint8_t *e;
    uint32_t len;
    for (int type = 4; type <= 0xa; type += 6) {
        MADT_EACH(m, type, e, len)
        {
            if ((type == 4 && len < 6) || (type == 0xa && len < 12))
                continue;
            uint32_t who = type == 4 ? e[2] : le(e + 4, 4);
            uint32_t all = type == 4 ? 0xff : 0xffffffffu;
            uint32_t flags = le(e + (type == 4 ? 3 : 2), 2), lint = e[type == 4 ? 5 : 8];
            if ((who != all && who != uid) || lint > 1)
                continue;
            uint32_t reg = lint ? 0x360 : 0x350, v = apic_rd(reg);
            if (!maskable(v))
                continue;
            v = (v & ~0xa700u) | (4u << 8) | (1u << 16); /* NMI, masked */
            if ((flags & 3) == 3)
                v |= 1u << 13; /* active low */
            if (((flags >> 2) & 3) == 3)
                v |= 1u << 15; /* level */
            apic_wr(reg, v);
        }
    }
}

void machine_cpu(const struct machine *m, int is_bsp, uint32_t uid)
{
    if (!is_bsp)
        load_mtrrs(m);
    if (m->pat)
        wrmsr(MSR_PAT, LIMINE_PAT);
    apic_mode(m->x2apic);
    if (m->revision >= 5)
        lapic_defined(m, uid);
}

static void ioapic_mask(uint64_t base, uint64_t revision)
{
    volatile uint32_t *sel = (volatile uint32_t *)(uintptr_t)base;
    volatile uint32_t *win = (volatile uint32_t *)(uintptr_t)(base + 0x10);
    *sel = 1;
    uint32_t n = ((*win >> 16) & 0xff) + 1;
    for (uint32_t i = 0; i < n; i++) {
        *sel = 0x10 + 2 * i;
        uint32_t v = *win, mode = (v >> 8) & 7;
        if (mode <= 1 || (revision >= 5 && (mode == 4 || mode == 7)))
            *win = v | (1u << 16);
    }
}

/* VT-d: translation, then interrupt remapping off, each acknowledged in GSTS. */
static void vtd_off(uint64_t base)
{
    volatile uint32_t *gcmd = (volatile uint32_t *)(uintptr_t)(base + 0x18);
    volatile uint32_t *gsts = (volatile uint32_t *)(uintptr_t)(base + 0x1c);
    for (int bit = 31; bit >= 25; bit -= 6) { /* TE (31), then IRE (25) */
        if (!(*gsts & (1u << bit)))
            continue;
        *gcmd = (*gsts & 0x96ffffffu) & ~(1u << bit); /* keep the other persistent commands */
        for (uint32_t spin = 0; (*gsts & (1u << bit)) && spin < 100000000u; spin++)
            cpu_relax();
    }
}

uint32_t machine_platform(const struct machine *m, int keep_iommu)
{
    outb(0x21, 0xff); /* both legacy PICs: every IRQ masked */
    outb(0xa1, 0xff);
    const uint8_t *e;
    uint32_t len, off = 0;
    MADT_EACH(m, 1, e, len)
    {
        if (len >= 12)
            ioapic_mask(le(e + 4, 4), m->revision);
    }
    if (m->revision < 5 || keep_iommu)
        return 0;
    for (uint32_t at = 48; m->dmar && at + 16 <= m->dmar_len;) {
        uint32_t l = le(m->dmar + at + 2, 2);
        if (l < 4 || at + l > m->dmar_len)
            break;
        if (le(m->dmar + at, 2) == 0 && l >= 16) { /* DRHD: one remapping unit */
            uint64_t base = le(m->dmar + at + 8, 4) | (uint64_t)le(m->dmar + at + 12, 4) << 32;
            vtd_off(base);
            off++;
        }
        at += l;
    }
    for (uint32_t at = 48; m->ivrs && at + 16 <= m->ivrs_len;) {
        uint32_t type = m->ivrs[at], l = le(m->ivrs + at + 2, 2);
        if (l < 4 || at + l > m->ivrs_len)
            break;
        if (type == 0x10 || type == 0x11 || type == 0x40) { /* IVHD: one IOMMU */
            uint64_t base = le(m->ivrs + at + 8, 4) | (uint64_t)le(m->ivrs + at + 12, 4) << 32;
            volatile uint64_t *ctl = (volatile uint64_t *)(uintptr_t)(base + 0x18);
            *ctl &= ~1ull; /* IommuEn */
            off++;
        }
        at += l;
    }
    return off;
}
