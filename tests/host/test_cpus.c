/*
 * test_cpus.c - the loader's CPU list and ACPI reading (efi/cpulist.c) against hand-built tables:
 * MADTs with local APIC and x2APIC entries, disabled and online-capable CPUs, entries of other
 * types, and broken tables, each refused by name with nothing listed; a list larger than the
 * handoff block holds; the RSDP -> XSDT / RSDT -> MADT walk.
 */
#include <string.h>

#include "acpi.h" /* struct table, put, seal: the tables built by hand */
#include "cpulist.h"
#include "harness.h"

HARNESS_GLOBALS

static void madt_begin(struct table *t)
{
    memset(t, 0, sizeof *t);
    memcpy(t->b, "APIC", 4);
    t->b[8] = 5; /* revision */
    memcpy(t->b + 10, "PMMTST", 6);
    put(t->b + 36, 0xfee00000, 4); /* local APIC address */
    put(t->b + 40, 1, 4);          /* PC-AT compatible */
    t->len = 44;
    seal(t);
}

static void add_bytes(struct table *t, const uint8_t *e, int n)
{
    memcpy(t->b + t->len, e, n);
    t->len += n;
    seal(t);
}

static void add_lapic(struct table *t, uint8_t uid, uint8_t id, uint32_t flags)
{
    uint8_t e[8] = {0, 8, uid, id};
    put(e + 4, flags, 4);
    add_bytes(t, e, 8);
}

static void add_x2apic(struct table *t, uint32_t id, uint32_t flags, uint32_t uid)
{
    uint8_t e[16] = {9, 16};
    put(e + 4, id, 4);
    put(e + 8, flags, 4);
    put(e + 12, uid, 4);
    add_bytes(t, e, 16);
}

/* An I/O APIC (type 1) and an interrupt source override (type 2): not CPUs. */
static void add_others(struct table *t)
{
    const uint8_t ioapic[12] = {1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0};
    const uint8_t iso[10] = {2, 10, 0, 0, 2, 0, 0, 0, 0, 0};
    add_bytes(t, ioapic, 12);
    add_bytes(t, iso, 10);
}

static struct cpu_list list;
static uint32_t ids[4096];

static const char *parse(const struct table *t, uint64_t avail, uint64_t *at)
{
    memset(&list, 0, sizeof list);
    list.apic_id = ids;
    list.cap = 4096;
    return madt_cpus(t->b, avail, &list, at);
}

static int says(const char *why, const char *needle)
{
    int ok = why && strstr(why, needle);
    if (!ok)
        fprintf(stderr, "  wanted '%s', got '%s'\n", needle, why ? why : "(accepted)");
    return ok;
}

TEST(xapic_and_x2apic_entries_listed_in_order)
{
    static struct table t;
    uint64_t at = 99;
    madt_begin(&t);
    add_lapic(&t, 0, 0, 1);
    add_others(&t);
    add_lapic(&t, 1, 2, 1);
    add_x2apic(&t, 300, 1, 2);
    add_x2apic(&t, 0x12345678, 1, 3);
    add_lapic(&t, 4, 255 - 1, 1);
    CHECK(parse(&t, t.len, &at) == 0);
    CHECK_EQ(at, 0);
    CHECK_EQ(list.n, 5);
    CHECK_EQ(list.found, 5);
    const uint32_t want[5] = {0, 2, 300, 0x12345678, 254};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(list.apic_id[i], want[i]);
    /* a table with no CPU entries at all parses, and lists nothing */
    madt_begin(&t);
    add_others(&t);
    CHECK(parse(&t, t.len, &at) == 0);
    CHECK_EQ(list.n, 0);
}

TEST(disabled_and_online_capable_cpus_are_skipped)
{
    static struct table t;
    uint64_t at;
    madt_begin(&t);
    add_lapic(&t, 0, 0, 1);
    add_lapic(&t, 1, 1, 0); /* disabled */
    add_lapic(&t, 2, 2, 2); /* online capable: could be brought up later, not running now */
    add_lapic(&t, 3, 3, 3); /* Enabled with the (then reserved) other bit: enabled */
    add_x2apic(&t, 400, 0, 4);
    add_x2apic(&t, 401, 2, 5);
    add_x2apic(&t, 402, 0xfffffffe, 6); /* every bit but Enabled */
    add_x2apic(&t, 403, 1, 7);
    CHECK(parse(&t, t.len, &at) == 0);
    CHECK_EQ(list.n, 3);
    CHECK_EQ(list.apic_id[0], 0);
    CHECK_EQ(list.apic_id[1], 3);
    CHECK_EQ(list.apic_id[2], 403);
}

