/*
 * test_handoff.c KERNEL_ELF - the kernel-image checks the loader runs (handoff/elf.c) and the
 * live-allocator response checks the kernel runs (handoff/verify.c): against the real kernel
 * image and corrupted copies of it, position-independent images built here with every kind of
 * relocation table, and a well-formed response and corrupted copies of it.
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
    const uint16_t core = 4;
    CHECK(says(check_mut(E_TYPE, &core, 2, ksize), "ET_EXEC"));
    (void)dyn;
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

/*
 * A position-independent image built here: one RWX PT_LOAD of 0x3000 bytes at link address 0 (the
 * file is the image), a PT_DYNAMIC at 0x800 naming the RELA table at 0x1000 and the RELR table at
 * 0x1800, with the entry at 0x100 and a pointer table at 0x2000 the relocations must fix.
 *
 *   file/vaddr  0x0000 ELF header, program headers   0x0100 entry (ret)
 *               0x0800 dynamic                        0x1000 RELA   0x1800 RELR   0x2000 pointers
 */
#define PIE_SIZE 0x3000
struct pie {
    unsigned char b[PIE_SIZE];
    int nrela, nrelr, extra_dyn;
    uint64_t dyn_tag[4], dyn_val[4];
};

static void put64(unsigned char *b, size_t off, uint64_t v)
{
    memcpy(b + off, &v, 8);
}

static void pie_rela(struct pie *p, uint64_t off, uint32_t type, int64_t addend)
{
    size_t at = 0x1000 + 24 * (size_t)p->nrela++;
    put64(p->b, at, off);
    put64(p->b, at + 8, type);
    put64(p->b, at + 16, (uint64_t)addend);
}

static void pie_relr(struct pie *p, uint64_t v)
{
    put64(p->b, 0x1800 + 8 * (size_t)p->nrelr++, v);
}

static unsigned char *pie_file(struct pie *p)
{
    unsigned char *b = p->b;
    memcpy(b,
           "\x7f"
           "ELF\x02\x01\x01",
           7);
    const uint16_t type = 3, machine = 62, phentsize = 56, phnum = 2;
    memcpy(b + 16, &type, 2);
    memcpy(b + 18, &machine, 2);
    put64(b, 24, 0x100);
    put64(b, 32, 64);
    memcpy(b + 54, &phentsize, 2);
    memcpy(b + 56, &phnum, 2);
    /* PT_LOAD, RWX, the whole file */
    const uint32_t load = 1, rwx = 7, dyn = 2, rw = 6;
    memcpy(b + 64, &load, 4);
    memcpy(b + 68, &rwx, 4);
    put64(b, 64 + 32, PIE_SIZE);
    put64(b, 64 + 40, PIE_SIZE);
    put64(b, 64 + 48, 0x1000);
    /* PT_DYNAMIC */
    memcpy(b + 120, &dyn, 4);
    memcpy(b + 124, &rw, 4);
    put64(b, 120 + 8, 0x800);
    put64(b, 120 + 16, 0x800);
    put64(b, 120 + 32, 0x200);
    put64(b, 120 + 40, 0x200);
    b[0x100] = 0xc3;
    size_t d = 0x800;
    const uint64_t tags[] = {7, 8, 9, 36, 35, 37};
    const uint64_t vals[] = {0x1000, 24 * (uint64_t)p->nrela, 24,
                             0x1800, 8 * (uint64_t)p->nrelr,  8};
    for (int i = 0; i < 6; i++) {
        if ((i < 3 && !p->nrela) || (i >= 3 && !p->nrelr))
            continue;
        put64(b, d, tags[i]);
        put64(b, d + 8, vals[i]);
        d += 16;
    }
    for (int i = 0; i < p->extra_dyn; i++) {
        put64(b, d, p->dyn_tag[i]);
        put64(b, d + 8, p->dyn_val[i]);
        d += 16;
    }
    put64(b, d, 0);
    return b;
}

