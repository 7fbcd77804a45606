/*
 * preflight.h - the loader's decisions before ExitBootServices that need no firmware, as pure
 * functions (preflight.c), so tests/host/test_preflight.c checks each on the host: where a kernel
 * goes, which base revision and paging mode it gets.
 */
#ifndef PMM_PREFLIGHT_H
#define PMM_PREFLIGHT_H

#include <stdint.h>

#include "elf_image.h"

#define KERNEL_BASE  0xffffffff80000000ull /* the Limine protocol's floor for kernels */
#define KASLR_SPAN   (1ull << 30)          /* slides are drawn from [KERNEL_BASE, + 1 GiB) */
#define MAX_REVISION 6                     /* base revision 6 adds nothing on x86_64 to 5 */

/*
 * The slide of an image (virtual = link address + slide): 0 for an executable, which must lie at
 * or above KERNEL_BASE; for a position-independent one the least that lifts it to KERNEL_BASE,
 * plus, with kaslr, `random` reduced to a multiple of the image's alignment (at least 2 MiB)
 * within KASLR_SPAN. 0 and *slide, or why the image cannot be placed.
 */
const char *kernel_slide(const struct elf_image *img, int kaslr, uint64_t random, uint64_t *slide);

/* The base revision to boot with for a wanted one (6 at most: a later wish is told it was not). */
uint64_t revision_used(uint64_t wanted);

/*
 * The paging mode (LIMINE_PAGING_MODE_X86_64_*), as the Limine protocol's Paging Mode feature
 * has it: the kernel's request (has_request, mode, its max and min: request revision 0 has
 * max = mode, min = 4-level; no request means 4-level preferred and allowed, nothing more),
 * narrowed by limine.conf (-1: not set; paging_mode replaces the preference). The preference is
 * held inside [min, max] and served if the CPU has it (cpu_la57: CPUID 7.0:ECX bit 16), else the
 * highest mode in range the CPU has. The firmware's own mode has no say: the loader switches to
 * the chosen one after ExitBootServices (stubs.S, enter). 0 and *out, or why the kernel cannot
 * be booted.
 */
const char *paging_choice(int has_request, uint64_t mode, uint64_t max, uint64_t min, int conf_mode,
                          int conf_max, int conf_min, int cpu_la57, uint64_t *out);

/*
 * The paging mode the firmware left, from CR0, CR4 and EFER: 0 if the CPU is in 64-bit long mode
 * with paging, as the loader needs, or why not.
 */
const char *long_mode_check(uint64_t cr0, uint64_t cr4, uint64_t efer);

#define CR0_PG   (1ull << 31)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)

#endif
