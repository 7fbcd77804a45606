/*
 * test_handoff.c KERNEL_ELF - the kernel-image checks the loader runs (handoff/elf.c) and the
 * handoff-block checks the kernel runs (handoff/verify.c), against the real kernel image and
 * corrupted copies of it, and against a well-formed block and corrupted copies of it.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "elf_image.h"
#include "handoff.h"

HARNESS_GLOBALS

static unsigned char *kernel;
static size_t ksize;

static const char *check_mut(size_t off, const void *bytes, size_t n, size_t size)
{
    unsigned char *c = malloc(ksize);
    memcpy(c, kernel, ksize);
    memcpy(c + off, bytes, n);
    struct elf_image img;
    const char *why = elf_check(c, size, &img);
    free(c);
    return why ? why : "";
}

/* why (NULL: accepted) names the problem. */
static int says(const char *why, const char *needle)
{
    int ok = why && strstr(why, needle) != 0;
    if (!ok)
        fprintf(stderr, "  wanted '%s', got '%s'\n", needle, why ? why : "(accepted)");
    return ok;
}

/* Offsets in an ELF64 header and its first program header. */
#define E_TYPE    16
#define E_MACHINE 18
#define E_ENTRY   24
#define E_PHOFF   32
#define E_PHNUM   56

static uint64_t u64(size_t off)
{
    uint64_t v;
    memcpy(&v, kernel + off, 8);
    return v;
}

TEST(real_kernel_is_accepted_and_loads)
{
    struct elf_image img;
    CHECK(elf_check(kernel, ksize, &img) == 0);
    CHECK_EQ(img.entry, u64(E_ENTRY));
    CHECK(img.vlo == 0xffffffff80000000ull);
    CHECK(img.vhi > img.vlo && img.nload >= 2);
    unsigned char *dst = malloc(img.vhi - img.vlo);
    memset(dst, 0xcc, img.vhi - img.vlo);
    elf_load(kernel, &img, dst);
    /* the first segment's bytes land at the start; the rest of the extent is zero or file data */
    uint64_t phoff = u64(E_PHOFF), off, filesz;
    memcpy(&off, kernel + phoff + 8, 8);
    memcpy(&filesz, kernel + phoff + 32, 8);
    CHECK(memcmp(dst, kernel + off, filesz) == 0);
    CHECK(dst[img.vhi - img.vlo - 1] == 0); /* bss zeroed */
    free(dst);
}

TEST(corrupt_kernels_are_refused_by_name)
{
    const unsigned char bad_magic[] = {0x7f, 'E', 'L', 'G'};
    CHECK(says(check_mut(0, bad_magic, 4, ksize), "bad magic"));
    const unsigned char c32[] = {1};
    CHECK(says(check_mut(4, c32, 1, ksize), "64-bit"));
    const unsigned char be[] = {2};
    CHECK(says(check_mut(5, be, 1, ksize), "little-endian"));
    const uint16_t arm = 0x28, dyn = 3;
    CHECK(says(check_mut(E_MACHINE, &arm, 2, ksize), "x86_64"));
    CHECK(says(check_mut(E_TYPE, &dyn, 2, ksize), "ET_EXEC"));
    const uint64_t far = 0x1000;
    CHECK(says(check_mut(E_ENTRY, &far, 8, ksize), "entry point"));
    const uint64_t huge = ksize - 8;
    CHECK(says(check_mut(E_PHOFF, &huge, 8, ksize), "program headers lie outside"));
    const uint16_t none = 0;
    CHECK(says(check_mut(E_PHNUM, &none, 2, ksize), "program headers"));
    CHECK(says(check_mut(0, "", 0, 3000), "outside the kernel file"));
    CHECK(says(check_mut(0, "", 0, 40), "smaller than an ELF header"));
    /* first PT_LOAD: filesz > memsz, and a second segment moved on top of the first */
    uint64_t ph = u64(E_PHOFF), memsz;
    memcpy(&memsz, kernel + ph + 40, 8);
    const uint64_t more = memsz + 1;
    CHECK(says(check_mut(ph + 32, &more, 8, ksize), "file size exceeds"));
    const uint64_t v0 = u64(ph + 16);
    CHECK(says(check_mut(ph + 56 + 16, &v0, 8, ksize), "overlap"));
    const uint64_t wrap = ~0ull - 10;
    CHECK(says(check_mut(ph + 16, &wrap, 8, ksize), "wraps"));
}

