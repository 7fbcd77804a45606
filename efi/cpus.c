/*
 * cpus.c - the machine's CPUs, found before the allocator is built (its per-CPU caches are sized
 * by the count) and handed to the kernel in the handoff block.
 *
 * EFI_MP_SERVICES_PROTOCOL first: the firmware started every CPU and knows which are enabled and
 * healthy. The ACPI MADT otherwise (what an OS would read), the boot CPU alone last. The MADT is
 * read whichever source wins, and the loader's line says whether it lists the same CPUs, so every
 * boot checks the MADT reader against the firmware's own list.
 *
 * The list lives in pool memory sized by the count the firmware reports (a build replaces the
 * previous build's list). Its one limit is CPU_CAP: the allocator's PMM_MAX_CPUS caches and the
 * Limine GDT, which holds a TSS per CPU in its 8192 descriptors; past it the list keeps the BSP
 * and says how many it left out.
 */
#include "loader.h"
#include "mpservices.h"

#define CPU_CAP ((8192u - 7u) / 2u) /* the GDT's 7 fixed descriptors, then 2 per TSS */
_Static_assert(CPU_CAP <= PMM_MAX_CPUS, "every CPU listed gets a cache");

struct cpus boot_cpus;
static uint32_t bsp_only; /* the list of the boot CPU alone: no pool needed */

/* The running CPU's initial APIC ID: the x2APIC ID (leaf 0xB) where the CPU has it. */
static uint32_t my_apic_id(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] >= 0xb) {
        cpuid(0xb, 0, r);
        if (r[1] & 0xffff)
            return r[3];
    }
    cpuid(1, 0, r);
    return r[1] >> 24;
}

/* Room for up to `want` CPUs (at most CPU_CAP); 0, or why not. */
static const char *list_alloc(struct cpu_list *l, uint64_t want)
{
    SetMem(l, sizeof *l, 0);
    if (want > CPU_CAP)
        want = CPU_CAP;
    l->apic_id = AllocatePool((want ? want : 1) * sizeof *l->apic_id);
    if (!l->apic_id)
        return "no pool memory for the CPU list";
    l->cap = (uint32_t)want;
    return 0;
}

static void list_free(struct cpu_list *l)
{
    if (l->apic_id && l->apic_id != &bsp_only)
        FreePool(l->apic_id);
    SetMem(l, sizeof *l, 0);
}

/* The location of processor i, extended (PI 1.7) where the firmware answers that. */
static EFI_STATUS location(MP_SERVICES *mp, UINTN i, int *extended, struct mp_processor_info *info,
                           struct cpu_loc *loc)
{
    EFI_STATUS st = EFI_UNSUPPORTED;
    if (*extended)
        st = uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i | MP_EXTENDED_TOPOLOGY, info);
    if (*extended && EFI_ERROR(st) && i == 0)
        *extended = 0; /* older firmware: the bit made it a processor number it does not have */
    if (!*extended)
        st = uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, info);
    if (EFI_ERROR(st))
        return st;
    SetMem(loc, sizeof *loc, 0);
    if (*extended) {
        for (int k = 0; k < LOC_LEVELS; k++)
            loc->id[k] = info->Extended[k];
    } else {
        loc->id[LOC_PACKAGE] = info->Package;
        loc->id[LOC_CORE] = info->Core;
        loc->id[LOC_THREAD] = info->Thread;
    }
    return EFI_SUCCESS;
}

static const char *from_mp_services(struct cpus *c)
{
    static EFI_GUID guid = MP_SERVICES_GUID;
    struct cpu_list *l = &c->list;
    MP_SERVICES *mp = NULL;
#ifdef PMM_TEST_NO_MP_SERVICES /* build/esp-nomp.img: firmware without the protocol */
    return "no MP services protocol";
#endif
    if (EFI_ERROR(LibLocateProtocol(&guid, (void **)&mp)) || !mp)
        return "no MP services protocol";
    UINTN n = 0, enabled = 0;
    if (EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &n, &enabled)))
        return "MP services: GetNumberOfProcessors failed";
    const char *why = list_alloc(l, n);
    if (why)
        return why;
    struct cpu_loc *loc = AllocatePool((n ? n : 1) * sizeof *loc);
    int have_bsp = 0, extended = 1;
    uint32_t bsp = 0, nloc = 0;
    for (UINTN i = 0; i < n && !why; i++) {
        struct mp_processor_info info;
        struct cpu_loc where;
        if (EFI_ERROR(location(mp, i, &extended, &info, &where)))
            why = "MP services: GetProcessorInfo failed";
        else if (info.ProcessorId > 0xffffffffu)
            why = "MP services: a processor ID is not an APIC ID";
        if (why || (info.StatusFlag & (MP_STATUS_ENABLED | MP_STATUS_HEALTHY)) !=
                       (MP_STATUS_ENABLED | MP_STATUS_HEALTHY))
            continue;
        cpu_list_add(l, (uint32_t)info.ProcessorId);
        if (loc)
            loc[nloc++] = where;
        if (info.StatusFlag & MP_STATUS_BSP) {
            bsp = (uint32_t)info.ProcessorId;
            have_bsp = 1;
        }
    }
    if (loc && !why) {
        cpu_topology_count(loc, nloc, &c->topology);
        c->extended = extended;
    }
    if (loc)
        FreePool(loc);
    if (!why && !have_bsp)
        why = "MP services: no enabled processor is the BSP";
    return why ? why : cpu_list_set_bsp(l, bsp);
}

