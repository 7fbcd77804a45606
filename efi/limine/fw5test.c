/*
 * fw5test.c - for tests/qemu/la57.sh only (the fw5 loader variant calls it; other loaders carry
 * it unused). Debian's OVMF runs 4-level paging on every CPU, so a firmware that leaves the CPU
 * in 5-level cannot be booted under QEMU here; right after ExitBootServices this puts the boot
 * CPU in 5-level paging the way such a firmware would have left it, and the rest of the loader,
 * the enter stub's switch down to 4-level among it, runs from there. A PML5 whose entry 0 is
 * the firmware's PML4 keeps every address the loader uses (all below 2^47) where it was; the
 * switch is the kernel's own (handoff/kernel/la57_switch.S), run in place in the loader's text.
 */
#include "fw5test.h"

#include "la57.h"
#include "serial.h"
#include "x86.h"

#define LA57 (1ull << 12)

static uint64_t pml5[512] __attribute__((aligned(4096)));
static uint64_t area[64]; /* the switch's stack, then its parameters at the end */

void fw5test_switch(void)
{
    uint64_t cr3, cr4;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    if ((cr4 & LA57) || !cpu_has_la57() || (uint64_t)(uintptr_t)pml5 >> 32) {
        serial_puts("loader: test: cannot put the CPU in 5-level paging here\r\n");
        return;
    }
    pml5[0] = (cr3 & 0x000ffffffffff000ull) | 3; /* present, writable */
    struct la57_params *lp = (struct la57_params *)(area + 64) - 1;
    lp->cr3 = (uint64_t)(uintptr_t)pml5;
    lp->cr4 = cr4 | LA57;
    __asm__ volatile("cli" ::: "memory");
    ((void (*)(struct la57_params *))(uintptr_t)la57_switch_start)(lp);
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    serial_puts(cr4 & LA57 ? "loader: test: the CPU runs 5-level paging now, as a firmware in "
                             "5-level would have left it\r\n"
                           : "loader: test: the switch to 5-level paging did not take\r\n");
}
