/*
 * pie.c - the `pie` test kernels: position independent, linked at 0, so the loader must slide
 * them to 0xffffffff80000000 or above (with KASLR, anywhere in its span) and apply their
 * relocations. Base revision 3, whose RSDP, SMBIOS and EFI system table addresses are physical.
 * Built twice: with RELA relocations (pie) and with RELR ones (pie-relr, -z pack-relative-relocs).
 *
 * The relocation check does not trust the loader's account: the kernel reads its own file (the
 * Executable File response), walks its dynamic section, and checks that each relocated word in
 * memory is the link-time value plus the slide, and that a table of pointers points where the
 * code, addressing by RIP, finds their targets.
 */
#include "lt.h"

#define REQ       __attribute__((used, section(".requests"), aligned(8)))
#define REQ_START __attribute__((used, section(".requests_start"), aligned(8)))
#define REQ_END   __attribute__((used, section(".requests_end"), aligned(8)))

REQ_START static volatile uint64_t start_marker[4] = LT_START_MARKER;
REQ static volatile uint64_t base_tag[3] = LT_BASE_REVISION(3);
REQ static volatile struct lt_req info_req = {LT_BOOTLOADER_INFO, 0, 0};
REQ static volatile struct lt_req cmdline_req = {LT_EXEC_CMDLINE, 0, 0};
REQ static volatile struct lt_req hhdm_req = {LT_HHDM, 0, 0};
REQ static volatile struct lt_req memmap_req = {LT_MEMMAP, 0, 0};
REQ static volatile struct lt_req exec_file_req = {LT_EXEC_FILE, 0, 0};
REQ static volatile struct lt_req exec_addr_req = {LT_EXEC_ADDRESS, 0, 0};
REQ static volatile struct lt_req rsdp_req = {LT_RSDP, 0, 0};
REQ static volatile struct lt_req smbios_req = {LT_SMBIOS, 0, 0};
REQ static volatile struct lt_req est_req = {LT_EFI_SYSTEM_TABLE, 0, 0};
REQ static volatile struct lt_req date_req = {LT_DATE_AT_BOOT, 0, 0};
REQ static volatile struct lt_req efi_memmap_req = {LT_EFI_MEMMAP, 0, 0};
REQ_END static volatile uint64_t end_marker[2] = LT_END_MARKER;

extern const char __image_start[], __image_end[], __text_end[], __rodata_end[];

/* Targets in every kind of section, and pointers to them the linker must leave to the loader:
 * writable (.data) and read-only after relocation (.data.rel.ro), with addends, to code, to
 * strings, to the table itself. */
static int target_int = 42;
static char target_arr[64];
static const char target_str[] = "relocated";
static void target_fn(void)
{
}
static void *volatile data_ptrs[] = {&target_int, &target_arr[17], (void *)target_fn,
                                     (void *)target_str, (void *)&data_ptrs[2]};
void lt_main_addr_marker(void);
static void *const ro_ptrs[] = {&target_arr[63], (void *)&target_str[3], (void *)&data_ptrs[0],
                                (void *)lt_main_addr_marker};

/* The relocated words, as the file says they were linked, against memory now. */
static void relocations_applied(int want_relr)
{
    const struct limine_file *f = lt_exec_file;
    if (!check(f != 0, "relocations", "the kernel's own file is at hand"))
        return;
    const uint8_t *file = f->address;
    uint64_t phoff, dyn = 0, dynsz = 0;
    uint16_t phnum;
    memcpy(&phoff, file + 32, 8);
    memcpy(&phnum, file + 56, 2);
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = file + phoff + i * 56ull;
        uint32_t type;
        memcpy(&type, ph, 4);
        if (type == 2) /* PT_DYNAMIC */
            memcpy(&dyn, ph + 8, 8), memcpy(&dynsz, ph + 32, 8);
    }
    uint64_t rela = 0, relasz = 0, relaent = 0, relr = 0, relrsz = 0;
    for (uint64_t at = dyn; dyn && at + 16 <= dyn + dynsz; at += 16) {
        uint64_t tag, val;
        memcpy(&tag, file + at, 8);
        memcpy(&val, file + at + 8, 8);
        if (tag == 0)
            break;
        rela = tag == 7 ? val : rela;
        relasz = tag == 8 ? val : relasz;
        relaent = tag == 9 ? val : relaent;
        relrsz = tag == 35 ? val : relrsz;
        relr = tag == 36 ? val : relr;
    }
    /* the premise: the build made the kind of relocations this kernel exists to test */
    check(dyn && (want_relr ? relr && relrsz : rela && relasz && relaent == 24), "relocations",
          "the file has %s (%lu bytes)", want_relr ? "a RELR table" : "a RELA table",
          want_relr ? relrsz : relasz);
    /* link-time vaddr -> file offset, through the PT_LOAD segments */
    uint64_t checked = 0, wrong = 0, wrong_at = 0, other = 0;