TEST(pie_relocations_applied)
{
    static struct pie p;
    memset(&p, 0, sizeof p);
    pie_rela(&p, 0x2000, 8, 0x100);  /* RELATIVE: the entry */
    pie_rela(&p, 0x2008, 0, 0);      /* NONE */
    pie_rela(&p, 0x2010, 8, 0x2000); /* RELATIVE: the table itself */
    put64(p.b, 0x2018, 0x40);        /* RELR: an address, then a bitmap of the two after it */
    put64(p.b, 0x2020, 0x48);
    put64(p.b, 0x2030, 0x50);
    pie_relr(&p, 0x2018);
    pie_relr(&p, 1 | 1 << 1 | 1 << 3); /* 0x2020 and 0x2030 */
    unsigned char *f = pie_file(&p);
    struct elf_image img;
    CHECK(elf_check(f, PIE_SIZE, &img) == 0);
    CHECK(img.pie && img.vlo == 0 && img.vhi == PIE_SIZE && img.entry == 0x100);
    CHECK(img.rela == 0x1000 && img.rela_size == 72 && img.relr == 0x1800 && img.relr_size == 16);
    static unsigned char dst[PIE_SIZE];
    elf_load(f, &img, dst);
    const uint64_t slide = 0xffffffff80000000ull;
    elf_relocate(f, dst, &img, slide);
    uint64_t v[7];
    memcpy(v, dst + 0x2000, sizeof v);
    CHECK_EQ(v[0], slide + 0x100);
    CHECK_EQ(v[1], 0);
    CHECK_EQ(v[2], slide + 0x2000);
    CHECK_EQ(v[3], slide + 0x40);
    CHECK_EQ(v[4], slide + 0x48);
    CHECK_EQ(v[5], 0); /* bit 2 of the bitmap was clear */
    CHECK_EQ(v[6], slide + 0x50);
}

/* The image with one thing changed: elf_check's verdict. */
static const char *pie_verdict(struct pie *p)
{
    struct elf_image img;
    const char *why = elf_check(pie_file(p), PIE_SIZE, &img);
    if (why && img.bad_reloc) {
        static char both[200];
        snprintf(both, sizeof both, "%s: %s", why, elf_reloc_name(img.bad_reloc));
        return both;
    }
    return why ? why : "";
}

TEST(pie_refusals_name_the_problem)
{
    static struct pie p;
    memset(&p, 0, sizeof p);
    pie_rela(&p, 0x2000, 1, 0); /* R_X86_64_64: needs a symbol */
    CHECK(says(pie_verdict(&p), "R_X86_64_64"));
    memset(&p, 0, sizeof p);
    pie_rela(&p, 0x2000, 6, 0);
    CHECK(says(pie_verdict(&p), "R_X86_64_GLOB_DAT"));
    memset(&p, 0, sizeof p);
    pie_rela(&p, PIE_SIZE - 4, 8, 0); /* an 8-byte field crossing the image's end */
    CHECK(says(pie_verdict(&p), "writes outside"));
    memset(&p, 0, sizeof p);
    pie_relr(&p, PIE_SIZE);
    CHECK(says(pie_verdict(&p), "RELR relocation writes outside"));
    memset(&p, 0, sizeof p);
    pie_relr(&p, 0x2000);
    pie_relr(&p, 1ull << 63); /* 62 words past 0x2008: 0x2000 + 8 + 62 * 8 lies inside; fine */
    CHECK(says(pie_verdict(&p), ""));
    memset(&p, 0, sizeof p);
    pie_relr(&p, 0x2ff0);
    pie_relr(&p, 1 | 1 << 2); /* 0x2ff8 + 8 = 0x3000: past the end */
    CHECK(says(pie_verdict(&p), "RELR relocation writes outside"));
    memset(&p, 0, sizeof p);
    pie_relr(&p, 3); /* a bitmap first */
    CHECK(says(pie_verdict(&p), "starts with a bitmap"));
    memset(&p, 0, sizeof p);
    p.extra_dyn = 1, p.dyn_tag[0] = 1, p.dyn_val[0] = 0; /* DT_NEEDED */
    CHECK(says(pie_verdict(&p), "shared library"));
    memset(&p, 0, sizeof p);
    p.extra_dyn = 1, p.dyn_tag[0] = 2, p.dyn_val[0] = 24; /* DT_PLTRELSZ */
    CHECK(says(pie_verdict(&p), "PLT relocations"));
    memset(&p, 0, sizeof p);
    p.extra_dyn = 1, p.dyn_tag[0] = 17, p.dyn_val[0] = 0x1000; /* DT_REL */
    CHECK(says(pie_verdict(&p), "REL relocations"));
    memset(&p, 0, sizeof p);
    pie_rela(&p, 0x2000, 8, 0);
    p.extra_dyn = 1, p.dyn_tag[0] = 9, p.dyn_val[0] = 16; /* DT_RELAENT wrong (last wins) */
    CHECK(says(pie_verdict(&p), "DT_RELAENT"));
}

/*
 * A response the way the loader writes one, with hhdm 0 so that its pointers are this process's
 * own: two CPUs on two nodes (domains 4 and 9), three handed runs (one holding the kept table),
 * one kept table, three NUMA ranges.
 */
static struct pmm_cpu cpus[2];
static struct pmm_handed handed[3];
static struct pmm_kept kept[1];
static struct pmm_numa_range ranges[3];
static uint8_t distance[4] __attribute__((aligned(8)));
static uint32_t domains[2] __attribute__((aligned(8)));

