/*
 * tsc.c - time from the TSC, calibrated once against the PIT.
 *
 * The PIT's channel 2 counts down at 1,193,182 Hz whatever the CPU; its gate is bit 0 of port
 * 0x61 on every PC (and on QEMU's pc and q35), and its count can be latched and read at any
 * moment. A sample is (TSC before, count, TSC after); two samples CAL_MS apart give the rate.
 *
 * The CPU can be held up at any moment (an SMI on a PC; under QEMU, the host descheduling the
 * vCPU's thread, which on a loaded 2-core host made a plain "TSC ticks until the PIT's output
 * rises" measurement read 4-14 GHz for a 2.6 GHz TSC). So each end is the tightest of
 * SAMPLES samples (the smallest TSC bracket around the latch), and the rate is computed from
 * the outer edges of the two brackets and one PIT tick less than counted: it can come out a
 * little high, never low, so every wait lasts at least as long as asked.
 *
 * Where the PIT never counts (a PC without legacy timers), the TSC is taken to run at 10 GHz,
 * faster than any CPU's: delays are then only longer than asked.
 */
#include "kernel.h"

#define PIT_HZ        1193182ull
#define CAL_MS        20u
#define SAMPLES       8
#define FALLBACK_HZ   10000000000ull
#define MAX_POLLS     10000000u /* reads before giving up on the PIT (seconds, under TCG) */
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PORT_B        0x61
#define PORT_B_GATE2  0x01
#define PORT_B_SPKR   0x02
#define PIT_CH2_MODE0 0xb0 /* channel 2, low byte then high byte, mode 0, binary */
#define PIT_CH2_LATCH 0x80

static uint64_t hz = FALLBACK_HZ;
static int from_pit;

struct sample {
    uint64_t before, after;
    uint32_t count;
};

static void sample(struct sample *s)
{
    s->before = rdtsc();
    outb(PIT_CMD, PIT_CH2_LATCH);
    uint32_t lo = inb(PIT_CH2);
    s->count = lo | (uint32_t)inb(PIT_CH2) << 8;
    s->after = rdtsc();
}

static void tightest(struct sample *best)
{
    sample(best);
    for (int i = 1; i < SAMPLES; i++) {
        struct sample s;
        sample(&s);
        if (s.after - s.before < best->after - best->before)
            *best = s;
    }
}

/* The rate; *bracket (for the report) gets the wider of the two brackets, in TSC ticks. */
uint64_t tsc_calibrate(uint64_t *bracket)
{
    uint8_t b = inb(PORT_B);
    outb(PORT_B, (uint8_t)((b & ~PORT_B_SPKR) | PORT_B_GATE2)); /* gate on, speaker off */
    outb(PIT_CMD, PIT_CH2_MODE0);
    outb(PIT_CH2, 0xff);
    outb(PIT_CH2, 0xff); /* counts down from 65535: 55 ms */
    struct sample a, z;
    tightest(&a);
    uint32_t ticks = (uint32_t)(PIT_HZ * CAL_MS / 1000), polls = 0;
    do
        sample(&z);
    while (z.count <= a.count && a.count - z.count < ticks && ++polls < MAX_POLLS);
    tightest(&z);
    outb(PORT_B, b);
    *bracket = 0;
    if (z.count >= a.count || a.count - z.count < ticks || z.after <= a.before)
        return hz; /* the PIT did not count down: the fallback stands */
    hz = (z.after - a.before) * PIT_HZ / (a.count - z.count - 1);
    *bracket = a.after - a.before > z.after - z.before ? a.after - a.before : z.after - z.before;
    from_pit = 1;
    return hz;
}

uint64_t tsc_hz(void)
{
    return hz;
}

/* The loader's TSC Frequency response: it measured the rate against the firmware's timer. */
void tsc_set_hz(uint64_t rate)
{
    if (rate)
        hz = rate;
}

int tsc_from_pit(void)
{
    return from_pit;
}

uint64_t tsc_from_us(uint64_t us)
{
    return hz / 1000000 * us + hz % 1000000 * us / 1000000;
}

uint64_t tsc_to_us(uint64_t ticks)
{
    return ticks / hz * 1000000 + ticks % hz * 1000000 / hz;
}
