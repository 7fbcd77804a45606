/*
 * preflight.h - what the loader refuses before ExitBootServices, as pure functions (preflight.c):
 * no firmware calls, so tests/host/test_preflight.c checks every decision on the host.
 */
#ifndef PMM_PREFLIGHT_H
#define PMM_PREFLIGHT_H

#include <stdint.h>

#include "elf_image.h"

/*
 * The options file, \EFI\pmm\options: lines of `key = value`, `#` starts a comment, blank lines
 * and white space around key and value are ignored. Keys:
 *   hold-boot-memory = on | off    (PMM_HOLD_BOOT_MEMORY; default off)
 * Returns 0 and sets *flags, or a message naming the problem with *line its line number (1-based);
 * *flags is then unchanged.
 */
const char *options_parse(const char *text, uint64_t size, unsigned *flags, uint64_t *line);

/*
 * The kernel's virtual extent and entry (from elf_check) in canonical 48-bit addresses, not
 * crossing the non-canonical hole: 0, or why not. Under 4-level paging bits 63..47 of an address
 * must be equal; a page table index computed from any other address maps somewhere else.
 */
const char *kernel_addresses_check(const struct elf_image *img);

/*
 * The paging mode the firmware left, from CR0, CR4 and EFER: 0 if the loader's 4-level transition
 * tables can be loaded into CR3 as they are, or why not. Under 5-level paging (CR4.LA57) CR3 must
 * point to a PML5, and LA57 cannot be turned off in long mode.
 */
const char *paging_mode_check(uint64_t cr0, uint64_t cr4, uint64_t efer);

#define CR0_PG   (1ull << 31)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)

#endif
