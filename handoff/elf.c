/*
 * elf.c - see elf_image.h. The structures are read field by field from the file bytes, so an image
 * that lies about its header offsets can only make elf_check refuse it; everything elf_load and
 * elf_relocate later read or write was vetted by elf_check against the file.
 *
 * <elf.h> is the C library's header (glibc; header-only, plain fixed-width types), so it serves the
 * freestanding loader and shell builds as well as the host tests.
 */
#include <elf.h>

#include "elf_image.h"

#define PAGE    4096ull
#define MAX_EXT (1ull << 30)

#ifndef DT_RELRSZ /* glibc before 2.36 */
#define DT_RELRSZ  35
#define DT_RELR    36
#define DT_RELRENT 37
#endif

static void copy(void *d, const void *s, uint64_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;
    while (n--)
        *dd++ = *ss++;
}

static uint64_t rd64(const void *file, uint64_t off)
{
    uint64_t v;
    copy(&v, (const unsigned char *)file + off, 8);
    return v;
}

static void phdr_at(const void *file, const Elf64_Ehdr *e, uint32_t i, Elf64_Phdr *ph)
{
    copy(ph, (const unsigned char *)file + e->e_phoff + (uint64_t)i * e->e_phentsize, sizeof *ph);
}

const char *elf_reloc_name(uint32_t type)
{
    static const char *const names[] = {
        "R_X86_64_NONE",
        "R_X86_64_64",
        "R_X86_64_PC32",
        "R_X86_64_GOT32",
        "R_X86_64_PLT32",
        "R_X86_64_COPY",
        "R_X86_64_GLOB_DAT",
        "R_X86_64_JUMP_SLOT",
        "R_X86_64_RELATIVE",
        "R_X86_64_GOTPCREL",
        "R_X86_64_32",
        "R_X86_64_32S",
        "R_X86_64_16",
        "R_X86_64_PC16",
        "R_X86_64_8",
        "R_X86_64_PC8",
        "R_X86_64_DTPMOD64",
        "R_X86_64_DTPOFF64",
        "R_X86_64_TPOFF64",
        "R_X86_64_TLSGD",
        "R_X86_64_TLSLD",
        "R_X86_64_DTPOFF32",
        "R_X86_64_GOTTPOFF",
        "R_X86_64_TPOFF32",
        "R_X86_64_PC64",
        "R_X86_64_GOTOFF64",
        "R_X86_64_GOTPC32",
        "R_X86_64_GOT64",
        "R_X86_64_GOTPCREL64",
        "R_X86_64_GOTPC64",
        "R_X86_64_GOTPLT64",
        "R_X86_64_PLTOFF64",
        "R_X86_64_SIZE32",
        "R_X86_64_SIZE64",
        "R_X86_64_GOTPC32_TLSDESC",
        "R_X86_64_TLSDESC_CALL",
        "R_X86_64_TLSDESC",
        "R_X86_64_IRELATIVE",
        "R_X86_64_RELATIVE64",
    };
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

/* The file offset of [vaddr, vaddr + n) if it lies in one segment's file bytes; else ~0. */
static uint64_t file_offset(const struct elf_image *img, uint64_t vaddr, uint64_t n)
{
    for (uint32_t i = 0; i < img->nload; i++) {
        const struct elf_load *l = &img->load[i];
        if (vaddr >= l->vaddr && vaddr - l->vaddr <= l->filesz &&
            n <= l->filesz - (vaddr - l->vaddr))
            return l->offset + (vaddr - l->vaddr);
    }
    return ~0ull;
}

/* An 8-byte field at link address a lies inside the extent. */
static int field_ok(const struct elf_image *img, uint64_t a)
{
    return a >= img->vlo && a <= img->vhi - 8;
}

/* The dynamic section: relocation tables found, vetted entry by entry. */
static const char *check_dynamic(const void *file, uint64_t size, const Elf64_Phdr *dyn,
                                 struct elf_image *img)
{
    if (dyn->p_offset > size || dyn->p_filesz > size - dyn->p_offset)
        return "the dynamic section lies outside the kernel file";
    uint64_t relasz = 0, relaent = sizeof(Elf64_Rela), relrsz = 0, relrent = 8, pltsz = 0;
    int has_rela = 0, has_relr = 0;
    for (uint64_t at = 0; at + 16 <= dyn->p_filesz; at += 16) {
        uint64_t tag = rd64(file, dyn->p_offset + at), val = rd64(file, dyn->p_offset + at + 8);
        if (tag == DT_NULL)
            break;
        switch (tag) {
        case DT_NEEDED:
            return "the kernel needs a shared library (DT_NEEDED): it must be self-contained";
        case DT_REL:
        case DT_RELSZ:
            return "the kernel has REL relocations; x86_64 uses RELA";
        case DT_RELA:
            img->rela = val, has_rela = 1;
            break;
        case DT_RELASZ:
            relasz = val;
            break;
        case DT_RELAENT:
            relaent = val;
            break;
        case DT_RELR:
            img->relr = val, has_relr = 1;
            break;
        case DT_RELRSZ:
            relrsz = val;
            break;
        case DT_RELRENT:
            relrent = val;
            break;
        case DT_PLTRELSZ:
            pltsz = val;
            break;
        default:
            break;
        }
    }
    if (pltsz)
        return "the kernel has PLT relocations (R_X86_64_JUMP_SLOT): link it with -z now "
               "-static-pie, or without shared-library calls";
    if (has_rela) {
        if (relaent != sizeof(Elf64_Rela))
            return "DT_RELAENT is not 24 bytes";
        if (relasz % sizeof(Elf64_Rela))
            return "DT_RELASZ is not a multiple of the entry size";
        if (file_offset(img, img->rela, relasz) == ~0ull)
            return "the RELA table does not lie in a loaded segment's file bytes";
        img->rela_size = relasz;
    }
    if (has_relr) {
        if (relrent != 8 || relrsz % 8)
            return "DT_RELRENT is not 8 bytes, or DT_RELRSZ not a multiple of it";
        if (file_offset(img, img->relr, relrsz) == ~0ull)
            return "the RELR table does not lie in a loaded segment's file bytes";
        img->relr_size = relrsz;
    }
    uint64_t ro = file_offset(img, img->rela, img->rela_size);
    for (uint64_t i = 0; i < img->rela_size; i += sizeof(Elf64_Rela)) {
        Elf64_Rela r;
        copy(&r, (const unsigned char *)file + ro + i, sizeof r);
        uint32_t type = (uint32_t)ELF64_R_TYPE(r.r_info);
        if (type == R_X86_64_NONE)
            continue;
        if (type != R_X86_64_RELATIVE) {
            img->bad_reloc = type;
            return "the kernel has a relocation other than R_X86_64_RELATIVE";
        }
        if (!field_ok(img, r.r_offset))
            return "a relocation writes outside the kernel image";
    }
    uint64_t fo = file_offset(img, img->relr, img->relr_size), where = 0;
    for (uint64_t i = 0; i < img->relr_size; i += 8) {
        uint64_t e = rd64(file, fo + i);
        if (!(e & 1)) {
            if (!field_ok(img, e))
                return "a RELR relocation writes outside the kernel image";
            where = e + 8;
            continue;
        }
        if (!i)
            return "the RELR table starts with a bitmap, not an address";
        for (unsigned b = 1; b < 64; b++)
            if ((e >> b) & 1 && !field_ok(img, where + (b - 1) * 8))
                return "a RELR relocation writes outside the kernel image";
        where += 63 * 8;
    }
    return 0;
}

/* The .limine_reqs section (base revision 0's list of requests), if the section headers are sane.
 */
static void find_reqs_section(const void *file, uint64_t size, const Elf64_Ehdr *e,
                              struct elf_image *img)
{
    if (!e->e_shoff || e->e_shentsize < sizeof(Elf64_Shdr) || !e->e_shnum ||
        e->e_shstrndx >= e->e_shnum || e->e_shoff > size ||
        (uint64_t)e->e_shnum * e->e_shentsize > size - e->e_shoff)
        return;
    Elf64_Shdr strs;
    copy(&strs, (const unsigned char *)file + e->e_shoff + (uint64_t)e->e_shstrndx * e->e_shentsize,
         sizeof strs);
    if (strs.sh_offset > size || strs.sh_size > size - strs.sh_offset)
        return;
    static const char want[] = ".limine_reqs";
    for (uint32_t i = 0; i < e->e_shnum; i++) {
        Elf64_Shdr s;
        copy(&s, (const unsigned char *)file + e->e_shoff + (uint64_t)i * e->e_shentsize, sizeof s);
        if (s.sh_name >= strs.sh_size || strs.sh_size - s.sh_name < sizeof want)
            continue;
        const char *n = (const char *)file + strs.sh_offset + s.sh_name;
        uint32_t k = 0;
        while (k < sizeof want && n[k] == want[k])
            k++;
        if (k == sizeof want && s.sh_size && s.sh_addr >= img->vlo && s.sh_addr <= img->vhi &&
            s.sh_size <= img->vhi - s.sh_addr) {
            img->reqs = s.sh_addr;
            img->reqs_size = s.sh_size;
            return;
        }
    }
}

const char *elf_check(const void *file, uint64_t size, struct elf_image *img)
{
    Elf64_Ehdr e;
    unsigned char *z = (unsigned char *)img;
    for (uint64_t i = 0; i < sizeof *img; i++)
        z[i] = 0;
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
    if (e.e_type != ET_EXEC && e.e_type != ET_DYN)
        return "kernel is neither an executable (ET_EXEC) nor position independent (ET_DYN)";
    if (e.e_phentsize < sizeof(Elf64_Phdr) || !e.e_phnum)
        return "kernel has no usable program headers";
    if (e.e_phoff > size || (uint64_t)e.e_phnum * e.e_phentsize > size - e.e_phoff)
        return "program headers lie outside the kernel file";

    img->pie = e.e_type == ET_DYN;
    img->vlo = ~0ull;
    img->align = PAGE;
    int entry_ok = 0, has_dyn = 0;
    Elf64_Phdr dyn = {0};
    for (uint32_t i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr ph;
        phdr_at(file, &e, i, &ph);
        if (ph.p_type == PT_DYNAMIC) {
            dyn = ph, has_dyn = 1;
            continue;
        }
        if (ph.p_type == PT_INTERP)
            return "the kernel asks for a program interpreter (PT_INTERP)";
        if (ph.p_type != PT_LOAD || !ph.p_memsz)
            continue;
        if (ph.p_filesz > ph.p_memsz)
            return "segment's file size exceeds its memory size";
        if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
            return "segment lies outside the kernel file";
        if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr || ph.p_vaddr + ph.p_memsz > ~0ull - PAGE)
            return "segment wraps the address space";
        if (ph.p_align & (ph.p_align - 1))
            return "segment alignment is not a power of two";
        if (img->nload == ELF_MAX_LOADS)
            return "kernel has more than 16 loadable segments";
        for (uint32_t j = 0; j < img->nload; j++) {
            const struct elf_load *q = &img->load[j];
            if (ph.p_vaddr < q->vaddr + q->memsz && q->vaddr < ph.p_vaddr + ph.p_memsz)
                return "loaded segments overlap";
        }
        img->load[img->nload++] =
            (struct elf_load){ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, ph.p_flags, 0};
        uint64_t lo = ph.p_vaddr & ~(PAGE - 1);
        uint64_t hi = (ph.p_vaddr + ph.p_memsz + PAGE - 1) & ~(PAGE - 1);
        img->vlo = lo < img->vlo ? lo : img->vlo;
        img->vhi = hi > img->vhi ? hi : img->vhi;
        if (ph.p_align > img->align)
            img->align = ph.p_align;
        if ((ph.p_flags & PF_X) && e.e_entry >= ph.p_vaddr && e.e_entry < ph.p_vaddr + ph.p_memsz)
            entry_ok = 1;
    }
    if (!img->nload)
        return "kernel has no loadable segment";
    if (!entry_ok)
        return "entry point is not inside an executable loaded segment";
    if (img->vhi - img->vlo > MAX_EXT)
        return "kernel image spans more than 1 GiB";
    if (img->align > MAX_EXT)
        return "segment alignment above 1 GiB";
    img->entry = e.e_entry;
    if (img->pie && has_dyn) {
        const char *why = check_dynamic(file, size, &dyn, img);
        if (why)
            return why;
    }
    find_reqs_section(file, size, &e, img);
    return 0;
}

