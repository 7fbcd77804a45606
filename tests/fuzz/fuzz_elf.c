/*
 * fuzz_elf.c - the loader's check of the kernel file (handoff/elf.c), on any bytes.
 *
 * FUZZ-LINK: handoff/elf.c
 *
 * Input: the file. Properties:
 *  - elf_check reads nothing outside the file (an exact-size copy, so ASan sees any overrun);
 *  - it accepts exactly the files an independent reading of its contract in elf_image.h accepts
 *    (64-bit little-endian x86_64 ET_EXEC or ET_DYN; program headers inside the file; no
 *    PT_INTERP; at most 16 loaded segments, each inside the file, filesz <= memsz, not wrapping,
 *    not overlapping another, its alignment a power of two; the entry in an executable one; at
 *    most 1 GiB of extent and of alignment), computed with 128-bit arithmetic; for an ET_DYN
 *    file with a PT_DYNAMIC the relocation checks are elf_check's alone, and an accepted one is
 *    relocated here into an exact-size copy (ASan sees a write outside the image);
 *  - for an accepted file, the extent is page aligned and covers every loaded segment, and
 *    elf_load (extent up to 1 MiB) puts every segment's file bytes at its address and zeros
 *    everywhere else.
 */
#include <elf.h>

#include "elf_image.h"
#include "fuzz.h"

typedef unsigned __int128 u128;

static Elf64_Phdr phdr(const uint8_t *f, const Elf64_Ehdr *e, unsigned i)
{
    Elf64_Phdr ph;
    memcpy(&ph, f + e->e_phoff + (uint64_t)i * e->e_phentsize, sizeof ph);
    return ph;
}

static int loaded(const Elf64_Phdr *ph)
{
    return ph->p_type == PT_LOAD && ph->p_memsz;
}

/* The contract, read independently: 1 if the file is acceptable. */
static int acceptable(const uint8_t *f, uint64_t size)
{
    Elf64_Ehdr e;
    if (size < sizeof e)
        return 0;
    memcpy(&e, f, sizeof e);
    if (memcmp(e.e_ident, ELFMAG, SELFMAG) || e.e_ident[EI_CLASS] != ELFCLASS64 ||
        e.e_ident[EI_DATA] != ELFDATA2LSB || e.e_machine != EM_X86_64 ||
        (e.e_type != ET_EXEC && e.e_type != ET_DYN))
        return 0;
    if (e.e_phentsize < sizeof(Elf64_Phdr) || !e.e_phnum ||
        (u128)e.e_phoff + (u128)e.e_phnum * e.e_phentsize > size)
        return 0;
    u128 lo = ~(u128)0, hi = 0, align = 4096;
    int entry = 0, n = 0;
    for (unsigned i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr a = phdr(f, &e, i);
        if (a.p_type == PT_INTERP)
            return 0;
        if (a.p_type == PT_DYNAMIC && e.e_type == ET_DYN)
            return -1; /* relocations: elf_check decides */
        if (!loaded(&a))
            continue;
        if (a.p_align & (a.p_align - 1))
            return 0;
        align = a.p_align > align ? a.p_align : align;
        u128 end = (u128)a.p_vaddr + a.p_memsz;
        if (a.p_filesz > a.p_memsz || (u128)a.p_offset + a.p_filesz > size ||
            end > (u128)UINT64_MAX - 4096)
            return 0;
        for (unsigned j = 0; j < e.e_phnum; j++) {
            Elf64_Phdr b = phdr(f, &e, j);
            if (j != i && loaded(&b) && a.p_vaddr < (u128)b.p_vaddr + b.p_memsz && b.p_vaddr < end)
                return 0;
        }
        lo = a.p_vaddr / 4096 * 4096 < lo ? a.p_vaddr / 4096 * 4096 : lo;
        hi = (end + 4095) / 4096 * 4096 > hi ? (end + 4095) / 4096 * 4096 : hi;
        entry |= (a.p_flags & PF_X) && e.e_entry >= a.p_vaddr && e.e_entry < end;
        n++;
    }
    return n && n <= 16 && entry && hi - lo <= (u128)1 << 30 && align <= (u128)1 << 30;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *f = malloc(size ? size : 1);
    memcpy(f, data, size);
    struct elf_image img;
    const char *why = elf_check(f, size, &img);
    int want = acceptable(f, size);
    if (want >= 0)
        FZ_ASSERT((why == 0) == want, "elf_check says '%s', the contract says %s", why ? why : "ok",
                  want ? "acceptable" : "refuse");
    if (why) {
        free(f);
        return 0;
    }
    Elf64_Ehdr e;
    memcpy(&e, f, sizeof e);
    FZ_ASSERT(img.vlo % 4096 == 0 && img.vhi % 4096 == 0 && img.vlo < img.vhi && img.nload &&
                  img.entry == e.e_entry,
              "extent [%#llx, %#llx), %u segments", (unsigned long long)img.vlo,
              (unsigned long long)img.vhi, img.nload);
    uint64_t ext = img.vhi - img.vlo;
    unsigned char *mem = ext <= MIB ? malloc(ext) : 0;
    if (mem) {
        memset(mem, 0xcc, ext);
        elf_load(f, &img, mem);
    }
    unsigned char *want_mem = mem ? calloc(1, ext) : 0;
    for (unsigned i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr ph = phdr(f, &e, i);
        if (!loaded(&ph))
            continue;
        FZ_ASSERT(ph.p_vaddr >= img.vlo && ph.p_vaddr + ph.p_memsz <= img.vhi,
                  "segment %u outside the extent", i);
        if (want_mem)
            memcpy(want_mem + (ph.p_vaddr - img.vlo), f + ph.p_offset, ph.p_filesz);
    }
    if (mem && want >= 0)
        FZ_ASSERT(!memcmp(mem, want_mem, ext), "elf_load's image differs from the segments");
    if (mem && img.pie) { /* every relocation lands inside the image */
        unsigned char *exact = malloc(ext);
        memcpy(exact, mem, ext);
        elf_relocate(f, exact, &img, 0xffffffff80000000ull);
        free(exact);
    }
    free(mem);
    free(want_mem);
    free(f);
    return 0;
}