TEST(a_cpu_in_both_kinds_of_entry_is_listed_once)
{
    static struct table t;
    uint64_t at;
    madt_begin(&t);
    add_lapic(&t, 0, 5, 1);
    add_lapic(&t, 1, 6, 1);
    add_x2apic(&t, 5, 1, 0);
    add_x2apic(&t, 6, 1, 1);
    CHECK(parse(&t, t.len, &at) == 0);
    CHECK_EQ(list.n, 2);
    CHECK_EQ(list.found, 2);
}

/* Each broken table: refused with its reason (and the entry's offset), nothing listed. */
static void refused(const struct table *t, uint64_t avail, const char *why, uint64_t at_want)
{
    uint64_t at = 12345;
    CHECK(says(parse(t, avail, &at), why));
    CHECK_EQ(at, at_want);
    CHECK_EQ(list.n, 0);
    CHECK_EQ(list.found, 0);
}

TEST(broken_tables_are_refused_by_name)
{
    static struct table t, good;
    madt_begin(&good);
    add_lapic(&good, 0, 0, 1);
    add_lapic(&good, 1, 1, 1);
    uint64_t at;
    CHECK(parse(&good, good.len, &at) == 0);

    refused(&good, 43, "shorter than its 44-byte header", 0);
    t = good;
    memcpy(t.b, "FACP", 4);
    seal(&t);
    refused(&t, t.len, "signature is not APIC", 0);
    t = good;
    t.len = 40;
    seal(&t);
    refused(&t, sizeof t.b, "its length is shorter than its 44-byte header", 0);
    refused(&good, good.len - 1, "its length runs past the table", 0);
    t = good;
    t.len = 2u << 20; /* a length no MADT has: not read */
    put(t.b + 4, t.len, 4);
    refused(&t, ~0ull, "its length runs past the table", 0);
    t = good;
    t.b[44 + 3] ^= 1; /* an APIC ID changed, the checksum not */
    refused(&t, t.len, "checksum mismatch", 0);

    /* entries: the first is good, the second broken (at offset 52) */
    const uint8_t zero_len[2] = {0, 0}, one_len[2] = {0x7f, 1};
    t = good;
    t.len = 52;
    add_bytes(&t, zero_len, 2);
    refused(&t, t.len, "an entry shorter than its 2-byte header", 52);
    t.len = 52;
    add_bytes(&t, one_len, 2);
    refused(&t, t.len, "an entry shorter than its 2-byte header", 52);
    t.len = 52;
    add_bytes(&t, one_len, 1); /* one byte left: no room for an entry's header */
    refused(&t, t.len, "an entry shorter than its 2-byte header", 52);
    t.len = 52;
    add_x2apic(&t, 7, 1, 7);
    t.len -= 4; /* the x2APIC entry's last 4 bytes cut off */
    seal(&t);
    refused(&t, t.len, "an entry runs past the end of the table", 52);
    t.len = 52;
    add_lapic(&t, 2, 2, 1);
    t.len -= 1; /* by one byte */
    seal(&t);
    refused(&t, t.len, "an entry runs past the end of the table", 52);
    const uint8_t short_lapic[6] = {0, 6, 2, 2, 1, 0};
    t.len = 52;
    add_bytes(&t, short_lapic, 6);
    refused(&t, t.len, "a local APIC entry shorter than 8 bytes", 52);
    const uint8_t short_x2apic[12] = {9, 12, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0};
    t.len = 52;
    add_bytes(&t, short_x2apic, 12);
    refused(&t, t.len, "an x2APIC entry shorter than 16 bytes", 52);
    /* an unknown type of any length of at least 2 is skipped */
    const uint8_t unknown[3] = {0x80, 3, 0};
    t.len = 52;
    add_bytes(&t, unknown, 3);
    add_lapic(&t, 2, 9, 1);
    CHECK(parse(&t, t.len, &at) == 0);
    CHECK_EQ(list.n, 2);
    CHECK_EQ(list.apic_id[1], 9);
}

