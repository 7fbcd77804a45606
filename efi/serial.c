/*
 * serial.c - COM1 output for after ExitBootServices, when the firmware console is gone.
 * Polled, 8N1 as the firmware left it; writes nothing if no UART answers (real PCs often
 * have none), so it never hangs.
 */
#include "loader.h"

#define COM1 0x3f8

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
