/* svg.h - draw an allocator's view of physical memory as SVG (host tools). */
#ifndef PMM_SVG_H
#define PMM_SVG_H

#include "pmm.h"

/* 0 on success. title and summary are printed above the picture. */
int svg_write(const struct pmm *p, const char *path, const char *title, const char *summary);

#endif
