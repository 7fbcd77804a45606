/*
 * rev0.c - the `rev0` test kernels: no base revision tag at all, so base revision 0, the
 * protocol's oldest: requests found by scanning the whole image (no markers), an identity map
 * from 0x1000 beside the HHDM, the HHDM over every memory-map region and the first 4 GiB, page 0
 * never usable, RSDP/SMBIOS/EFI addresses virtual.
 *
 * Built twice. rev0s (LT_REQS_SECTION) also lists its requests in a .limine_reqs section, a
 * NULL-terminated array of pointers, which base revision 0 loaders read "instead of scanning":
 * one request is left out of that list on purpose and must stay unanswered.
 */
#include "lt.h"

#define REQ __attribute__((used, aligned(8)))

REQ static volatile struct lt_req info_req = {LT_BOOTLOADER_INFO, 0, 0};
REQ static volatile struct lt_req cmdline_req = {LT_EXEC_CMDLINE, 0, 0};
REQ static volatile struct lt_req hhdm_req = {LT_HHDM, 0, 0};
REQ static volatile struct lt_req memmap_req = {LT_MEMMAP, 0, 0};
REQ static volatile struct lt_req fb_req = {LT_FRAMEBUFFER, 0, 0};
REQ static volatile struct lt_req1 stack_req = {LT_STACK_SIZE, 0, 0, 70000};
REQ static volatile struct lt_req exec_file_req = {LT_EXEC_FILE, 0, 0};
REQ static volatile struct lt_req exec_addr_req = {LT_EXEC_ADDRESS, 0, 0};
REQ static volatile struct lt_req rsdp_req = {LT_RSDP, 0, 0};
REQ static volatile struct lt_req smbios_req = {LT_SMBIOS, 0, 0};
REQ static volatile struct lt_req est_req = {LT_EFI_SYSTEM_TABLE, 0, 0};

#ifdef LT_REQS_SECTION
/* every request but info_req */
__attribute__((used, section(".limine_reqs"))) static volatile void *reqs_list[] = {
    &cmdline_req,   &hhdm_req, &memmap_req, &fb_req,  &stack_req, &exec_file_req,
    &exec_addr_req, &rsdp_req, &smbios_req, &est_req, 0};
#endif

extern const char __image_start[], __image_end[], __text_end[], __rodata_end[];

void lt_main(void)
{
    struct lt_kernel k = {0};
#ifdef LT_REQS_SECTION
    k.name = "rev0s";
    k.unlisted = &info_req;
    (void)reqs_list;
#else
    k.name = "rev0";
#endif
    k.elf_entry = lt_entry;
    k.entered = lt_entry;
    k.image_start = __image_start;
    k.image_end = __image_end;
    k.text_start = __image_start;
    k.text_end = __text_end;
    k.rodata_end = __rodata_end;
    k.info = &info_req, k.cmdline = &cmdline_req, k.hhdm = &hhdm_req, k.memmap = &memmap_req;
    k.fb = &fb_req, k.stack = &stack_req, k.exec_file = &exec_file_req;
    k.exec_addr = &exec_addr_req, k.rsdp = &rsdp_req, k.smbios = &smbios_req, k.est = &est_req;
    lt_check_all(&k);
    finish();
}
