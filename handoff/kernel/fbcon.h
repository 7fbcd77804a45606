/*
 * fbcon.h - a text console on a 32-bit linear framebuffer (fbcon.c), the kernel stub's and, for
 * its failures after ExitBootServices, the loader's.
 */
#ifndef PMM_FBCON_H
#define PMM_FBCON_H

#include <stdint.h>

/* px: where the pixels are reached now; stride in pixels; rgb: red in the low byte. */
void fbcon_init(uint64_t px, uint32_t width, uint32_t height, uint32_t stride, int rgb);
void fbcon_move(uint64_t px); /* the same pixels, reached at a new address */
void fbcon_putc(char c);
void fbcon_verdict(int ok);
/* A banner across the bottom rows, white on green (ok) or red; also the loader's fatal screen. */
void fbcon_banner(const char *text, int ok);

#endif
