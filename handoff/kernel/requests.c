/*
 * requests.c - what the stub asks the loader for (include/limine.h, include/handoff.h), between
 * the markers, in a section of its own that the linker keeps (kernel.ld).
 */
#include "kernel.h"

#define REQ       __attribute__((used, section(".requests"), aligned(8)))
#define REQ_START __attribute__((used, section(".requests_start"), aligned(8)))
#define REQ_END   __attribute__((used, section(".requests_end"), aligned(8)))

REQ_START static volatile uint64_t start_marker[4] = LIMINE_REQUESTS_START_MARKER;
REQ volatile uint64_t base_revision[3] = LIMINE_BASE_REVISION(6);

REQ volatile struct limine_request_header hhdm_req = {LIMINE_HHDM_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header memmap_req = {LIMINE_MEMMAP_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header efi_memmap_req = {LIMINE_EFI_MEMMAP_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header fb_req = {LIMINE_FRAMEBUFFER_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header kaddr_req = {LIMINE_EXECUTABLE_ADDRESS_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header tsc_req = {LIMINE_TSC_FREQUENCY_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header info_req = {LIMINE_BOOTLOADER_INFO_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header module_req = {LIMINE_MODULE_REQUEST_ID, 0, 0};
REQ volatile struct limine_request_header cmdline_req = {LIMINE_EXECUTABLE_CMDLINE_REQUEST_ID, 0,
                                                         0};
REQ volatile struct limine_mp_request mp_req = {LIMINE_MP_REQUEST_ID, 0, 0, 0};
#ifndef PMM_TEST_NO_PAGING_REQUEST /* tests/qemu/la57.sh: a loader that leaves the mode alone */
/* 5-level where the CPU has it, 4-level otherwise: the stub runs either (paging.c) */
REQ volatile struct limine_paging_mode_request paging_req = {LIMINE_PAGING_MODE_REQUEST_ID,
                                                             1,
                                                             0,
                                                             LIMINE_PAGING_MODE_X86_64_5LVL,
                                                             LIMINE_PAGING_MODE_X86_64_5LVL,
                                                             LIMINE_PAGING_MODE_X86_64_4LVL};
#else
REQ volatile struct limine_paging_mode_request paging_req; /* no ID: not a request */
#endif
REQ volatile struct pmm_request pmm_req = {PMM_REQUEST_ID, 0, 0,
#ifdef PMM_HOLD_TEST /* tests/qemu/hold.sh: boot memory held until the kernel releases it */
                                           PMM_REQUEST_HOLD_BOOT_MEMORY
#else
                                           0
#endif
};

REQ_END static volatile uint64_t end_marker[2] = LIMINE_REQUESTS_END_MARKER;
