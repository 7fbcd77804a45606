/* serial.h - COM1 for the moments when the firmware console is gone (serial.c). */
#ifndef PMM_SERIAL_H
#define PMM_SERIAL_H

void serial_puts(const char *s);

#endif
