/*
 * elf_image.h - checking, loading and relocating the kernel's ELF image (freestanding; used by the
 * loader and tested on the host with corrupt images). Not named elf.h: on the -I path, that would
 * hide the system's <elf.h>, whose declarations elf.c uses.
 */
#ifndef PMM_ELF_IMAGE_H
#define PMM_ELF_IMAGE_H

#include <stdint.h>

#define ELF_MAX_LOADS 16 /* PT_LOAD segments an image may have */

/* One loaded segment, at its link address (before any slide). */
struct elf_load {
    uint64_t vaddr, memsz;
    uint64_t offset, filesz;
    uint32_t flags; /* PF_R, PF_W, PF_X */
    uint32_t pad;
};

/* What the loader needs to place, relocate and map the image. */
struct elf_image {
    uint64_t vlo, vhi; /* page-aligned extent of all PT_LOAD segments (link addresses) */
    uint64_t entry;    /* link address */
    uint64_t align;    /* the largest PT_LOAD alignment, at least 4 KiB: a slide keeps it */
    uint32_t nload;
    uint32_t pie; /* ET_DYN: may be loaded anywhere (a slide), relocations applied */
    struct elf_load load[ELF_MAX_LOADS];
    /* Relocations (ET_DYN only), as link addresses inside the extent; sizes in bytes. */
    uint64_t rela, rela_size; /* DT_RELA, DT_RELASZ (entries of 24 bytes: DT_RELAENT) */
    uint64_t relr, relr_size; /* DT_RELR, DT_RELRSZ (8-byte entries) */
    /* The base revision 0 request list, if the file has a .limine_reqs section. */
    uint64_t reqs, reqs_size;
    uint32_t bad_reloc; /* when elf_check refused a relocation type: that type */
    uint32_t pad;
};

/*
 * Validate an ELF64 x86_64 executable (ET_EXEC) or position-independent executable (ET_DYN) of
 * `size` bytes: magic, class, data, machine, type, program headers inside the file, every
 * PT_LOAD's file bytes inside the file, filesz <= memsz, no wrap, no two PT_LOAD segments
 * overlapping, at most ELF_MAX_LOADS of them, the entry inside an executable one, at most 1 GiB of
 * extent, alignments powers of two. For ET_DYN, the dynamic section's relocation tables lie in
 * the loaded image, and every relocation is R_X86_64_RELATIVE (or NONE) at an 8-byte field inside
 * the extent: any other type is refused (its number in img->bad_reloc, elf_reloc_name names it),
 * as is a dependency on a shared library. Returns
 * 0 and fills *img, or a static message naming the first problem.
 */
const char *elf_check(const void *file, uint64_t size, struct elf_image *img);

/*
 * Copy the segments into memory reached at `dst` for virtual address img->vlo (dst covers
 * vhi - vlo bytes), zeroing everything else in the extent (bss and gaps).
 */
void elf_load(const void *file, const struct elf_image *img, void *dst);

/*
 * Apply the relocations of the image elf_load put at dst, for a load at link address + slide. The
 * entries are read from the file (a relocation cannot rewrite the ones after it), and elf_check
 * has vetted each, so this cannot fail or write outside [dst, dst + extent).
 */
void elf_relocate(const void *file, void *dst, const struct elf_image *img, uint64_t slide);

/* The name of an x86_64 relocation type, for messages ("R_X86_64_GLOB_DAT"), or "unknown". */
const char *elf_reloc_name(uint32_t type);

#endif
