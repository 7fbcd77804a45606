/*
 * serial.c - COM1 output for after ExitBootServices, when the firmware console is gone.
 * Polled, 8N1 as the firmware left it; writes nothing if no UART answers (real PCs often
 * have none), so it never hangs.
 */
#include "loader.h"

#define COM1 0x3f8

static inline void outb(UINT16 port, UINT8 v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline UINT8 inb(UINT16 port)
{
    UINT8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void serial_puts(const char *s)
{
    for (; *s; s++) {
        int spins = 100000;
        while (!(inb(COM1 + 5) & 0x20) && --spins)
            ;
        if (!spins)
            return;
        outb(COM1, (UINT8)*s);
    }
}

void serial_hex(UINT64 v)
{
    char buf[19] = "0x";
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    buf[18] = 0;
    serial_puts(buf);
}
