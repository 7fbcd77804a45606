/*
 * icr.h - the local APIC's Interrupt Command Register: the value that sends one IPI, in xAPIC
 * mode (two 32-bit MMIO writes) or x2APIC mode (one 64-bit WRMSR). Pure functions: the loader's
 * AP start-up (efi/limine/mp.c) writes what they return, tests/host/test_icr.c checks them
 * against the Intel SDM's encoding.
 *
 * Facts from the Intel SDM, vol. 3A, 11.6.1 (ICR) and 11.12.9 (x2APIC ICR): bits 7:0 vector,
 * 10:8 delivery mode (000 fixed, 101 INIT, 110 start-up), 11 destination mode (0: physical),
 * 12 delivery status (xAPIC only, read-only), 14 level (1: assert; 0 only for INIT de-assert),
 * 15 trigger mode (1: level, for INIT de-assert), 19:18 shorthand (00: the destination field).
 * xAPIC: the destination is bits 63:56 (bits 31:24 of the high word at offset 0x310, written
 * before the low word at 0x300, which sends); 0xff is the broadcast address. x2APIC: the 32-bit
 * destination is bits 63:32 of MSR 0x830, one write; 0xffffffff is the broadcast address, and
 * INIT level de-assert does not exist. Start-up vectors 0xa0-0xbf are reserved, fixed vectors
 * 0-15 are illegal.
 */
#ifndef PMM_ICR_H
#define PMM_ICR_H

#include <stdint.h>

#define ICR_MSR     0x830u /* x2APIC */
#define ICR_LOW     0x300u /* xAPIC, offsets from the APIC base */
#define ICR_HIGH    0x310u
#define ICR_PENDING (1u << 12) /* xAPIC delivery status: not yet accepted */

enum icr_kind {
    ICR_INIT,          /* INIT, level assert: the CPU waits for a start-up IPI */
    ICR_INIT_DEASSERT, /* INIT level de-assert (xAPIC only; ignored by CPUs since the P4) */
    ICR_STARTUP,       /* start-up: run real-mode code at vector * 4 KiB */
    ICR_FIXED,         /* an interrupt at vector */
};

/* The value of the 64-bit ICR: hi is the word at 0x310 (xAPIC) or bits 63:32 of the MSR. */
struct icr {
    uint32_t lo, hi;
};

/* The MSR value of an x2APIC ICR. */
static inline uint64_t icr_msr(struct icr v)
{
    return (uint64_t)v.hi << 32 | v.lo;
}

/* The ICR that sends `kind` to the CPU with APIC ID dest (physical destination, no shorthand);
 * 0, or why it cannot be sent (*out untouched). */
static inline const char *icr_encode(int x2apic, enum icr_kind kind, uint32_t dest, uint8_t vector,
                                     struct icr *out)
{
    uint32_t lo;
    switch (kind) {
    case ICR_INIT:
        lo = 5u << 8 | 1u << 14;
        break;
    case ICR_INIT_DEASSERT:
        if (x2apic)
            return "x2APIC mode has no INIT level de-assert";
        lo = 5u << 8 | 1u << 15;
        break;
    case ICR_STARTUP:
        if (vector >= 0xa0 && vector <= 0xbf)
            return "start-up vectors 0xa0-0xbf are reserved";
        lo = 6u << 8 | 1u << 14 | vector;
        break;
    case ICR_FIXED:
        if (vector < 16)
            return "vectors 0-15 are illegal for a fixed interrupt";
        lo = 1u << 14 | vector;
        break;
    default:
        return "not an IPI this encoder knows";
    }
    if (!x2apic && dest > 0xfe)
        return "an APIC ID above 254 cannot be addressed in xAPIC mode";
    if (x2apic && dest == 0xffffffffu)
        return "APIC ID 0xffffffff is the x2APIC broadcast address";
    *out = (struct icr){lo, x2apic ? dest : dest << 24};
    return 0;
}

#endif