static struct pmm_response good(void)
{
    struct pmm_response r;
    memset(&r, 0, sizeof r);
    cpus[0] = (struct pmm_cpu){2, 0, PMM_CPU_IN_MP, 1};
    cpus[1] = (struct pmm_cpu){0, 1, PMM_CPU_IN_MP, 0};
    ranges[0] = (struct pmm_numa_range){0, 0xa0, 0, 0};
    ranges[1] = (struct pmm_numa_range){0x100, 0x7ff00, 0, 0};
    ranges[2] = (struct pmm_numa_range){0x80000, 0x80000, 1, PMM_NUMA_HOTPLUG};
    distance[0] = distance[3] = 10;
    distance[1] = 21, distance[2] = 255; /* node 1 cannot reach node 0: allowed */
    domains[0] = 4, domains[1] = 9;
    handed[0] = (struct pmm_handed){0x100000, 4, PMM_HANDED_RESPONSES, 0};
    handed[1] = (struct pmm_handed){0x200000, 16, PMM_HANDED_EXECUTABLE, 0};
    handed[2] = (struct pmm_handed){0x300000, 1, PMM_HANDED_KEPT, 0};
    kept[0] = (struct pmm_kept){0x300018, 40, {1, 2}, PMM_KEPT_ESRT, 0};
    r.revision = PMM_RESPONSE_REVISION;
    r.state_phys = 0x800000;
    r.abi = PMM_ABI_VERSION;
    r.numa_flags = PMM_NUMA_FROM_SRAT | PMM_NUMA_FROM_SLIT;
    r.node_count = 2;
    r.numa_range_count = 3;
    r.numa_ranges = ranges;
    r.distance = distance;
    r.node_domain = domains;
    r.bsp = 1;
    r.cpu_source = PMM_CPUS_MP_SERVICES;
    r.cpus_found = 2;
    r.cpu_count = 2;
    r.cpus = cpus;
    r.handed_count = 3;
    r.handed = handed;
    r.kept_count = 1;
    r.kept = kept;
    r.checksum = pmm_response_checksum(&r);
    return r;
}

/* The response with its checksum recomputed after a change, as a loader bug would write it. */
static const char *verify(struct pmm_response r)
{
    /* the checksum over the real arrays only: a count made huge is refused before the check
     * ever reads that far */
    if (r.cpus == cpus && r.cpu_count <= 2 && r.handed == handed && r.handed_count <= 3 &&
        r.kept == kept && r.kept_count <= 1 && (r.numa_ranges == ranges || !r.numa_ranges) &&
        r.numa_range_count <= (r.numa_ranges ? 3 : 0) && r.distance == distance &&
        r.node_domain == domains && r.node_count <= 2)
        r.checksum = pmm_response_checksum(&r);
    const char *why = pmm_response_verify(&r, 0);
    return why ? why : "";
}

