/*
 * test_icr.c - the ICR values the loader's AP start-up writes (handoff/icr.h), against the Intel
 * SDM's encoding, in both APIC modes. QEMU 7.2's TCG has no x2APIC, so this is where x2APIC IPIs
 * are checked at all.
 *
 * The expected values are the SDM's, assembled here field by field (vol. 3A, figure 11-12 and
 * 11.12.9): the INIT IPI of its MP initialisation example is 0x4500 (delivery mode 101, level
 * assert), a start-up IPI 0x46VV, INIT de-assert 0x8500 (level 0, level-triggered); xAPIC puts
 * the destination in bits 63:56, x2APIC in bits 63:32.
 */
#include "harness.h"
#include "icr.h"

HARNESS_GLOBALS

/* The low word from its fields, as the SDM's figure draws them. */
static uint32_t low(uint32_t vector, uint32_t mode, uint32_t level, uint32_t trigger)
{
    return vector | mode << 8 | 0u << 11 /* physical */ | level << 14 | trigger << 15 |
           0u << 18 /* no shorthand */;
}

#define INIT    5u
#define STARTUP 6u
#define FIXED   0u

static uint64_t enc(int x2, enum icr_kind k, uint32_t dest, uint8_t vector)
{
    struct icr v = {0xdeadbeef, 0xdeadbeef};
    const char *why = icr_encode(x2, k, dest, vector, &v);
    if (why) {
        fprintf(stderr, "  refused: %s\n", why);
        return ~0ull;
    }
    return icr_msr(v);
}

TEST(xapic_destination_in_bits_63_to_56)
{
    CHECK_EQ(enc(0, ICR_INIT, 3, 0), (uint64_t)3 << 56 | 0x4500);
    CHECK_EQ(low(0, INIT, 1, 0), 0x4500);
    CHECK_EQ(enc(0, ICR_INIT, 3, 0), (uint64_t)3 << 56 | low(0, INIT, 1, 0));
    CHECK_EQ(enc(0, ICR_INIT_DEASSERT, 0xfe, 0), (uint64_t)0xfe << 56 | 0x8500);
    CHECK_EQ(enc(0, ICR_INIT_DEASSERT, 0xfe, 0), (uint64_t)0xfe << 56 | low(0, INIT, 0, 1));
    CHECK_EQ(enc(0, ICR_STARTUP, 1, 0x08), (uint64_t)1 << 56 | 0x4608);
    CHECK_EQ(enc(0, ICR_STARTUP, 0x80, 0x9f), (uint64_t)0x80 << 56 | low(0x9f, STARTUP, 1, 0));
    CHECK_EQ(enc(0, ICR_FIXED, 7, 0x40), (uint64_t)7 << 56 | low(0x40, FIXED, 1, 0));
    CHECK_EQ(enc(0, ICR_FIXED, 0, 0xff), 0x40ff);
    /* the high word is what goes to offset 0x310: the ID in its bits 31:24, nothing else */
    struct icr v;
    CHECK(icr_encode(0, ICR_STARTUP, 0x12, 0x10, &v) == 0);
    CHECK_EQ(v.hi, 0x12000000);
    CHECK_EQ(v.lo, 0x4610);
}

TEST(x2apic_destination_in_bits_63_to_32)
{
    CHECK_EQ(enc(1, ICR_INIT, 3, 0), (uint64_t)3 << 32 | 0x4500);
    CHECK_EQ(enc(1, ICR_INIT, 0x12345, 0), (uint64_t)0x12345 << 32 | low(0, INIT, 1, 0));
    CHECK_EQ(enc(1, ICR_STARTUP, 895, 0x08), (uint64_t)895 << 32 | 0x4608);
    CHECK_EQ(enc(1, ICR_STARTUP, 0xfffffffe, 0x9f),
             (uint64_t)0xfffffffe << 32 | low(0x9f, STARTUP, 1, 0));
    CHECK_EQ(enc(1, ICR_FIXED, 0x100, 0x30), (uint64_t)0x100 << 32 | low(0x30, FIXED, 1, 0));
    CHECK_EQ(enc(1, ICR_INIT, 0, 0), 0x4500); /* APIC ID 0, the BSP on most machines */
    CHECK_EQ(ICR_MSR, 0x830);
}

TEST(what_cannot_be_sent_is_refused)
{
    struct icr v = {1, 2};
    CHECK(icr_encode(0, ICR_INIT, 0xff, 0, &v) != 0); /* xAPIC broadcast, not a CPU */
    CHECK(icr_encode(0, ICR_STARTUP, 300, 8, &v) != 0);
    CHECK(icr_encode(1, ICR_INIT, 0xffffffff, 0, &v) != 0); /* x2APIC broadcast */
    CHECK(icr_encode(1, ICR_INIT_DEASSERT, 1, 0, &v) != 0);
    CHECK(icr_encode(0, ICR_STARTUP, 1, 0xa0, &v) != 0);
    CHECK(icr_encode(1, ICR_STARTUP, 1, 0xbf, &v) != 0);
    CHECK(icr_encode(0, ICR_FIXED, 1, 15, &v) != 0);
    CHECK(icr_encode(0, (enum icr_kind)9, 1, 15, &v) != 0);
    CHECK_EQ(v.lo, 1); /* a refusal writes nothing */
    CHECK_EQ(v.hi, 2);
    CHECK(icr_encode(1, ICR_INIT, 300, 0, &v) == 0); /* what xAPIC cannot, x2APIC can */
    CHECK(icr_encode(0, ICR_STARTUP, 0xfe, 0xc0, &v) == 0);
}

int main(void)
{
    RUN(xapic_destination_in_bits_63_to_56);
    RUN(x2apic_destination_in_bits_63_to_32);
    RUN(what_cannot_be_sent_is_refused);
    HARNESS_MAIN_END();
}