#define FILE_AT(va, out)                                                                           \
    do {                                                                                           \
        out = 0;                                                                                   \
        for (uint16_t i_ = 0; i_ < phnum; i_++) {                                                  \
            const uint8_t *ph_ = file + phoff + i_ * 56ull;                                        \
            uint32_t t_;                                                                           \
            uint64_t o_, v_, fs_;                                                                  \
            memcpy(&t_, ph_, 4), memcpy(&o_, ph_ + 8, 8), memcpy(&v_, ph_ + 16, 8);                \
            memcpy(&fs_, ph_ + 32, 8);                                                             \
            if (t_ == 1 && (va) >= v_ && (va)-v_ < fs_)                                            \
                out = file + o_ + ((va)-v_);                                                       \
        }                                                                                          \
    } while (0)
    const uint8_t *p;
    FILE_AT(rela, p);
    for (uint64_t i = 0; p && relaent == 24 && i < relasz / 24; i++) {
        uint64_t off, info, addend;
        memcpy(&off, p + i * 24, 8), memcpy(&info, p + i * 24 + 8, 8);
        memcpy(&addend, p + i * 24 + 16, 8);
        if ((uint32_t)info != 8) { /* R_X86_64_RELATIVE */
            other++;
            continue;
        }
        checked++;
        if (*(volatile uint64_t *)(off + lt_slide) != addend + lt_slide && !wrong++)
            wrong_at = off;
    }
    FILE_AT(relr, p);
    for (uint64_t i = 0, next = 0; p && i < relrsz / 8; i++) {
        uint64_t w;
        memcpy(&w, p + i * 8, 8);
        uint64_t addrs[64], n = 0;
        if (!(w & 1)) {
            addrs[n++] = w;
            next = w + 8;
        } else {
            for (int b = 1; b < 64; b++)
                if ((w >> b) & 1)
                    addrs[n++] = next + (uint64_t)(b - 1) * 8;
            next += 63 * 8;
        }
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *src;
            uint64_t linked;
            FILE_AT(addrs[j], src);
            if (!src)
                continue;
            memcpy(&linked, src, 8);
            checked++;
            if (*(volatile uint64_t *)(addrs[j] + lt_slide) != linked + lt_slide && !wrong++)
                wrong_at = addrs[j];
        }
    }
#undef FILE_AT
    char m[96] = "";
    if (wrong || other)
        lt_snprintf(m, sizeof m,
                    "; %lu wrong (the first at link address 0x%lx), %lu of another "
                    "type",
                    wrong, wrong_at, other);
    check(checked && !wrong && !other, "relocations applied",
          "%lu R_X86_64_RELATIVE words hold their link value + the slide 0x%lx%s", checked,
          lt_slide, m);
    void *want[5] = {&target_int, &target_arr[17], (void *)target_fn, (void *)target_str,
                     (void *)&data_ptrs[2]};
    int same = 1;
    for (int i = 0; i < 5; i++)
        same &= data_ptrs[i] == want[i];
    void *volatile const *ro = ro_ptrs;
    same &= ro[0] == (void *)&target_arr[63] && ro[1] == (void *)&target_str[3] &&
            ro[2] == (void *)&data_ptrs[0] && ro[3] == (void *)lt_main_addr_marker;
    check(same && target_int == 42, "relocated pointer table",
          "9 pointers in .data and .data.rel.ro point where RIP-relative code finds their targets");
}

void lt_main(void)
{
    struct lt_kernel k = {0};
#ifdef LT_RELR
    k.name = "pie-relr";
#else
    k.name = "pie";
#endif
    k.base_tag = base_tag;
    k.asked = 3;
    k.pie = 1;
    k.elf_entry = lt_entry;
    k.entered = lt_entry;
    k.image_start = __image_start;
    k.image_end = __image_end;
    k.text_start = __image_start;
    k.text_end = __text_end;
    k.rodata_end = __rodata_end;
    k.info = &info_req, k.cmdline = &cmdline_req, k.hhdm = &hhdm_req, k.memmap = &memmap_req;
    k.exec_file = &exec_file_req, k.exec_addr = &exec_addr_req, k.rsdp = &rsdp_req;
    k.smbios = &smbios_req, k.est = &est_req, k.date = &date_req, k.efi_memmap = &efi_memmap_req;
    (void)start_marker, (void)end_marker;
    lt_check_all(&k);
#ifdef LT_RELR
    relocations_applied(1);
#else
    relocations_applied(0);
#endif
    finish();
}

void lt_main_addr_marker(void)
{
}
