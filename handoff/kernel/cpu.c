/*
 * cpu.c - a CPU's own GDT and IDT. The firmware's tables live in boot-services memory that the
 * allocator already counts as free, so the boot CPU installs its tables (static ones) before
 * the first allocation; each AP installs its own, in an allocator page (smp.c), as the first
 * thing it does in C.
 */
#include "kernel.h"

/* clang-format off */
static const uint64_t gdt[3] = {
    0,
    0x00af9a000000ffffull, /* 0x08: 64-bit code, ring 0 */
    0x00cf92000000ffffull, /* 0x10: data */
};
/* clang-format on */
_Static_assert(sizeof gdt == sizeof((struct cpu_tables *)0)->gdt, "GDT size");

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
    con_panic_lock();
    kprintf("kernel: exception %lu (%s) error=0x%lx rip=0x%016lx cr2=0x%016lx rsp=0x%lx", f->vector,
            names[f->vector & 31], f->error, f->rip, cr2, f->rsp);
    kprintf(" on the CPU with initial APIC ID %u\n", cpu_apic_id());
    kexit(0);
}

uint32_t cpu_apic_id(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] >= 0xb) {
        cpuid(0xb, 0, r);
        if (r[1] & 0xffff) /* the leaf is there: EDX is the whole 32-bit x2APIC ID */
            return r[3];
    }
    cpuid(1, 0, r);
    return r[1] >> 24;
}

/* A 64-bit interrupt gate: present, ring 0, to handler in the kernel's code segment. */
static void gate(uint64_t *e, uint64_t handler)
{
    e[0] = (handler & 0xffff) | 0x08ull << 16 | 0x8eull << 40 | (handler >> 16 & 0xffff) << 48;
    e[1] = handler >> 32;
}

void cpu_tables_init(struct cpu_tables *t)
{
    for (int i = 0; i < 3; i++)
        t->gdt[i] = gdt[i];
    for (int i = 0; i < 32; i++)
        gate(&t->idt[2 * i], isr_table[i]);
}

void cpu_tables_load(const struct cpu_tables *t)
{
    struct table_ptr g = {sizeof t->gdt - 1, (uint64_t)(uintptr_t)t->gdt};
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
    struct table_ptr i = {sizeof t->idt - 1, (uint64_t)(uintptr_t)t->idt};
    __asm__ volatile("lidt %0" : : "m"(i));
}

void cpu_init(void)
{
    static struct cpu_tables bsp;
    cpu_tables_init(&bsp);
    cpu_tables_load(&bsp);
}
