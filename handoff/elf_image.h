/*
 * elf_image.h - checking and loading the kernel's ELF image (freestanding; used by the loader and
 * tested on the host with corrupt images). Not named elf.h: on the -I path, that would hide the
 * system's <elf.h>, whose declarations elf.c uses.
 */
#ifndef PMM_ELF_IMAGE_H
#define PMM_ELF_IMAGE_H

#include <stdint.h>

/* What the loader needs to place the image: virtual extent and entry point. */
struct elf_image {
    uint64_t vlo, vhi; /* page-aligned virtual extent of all PT_LOAD segments */
    uint64_t entry;
    uint32_t nload;
};

/*
 * Validate an ELF64 x86_64 executable of `size` bytes: magic, class, data, machine, type, program
 * headers inside the file, every PT_LOAD's file bytes inside the file, filesz <= memsz, no wrap,
 * no two PT_LOAD segments overlapping, entry inside an executable loaded segment. Returns 0 and
 * fills *img, or a static message naming the first problem.
 */
const char *elf_check(const void *file, uint64_t size, struct elf_image *img);

/*
 * Copy the segments into memory reached at `dst` for virtual address img->vlo (dst covers
 * vhi - vlo bytes), zeroing everything else in the extent (bss and gaps).
 */
void elf_load(const void *file, const struct elf_image *img, void *dst);

#endif
