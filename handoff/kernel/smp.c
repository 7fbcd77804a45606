/*
 * smp.c - the other CPUs (APs), which the loader started and parked (Limine MP feature).
 *
 * Each AP waits in the loader's parking loop, on the loader's page tables and its own loader
 * stack, for its struct limine_mp_info's goto_address. For each listed AP the BSP takes a page
 * for the AP's struct cpu (its GDT and IDT) and a run for its stack from the allocator, puts the
 * struct's address in extra_argument and stores ap_entry into goto_address (a release store: the
 * AP reads everything written before it). The AP arrives in ap_entry with RDI = its mp_info; it
 * loads the kernel's page tables, then its own GDT, IDT and stack, says it is up and waits for
 * work (smp_run) with PAUSE in its loop, and stops (cli; hlt) when told to park. Interrupts stay
 * off on every CPU. Once every AP has answered (or AP_TIMEOUT_MS passed), no CPU runs on the
 * loader's tables or stacks any more, and main.c frees them (paging_done).
 */
#include <stddef.h>

#include "kernel.h"

#define PG              4096ull
#define STACK_PAGES     4
#define AP_TIMEOUT_MS   2000 /* then an AP that has not answered is given up on */
#define RUN_TIMEOUT_S   120  /* smp_run: a CPU that has not finished by then is reported ... */
#define RUN_TIMEOUT_CPU 5 /* ... plus this per CPU up: on an overcommitted host they take turns */
#define MSR_GS_BASE     0xc0000101u

enum { CPU_ABSENT, CPU_STARTING, CPU_UP, CPU_PARKED };

/*
 * One page per AP (the BSP's is static): its tables and its place in smp_run. GS base points at
 * the running CPU's own (set after its GDT is loaded: loading GS resets the base), so the index
 * is one load away (cpu_self).
 */
struct cpu {
    uint32_t index, apic_id;
    struct cpu_tables tables;
    uint32_t state;  /* CPU_* */
    uint32_t done;   /* the last smp_run generation it finished */
    uint64_t stack;  /* physical, STACK_PAGES */
    uint64_t up_tsc; /* when it said it is up */
};
_Static_assert(sizeof(struct cpu) <= PG, "struct cpu fits its page");

static struct cpu bsp_cpu;
static struct cpu **cpus; /* [ncpus], by the allocator's index; in allocator pages (smp_init) */
static uint32_t ncpus, nup;

static void (*work_fn)(uint32_t, void *);
static void *work_arg;
static uint32_t work_gen;

/* The calling CPU's index in the allocator's list. */
static uint32_t cpu_self(void *ctx)
{
    (void)ctx;
    uint32_t index;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(index) : "i"(offsetof(struct cpu, index)));
    return index;
}

uint32_t smp_this_cpu(void)
{
    return cpu_self(0);
}

void smp_init(struct pmm *p)
{
    const struct pmm_response *r = boot.pmm;
    ncpus = (uint32_t)r->cpu_count; /* pmm_response_verify: at most PMM_MAX_CPUS */
    uint64_t table, pages = ((uint64_t)ncpus * sizeof *cpus + PG - 1) / PG;
    int err = pmm_alloc_run(p, pages, PG, 0, &table);
    if (err)
        panic("no %lu pages for the table of %u CPUs: %s", pages, ncpus, pmm_strerror(err));
    cpus = (struct cpu **)(uintptr_t)(HHDM + table);
    for (uint32_t i = 0; i < ncpus; i++)
        cpus[i] = 0;
    bsp_cpu.index = r->bsp;
    bsp_cpu.apic_id = r->cpus[r->bsp].lapic_id;
    bsp_cpu.state = CPU_UP;
    cpus[r->bsp] = &bsp_cpu;
    nup = 1;
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&bsp_cpu);
    /* pmm_adopt made the state concurrent: no lock; pmm_alloc and pmm_free use this CPU's
     * cache once they can tell which CPU calls them. */
    int rc = pmm_set_cpu_self(p, cpu_self, 0);
    if (rc)
        panic("cannot install the allocator's CPU index: %s", pmm_strerror(rc));
}

uint32_t smp_cpus_listed(void)
{
    return ncpus;
}

uint32_t smp_cpus_up(void)
{
    return nup;
}

int smp_cpu_up(uint32_t index)
{
    return index < ncpus && cpus[index] &&
           __atomic_load_n(&cpus[index]->state, __ATOMIC_ACQUIRE) == CPU_UP;
}

uint32_t smp_apic_id(uint32_t index)
{
    return index < ncpus && cpus[index] ? cpus[index]->apic_id : 0;
}