void elf_load(const void *file, const struct elf_image *img, void *dst)
{
    unsigned char *d = dst;
    for (uint64_t i = 0; i < img->vhi - img->vlo; i++)
        d[i] = 0;
    for (uint32_t i = 0; i < img->nload; i++) {
        const struct elf_load *l = &img->load[i];
        copy(d + (l->vaddr - img->vlo), (const unsigned char *)file + l->offset, l->filesz);
    }
}

void elf_relocate(const void *file, void *dst, const struct elf_image *img, uint64_t slide)
{
    unsigned char *d = dst;
    uint64_t ro = file_offset(img, img->rela, img->rela_size);
    for (uint64_t i = 0; i < img->rela_size; i += sizeof(Elf64_Rela)) {
        Elf64_Rela r;
        copy(&r, (const unsigned char *)file + ro + i, sizeof r);
        if (ELF64_R_TYPE(r.r_info) != R_X86_64_RELATIVE)
            continue;
        uint64_t v = slide + (uint64_t)r.r_addend;
        copy(d + (r.r_offset - img->vlo), &v, 8);
    }
    uint64_t fo = file_offset(img, img->relr, img->relr_size), where = 0;
    for (uint64_t i = 0; i < img->relr_size; i += 8) {
        uint64_t e = rd64(file, fo + i), v;
        if (!(e & 1)) {
            copy(&v, d + (e - img->vlo), 8);
            v += slide;
            copy(d + (e - img->vlo), &v, 8);
            where = e + 8;
            continue;
        }
        for (unsigned b = 1; b < 64; b++) {
            if (!((e >> b) & 1))
                continue;
            uint64_t a = where + (b - 1) * 8;
            copy(&v, d + (a - img->vlo), 8);
            v += slide;
            copy(d + (a - img->vlo), &v, 8);
        }
        where += 63 * 8;
    }
}
