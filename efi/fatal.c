/*
 * fatal.c - the loader's last words once boot services may be gone (after the first
 * ExitBootServices call): COM1 and the GOP framebuffer, drawn with the kernel stub's own console
 * code (handoff/kernel/fbcon.c) since the firmware console is no longer ours to call. Most PCs
 * have no COM1, so the screen is what a person sees. Then halt, leaving the message up: a reset
 * would wipe it, and a boot manager we returned to would wait on a timer that no longer ticks.
 */
#include "loader.h"

#include "fbcon.h"

static struct fbinfo screen; /* set before exit, while GOP can still be asked */
static int have_screen;

void fatal_screen(const struct fbinfo *fb)
{
    have_screen = fb != 0;
    if (fb)
        screen = *fb;
}

static void put(const char *s)
{
    serial_puts(s);
    for (; *s; s++)
        fbcon_putc(*s);
}

void __attribute__((noreturn)) loader_fatal(const char *what, const char *detail, UINT64 status)
{
    __asm__ volatile("cli");
    if (have_screen && (screen.format == PixelRedGreenBlueReserved8BitPerColor ||
                        screen.format == PixelBlueGreenRedReserved8BitPerColor))
        fbcon_init(screen.base, screen.width, screen.height, screen.stride,
                   screen.format == PixelRedGreenBlueReserved8BitPerColor);
    put("loader: ");
    put(what);
    if (detail) {
        put(": ");
        put(detail);
    }
    if (status) {
        char hex[19] = "0x";
        for (int i = 0; i < 16; i++)
            hex[2 + i] = "0123456789abcdef"[(status >> (60 - 4 * i)) & 15];
        hex[18] = 0;
        put(" (EFI status ");
        put(hex);
        put(")");
    }
    put("\r\nloader: halted; the kernel was not started\r\n");
    fbcon_banner("loader: FAILED, halted", 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}
