/*
 * acpi.h - hand-built ACPI tables for the host tests of the loader's readers (test_cpus,
 * test_numa, test_bigsmp): a table grows entry by entry, its length and checksum kept right after
 * each.
 */
#ifndef TEST_ACPI_H
#define TEST_ACPI_H

#include <stdint.h>
#include <string.h>

#define PG  4096ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)

struct table {
    uint8_t b[1 << 16];
    uint32_t len;
};

static inline void put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static inline void seal(struct table *t)
{
    put(t->b + 4, t->len, 4);
    t->b[9] = 0;
    uint8_t s = 0;
    for (uint32_t i = 0; i < t->len; i++)
        s = (uint8_t)(s + t->b[i]);
    t->b[9] = (uint8_t)-s;
}

static inline void begin(struct table *t, const char *sig, uint8_t revision, uint32_t header)
{
    memset(t, 0, sizeof *t);
    memcpy(t->b, sig, 4);
    t->b[8] = revision;
    memcpy(t->b + 10, "PMMTST", 6);
    t->len = header;
    if (header == 48)
        put(t->b + 36, 1, 4); /* SRAT: the reserved word that reads 1 */
    seal(t);
}

static inline void add(struct table *t, const uint8_t *e, int n)
{
    memcpy(t->b + t->len, e, n);
    t->len += n;
    seal(t);
}

/* Processor local APIC affinity (type 0): 8-bit APIC ID, domain split in low and high bytes. */
static inline void srat_apic(struct table *t, uint8_t apic, uint32_t dom, uint32_t flags)
{
    uint8_t e[16] = {0, 16, (uint8_t)dom, apic};
    put(e + 4, flags, 4);
    put(e + 9, dom >> 8, 3);
    add(t, e, 16);
}

static inline void srat_x2apic(struct table *t, uint32_t apic, uint32_t dom, uint32_t flags)
{
    uint8_t e[24] = {2, 24};
    put(e + 4, dom, 4);
    put(e + 8, apic, 4);
    put(e + 12, flags, 4);
    add(t, e, 24);
}

#define ENABLED 1u
#define HOTPLUG 2u

static inline void srat_mem(struct table *t, uint64_t base, uint64_t len, uint32_t dom,
                            uint32_t flags)
{
    uint8_t e[40] = {1, 40};
    put(e + 2, dom, 4);
    put(e + 8, base, 8);
    put(e + 16, len, 8);
    put(e + 28, flags, 4);
    add(t, e, 40);
}

/* A SLIT of n localities, distance d(i, j) from the function. */
static inline void slit_build(struct table *t, uint32_t n, uint8_t (*d)(uint32_t, uint32_t))
{
    begin(t, "SLIT", 1, 44);
    put(t->b + 36, n, 8);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            t->b[44 + i * n + j] = d(i, j);
    t->len = 44 + n * n;
    seal(t);
}

/* Processor local x2APIC (MADT type 9): 32-bit APIC ID, flags, ACPI processor UID. */
static inline void madt_x2apic(struct table *t, uint32_t id, uint32_t flags, uint32_t uid)
{
    uint8_t e[16] = {9, 16};
    put(e + 4, id, 4);
    put(e + 8, flags, 4);
    put(e + 12, uid, 4);
    add(t, e, 16);
}

#endif