static const char *from_madt(struct cpu_list *l)
{
    uint64_t madt, at;
    const char *why = acpi_find_madt(fw_rsdp(), 0, &madt);
    const uint8_t *t = (const uint8_t *)(UINTN)madt;
    uint32_t len = 0;
    if (!why) {
        len = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
        SetMem(l, sizeof *l, 0); /* cap 0: counts, to size the list */
        why = madt_cpus(t, len, l, &at);
    }
    if (!why)
        why = list_alloc(l, l->found);
    if (!why)
        why = madt_cpus(t, len, l, &at);
    if (!why && !l->n)
        why = "MADT: no enabled CPU";
    return why ? why : cpu_list_set_bsp(l, my_apic_id());
}

static int same_cpus(const struct cpu_list *a, const struct cpu_list *b)
{
    if (a->found != b->found || a->n != b->n)
        return 0;
    for (uint32_t i = 0; i < a->n; i++) {
        uint32_t j = 0;
        while (j < b->n && b->apic_id[j] != a->apic_id[i])
            j++;
        if (j == b->n)
            return 0;
    }
    return 1;
}

void cpus_free(struct cpus *c)
{
    list_free(&c->list);
}

void cpus_find(struct cpus *c)
{
    struct cpu_list madt;
    list_free(&c->list);
    SetMem(c, sizeof *c, 0);
    SetMem(&madt, sizeof madt, 0);
    c->no_madt = from_madt(&madt);
    c->no_mp = from_mp_services(c);
    if (!c->no_mp) {
        c->list.source = PMM_CPUS_MP_SERVICES;
    } else if (!c->no_madt) {
        list_free(&c->list);
        c->list = madt;
        madt.apic_id = 0;
        c->list.source = PMM_CPUS_MADT;
    } else {
        list_free(&c->list);
        c->list.apic_id = &bsp_only;
        c->list.cap = 1;
        cpu_list_add(&c->list, my_apic_id());
        c->list.source = PMM_CPUS_BSP_ONLY;
    }
    c->madt_n = madt.found;
    c->madt_agrees = !c->no_madt && same_cpus(&c->list, &madt);
    list_free(&madt);
}

void cpus_print(const struct cpus *c)
{
    const struct cpu_list *l = &c->list;
    Print(L"loader: %d CPU%s", l->found, l->found == 1 ? L"" : L"s");
    if (l->source == PMM_CPUS_MP_SERVICES)
        Print(L" (MP services)");
    else if (l->source == PMM_CPUS_MADT)
        Print(L" (ACPI MADT; %a)", c->no_mp);
    else
        Print(L" (the boot CPU alone; %a; %a)", c->no_mp, c->no_madt);
    if (l->n < l->found)
        Print(L", %d listed", l->n);
    Print(L", BSP APIC ID %d", l->apic_id[l->bsp]);
    if (l->source == PMM_CPUS_MP_SERVICES) {
        if (c->no_madt)
            Print(L"; %a", c->no_madt);
        else if (c->madt_agrees)
            Print(L"; the ACPI MADT lists the same %d", c->madt_n);
        else
            Print(L"; the ACPI MADT lists %d, not the same", c->madt_n);
    }
    Print(L"\n");
    const struct cpu_topology *t = &c->topology;
    if (l->source != PMM_CPUS_MP_SERVICES || !t->packages)
        return;
    Print(L"loader: topology: %d package%s, ", t->packages, t->packages == 1 ? L"" : L"s");
    if (c->extended)
        Print(L"%d di%s, ", t->dies, t->dies == 1 ? L"e" : L"es");
    Print(L"%d core%s, %d thread%s (MP services%a)\n", t->cores, t->cores == 1 ? L"" : L"s",
          t->threads, t->threads == 1 ? L"" : L"s", c->extended ? ", extended location" : "");
}