TEST(a_full_list_keeps_the_bsp)
{
    struct cpu_list l;
    uint32_t room[256];
    memset(&l, 0, sizeof l);
    l.apic_id = room;
    l.cap = 256;
    CHECK(says(cpu_list_set_bsp(&l, 0), "not among the CPUs listed"));
    for (uint32_t i = 0; i < 300; i++)
        cpu_list_add(&l, 1000 + i);
    CHECK_EQ(l.n, 256);
    CHECK_EQ(l.found, 300);
    CHECK(cpu_list_set_bsp(&l, 1010) == 0); /* listed: its own index */
    CHECK_EQ(l.bsp, 10);
    CHECK(cpu_list_set_bsp(&l, 1299) == 0); /* not listed: takes the last slot */
    CHECK_EQ(l.bsp, 255);
    CHECK_EQ(l.apic_id[l.bsp], 1299);
    CHECK_EQ(l.apic_id[10], 1010);

    /* cap 0 only counts: how the loader sizes the list before reading the MADT again */
    memset(&l, 0, sizeof l);
    for (uint32_t i = 0; i < 1000; i++)
        cpu_list_add(&l, i);
    CHECK_EQ(l.n, 0);
    CHECK_EQ(l.found, 1000);

    memset(&l, 0, sizeof l);
    l.apic_id = room;
    l.cap = 256;
    cpu_list_add(&l, 4);
    cpu_list_add(&l, 6);
    cpu_list_add(&l, 4);
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.found, 2);
    CHECK(cpu_list_set_bsp(&l, 6) == 0);
    CHECK_EQ(l.bsp, 1);
    /* a complete list without the boot CPU cannot be right */
    CHECK(says(cpu_list_set_bsp(&l, 5), "the boot CPU's APIC ID is not among the CPUs listed"));
}

/* 2 packages x 2 dies x 2 cores x 2 threads, listed in a scrambled order, with IDs that repeat
 * across the levels above (core 0 exists in every die): 2 packages, 4 dies, 8 cores. */
TEST(topology_counts_each_level_within_the_one_above)
{
    struct cpu_loc loc[16];
    for (uint32_t k = 0; k < 16; k++) {
        uint32_t i = (k * 7) % 16;
        loc[k] = (struct cpu_loc){{i >> 3, 0, 0, 100 + (i >> 2 & 1), i >> 1 & 1, i & 1}};
    }
    struct cpu_topology t;
    cpu_topology_count(loc, 16, &t);
    CHECK_EQ(t.packages, 2);
    CHECK_EQ(t.dies, 4);
    CHECK_EQ(t.cores, 8);
    CHECK_EQ(t.threads, 16);
    /* a firmware without the extended location: module, tile and die all 0 */
    for (uint32_t k = 0; k < 16; k++)
        loc[k].id[LOC_DIE] = 0;
    cpu_topology_count(loc, 16, &t);
    CHECK_EQ(t.dies, 2);
    CHECK_EQ(t.cores, 4); /* the same core ID in two dies is now one core */
    cpu_topology_count(loc, 0, &t);
    CHECK_EQ(t.packages, 0);
}

/*
 * A simulated physical memory of 64 KiB: the walk reads it at physical + off, so tables sit at
 * small "physical" addresses and 32-bit RSDT entries can name them.
 */
static uint8_t mem[1 << 16];
#define RSDP_AT 0x100
#define ROOT_AT 0x1000
#define FACP_AT 0x2000
#define MADT_AT 0x3000

static uint64_t off(void)
{
    return (uint64_t)(uintptr_t)mem;
}

static void checksum(uint8_t *p, int n, int at)
{
    p[at] = 0;
    uint8_t s = 0;
    for (int i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    p[at] = (uint8_t)-s;
}

/* RSDP (revision 2: XSDT; 0: RSDT) -> root table -> a FACP, the MADT (or, without it, only FACP).
 */
static void acpi_build(int revision, int with_madt)
{
    memset(mem, 0, sizeof mem);
    uint8_t *r = mem + RSDP_AT;
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "PMMTST", 6);
    r[15] = (uint8_t)revision;
    put(r + 16, revision >= 2 ? 0 : ROOT_AT, 4);
    if (revision >= 2) {
        put(r + 20, 36, 4);
        put(r + 24, ROOT_AT, 8);
    }
    checksum(r, 20, 8);
    if (revision >= 2)
        checksum(r, 36, 32);

    static struct table t;
    memset(&t, 0, sizeof t);
    memcpy(t.b, "FACP", 4);
    t.len = 116;
    seal(&t);
    memcpy(mem + FACP_AT, t.b, t.len);
    madt_begin(&t);
    add_lapic(&t, 0, 0, 1);
    add_lapic(&t, 1, 1, 1);
    memcpy(mem + MADT_AT, t.b, t.len);

    memset(&t, 0, sizeof t);
    memcpy(t.b, revision >= 2 ? "XSDT" : "RSDT", 4);
    t.len = 36;
    int w = revision >= 2 ? 8 : 4;
    put(t.b + t.len, FACP_AT, w);
    t.len += w;
    if (with_madt) {
        put(t.b + t.len, MADT_AT, w);
        t.len += w;
    }
    seal(&t);
    memcpy(mem + ROOT_AT, t.b, t.len);
}