void __attribute__((noreturn)) ap_main(struct cpu *c);
void __attribute__((noreturn)) ap_main(struct cpu *c)
{
    cpu_tables_load(&c->tables);
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
    uint32_t seen = __atomic_load_n(&work_gen, __ATOMIC_ACQUIRE); /* work from before is not ours */
    c->up_tsc = rdtsc();
    __atomic_store_n(&c->state, CPU_UP, __ATOMIC_RELEASE);
    for (;;) {
        uint32_t gen = __atomic_load_n(&work_gen, __ATOMIC_ACQUIRE);
        if (gen == seen) {
            cpu_relax();
            continue;
        }
        seen = gen;
        void (*fn)(uint32_t, void *) = work_fn;
        if (!fn)
            break;
        fn(c->index, work_arg);
        __atomic_store_n(&c->done, gen, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&c->state, CPU_PARKED, __ATOMIC_RELEASE);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Where goto_address sends an AP: on the loader's stack and tables; onto the kernel's, now. */
static void __attribute__((noreturn)) ap_entry(struct limine_mp_info *info)
{
    struct cpu *c = (struct cpu *)(uintptr_t)info->extra_argument;
    paging_mode_ap(); /* into the kernel's paging mode first, if it switched itself (la57.c) */
    __asm__ volatile("mov %0, %%cr3\n\t"
                     "mov %1, %%rsp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "call ap_main\n\t"
                     "ud2"
                     :
                     : "r"(paging_root()), "r"(HHDM + c->stack + STACK_PAGES * PG), "D"(c)
                     : "memory");
    __builtin_unreachable();
}

static void *zeroed(uint64_t phys)
{
    uint64_t *t = (uint64_t *)(uintptr_t)(HHDM + phys);
    for (int i = 0; i < 512; i++)
        t[i] = 0;
    return t;
}

static int answered(const struct cpu *c)
{
    return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CPU_UP;
}

uint32_t smp_start(struct pmm *p)
{
    const struct pmm_response *r = boot.pmm;
    struct limine_mp_response *mp = boot.mp;
    if (!mp) {
        kprintf("kernel: smp: the loader did not start the APs; the boot CPU alone\n");
        return nup;
    }
    kprintf("kernel: smp: %lu CPUs parked by the loader, BSP APIC ID %u%s\n", mp->cpu_count,
            mp->bsp_lapic_id, mp->flags & LIMINE_MP_RESPONSE_X86_64_X2APIC ? ", x2APIC" : "");
    uint64_t t0 = rdtsc();
    for (uint64_t k = 0; k < mp->cpu_count; k++) {
        struct limine_mp_info *info = mp->cpus[k];
        if (info->lapic_id == mp->bsp_lapic_id)
            continue;
        uint32_t i = 0; /* its index: the allocator's list has every CPU, by APIC ID */
        while (i < ncpus && r->cpus[i].lapic_id != info->lapic_id)
            i++;
        if (i == ncpus) {
            kprintf("kernel: smp: APIC ID %u is parked but not in the allocator's list\n",
                    info->lapic_id);
            continue;
        }
        uint64_t page, stack;
        if (pmm_alloc(p, &page) || pmm_alloc_run(p, STACK_PAGES, PG, 0, &stack)) {
            kprintf("kernel: smp: no memory for CPU %u; going on without it\n", i);
            continue;
        }
        struct cpu *c = zeroed(page);
        cpu_tables_init(&c->tables);
        c->index = i;
        c->apic_id = info->lapic_id;
        c->stack = stack;
        c->state = CPU_STARTING;
        cpus[i] = c;
        info->extra_argument = (uint64_t)(uintptr_t)c;
        __atomic_store_n(&info->goto_address, ap_entry, __ATOMIC_RELEASE);
    }
    uint64_t end = rdtsc() + tsc_from_us(AP_TIMEOUT_MS * 1000ull);
    for (uint32_t i = 0; i < ncpus; i++) {
        struct cpu *c = cpus[i];
        if (!c || c == &bsp_cpu)
            continue;
        while (!answered(c) && rdtsc() < end)
            cpu_relax();
        if (answered(c)) {
            nup++;
            continue;
        }
        /* never seen alive: its page and stack stay allocated, it may still run one day */
        cpus[i] = 0;
        kprintf("kernel: smp: CPU %u (APIC ID %u) did not answer its goto_address within %u ms; "
                "going on without it\n",
                i, c->apic_id, AP_TIMEOUT_MS);
    }
    uint64_t t1 = rdtsc();
    kprintf("kernel: smp: %u of %u CPUs up in %lu ms (released through goto_address)\n", nup, ncpus,
            tsc_to_us(t1 - t0) / 1000);
    for (uint32_t i = 0; i < ncpus; i++)
        if (cpus[i] && cpus[i] != &bsp_cpu)
            kprintf("kernel: smp: CPU %u APIC ID %u up %lu us after its release, stack 0x%lx\n", i,
                    cpus[i]->apic_id, tsc_to_us(cpus[i]->up_tsc - t0), cpus[i]->stack);
    return nup;
}

uint32_t smp_run(void (*fn)(uint32_t cpu, void *arg), void *arg)
{
    work_fn = fn;
    work_arg = arg;
    uint32_t gen = __atomic_add_fetch(&work_gen, 1, __ATOMIC_ACQ_REL);
    if (fn)
        fn(bsp_cpu.index, arg);
    uint32_t timeout_s = RUN_TIMEOUT_S + RUN_TIMEOUT_CPU * nup;
    uint64_t end = rdtsc() + tsc_hz() * timeout_s;
    uint32_t finished = fn ? 1 : 0;
    for (uint32_t i = 0; i < ncpus; i++) {
        struct cpu *c = cpus[i];
        if (!c || c == &bsp_cpu)
            continue;
        int ok;
        while (!(ok = fn ? __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) == gen
                         : __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CPU_PARKED) &&
               rdtsc() < end)
            cpu_relax();
        if (ok)
            finished++;
        else
            kprintf("kernel: smp: CPU %u (APIC ID %u) did not finish within %u s\n", i, c->apic_id,
                    timeout_s);
    }
    return finished;
}

void smp_park(void)
{
    smp_run(0, 0);
}
