/*
 * apic.c - the local APIC, in the mode the firmware left the boot CPU in:
 *
 *   xAPIC   registers in a 4 KiB page at the physical base IA32_APIC_BASE names (0xfee00000 on
 *           PCs), mapped uncached (paging_map_mmio); APIC IDs of 8 bits; the ICR is two 32-bit
 *           registers, the high one (destination) written first, the low one sends.
 *   x2APIC  the same registers as MSRs 0x800 + offset / 16; 32-bit APIC IDs; the ICR is one
 *           64-bit MSR (destination in the high half) and has no delivery-status bit.
 *
 * The firmware switches to x2APIC when an APIC ID needs more than 8 bits; otherwise it usually
 * stays in xAPIC mode, as OVMF does. This kernel never switches: it has no interrupts to route,
 * and only the boot CPU's APIC sends anything (the start-up IPIs, smp.c).
 */
#include "kernel.h"

#define MSR_APIC_BASE   0x1bu
#define BASE_BSP        (1u << 8)
#define BASE_X2APIC     (1u << 10)
#define BASE_ENABLE     (1u << 11)
#define MSR_X2APIC      0x800u /* + register offset / 16 */
#define REG_ID          0x20u
#define REG_ICR_LO      0x300u
#define REG_ICR_HI      0x310u
#define ICR_PENDING     (1u << 12) /* xAPIC: delivery status, the IPI is not yet accepted */
#define ICR_DELIVERY_MS 100u

static volatile uint32_t *mmio; /* xAPIC registers, or 0 in x2APIC mode */
static int x2;
static int ready;

static uint32_t reg_read(uint32_t reg)
{
    return x2 ? (uint32_t)rdmsr(MSR_X2APIC + reg / 16) : mmio[reg / 4];
}

const char *apic_init(struct pmm *p)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & BASE_ENABLE))
        return "the local APIC is disabled (IA32_APIC_BASE bit 11 clear)";
    if (!(base & BASE_BSP))
        return "IA32_APIC_BASE says this is not the boot CPU";
    x2 = !!(base & BASE_X2APIC);
    if (!x2)
        mmio = paging_map_mmio(p, base & 0x000ffffffffff000ull);
    ready = 1;
    return 0;
}

int apic_ready(void)
{
    return ready;
}

int apic_x2(void)
{
    return x2;
}

uint64_t apic_base(void)
{
    return rdmsr(MSR_APIC_BASE) & 0x000ffffffffff000ull;
}

/* CPUID.1:ECX bit 21: the CPU can run its APIC in x2APIC mode. */
int apic_x2_supported(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0u));
    return !!(c & (1u << 21));
}

uint32_t apic_id(void)
{
    uint32_t id = reg_read(REG_ID);
    return x2 ? id : id >> 24;
}

/*
 * Send one IPI: icr is the low half (vector, delivery mode, level, trigger), dest an APIC ID.
 * 0, or a message if it cannot be sent (an ID xAPIC cannot address, an IPI never accepted).
 */
const char *apic_ipi(uint32_t dest, uint32_t icr)
{
    if (x2) {
        /* WRMSR to an x2APIC register is not serializing (Intel SDM): without the fence the
         * IPI could overtake the stores that prepared what the target will read. */
        __asm__ volatile("mfence" ::: "memory");
        wrmsr(MSR_X2APIC + REG_ICR_LO / 16, (uint64_t)dest << 32 | icr);
        return 0;
    }
    if (dest > 0xfe)
        return "an APIC ID above 254 cannot be addressed in xAPIC mode";
    mmio[REG_ICR_HI / 4] = dest << 24;
    mmio[REG_ICR_LO / 4] = icr; /* uncached: after every earlier store */
    uint64_t end = rdtsc() + tsc_from_us(ICR_DELIVERY_MS * 1000);
    while (mmio[REG_ICR_LO / 4] & ICR_PENDING)
        if (rdtsc() > end)
            return "the IPI was not accepted within 100 ms (ICR delivery status stays pending)";
    return 0;
}