TEST(response_checks_name_the_field)
{
    struct pmm_response r = good(), b;
    CHECK(pmm_response_verify(&r, 0) == 0);
    b = r;
    b.state_phys += PG; /* changed without the checksum */
    CHECK(says(pmm_response_verify(&b, 0), "checksum"));
    cpus[0].lapic_id ^= 4; /* an array changed: the checksum covers it too */
    CHECK(says(pmm_response_verify(&r, 0), "checksum"));
    cpus[0].lapic_id ^= 4;
    CHECK(says(pmm_response_verify(&r, 1ull << 40), "virt_offset"));
#define REFUSED(field, change)                                                                     \
    do {                                                                                           \
        b = r;                                                                                     \
        change;                                                                                    \
        CHECK(says(verify(b), field));                                                             \
    } while (0)
    REFUSED("abi", b.abi++);
    REFUSED("state_phys", b.state_phys += 8);
    REFUSED("state_phys", b.state_phys = 0);
    REFUSED("flags", b.flags = 1u << 5);
    REFUSED("cpu_count", b.cpu_count = 0);
    REFUSED("cpu_count", b.cpu_count = 100000);
    REFUSED("bsp", b.bsp = 2);
    REFUSED("cpus_found", b.cpus_found = 1);
    REFUSED("cpu_source", b.cpu_source = 9);
    REFUSED("cpus", b.cpus = (struct pmm_cpu *)((char *)cpus + 1));
    REFUSED("handed", b.handed_count = 1ull << 20);
    REFUSED("kept", b.kept = (struct pmm_kept *)(uintptr_t)(1ull << 62));
    REFUSED("handed", b.handed_count = 1ull << 62); /* count * size must not wrap */
    struct pmm_handed save = handed[1];
    handed[1].phys = 0x101000; /* inside the first run */
    CHECK(says(verify(r), "overlapping"));
    handed[1] = save;
    handed[1].pages = 0;
    CHECK(says(verify(r), "empty"));
    handed[1] = save;
    handed[1].phys += 8;
    CHECK(says(verify(r), "unaligned"));
    handed[1] = save;
    handed[1].kind = 77;
    CHECK(says(verify(r), "unknown kind"));
    handed[1] = save;
    handed[1].pages = 1ull << 40;
    CHECK(says(verify(r), "past physical memory"));
    handed[1] = save;
    kept[0].phys = 0x400000; /* no KEPT run covers it */
    CHECK(says(verify(r), "no handed run covers"));
    kept[0].phys = 0x300018;
    kept[0].kind = 0;
    CHECK(says(verify(r), "unknown kind"));
    kept[0].kind = PMM_KEPT_ESRT;
    cpus[1].lapic_id = 2;
    CHECK(says(verify(r), "listed twice"));
    cpus[1].lapic_id = 0;
    cpus[1].flags = 4;
    CHECK(says(verify(r), "flags this kernel"));
    cpus[1].flags = PMM_CPU_IN_MP;
    CHECK_EQ(*verify(r), 0); /* accepted again */

    /* revision 1: the NUMA fields */
    REFUSED("revision", b.revision = 0);
    REFUSED("numa_flags", b.numa_flags = 4);
    REFUSED("node_count", b.node_count = 0);
    REFUSED("node_count", b.node_count = PMM_NUMA_MAX_NODES + 1);
    REFUSED("numa_ranges", b.numa_ranges = (struct pmm_numa_range *)((char *)ranges + 4));
    REFUSED("numa_ranges", b.numa_range_count = 1ull << 20);
    REFUSED("distance", b.distance = (uint8_t *)(uintptr_t)(1ull << 60));
    REFUSED("node_domain", b.node_domain = (uint32_t *)((char *)domains + 2));
    REFUSED("cpus: a CPU on a node past node_count", b.node_count = 1);
    cpus[1].node = 2;
    CHECK(says(verify(r), "cpus: a CPU on a node past node_count"));
    cpus[1].node = 0;
    domains[1] = 4;
    CHECK(says(verify(r), "node_domain: proximity domains not in ascending order"));
    domains[1] = 9;
    distance[3] = 11;
    CHECK(says(verify(r), "distance: not 10 from a node to itself"));
    distance[3] = 10;
    distance[1] = 9;
    CHECK(says(verify(r), "distance: not 10 from a node to itself, or below 10 between two"));
    distance[1] = 21;
    ranges[1].start = 0x9f; /* into the first range */
    CHECK(says(verify(r), "numa_ranges: ranges not sorted, or overlapping"));
    ranges[1].start = 0x100;
    ranges[2].npages = 0;
    CHECK(says(verify(r), "numa_ranges: a range that is empty or past physical memory"));
    ranges[2].npages = 1ull << 40;
    CHECK(says(verify(r), "numa_ranges: a range that is empty or past physical memory"));
    ranges[2].npages = 0x80000;
    ranges[2].node = 2;
    CHECK(says(verify(r), "numa_ranges: a range on a node past node_count"));
    ranges[2].node = 1;
    ranges[2].flags = 2;
    CHECK(says(verify(r), "numa_ranges: flags this kernel does not know"));
    ranges[2].flags = PMM_NUMA_HOTPLUG;
    /* the checksum covers every NUMA array */
    b = r;
    ranges[0].npages++;
    CHECK(says(pmm_response_verify(&b, 0), "checksum"));
    ranges[0].npages--;
    distance[1]++;
    CHECK(says(pmm_response_verify(&b, 0), "checksum"));
    distance[1]--;
    domains[0]--;
    CHECK(says(pmm_response_verify(&b, 0), "checksum"));
    domains[0]++;
    CHECK(pmm_response_verify(&b, 0) == 0);
    /* one node, no ranges: what a loader without an SRAT hands over */
    b = r;
    b.numa_flags = 0;
    b.node_count = 1;
    b.numa_range_count = 0;
    b.numa_ranges = 0;
    cpus[0].node = 0;
    distance[0] = 10;
    CHECK_EQ(*verify(b), 0); /* accepted */
    cpus[0].node = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_handoff KERNEL_ELF\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static unsigned char buf[8 << 20];
    ksize = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kernel = buf;
    RUN(real_kernel_is_accepted_and_loads);
    RUN(corrupt_kernels_are_refused_by_name);
    RUN(pie_relocations_applied);
    RUN(pie_refusals_name_the_problem);
    RUN(response_checks_name_the_field);
    HARNESS_MAIN_END();
}