static struct pmm_handoff good(unsigned char *map, size_t mapsize)
{
    struct pmm_handoff h;
    memset(&h, 0, sizeof h);
    h.magic = PMM_HANDOFF_MAGIC;
    h.version = PMM_HANDOFF_VERSION;
    h.size = sizeof h;
    h.self_phys = 0x100000;
    h.pmm_state_phys = 0x800000;
    h.memmap_phys = 0x101000;
    h.memmap_size = mapsize;
    h.memmap_desc_size = 48;
    h.memmap_checksum = pmm_fnv1a(map, mapsize, PMM_FNV_INIT);
    h.kernel_phys = 0x200000;
    h.kernel_pages = 13;
    h.stack_phys = 0x300000;
    h.stack_pages = 16;
    h.boot_pt_phys = 0x400000;
    h.boot_pt_pages = 9;
    h.ncpus = 4; /* as QEMU -smp 4,threads=2 numbers them: APIC IDs need not be contiguous */
    h.cpus_found = 4;
    h.bsp = 1;
    h.cpu_source = PMM_CPUS_MP_SERVICES;
    const uint32_t ids[4] = {2, 0, 1, 3};
    memcpy(h.cpu_apic_id, ids, sizeof ids);
    h.checksum = pmm_handoff_checksum(&h);
    return h;
}

TEST(handoff_block_checks)
{
    unsigned char map[48 * 3];
    memset(map, 7, sizeof map);
    struct pmm_handoff h = good(map, sizeof map);
    CHECK(pmm_handoff_verify(&h, map) == 0);

    struct pmm_handoff b = h;
    b.magic ^= 1;
    CHECK(says(pmm_handoff_verify(&b, map), "magic"));
    b = h;
    b.version = PMM_HANDOFF_VERSION + 1;
    CHECK(says(pmm_handoff_verify(&b, map), "version"));
    b = h;
    b.size = 8;
    CHECK(says(pmm_handoff_verify(&b, map), "size"));
    b = h;
    b.kernel_pages++; /* any field changed without the checksum */
    CHECK(says(pmm_handoff_verify(&b, map), "checksum mismatch"));
    map[5] ^= 1;
    CHECK(says(pmm_handoff_verify(&h, map), "memory map checksum"));
    map[5] ^= 1;
    b = h;
    b.stack_phys = 0x205000; /* inside the kernel image */
    b.checksum = pmm_handoff_checksum(&b);
    CHECK(says(pmm_handoff_verify(&b, map), "overlap"));
    b = h;
    b.kernel_phys += 8;
    b.checksum = pmm_handoff_checksum(&b);
    CHECK(says(pmm_handoff_verify(&b, map), "aligned"));
    b = h;
    b.memmap_size = 47;
    b.checksum = pmm_handoff_checksum(&b);
    CHECK(says(pmm_handoff_verify(&b, 0), "descriptor size"));
}

/* A block with one field changed and its checksum recomputed, as a loader bug would write it. */
static const char *verify_with(struct pmm_handoff b, const void *map)
{
    b.checksum = pmm_handoff_checksum(&b);
    const char *why = pmm_handoff_verify(&b, map);
    return why ? why : "";
}

/* Ends computed in 64 bits must not wrap: a huge count would otherwise shrink a range to nothing.
 */
