/*
 * future.c - the `future` test kernel: asks for base revision 99, which no loader supports.
 * The specification: the loader may boot it with any revision it has, but then must leave the
 * tag's third word unchanged, must use at least base revision 3 and must write the revision it
 * used into the second word. Everything else is then checked against the revision used.
 */
#include "lt.h"

#define REQ       __attribute__((used, section(".requests"), aligned(8)))
#define REQ_START __attribute__((used, section(".requests_start"), aligned(8)))
#define REQ_END   __attribute__((used, section(".requests_end"), aligned(8)))

REQ_START static volatile uint64_t start_marker[4] = LT_START_MARKER;
REQ static volatile uint64_t base_tag[3] = LT_BASE_REVISION(99);
REQ static volatile struct lt_req info_req = {LT_BOOTLOADER_INFO, 0, 0};
REQ static volatile struct lt_req cmdline_req = {LT_EXEC_CMDLINE, 0, 0};
REQ static volatile struct lt_req hhdm_req = {LT_HHDM, 0, 0};
REQ static volatile struct lt_req memmap_req = {LT_MEMMAP, 0, 0};
REQ static volatile struct lt_req exec_file_req = {LT_EXEC_FILE, 0, 0};
REQ static volatile struct lt_req exec_addr_req = {LT_EXEC_ADDRESS, 0, 0};
REQ static volatile struct lt_req rsdp_req = {LT_RSDP, 0, 0};
REQ static volatile struct lt_req smbios_req = {LT_SMBIOS, 0, 0};
REQ static volatile struct lt_req est_req = {LT_EFI_SYSTEM_TABLE, 0, 0};
REQ static volatile struct lt_req1 mp_req = {LT_MP, 0, 0, 0};
REQ static volatile struct lt_req tsc_req = {LT_TSC_FREQUENCY, 0, 0};
REQ_END static volatile uint64_t end_marker[2] = LT_END_MARKER;

extern const char __image_start[], __image_end[], __text_end[], __rodata_end[];

void lt_main(void)
{
    struct lt_kernel k = {0};
    k.name = "future";
    k.base_tag = base_tag;
    k.asked = 99;
    k.elf_entry = lt_entry;
    k.entered = lt_entry;
    k.image_start = __image_start;
    k.image_end = __image_end;
    k.text_start = __image_start;
    k.text_end = __text_end;
    k.rodata_end = __rodata_end;
    k.info = &info_req, k.cmdline = &cmdline_req, k.hhdm = &hhdm_req, k.memmap = &memmap_req;
    k.exec_file = &exec_file_req, k.exec_addr = &exec_addr_req, k.rsdp = &rsdp_req;
    k.smbios = &smbios_req, k.est = &est_req, k.mp = &mp_req, k.tsc = &tsc_req;
    (void)start_marker, (void)end_marker;
    lt_check_all(&k);
    lt_check_mp(&k);
    finish();
}
