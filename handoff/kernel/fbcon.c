/*
 * fbcon.c - the console on the GOP framebuffer the loader passed, for PCs without a serial port.
 *
 * Text is the 5x7 font at 2x in 12x18-pixel cells, scrolling when the screen is full; the verdict
 * is a banner across the bottom 48 rows, 4x text on green (PASS) or red (FAIL), always at the
 * same place so a person (or tests/qemu/screen.py) finds it. Only 32-bit RGB and BGR formats are
 * drawn; anything else leaves the console on serial alone.
 */
#include "fbcon.h"
#include "font.h"

#define SCALE  2
#define CELL_W ((FONT_W + 1) * SCALE)
#define CELL_H ((FONT_H + 2) * SCALE)
#define BANNER 48

static struct {
    volatile uint32_t *px;
    uint32_t w, h, stride, cols, rows, col, row;
    int rgb; /* 1: red in the low byte (RGBX), 0: BGRX */
} fb;

static uint32_t color(uint32_t rgb)
{
    if (!fb.rgb)
        return rgb; /* BGRX: 0x00RRGGBB as a little-endian word */
    return ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 0xff);
}

static void fill(uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t c)
{
    for (uint32_t j = y; j < y + h && j < fb.h; j++)
        for (uint32_t i = x; i < x + w && i < fb.w; i++)
            fb.px[(uint64_t)j * fb.stride + i] = c;
}

static void glyph(uint32_t x, uint32_t y, char ch, uint32_t scale, uint32_t fg, uint32_t bg)
{
    unsigned idx = (unsigned char)ch >= 0x20 && (unsigned char)ch < 0x7f ? (unsigned)ch - 0x20 : 0;
    for (uint32_t r = 0; r < FONT_H; r++)
        for (uint32_t c = 0; c < FONT_W; c++)
            fill(x + c * scale, y + r * scale, scale, scale, font_5x7[idx][r][c] == '#' ? fg : bg);
}

void fbcon_init(uint64_t px, uint32_t width, uint32_t height, uint32_t stride, int rgb)
{
    if (!px || width < 200 || height < 100 || stride < width)
        return;
    fb.px = (volatile uint32_t *)(uintptr_t)px;
    fb.w = width;
    fb.h = height;
    fb.stride = stride;
    fb.rgb = rgb;
    fb.cols = fb.w / CELL_W;
    fb.rows = (fb.h - BANNER) / CELL_H;
    fill(0, 0, fb.w, fb.h, color(0x101418));
}

void fbcon_move(uint64_t px)
{
    if (fb.px)
        fb.px = (volatile uint32_t *)(uintptr_t)px;
}

static void scroll(void)
{
    uint64_t line = (uint64_t)CELL_H * fb.stride, text = (uint64_t)fb.rows * line;
    for (uint64_t i = 0; i + line < text; i++)
        fb.px[i] = fb.px[i + line];
    fill(0, (fb.rows - 1) * CELL_H, fb.w, CELL_H, color(0x101418));
}

void fbcon_putc(char c)
{
    if (!fb.px)
        return;
    if (c == '\n' || fb.col == fb.cols) {
        fb.col = 0;
        if (++fb.row == fb.rows) {
            scroll();
            fb.row--;
        }
        if (c == '\n')
            return;
    }
    glyph(fb.col * CELL_W + 2, fb.row * CELL_H + SCALE, c, SCALE, color(0xd8dee9), color(0x101418));
    fb.col++;
}

void fbcon_verdict(int ok)
{
    fbcon_banner(ok ? "kernel: verdict: PASS" : "kernel: verdict: FAIL", ok);
}

void fbcon_banner(const char *text, int ok)
{
    if (!fb.px)
        return;
    uint32_t bg = color(ok ? 0x1b5e20 : 0xb71c1c), y = fb.h - BANNER;
    fill(0, y, fb.w, BANNER, bg);
    for (uint32_t i = 0; text[i]; i++)
        glyph(16 + i * (FONT_W + 1) * 4, y + 10, text[i], 4, color(0xffffff), bg);
}
