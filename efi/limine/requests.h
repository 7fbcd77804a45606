/*
 * requests.h - finding a kernel's Limine requests in its loaded image (requests.c).
 *
 * Freestanding: the loader runs it on the image it loaded and relocated; tests/host/test_requests.c
 * and tests/fuzz/fuzz_requests.c run it on any bytes.
 */
#ifndef PMM_LIMINE_REQUESTS_H
#define PMM_LIMINE_REQUESTS_H

#include <stdint.h>

/* Every request this loader knows, answered or not (docs/limine.md says which it answers). */
enum lreq {
    LREQ_BOOTLOADER_INFO,
    LREQ_EXECUTABLE_CMDLINE,
    LREQ_FIRMWARE_TYPE,
    LREQ_STACK_SIZE,
    LREQ_HHDM,
    LREQ_FRAMEBUFFER,
    LREQ_PAGING_MODE,
    LREQ_MP,
    LREQ_MEMMAP,
    LREQ_ENTRY_POINT,
    LREQ_EXECUTABLE_FILE,
    LREQ_MODULE,
    LREQ_RSDP,
    LREQ_SMBIOS,
    LREQ_EFI_SYSTEM_TABLE,
    LREQ_EFI_MEMMAP,
    LREQ_DATE_AT_BOOT,
    LREQ_EXECUTABLE_ADDRESS,
    LREQ_DTB,
    LREQ_RISCV_BSP_HARTID,
    LREQ_BOOTLOADER_PERFORMANCE,
    LREQ_KEEP_IOMMU,
    LREQ_TSC_FREQUENCY,
    LREQ_FLANTERM_FB_INIT_PARAMS,
    LREQ_ENTROPY,
    LREQ_TPM_EVENT_LOG,
    LREQ_PMM, /* include/handoff.h: the live allocator */
    LREQ_COUNT
};

#define LREQ_MAX_UNKNOWN 16

struct lreq_found {
    uint64_t *base_tag;       /* the base revision tag in the image, or 0 (revision 0) */
    uint64_t wanted_revision; /* its third word as found (0 without a tag) */
    void *req[LREQ_COUNT];    /* each request found, in the image; 0 if absent */
    uint32_t from_section;    /* 1: base revision 0's .limine_reqs list was used */
    uint32_t nunknown;        /* requests with the common magic and an ID this loader lacks */
    uint64_t unknown[LREQ_MAX_UNKNOWN][2]; /* their last two ID words (the first nunknown) */
};

/*
 * Find the requests in image[0, size), which the kernel sees at virtual address vbase (8-byte
 * aligned words; the image as loaded and relocated). Requests and the base revision tag are
 * accepted between the last start marker and the first end marker (the whole image if there is
 * none). A base revision 0 kernel whose file has a .limine_reqs section (reqs, reqs_size: its
 * virtual extent, 0 if none) lists its requests there instead: a NULL-terminated array of
 * pointers. Returns 0, or a message naming the problem (*which: the request concerned, or -1):
 * the same request twice, two base revision tags, a request that does not fit the image, an end
 * marker before the start marker, a .limine_reqs pointer outside the image.
 */
const char *lreq_scan(void *image, uint64_t size, uint64_t vbase, uint64_t reqs, uint64_t reqs_size,
                      struct lreq_found *out, int *which);

/* The feature's name, as the specification's heading has it ("HHDM", "Memory Map"). */
const char *lreq_name(int r);

/* Bytes of the request structure for this ID and request revision (what must lie in the image). */
uint64_t lreq_size(int r, uint64_t revision);

#endif