static void root_seal(void)
{
    checksum(mem + ROOT_AT, (int)(mem[ROOT_AT + 4] | mem[ROOT_AT + 5] << 8), 9);
}

TEST(acpi_walk_finds_the_madt)
{
    uint64_t madt = 0;
    acpi_build(2, 1);
    CHECK(acpi_find_madt(RSDP_AT, off(), &madt) == 0);
    CHECK_EQ(madt, MADT_AT);
    acpi_build(0, 1); /* ACPI 1.0: RSDT, 32-bit entries */
    madt = 0;
    CHECK(acpi_find_madt(RSDP_AT, off(), &madt) == 0);
    CHECK_EQ(madt, MADT_AT);
    /* revision 2 without an XSDT address: the RSDT */
    acpi_build(0, 1);
    mem[RSDP_AT + 15] = 2;
    checksum(mem + RSDP_AT, 20, 8);
    checksum(mem + RSDP_AT, 36, 32);
    madt = 0;
    CHECK(acpi_find_madt(RSDP_AT, off(), &madt) == 0);
    CHECK_EQ(madt, MADT_AT);
    /* any signature: FACP is there, an SRAT is not (no error: the caller judges absence) */
    uint64_t facp = 0, srat = 77;
    CHECK(acpi_find(RSDP_AT, off(), "FACP", &facp) == 0);
    CHECK_EQ(facp, FACP_AT);
    CHECK(acpi_find(RSDP_AT, off(), "SRAT", &srat) == 0);
    CHECK_EQ(srat, 0);
    mem[RSDP_AT] = 'r';
    CHECK(says(acpi_find(RSDP_AT, off(), "SRAT", &srat), "RSDP: bad signature"));
    mem[RSDP_AT] = 'R';
    /* and what it finds parses */
    uint64_t at;
    memset(&list, 0, sizeof list);
    list.apic_id = ids;
    list.cap = 4096;
    CHECK(madt_cpus(mem + MADT_AT, sizeof mem - MADT_AT, &list, &at) == 0);
    CHECK_EQ(list.n, 2);
}

TEST(acpi_walk_refuses_by_name)
{
    uint64_t madt = 0;
    CHECK(says(acpi_find_madt(0, off(), &madt), "no ACPI RSDP"));
    acpi_build(2, 0);
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "no MADT (APIC table)"));
    acpi_build(2, 1);
    mem[RSDP_AT] = 'r';
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "RSDP: bad signature"));
    acpi_build(2, 1);
    mem[RSDP_AT + 10] ^= 1;
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "RSDP: checksum mismatch"));
    acpi_build(2, 1);
    mem[RSDP_AT + 24] ^= 1; /* the XSDT address: only the extended checksum covers it */
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "RSDP: extended checksum mismatch"));
    acpi_build(2, 1);
    mem[ROOT_AT] = 'R';
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "XSDT: bad signature"));
    acpi_build(0, 1);
    mem[ROOT_AT] = 'X';
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "RSDT: bad signature"));
    acpi_build(2, 1);
    mem[ROOT_AT + 36] ^= 0x10;
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "XSDT: checksum mismatch"));
    acpi_build(2, 1);
    put(mem + ROOT_AT + 4, 20, 4);
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "XSDT: implausible length"));
    acpi_build(0, 1);
    put(mem + RSDP_AT + 16, 0, 4);
    checksum(mem + RSDP_AT, 20, 8);
    CHECK(says(acpi_find_madt(RSDP_AT, off(), &madt), "RSDP: names no RSDT or XSDT"));
    /* a null entry in the root table is skipped, not followed */
    acpi_build(2, 1);
    put(mem + ROOT_AT + 36, 0, 8);
    root_seal();
    CHECK(acpi_find_madt(RSDP_AT, off(), &madt) == 0);
    CHECK_EQ(madt, MADT_AT);
}

int main(void)
{
    RUN(xapic_and_x2apic_entries_listed_in_order);
    RUN(disabled_and_online_capable_cpus_are_skipped);
    RUN(a_cpu_in_both_kinds_of_entry_is_listed_once);
    RUN(broken_tables_are_refused_by_name);
    RUN(a_full_list_keeps_the_bsp);
    RUN(topology_counts_each_level_within_the_one_above);
    RUN(acpi_walk_finds_the_madt);
    RUN(acpi_walk_refuses_by_name);
    HARNESS_MAIN_END();
}
