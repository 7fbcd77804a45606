/*
 * elf.c - see elf.h. The structures are read field by field from the file bytes, so an image that
 * lies about its header offsets can only make elf_check refuse it.
 */
#include "elf.h"

#define PAGE     4096ull
#define PT_LOAD  1
#define PF_X     1
#define EM_X8664 62
#define ET_EXEC  2

struct ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static void copy(void *d, const void *s, uint64_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;
    while (n--)
        *dd++ = *ss++;
}

static void phdr_at(const void *file, const struct ehdr *e, uint32_t i, struct phdr *ph)
{
    copy(ph, (const unsigned char *)file + e->phoff + (uint64_t)i * e->phentsize, sizeof *ph);
}

const char *elf_check(const void *file, uint64_t size, struct elf_image *img)
{
    struct ehdr e;
    if (size < sizeof e)
        return "kernel file is smaller than an ELF header";
    copy(&e, file, sizeof e);
    if (e.ident[0] != 0x7f || e.ident[1] != 'E' || e.ident[2] != 'L' || e.ident[3] != 'F')
        return "kernel file is not ELF (bad magic)";
    if (e.ident[4] != 2)
        return "kernel is not a 64-bit ELF";
    if (e.ident[5] != 1)
        return "kernel is not little-endian";
    if (e.machine != EM_X8664)
        return "kernel is not built for x86_64";
    if (e.type != ET_EXEC)
        return "kernel is not an executable (ET_EXEC)";
    if (e.phentsize < sizeof(struct phdr) || !e.phnum)
        return "kernel has no usable program headers";
    if (e.phoff > size || (uint64_t)e.phnum * e.phentsize > size - e.phoff)
        return "program headers lie outside the kernel file";

    img->vlo = ~0ull;
    img->vhi = 0;
    img->nload = 0;
    int entry_ok = 0;
    for (uint32_t i = 0; i < e.phnum; i++) {
        struct phdr ph;
        phdr_at(file, &e, i, &ph);
        if (ph.type != PT_LOAD || !ph.memsz)
            continue;
        if (ph.filesz > ph.memsz)
            return "segment's file size exceeds its memory size";
        if (ph.offset > size || ph.filesz > size - ph.offset)
            return "segment lies outside the kernel file";
        if (ph.vaddr + ph.memsz < ph.vaddr || ph.vaddr + ph.memsz > ~0ull - PAGE)
            return "segment wraps the address space";
        for (uint32_t j = 0; j < i; j++) {
            struct phdr q;
            phdr_at(file, &e, j, &q);
            if (q.type == PT_LOAD && q.memsz && ph.vaddr < q.vaddr + q.memsz &&
                q.vaddr < ph.vaddr + ph.memsz)
                return "loaded segments overlap";
        }
        uint64_t lo = ph.vaddr & ~(PAGE - 1), hi = (ph.vaddr + ph.memsz + PAGE - 1) & ~(PAGE - 1);
        img->vlo = lo < img->vlo ? lo : img->vlo;
        img->vhi = hi > img->vhi ? hi : img->vhi;
        img->nload++;
        if ((ph.flags & PF_X) && e.entry >= ph.vaddr && e.entry < ph.vaddr + ph.memsz)
            entry_ok = 1;
    }
    if (!img->nload)
        return "kernel has no loadable segment";
    if (!entry_ok)
        return "entry point is not inside an executable loaded segment";
    if (img->vhi - img->vlo > (1ull << 30))
        return "kernel image spans more than 1 GiB";
    img->entry = e.entry;
    return 0;
}

void elf_load(const void *file, const struct elf_image *img, void *dst)
{
    struct ehdr e;
    copy(&e, file, sizeof e);
    unsigned char *d = dst;
    for (uint64_t i = 0; i < img->vhi - img->vlo; i++)
        d[i] = 0;
    for (uint32_t i = 0; i < e.phnum; i++) {
        struct phdr ph;
        phdr_at(file, &e, i, &ph);
        if (ph.type == PT_LOAD && ph.memsz)
            copy(d + (ph.vaddr - img->vlo), (const unsigned char *)file + ph.offset, ph.filesz);
    }
}
