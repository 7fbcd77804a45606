/*
 * cpus.c - the machine's CPUs, found before the allocator is built (its per-CPU caches are sized
 * by the count) and handed to the kernel in the handoff block.
 *
 * EFI_MP_SERVICES_PROTOCOL first: the firmware started every CPU and knows which are enabled and
 * healthy. The ACPI MADT otherwise (what an OS would read), the boot CPU alone last. The MADT is
 * read whichever source wins, and the loader's line says whether it lists the same CPUs, so every
 * boot checks the MADT reader against the firmware's own list.
 */
#include "loader.h"
#include "mpservices.h"

struct cpus boot_cpus;

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

static const char *from_mp_services(struct cpu_list *l)
{
    static EFI_GUID guid = MP_SERVICES_GUID;
    MP_SERVICES *mp = NULL;
#ifdef PMM_TEST_NO_MP_SERVICES /* build/esp-nomp.img: firmware without the protocol */
    return "no MP services protocol";
#endif
    if (EFI_ERROR(LibLocateProtocol(&guid, (void **)&mp)) || !mp)
        return "no MP services protocol";
    UINTN n = 0, enabled = 0;
    if (EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &n, &enabled)))
        return "MP services: GetNumberOfProcessors failed";
    int have_bsp = 0;
    uint32_t bsp = 0;
    for (UINTN i = 0; i < n; i++) {
        struct mp_processor_info info;
        if (EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, &info)))
            return "MP services: GetProcessorInfo failed";
        if (info.ProcessorId > 0xffffffffu)
            return "MP services: a processor ID is not an APIC ID";
        if ((info.StatusFlag & (MP_STATUS_ENABLED | MP_STATUS_HEALTHY)) !=
            (MP_STATUS_ENABLED | MP_STATUS_HEALTHY))
            continue;
        cpu_list_add(l, (uint32_t)info.ProcessorId);
        if (info.StatusFlag & MP_STATUS_BSP) {
            bsp = (uint32_t)info.ProcessorId;
            have_bsp = 1;
        }
    }
    if (!have_bsp)
        return "MP services: no enabled processor is the BSP";
    return cpu_list_set_bsp(l, bsp);
}

static const char *from_madt(struct cpu_list *l)
{
    uint64_t madt, at;
    const char *why = acpi_find_madt(fw_rsdp(), 0, &madt);
    if (!why) {
        const uint8_t *t = (const uint8_t *)(UINTN)madt;
        uint32_t len =
            (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
        why = madt_cpus(t, len, l, &at);
    }
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

void cpus_find(struct cpus *c)
{
    static struct cpu_list madt; /* 1 KiB: not on the firmware's stack */
    SetMem(c, sizeof *c, 0);
    SetMem(&madt, sizeof madt, 0);
    c->no_madt = from_madt(&madt);
    c->no_mp = from_mp_services(&c->list);
    if (!c->no_mp) {
        c->list.source = PMM_CPUS_MP_SERVICES;
    } else if (!c->no_madt) {
        c->list = madt;
        c->list.source = PMM_CPUS_MADT;
    } else {
        SetMem(&c->list, sizeof c->list, 0);
        cpu_list_add(&c->list, my_apic_id());
        c->list.source = PMM_CPUS_BSP_ONLY;
    }
    c->madt_n = madt.found;
    c->madt_agrees = !c->no_madt && same_cpus(&c->list, &madt);
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
}
