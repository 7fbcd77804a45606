/*
 * smp.c - start the other CPUs (APs) the handoff block lists, and run work on all of them.
 *
 * At ExitBootServices the firmware parks the APs in a loop in memory it reserves (EDK2: a
 * reserved buffer for its AP loop), which the allocator never hands out, so they can stay there
 * untouched until each gets its INIT. For each AP in turn, the boot CPU (BSP):
 *
 *   takes a page for the AP's struct cpu (its GDT and IDT) and a run for its stack from the
 *   allocator; writes the parameters into the start-up page; sends INIT, waits 10 ms, sends
 *   STARTUP, waits 200 us, and sends STARTUP again unless the AP already answered (the Intel
 *   SDM's INIT-SIPI-SIPI sequence, vol. 3A, multiple-processor initialization; a STARTUP reaches
 *   only a CPU waiting for one, so the second never restarts an AP the first started); then
 *   waits up to AP_TIMEOUT_MS for the AP to say it is up. Delays are TSC ticks calibrated
 *   against the PIT (tsc.c), never shorter than asked.
 *
 * One AP at a time, because the parameters live in one page. An AP that does not answer in time
 * is reported by APIC ID and sent INIT again, which holds it in wait-for-SIPI: it can never
 * wake later and run the trampoline with another AP's parameters (the trampoline also checks
 * the APIC ID, and parks a CPU it is not meant for). The run goes on with the others.
 *
 * The start-up page comes from the allocator, below 1 MiB (a STARTUP vector is a page number
 * below 256), as do the start-up page tables, below 4 GiB; both are freed once every AP is up or
 * given up on: from then on no CPU reads them (an AP stops using them before it says it is up,
 * and one given up on is held by INIT).
 *
 * Once up, an AP waits for work (smp_run) with PAUSE in its loop, and stops (cli; hlt) when told
 * to park. Interrupts stay off on every CPU.
 */
#include <stddef.h>

#include "kernel.h"
#include "spinlock.h"
#include "trampoline.h"

#define PG            4096ull
#define MIB           (1ull << 20)
#define STACK_PAGES   4
#define INIT_DELAY_US 10000 /* SDM: 10 ms between INIT and the first STARTUP */
#define SIPI_DELAY_US 200   /* SDM: 200 us after each STARTUP */
#define AP_TIMEOUT_MS 2000  /* then an AP that has not answered is given up on */
#define RUN_TIMEOUT_S 120   /* smp_run: a CPU that has not finished by then is reported */
#define EFER          0xc0000080u
#define EFER_NXE      (1u << 11)
#define MSR_GS_BASE   0xc0000101u
#define STR_(x)       #x
#define STR(x)        STR_(x)

enum { CPU_ABSENT, CPU_STARTING, CPU_UP, CPU_PARKED };

/*
 * One page per AP (the BSP's is static): its tables and its place in smp_run. GS base points at
 * the running CPU's own (set after its GDT is loaded: loading GS resets the base), so the index
 * is one load away (cpu_self).
 */
struct cpu {
    uint32_t index, apic_id;
    struct cpu_tables tables;
    uint32_t state;   /* CPU_* */
    uint32_t done;    /* the last smp_run generation it finished */
    uint64_t stack;   /* physical, STACK_PAGES */
    uint64_t up_tsc;  /* when it said it is up */
    uint64_t started; /* TSC ticks from INIT to up */
};
_Static_assert(sizeof(struct cpu) <= PG, "struct cpu fits its page");

static struct cpu bsp_cpu;
static struct cpu *cpus[PMM_HANDOFF_MAX_CPUS];
static uint32_t ncpus, nup;

/* smp_run's work: generation gen runs fn(index, arg) on every CPU that is up. */
static void (*work_fn)(uint32_t, void *);
static void *work_arg;
static uint32_t work_gen;

static struct spinlock pmm_lock;

static void pmm_lock_hook(void *l)
{
    spin_lock(l);
}

static void pmm_unlock_hook(void *l)
{
    spin_unlock(l);
}

/* The calling CPU's index in the handoff list. */
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

void smp_init(struct pmm *p, const struct pmm_handoff *h)
{
    bsp_cpu.index = h->bsp;
    bsp_cpu.apic_id = h->cpu_apic_id[h->bsp];
    bsp_cpu.state = CPU_UP;
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&bsp_cpu);
    int rc = pmm_set_lock(p, pmm_lock_hook, pmm_unlock_hook, &pmm_lock);
    if (!rc)
        rc = pmm_set_cpu_self(p, cpu_self, 0);
    if (rc)
        panic("cannot install the allocator's lock and CPU index: %s", pmm_strerror(rc));
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

