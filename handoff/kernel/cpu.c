/*
 * cpu.c - the kernel's own GDT and IDT. The firmware's tables live in boot-services memory that
 * the allocator already counts as free, so these are installed before the first allocation.
 */
#include "kernel.h"

/* clang-format off */
static const uint64_t gdt[3] = {
    0,
    0x00af9a000000ffffull, /* 0x08: 64-bit code, ring 0 */
    0x00cf92000000ffffull, /* 0x10: data */
};
/* clang-format on */

struct idt_entry {
    uint16_t off0, sel;
    uint8_t ist, flags;
    uint16_t off1;
    uint32_t off2, zero;
};
static struct idt_entry idt[32];
extern const uint64_t isr_table[32];

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

/* clang-format off */
static const char *const names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor segment", "invalid TSS",
    "segment not present", "stack fault", "general protection", "page fault", "reserved",
    "x87 floating point", "alignment check", "machine check", "SIMD floating point",
    "virtualization", "control protection", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "hypervisor injection", "VMM communication", "security", "reserved"};
/* clang-format on */

struct frame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

void exception(const struct frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    kprintf("kernel: exception %lu (%s) error=0x%lx rip=0x%016lx cr2=0x%016lx rsp=0x%lx\n",
            f->vector, names[f->vector & 31], f->error, f->rip, cr2, f->rsp);
    kexit(0);
}

void cpu_init(void)
{
    struct table_ptr g = {sizeof gdt - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "mov $0x10, %%ax\n\t"
                     "mov %%ax, %%ds\n\t"
                     "mov %%ax, %%es\n\t"
                     "mov %%ax, %%ss\n\t"
                     "mov %%ax, %%fs\n\t"
                     "mov %%ax, %%gs\n\t"
                     "pushq $0x08\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:"
                     :
                     : "m"(g)
                     : "rax", "memory");
    for (int i = 0; i < 32; i++) {
        uint64_t a = isr_table[i];
        idt[i] = (struct idt_entry){(uint16_t)a,         0x08, 0, 0x8e, (uint16_t)(a >> 16),
                                    (uint32_t)(a >> 32), 0};
    }
    struct table_ptr t = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(t));
}
