/*
 * plain.c - the `plain` test kernel: what most Limine kernels are (limine-c-template's shape:
 * a base revision, a framebuffer, the memory map, the HHDM, in .limine_requests between the
 * markers), plus the command line for its expectations. It does not ask for the live
 * allocator, so the memory map is all it gets: usable memory must still be all the RAM the
 * allocator did not hand over (the test script compares the printed counts with the loader's).
 */
#include "lt.h"

#define REQ       __attribute__((used, section(".limine_requests"), aligned(8)))
#define REQ_START __attribute__((used, section(".limine_requests_start"), aligned(8)))
#define REQ_END   __attribute__((used, section(".limine_requests_end"), aligned(8)))

REQ_START static volatile uint64_t start_marker[4] = LT_START_MARKER;
REQ static volatile uint64_t base_tag[3] = LT_BASE_REVISION(4);
REQ static volatile struct lt_req fb_req = {LT_FRAMEBUFFER, 0, 0};
REQ static volatile struct lt_req memmap_req = {LT_MEMMAP, 0, 0};
REQ static volatile struct lt_req hhdm_req = {LT_HHDM, 0, 0};
REQ static volatile struct lt_req cmdline_req = {LT_EXEC_CMDLINE, 0, 0};
REQ_END static volatile uint64_t end_marker[2] = LT_END_MARKER;

extern const char __image_start[], __image_end[], __text_end[], __rodata_end[];

void lt_main(void)
{
    struct lt_kernel k = {0};
    k.name = "plain";
    k.base_tag = base_tag;
    k.asked = 4;
    k.elf_entry = lt_entry;
    k.entered = lt_entry;
    k.image_start = __image_start;
    k.image_end = __image_end;
    k.text_start = __image_start;
    k.text_end = __text_end;
    k.rodata_end = __rodata_end;
    k.fb = &fb_req, k.memmap = &memmap_req, k.hhdm = &hhdm_req, k.cmdline = &cmdline_req;
    (void)start_marker, (void)end_marker;
    lt_check_all(&k);
    finish();
}
