/*
 * arrival.c - the first thing the stub does with what the loader left: the paging mode it runs
 * (CR4.LA57), and every Limine response it builds on checked (handoff/limine_verify.c) before
 * any of them is used: HHDM, Paging Mode, memory map, framebuffers, Executable Address. A
 * refusal names the field and fails the run (panic: COM1, isa-debug-exit).
 */
#include "kernel.h"
#include "limine_verify.h"

extern volatile struct limine_request_header hhdm_req, memmap_req, fb_req, kaddr_req;
extern volatile struct limine_paging_mode_request paging_req;
extern const char __image_start[], __image_end[];

static void refuse(const char *why)
{
    if (why)
        panic("Limine response refused: %s", why);
}

void arrival(void)
{
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    unsigned levels = (cr4 & (1ull << 12)) ? 5 : 4;
    struct limine_hhdm_response *h = hhdm_req.response;
    struct limine_memmap_response *m = memmap_req.response;
    struct limine_executable_address_response *k = kaddr_req.response;
    if (!h || !m || !k)
        panic("the loader answered no %s request", !h   ? "HHDM"
                                                   : !m ? "memory map"
                                                        : "executable address");
    refuse(lv_hhdm(h->offset, levels));
    uint64_t hhdm = h->offset, top, image = (uint64_t)(__image_end - __image_start);
    refuse(lv_paging_mode(paging_req.response, levels));
    refuse(lv_memmap(m, hhdm, &top));
    refuse(lv_framebuffers(fb_req.response, hhdm, m));
    refuse(lv_executable(k, image, hhdm, top));
    if (k->virtual_base != (uint64_t)(uintptr_t)__image_start)
        panic("the Executable Address response says 0x%lx, the kernel runs at 0x%lx",
              k->virtual_base, (uint64_t)(uintptr_t)__image_start);
    boot.hhdm = hhdm;
    boot.levels = levels;
    boot.memmap = m->entries;
    boot.memmap_count = m->entry_count;
    boot.kernel_phys = k->physical_base;
    boot.kernel_virt = k->virtual_base;
    boot.kernel_pages = image / 4096;
}
