/*
 * console.c - output on COM1, polled, and on the framebuffer (fbcon.c). Where no UART answers
 * (most PCs), serial output is dropped and nothing waits forever.
 *
 * Many CPUs print: each kprintf holds the console lock for its whole text, so lines do not mix;
 * con_hold and con_release keep it across several kprintf calls that make one line.
 * A CPU that fails (panic, exception) takes the console for good: it waits a bounded time for
 * the lock (the holder may be itself, interrupted inside kprintf), and from then on any other
 * CPU that tries to print stops where it is, so the failure is the last thing on the console.
 */
#include "kernel.h"
#include "spinlock.h"

#define COM1          0x3f8
#define PANIC_WAIT_US 500000

static struct spinlock lock;
static uint64_t panicking; /* 0, or 1 + the APIC ID of the CPU that took the console for good */
static uint64_t holder;    /* 0, or 1 + the APIC ID of the CPU between con_hold and con_release */

void con_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* divisor latch */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
}

static void putc_serial(char c)
{
    for (int spins = 100000; !(inb(COM1 + 5) & 0x20); spins--)
        if (!spins)
            return;
    outb(COM1, (uint8_t)c);
}

static void put(char c)
{
    if (c == '\n')
        putc_serial('\r');
    putc_serial(c);
    fbcon_putc(c);
}

static void put_u(uint64_t v, unsigned base, int width)
{
    char buf[24];
    int i = 0;
    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (i < width)
        buf[i++] = '0';
    while (i)
        put(buf[--i]);
}

/* %s %c %d %u %x, with l/ll for 64 bits, and a zero-padded width (%016lx). */
void kvprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(*fmt);
            continue;
        }
        fmt++;
        int width = 0, longs = 0;
        if (*fmt == '0')
            fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (s && *s)
                put(*s++);
            break;
        }
        case 'c':
            put((char)va_arg(ap, int));
            break;
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) {
                put('-');
                v = -v;
            }
            put_u((uint64_t)v, 10, width);
            break;
        }
        case 'u':
            put_u(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width);
            break;
        case 'x':
            put_u(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width);
            break;
        default:
            put('%');
            put(*fmt);
        }
    }
}

/* 1 + this CPU's initial APIC ID. */
static uint64_t me(void)
{
    return 1ull + cpu_apic_id();
}

static void __attribute__((noreturn)) stop(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    uint64_t owner = __atomic_load_n(&panicking, __ATOMIC_ACQUIRE);
    if (owner) {
        if (owner != me())
            stop();
        kvprintf(fmt, ap);
    } else if (__atomic_load_n(&holder, __ATOMIC_RELAXED) && holder == me()) {
        kvprintf(fmt, ap); /* inside this CPU's con_hold */
    } else {
        spin_lock(&lock);
        kvprintf(fmt, ap);
        spin_unlock(&lock);
    }
    va_end(ap);
}

void con_hold(void)
{
    spin_lock(&lock);
    holder = me();
}

void con_release(void)
{
    holder = 0;
    spin_unlock(&lock);
}

void con_panic_lock(void)
{
    uint64_t expect = 0, id = me();
    if (__atomic_load_n(&panicking, __ATOMIC_ACQUIRE) == id)
        return; /* a failure while reporting one */
    uint64_t end = rdtsc() + tsc_from_us(PANIC_WAIT_US);
    while (!spin_trylock(&lock) && rdtsc() < end)
        cpu_relax();
    if (!__atomic_compare_exchange_n(&panicking, &expect, id, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        stop(); /* another CPU is reporting its failure */
}

void kexit(int ok)
{
    kprintf("kernel: verdict: %s\n", ok ? "PASS" : "FAIL");
    fbcon_verdict(ok);
#ifdef PMM_STAY_ON_VERDICT
    for (;;) /* tests/qemu/screen.sh: keep the picture for a screendump */
        __asm__ volatile("cli; hlt");
#endif
    outb(0xf4, ok ? 0x10 : 0x11);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    con_panic_lock();
    kprintf("kernel: panic: ");
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
    kexit(0);
}
