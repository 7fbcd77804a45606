/*
 * fuzz_madt.c - the loader's MADT reader (efi/cpulist.c), which runs on whatever table the
 * firmware left in memory.
 *
 * FUZZ-LINK: efi/cpulist.c
 * FUZZ-CFLAGS: -Iefi
 *
 * Input: a flags byte, then the table's bytes, copied to a buffer of exactly their size (ASan sees
 * any read past it). Flag bit 0 writes the "APIC" signature, bit 1 sets the length field to the
 * input's size, bit 2 fixes the checksum (when the length fits), so mutations reach the entries.
 *
 * Property: madt_cpus accepts exactly the tables a second reading accepts (written here with a
 * cursor over the bytes instead of offsets: header, length within the bytes and 1 MiB, checksum,
 * each entry at least 2 bytes and inside the table, local APIC entries at least 8 and x2APIC
 * entries at least 16 bytes), and lists exactly the enabled CPUs that reading finds, once each, in
 * table order; a refused table lists nothing and names an offset inside the table.
 */
#include <stdint.h>
#include <string.h>

#include "cpulist.h"
#include "fuzz.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The second reading: 1 and *want filled, or 0. */
static int reading(const uint8_t *t, size_t size, struct cpu_list *want)
{
    if (size < 44 || memcmp(t, "APIC", 4))
        return 0;
    size_t len = rd32(t + 4);
    if (len < 44 || len > size || len > (1u << 20))
        return 0;
    unsigned s = 0;
    for (size_t i = 0; i < len; i++)
        s += t[i];
    if (s & 255)
        return 0;
    const uint8_t *p = t + 44, *end = t + len;
    while (p < end) {
        if (end - p < 2 || p[1] < 2 || p[1] > end - p)
            return 0;
        if ((p[0] == 0 && p[1] < 8) || (p[0] == 9 && p[1] < 16))
            return 0;
        uint32_t id = 0;
        int enabled = 0;
        if (p[0] == 0) {
            id = p[3];
            enabled = p[4] & 1;
        } else if (p[0] == 9) {
            id = rd32(p + 4);
            enabled = p[8] & 1;
        }
        int seen = 0;
        for (uint32_t i = 0; i < want->n; i++)
            seen |= want->apic_id[i] == id;
        if (enabled && !seen) {
            want->found++;
            if (want->n < want->cap)
                want->apic_id[want->n++] = id;
        }
        p += p[1];
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1;
    uint8_t *t = malloc(n ? n : 1);
    memcpy(t, data + 1, n);
    if ((data[0] & 1) && n >= 4)
        memcpy(t, "APIC", 4);
    if ((data[0] & 2) && n >= 8) {
        t[4] = (uint8_t)n, t[5] = (uint8_t)(n >> 8), t[6] = (uint8_t)(n >> 16);
        t[7] = (uint8_t)(n >> 24);
    }
    if ((data[0] & 4) && n >= 10 && rd32(t + 4) <= n) {
        uint8_t s = 0;
        t[9] = 0;
        for (size_t i = 0; i < rd32(t + 4); i++)
            s = (uint8_t)(s + t[i]);
        t[9] = (uint8_t)-s;
    }
    /* lists of 256 entries: inputs with more CPUs exercise the full list's counting */
    static struct cpu_list got, want;
    static uint32_t got_ids[256], want_ids[256];
    memset(&got, 0, sizeof got);
    memset(&want, 0, sizeof want);
    got.apic_id = got_ids, got.cap = 256;
    want.apic_id = want_ids, want.cap = 256;
    uint64_t at = ~0ull;
    const char *why = madt_cpus(t, n, &got, &at);
    int ok = reading(t, n, &want);
    FZ_ASSERT((why == 0) == ok, "madt_cpus says '%s', the second reading %s", why ? why : "ok",
              ok ? "accepts" : "refuses");
    if (why) {
        FZ_ASSERT(got.n == 0 && got.found == 0, "a refused table listed %u CPUs", got.n);
        FZ_ASSERT(at == 0 || (n >= 8 && at < rd32(t + 4)), "offset %llu outside the table",
                  (unsigned long long)at);
    } else {
        FZ_ASSERT(got.n == want.n && got.found == want.found, "listed %u of %u, want %u of %u",
                  got.n, got.found, want.n, want.found);
        FZ_ASSERT(!memcmp(got.apic_id, want.apic_id, got.n * sizeof got.apic_id[0]),
                  "listed other APIC IDs");
    }
    free(t);
    return 0;
}
