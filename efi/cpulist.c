/*
 * cpulist.c - build the CPU list; find and read the ACPI MADT.
 *
 * Facts from the ACPI specification (6.5, sections 5.2.5-5.2.12): every table starts with a
 * 36-byte header (signature, length at 4, checksum: all `length` bytes sum to 0 modulo 256). The
 * RSDP ("RSD PTR ", 20 bytes checksummed; revision 2 and later add the XSDT address at 24 and
 * a checksum over all 36 bytes) names the RSDT (32-bit entries) or the XSDT (64-bit entries).
 * The MADT ("APIC") has 8 more header bytes, then entries of (type, length, ...): type 0 is a
 * Processor Local APIC (APIC ID at 3, flags at 4), type 9 a Processor Local x2APIC (x2APIC ID at
 * 4, flags at 8); flag bit 0 is Enabled, bit 1 Online Capable.
 */
#include "acpi_bytes.h"
#include "cpulist.h"

#define MADT_HEADER  44
#define SDT_HEADER   36
#define TABLE_MAX    (1u << 20) /* no MADT or XSDT is near this: a larger length is garbage */
#define LAPIC        0
#define X2APIC       9
#define FLAG_ENABLED 1u

void cpu_list_add(struct cpu_list *l, uint32_t apic_id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->apic_id[i] == apic_id)
            return;
    l->found++;
    if (l->n < l->cap)
        l->apic_id[l->n++] = apic_id;
}

const char *cpu_list_set_bsp(struct cpu_list *l, uint32_t apic_id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->apic_id[i] == apic_id) {
            l->bsp = i;
            return 0;
        }
    if (l->n == 0 || l->n == l->found)
        return "the boot CPU's APIC ID is not among the CPUs listed";
    l->bsp = l->n - 1;
    l->apic_id[l->bsp] = apic_id;
    return 0;
}

/* How many of loc[0..n) are the first with their outermost `levels` IDs. O(n^2): run once. */
static uint32_t distinct(const struct cpu_loc *loc, uint32_t n, int levels)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = 0;
        for (; j < i; j++) {
            int k = 0;
            while (k < levels && loc[i].id[k] == loc[j].id[k])
                k++;
            if (k == levels)
                break;
        }
        count += j == i;
    }
    return count;
}

void cpu_topology_count(const struct cpu_loc *loc, uint32_t n, struct cpu_topology *t)
{
    t->packages = distinct(loc, n, LOC_PACKAGE + 1);
    t->dies = distinct(loc, n, LOC_DIE + 1);
    t->cores = distinct(loc, n, LOC_CORE + 1);
    t->threads = n;
}

static int sig(const uint8_t *p, const char *s)
{
    for (int i = 0; s[i]; i++)
        if (p[i] != (uint8_t)s[i])
            return 0;
    return 1;
}

const char *madt_cpus(const uint8_t *t, uint64_t avail, struct cpu_list *l, uint64_t *at)
{
    *at = 0;
    if (avail < MADT_HEADER)
        return "MADT: shorter than its 44-byte header";
    if (!sig(t, "APIC"))
        return "MADT: signature is not APIC";
    uint32_t len = acpi_le(t + 4, 4);
    if (len < MADT_HEADER)
        return "MADT: its length is shorter than its 44-byte header";
    if (len > avail || len > TABLE_MAX)
        return "MADT: its length runs past the table";
    if (acpi_sum(t, len))
        return "MADT: checksum mismatch";
    /* Every entry checked before the first is listed: a bad table lists nothing. */
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t off = MADT_HEADER; off < len; off += t[off + 1]) {
            *at = off;
            if (len - off < 2 || t[off + 1] < 2)
                return "MADT: an entry shorter than its 2-byte header";
            if (t[off + 1] > len - off)
                return "MADT: an entry runs past the end of the table";
            const uint8_t *e = t + off;
            if (e[0] == LAPIC && e[1] < 8)
                return "MADT: a local APIC entry shorter than 8 bytes";
            if (e[0] == X2APIC && e[1] < 16)
                return "MADT: an x2APIC entry shorter than 16 bytes";
            if (pass == 0)
                continue;
            if (e[0] == LAPIC && (acpi_le(e + 4, 4) & FLAG_ENABLED))
                cpu_list_add(l, e[3]);
            if (e[0] == X2APIC && (acpi_le(e + 8, 4) & FLAG_ENABLED))
                cpu_list_add(l, acpi_le(e + 4, 4));
        }
    *at = 0;
    return 0;
}

static const uint8_t *at_phys(uint64_t phys, uint64_t off)
{
    return (const uint8_t *)(uintptr_t)(phys + off);
}

const char *acpi_find(uint64_t rsdp, uint64_t off, const char *want, uint64_t *table)
{
    *table = 0;
    if (!rsdp)
        return "the firmware gave no ACPI RSDP";
    const uint8_t *r = at_phys(rsdp, off);
    if (!sig(r, "RSD PTR "))
        return "RSDP: bad signature";
    if (acpi_sum(r, 20))
        return "RSDP: checksum mismatch";
    uint64_t root = acpi_le(r + 16, 4);
    int wide = 0;
    if (r[15] >= 2 && acpi_sum(r, 36))
        return "RSDP: extended checksum mismatch";
    if (r[15] >= 2 && (acpi_le(r + 24, 4) | acpi_le(r + 28, 4))) {
        root = (uint64_t)acpi_le(r + 28, 4) << 32 | acpi_le(r + 24, 4);
        wide = 1;
    }
    if (!root)
        return "RSDP: names no RSDT or XSDT";
    const uint8_t *s = at_phys(root, off);
    if (!sig(s, wide ? "XSDT" : "RSDT"))
        return wide ? "XSDT: bad signature" : "RSDT: bad signature";
    uint32_t len = acpi_le(s + 4, 4);
    if (len < SDT_HEADER || len > TABLE_MAX)
        return wide ? "XSDT: implausible length" : "RSDT: implausible length";
    if (acpi_sum(s, len))
        return wide ? "XSDT: checksum mismatch" : "RSDT: checksum mismatch";
    int w = wide ? 8 : 4;
    for (uint32_t i = SDT_HEADER; i + w <= len; i += w) {
        uint64_t a = acpi_le(s + i, 4);
        if (wide)
            a |= (uint64_t)acpi_le(s + i + 4, 4) << 32;
        if (a && sig(at_phys(a, off), want)) {
            *table = a;
            return 0;
        }
    }
    return 0;
}

const char *acpi_find_madt(uint64_t rsdp, uint64_t off, uint64_t *madt)
{
    const char *why = acpi_find(rsdp, off, "APIC", madt);
    if (!why && !*madt)
        why = "no MADT (APIC table) among the ACPI tables";
    return why;
}