TEST(handoff_range_ends_do_not_wrap)
{
    unsigned char map[48 * 3];
    memset(map, 7, sizeof map);
    struct pmm_handoff h = good(map, sizeof map), b;

    /* kernel_pages * 4K is 13 pages modulo 2^64: the image would hide the stack it covers */
    b = h;
    b.kernel_pages = (1ull << 52) + 13;
    CHECK(says(verify_with(b, map), "kernel_pages"));
    /* a large count that does not wrap still overlaps: named by the pair */
    b = h;
    b.kernel_pages = 1ull << 40;
    CHECK(says(verify_with(b, map), "overlap: the kernel image and the stack"));
    /* a stack at the top of the address space whose end is 2^64 + 4K */
    b = h;
    b.stack_phys = 0xfffffffffffff000ull;
    b.stack_pages = 2;
    CHECK(says(verify_with(b, map), "stack_pages"));
    b.stack_pages = 1; /* ends exactly at 2^64: not representable either */
    CHECK(says(verify_with(b, map), "stack_pages"));
    b = h;
    b.boot_pt_pages = ~0ull;
    CHECK(says(verify_with(b, map), "boot_pt_pages"));
    b = h;
    b.self_phys = 0xfffffffffffff000ull;
    CHECK(says(verify_with(b, map), "self_phys"));
    /* a memory map that runs past 2^64 is refused before anything reads it (map is not passed
     * here, as the kernel would pass it, because a checksum over 2^64 bytes would crash) */
    b = h;
    b.memmap_phys = 0xffffffffff000000ull;
    b.memmap_size = 48ull << 40;
    CHECK(says(verify_with(b, 0), "memmap_size"));
    b = h;
    b.memmap_size = ~0ull - 15; /* a multiple of 48; rounding up to pages would wrap to 0 */
    CHECK(says(verify_with(b, 0), "memmap_size"));
    /* and the well-formed block still passes */
    CHECK(pmm_handoff_verify(&h, map) == 0);
}

/* Version 3's CPU list: each inconsistency refused, named by its field. */
TEST(handoff_cpu_list_checks)
{
    unsigned char map[48 * 3];
    memset(map, 7, sizeof map);
    struct pmm_handoff h = good(map, sizeof map), b;
    CHECK(pmm_handoff_verify(&h, map) == 0);

    b = h;
    b.ncpus = 0;
    CHECK(says(verify_with(b, map), "ncpus: no CPU listed"));
    b = h;
    b.ncpus = b.cpus_found = PMM_HANDOFF_MAX_CPUS + 1;
    CHECK(says(verify_with(b, map), "ncpus: more CPUs than cpu_apic_id[] holds"));
    b = h;
    b.bsp = 4; /* one past the last */
    CHECK(says(verify_with(b, map), "bsp: not the index of a listed CPU"));
    b = h;
    b.cpus_found = 3;
    CHECK(says(verify_with(b, map), "cpus_found: fewer CPUs found than listed"));
    b = h;
    b.cpu_source = 0;
    CHECK(says(verify_with(b, map), "cpu_source: unknown"));
    b.cpu_source = PMM_CPUS_BSP_ONLY + 1;
    CHECK(says(verify_with(b, map), "cpu_source: unknown"));
    b = h;
    b.cpu_apic_id[3] = 2; /* the first and the last */
    CHECK(says(verify_with(b, map), "cpu_apic_id: an APIC ID is listed twice"));

    /* what is allowed: more found than listed (a full list), every source, a full list of
     * distinct IDs with the BSP last, an ID past 255 (x2APIC) */
    b = h;
    b.cpus_found = 1000;
    CHECK(*verify_with(b, map) == 0);
    for (uint32_t s = PMM_CPUS_MP_SERVICES; s <= PMM_CPUS_BSP_ONLY; s++) {
        b = h;
        b.cpu_source = s;
        CHECK(*verify_with(b, map) == 0);
    }
    b = h;
    b.ncpus = b.cpus_found = PMM_HANDOFF_MAX_CPUS;
    for (uint32_t i = 0; i < PMM_HANDOFF_MAX_CPUS; i++)
        b.cpu_apic_id[i] = i * 3 + 1000;
    b.bsp = PMM_HANDOFF_MAX_CPUS - 1;
    CHECK(*verify_with(b, map) == 0);
    b.cpu_apic_id[7] = b.cpu_apic_id[PMM_HANDOFF_MAX_CPUS - 1];
    CHECK(says(verify_with(b, map), "listed twice"));
    /* IDs beyond ncpus are not part of the list: equal ones there are no duplicate */
    b = h;
    b.cpu_apic_id[4] = b.cpu_apic_id[5] = 2;
    CHECK(*verify_with(b, map) == 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s KERNEL_ELF\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    kernel = malloc(1 << 22);
    ksize = fread(kernel, 1, 1 << 22, f);
    fclose(f);
    RUN(real_kernel_is_accepted_and_loads);
    RUN(corrupt_kernels_are_refused_by_name);
    RUN(handoff_block_checks);
    RUN(handoff_range_ends_do_not_wrap);
    RUN(handoff_cpu_list_checks);
    free(kernel);
    HARNESS_MAIN_END();
}
