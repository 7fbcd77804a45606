/*
 * mp.c - after ExitBootServices the firmware's APs sit in its wait loop; the loader restarts them
 * into the Limine protocol's parked state. The INIT-SIPI-SIPI sequence (Intel SDM vol. 3A, 8.4.4)
 * goes to every AP at once: INIT to each, 10 ms, STARTUP to each, 200 us, STARTUP again to each
 * that has not answered. All run the same trampoline (stubs.S) on the kernel's tables, find their
 * slot by APIC ID, and enter ap_main on their own stack: machine state (machine.c), the kernel's
 * GDT and segments, then the parking loop, where they wait for goto_address.
 */
#include "mp.h"

#include "icr.h"
#include "serial.h"
#include "stubs.h"
#include "x86.h"

#define MSR_APIC_BASE 0x1bu
#define APIC_X2       (1u << 10) /* IA32_APIC_BASE: x2APIC mode */
#define UP_TIMEOUT_MS 2000

static void udelay(const struct mp_setup *s, uint64_t us)
{
    uint64_t end = rdtsc() + s->tsc_hz / 1000000 * us + 1;
    while (rdtsc() < end)
        cpu_relax();
}

/*
 * One IPI from the BSP's APIC, in whichever mode the firmware (or machine_cpu) left it: x2APIC
 * through the ICR MSR with the 32-bit destination, xAPIC through the MMIO ICR pair (which cannot
 * name an APIC ID above 254). 0 or why not.
 */
static const char *ipi(uint32_t dest, enum icr_kind kind, uint8_t vector)
{
    uint64_t b = rdmsr(MSR_APIC_BASE);
    int x2 = (b & APIC_X2) != 0;
    struct icr v;
    const char *why = icr_encode(x2, kind, dest, vector, &v);
    if (why)
        return why;
    if (x2) {
        __asm__ volatile("mfence" ::: "memory"); /* WRMSR to the ICR does not serialise */
        wrmsr(ICR_MSR, icr_msr(v));
        return 0;
    }
    volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(b & 0x000ffffffffff000ull);
    apic[ICR_HIGH / 4] = v.hi;
    apic[ICR_LOW / 4] = v.lo; /* sends */
    for (uint32_t spin = 0; apic[ICR_LOW / 4] & ICR_PENDING; spin++)
        if (spin > 100000000u)
            return "the IPI was never accepted (ICR delivery status stays pending)";
    return 0;
}

void ap_main(struct ap_ctx *c);
void __attribute__((noreturn)) ap_main(struct ap_ctx *c)
{
    const struct mp_setup *s = c->s;
    machine_cpu(s->m, 0, c->uid);
    uint64_t cr0 = s->m->cr0, cr4 = s->m->cr4;
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory"); /* caches on, MTRRs in place */
    wrmsr(0xc0000080u, s->m->efer);
    cpu_load_tables(s->gdtr, c->tss);
    __atomic_store_n(&c->up, 1, __ATOMIC_RELEASE);
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "jmp *%1"
                     :
                     : "r"(c->stack), "r"(s->park), "D"(c->info)
                     : "memory");
    __builtin_unreachable();
}

uint64_t mp_slots_size(uint32_t ncpus)
{
    return (uint64_t)ncpus * sizeof(struct ap_slot);
}

static void say(const char *a, uint32_t n, const char *b)
{
    char num[12];
    int i = 11;
    num[i] = 0;
    do {
        num[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    serial_puts(a);
    serial_puts(num + i);
    serial_puts(b);
}

uint32_t mp_start(struct mp_setup *s, void *slots)
{
    s->why = 0;
    if (s->ncpus < 2)
        return 0;
    uint64_t n = (uint64_t)(tramp_end - tramp_start);
    unsigned char *page = (unsigned char *)(uintptr_t)s->tramp;
    for (uint64_t i = 0; i < n; i++)
        page[i] = (unsigned char)tramp_start[i];
#ifdef PMM_TEST_MISSING_CPUS
    /* tests/qemu/smpmissing.sh: the last CPU listed gets an APIC ID no CPU has (it never
     * answers), the one before it has no slot (it wakes, finds none and halts) */
    if (s->ncpus >= 3) {
        s->ctx[s->ncpus - 1].lapic_id = 0xf0;
    }
#endif
    struct ap_slot *sl = slots;
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->ncpus; i++)
        if (i != s->bsp)
            sl[k++] = (struct ap_slot){s->ctx[i].lapic_id, s->ctx[i].stack,
                                       (uint64_t)(uintptr_t)&s->ctx[i] + s->hhdm};
#ifdef PMM_TEST_MISSING_CPUS
    if (s->ncpus >= 3)
        sl[k - 2].apic_id = 0xf1;
#endif
    struct tramp_params *tp = (struct tramp_params *)(page + (tramp_params - tramp_start));
    *tp = (struct tramp_params){(uint32_t)s->cr3,
                                (uint32_t)(s->m->cr4 & ((1u << 5) | (1u << 12))),
                                (uint32_t)(s->m->efer & ((1u << 8) | (1u << 11))),
                                0,
                                (uint64_t)(uintptr_t)sl + s->hhdm,
                                k,
                                (uint64_t)(uintptr_t)ap_main};
    uint8_t vector = (uint8_t)(s->tramp >> 12);
    const char *why = 0;
    for (uint32_t i = 0; i < s->ncpus && !why; i++)
        if (i != s->bsp)
            why = ipi(s->ctx[i].lapic_id, ICR_INIT, 0);
    if (why) {
        s->why = why;
        return 0;
    }
    udelay(s, 10000);
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < s->ncpus; i++)
            if (i != s->bsp && !__atomic_load_n(&s->ctx[i].up, __ATOMIC_ACQUIRE))
                ipi(s->ctx[i].lapic_id, ICR_STARTUP, vector);
        udelay(s, 200);
    }
    uint64_t end = rdtsc() + s->tsc_hz / 1000 * UP_TIMEOUT_MS;
    uint32_t up;
    for (;;) {
        up = 0;
        for (uint32_t i = 0; i < s->ncpus; i++)
            up += i != s->bsp && __atomic_load_n(&s->ctx[i].up, __ATOMIC_ACQUIRE);
        if (up == s->ncpus - 1 || rdtsc() > end)
            break;
        cpu_relax();
    }
    for (uint32_t i = 0; i < s->ncpus; i++) {
        if (i == s->bsp || __atomic_load_n(&s->ctx[i].up, __ATOMIC_ACQUIRE))
            continue;
        ipi(s->ctx[i].lapic_id, ICR_INIT, 0); /* held in wait-for-SIPI: it runs nothing late */
        say("loader: CPU ", i, "");
        say(" (APIC ID ", s->ctx[i].lapic_id, ") did not come up; the kernel gets the others\r\n");
    }
    return up;
}
