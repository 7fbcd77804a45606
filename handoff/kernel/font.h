/* font.h - the kernel's 5x7 bitmap font (font.c), printable ASCII from 0x20. */
#ifndef PMM_FONT_H
#define PMM_FONT_H

#define FONT_W 5
#define FONT_H 7
extern const char font_5x7[95][7][6];

#endif