/* The AP in C, on its own stack and the kernel's tables. */
void __attribute__((noreturn)) ap_main(struct cpu *c)
{
    cpu_tables_load(&c->tables); /* first: the GDTR still names the start-up page */
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

struct startup {
    struct pmm *p;
    uint64_t page;  /* the start-up page, below 1 MiB */
    uint64_t low;   /* the start-up PML4, PDPT and PD, below 4 GiB */
    uint32_t efer;  /* EFER bits the APs set besides LME */
    uint8_t vector; /* page >> 12 */
};

static struct tramp_params *params(const struct startup *s)
{
    return (struct tramp_params *)(uintptr_t)(HHDM + s->page + (tramp_params - tramp_start));
}

static void *zeroed(uint64_t phys)
{
    uint64_t *t = (uint64_t *)(uintptr_t)(HHDM + phys);
    for (int i = 0; i < 512; i++)
        t[i] = 0;
    return t;
}

/*
 * The start-up page and tables. The page is the trampoline; the tables map [0, 2 MiB) to itself
 * (the page is in there) with one 2 MiB page, executable, and share the kernel's PML4 entries
 * 256..511 (direct map, kernel image), so the AP reaches its stack and ap_entry64 before it
 * loads the kernel's own CR3, which may be above 4 GiB.
 */
static const char *startup_prepare(struct startup *s)
{
    int rc = pmm_alloc_run(s->p, 1, PG, MIB, &s->page);
    if (rc)
        return "no page below 1 MiB for the start-up code";
    if (s->page >> 12 < 1 || s->page >> 12 > 0xff || (s->page >= 0xa0000 && s->page < 0xc0000))
        panic("start-up page 0x%lx from a run bounded at 1 MiB cannot be a STARTUP vector",
              s->page);
    rc = pmm_alloc_run(s->p, 3, PG, 4ull << 30, &s->low);
    if (rc) {
        pmm_free(s->p, s->page);
        return "no pages below 4 GiB for the start-up page tables";
    }
    s->vector = (uint8_t)(s->page >> 12);
    uint64_t n = (uint64_t)(tramp_end - tramp_start);
    if (n > PG)
        panic("the start-up code is %lu bytes, more than its one page", n);
    const uint8_t *from = (const uint8_t *)tramp_start;
    uint8_t *to = zeroed(s->page);
    for (uint64_t i = 0; i < n; i++)
        to[i] = from[i];
    uint64_t *pml4 = zeroed(s->low), *pdpt = zeroed(s->low + PG), *pd = zeroed(s->low + 2 * PG);
    const uint64_t *kernel = (const uint64_t *)(uintptr_t)(HHDM + paging_root());
    for (int i = 256; i < 512; i++)
        pml4[i] = kernel[i];
    pml4[0] = (s->low + PG) | 0x3; /* present, writable */
    pdpt[0] = (s->low + 2 * PG) | 0x3;
    pd[0] = 0 | 0x83; /* [0, 2 MiB): present, writable, 2 MiB page */
    s->efer = (uint32_t)(rdmsr(EFER) & EFER_NXE);
    return 0;
}

static void startup_done(struct startup *s)
{
    int rc = pmm_free(s->p, s->page);
    if (!rc)
        rc = pmm_free_run(s->p, s->low, 3);
    if (rc)
        panic("cannot free the start-up page or tables: %s", pmm_strerror(rc));
}

static int answered(const struct cpu *c)
{
    return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CPU_UP;
}

/* Start CPU i; 1 if it came up. */
static int start_ap(struct startup *s, const struct pmm_handoff *h, uint32_t i)
{
    uint32_t id = h->cpu_apic_id[i], meant = id;
#ifdef PMM_SMP_TEST_MISSING
    /* tests/qemu/smpmissing.sh: the last CPU listed has an APIC ID no CPU has (a CPU that never
     * answers), and the one before it is sent parameters meant for another CPU (it must park in
     * the trampoline); both must be reported and given up on, and the run go on without them */
    if (i == ncpus - 1)
        id = 0xf0;
    if (i == ncpus - 2)
        meant = id + 0x40;
#endif
    uint64_t page, stack;
    if (pmm_alloc(s->p, &page) || pmm_alloc_run(s->p, STACK_PAGES, PG, 0, &stack)) {
        kprintf("kernel: smp: no memory for CPU %u (APIC ID %u); going on without it\n", i, id);
        return 0;
    }
    struct cpu *c = zeroed(page);
    cpu_tables_init(&c->tables);
    c->index = i;
    c->apic_id = id;
    c->stack = stack;
    c->state = CPU_STARTING;
    cpus[i] = c;
    struct tramp_params *tp = params(s);
    *tp = (struct tramp_params){
        .low_cr3 = s->low,
        .efer = s->efer,
        .kernel_cr3 = paging_root(),
        .stack = HHDM + stack + STACK_PAGES * PG,
        .entry = (uint64_t)(uintptr_t)ap_entry64,
        .arg = (uint64_t)(uintptr_t)c,
        .apic_id = meant,
    };
    uint64_t t0 = rdtsc();
    const char *why = apic_ipi(id, APIC_IPI_INIT);
    if (!why) {
        udelay(INIT_DELAY_US);
        why = apic_ipi(id, APIC_IPI_STARTUP | s->vector);
    }
    if (!why) {
        udelay(SIPI_DELAY_US);
        if (!answered(c)) {
            why = apic_ipi(id, APIC_IPI_STARTUP | s->vector);
            udelay(SIPI_DELAY_US);
        }
    }
    uint64_t end = rdtsc() + tsc_from_us(AP_TIMEOUT_MS * 1000ull);
    while (!why && !answered(c) && !__atomic_load_n(&tp->parked, __ATOMIC_ACQUIRE) && rdtsc() < end)
        cpu_relax();
    if (!why && answered(c)) {
        c->started = c->up_tsc - t0;
        return 1;
    }
    if (!why && __atomic_load_n(&tp->parked, __ATOMIC_ACQUIRE))
        why = "it ran the start-up code, found parameters meant for another CPU and parked";
    if (!why)
        why = "it did not answer within " STR(AP_TIMEOUT_MS) " ms of its STARTUP";
    apic_ipi(id, APIC_IPI_INIT); /* hold it in wait-for-SIPI: it runs nothing of ours later */
    cpus[i] = 0;
    if (pmm_free(s->p, page) || pmm_free_run(s->p, stack, STACK_PAGES))
        panic("cannot free the pages of CPU %u", i);
    kprintf("kernel: smp: CPU %u (APIC ID %u) did not come up: %s; going on without it\n", i, id,
            why);
    return 0;
}

uint32_t smp_start(struct pmm *p, const struct pmm_handoff *h)
{
    /* pmm_handoff_verify has checked the list: 1 .. 256 CPUs, bsp one of them, no ID twice */
    ncpus = h->ncpus;
    cpus[h->bsp] = &bsp_cpu;
    nup = 1;

    uint64_t bracket;
    tsc_calibrate(&bracket);
    if (tsc_from_pit())
        kprintf("kernel: smp: TSC %lu MHz (against the PIT over 20 ms; samples within %lu "
                "ticks)\n",
                tsc_hz() / 1000000, bracket);
    else
        kprintf("kernel: smp: the PIT did not answer: TSC assumed at 10 GHz, delays only "
                "lengthen\n");
    const char *why = apic_init(p);
    if (why) {
        kprintf("kernel: smp: %s; running on the boot CPU alone\n", why);
        return nup;
    }
    kprintf("kernel: smp: local APIC in %s mode%s (CPUID: x2APIC %s)\n",
            apic_x2() ? "x2APIC" : "xAPIC", apic_x2() ? "" : " at an uncached page",
            apic_x2_supported() ? "supported" : "not supported");
    if (apic_id() != bsp_cpu.apic_id)
        panic("the handoff block says the boot CPU has APIC ID %u, but this CPU's is %u",
              bsp_cpu.apic_id, apic_id());
    if (ncpus == 1)
        return nup;

    struct startup s = {.p = p};
    why = startup_prepare(&s);
    if (why) {
        kprintf("kernel: smp: %s; running on the boot CPU alone\n", why);
        return nup;
    }
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < ncpus; i++)
        if (i != h->bsp)
            nup += start_ap(&s, h, i);
    uint64_t t1 = rdtsc();
    startup_done(&s);
    kprintf("kernel: smp: %u of %u APs up in %lu ms (start-up page 0x%lx, vector 0x%x; freed)\n",
            nup - 1, ncpus - 1, tsc_to_us(t1 - t0) / 1000, s.page, s.vector);
    for (uint32_t i = 0; i < ncpus; i++)
        if (cpus[i] && i != h->bsp)
            kprintf("kernel: smp: CPU %u APIC ID %u up %lu us after its INIT, stack 0x%lx\n", i,
                    cpus[i]->apic_id, tsc_to_us(cpus[i]->started), cpus[i]->stack);
    return nup;
}

uint32_t smp_run(void (*fn)(uint32_t cpu, void *arg), void *arg)
{
    work_fn = fn;
    work_arg = arg;
    uint32_t gen = __atomic_add_fetch(&work_gen, 1, __ATOMIC_ACQ_REL);
    if (fn)
        fn(bsp_cpu.index, arg);
    uint64_t end = rdtsc() + tsc_hz() * RUN_TIMEOUT_S;
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
                    RUN_TIMEOUT_S);
    }
    return finished;
}

void smp_park(void)
{
    smp_run(0, 0);
}
