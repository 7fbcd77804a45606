/*
 * elf.c - see elf_image.h. The structures are read field by field from the file bytes, so an image
 * that lies about its header offsets can only make elf_check refuse it.
 *
 * <elf.h> is the C library's header (glibc; header-only, plain fixed-width types), so it serves the
 * freestanding loader and shell builds as well as the host tests.
 */
#include <elf.h>

#include "elf_image.h"

#define PAGE 4096ull

static void copy(void *d, const void *s, uint64_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;
    while (n--)
        *dd++ = *ss++;
}

static void phdr_at(const void *file, const Elf64_Ehdr *e, uint32_t i, Elf64_Phdr *ph)
{
    copy(ph, (const unsigned char *)file + e->e_phoff + (uint64_t)i * e->e_phentsize, sizeof *ph);
}

const char *elf_check(const void *file, uint64_t size, struct elf_image *img)
{
    Elf64_Ehdr e;
    if (size < sizeof e)
        return "kernel file is smaller than an ELF header";
    copy(&e, file, sizeof e);
    if (e.e_ident[EI_MAG0] != ELFMAG0 || e.e_ident[EI_MAG1] != ELFMAG1 ||
        e.e_ident[EI_MAG2] != ELFMAG2 || e.e_ident[EI_MAG3] != ELFMAG3)
        return "kernel file is not ELF (bad magic)";
    if (e.e_ident[EI_CLASS] != ELFCLASS64)
        return "kernel is not a 64-bit ELF";
    if (e.e_ident[EI_DATA] != ELFDATA2LSB)
        return "kernel is not little-endian";
    if (e.e_machine != EM_X86_64)
        return "kernel is not built for x86_64";
    if (e.e_type != ET_EXEC)
        return "kernel is not an executable (ET_EXEC)";
    if (e.e_phentsize < sizeof(Elf64_Phdr) || !e.e_phnum)
        return "kernel has no usable program headers";
    if (e.e_phoff > size || (uint64_t)e.e_phnum * e.e_phentsize > size - e.e_phoff)
        return "program headers lie outside the kernel file";

    img->vlo = ~0ull;
    img->vhi = 0;
    img->nload = 0;
    int entry_ok = 0;
    for (uint32_t i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr ph;
        phdr_at(file, &e, i, &ph);
        if (ph.p_type != PT_LOAD || !ph.p_memsz)
            continue;
        if (ph.p_filesz > ph.p_memsz)
            return "segment's file size exceeds its memory size";
        if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
            return "segment lies outside the kernel file";
        if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr || ph.p_vaddr + ph.p_memsz > ~0ull - PAGE)
            return "segment wraps the address space";
        for (uint32_t j = 0; j < i; j++) {
            Elf64_Phdr q;
            phdr_at(file, &e, j, &q);
            if (q.p_type == PT_LOAD && q.p_memsz && ph.p_vaddr < q.p_vaddr + q.p_memsz &&
                q.p_vaddr < ph.p_vaddr + ph.p_memsz)
                return "loaded segments overlap";
        }
        uint64_t lo = ph.p_vaddr & ~(PAGE - 1);
        uint64_t hi = (ph.p_vaddr + ph.p_memsz + PAGE - 1) & ~(PAGE - 1);
        img->vlo = lo < img->vlo ? lo : img->vlo;
        img->vhi = hi > img->vhi ? hi : img->vhi;
        img->nload++;
        if ((ph.p_flags & PF_X) && e.e_entry >= ph.p_vaddr && e.e_entry < ph.p_vaddr + ph.p_memsz)
            entry_ok = 1;
    }
    if (!img->nload)
        return "kernel has no loadable segment";
    if (!entry_ok)
        return "entry point is not inside an executable loaded segment";
    if (img->vhi - img->vlo > (1ull << 30))
        return "kernel image spans more than 1 GiB";
    img->entry = e.e_entry;
    return 0;
}

void elf_load(const void *file, const struct elf_image *img, void *dst)
{
    Elf64_Ehdr e;
    copy(&e, file, sizeof e);
    unsigned char *d = dst;
    for (uint64_t i = 0; i < img->vhi - img->vlo; i++)
        d[i] = 0;
    for (uint32_t i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr ph;
        phdr_at(file, &e, i, &ph);
        if (ph.p_type == PT_LOAD && ph.p_memsz)
            copy(d + (ph.p_vaddr - img->vlo), (const unsigned char *)file + ph.p_offset,
                 ph.p_filesz);
    }
}
