/*
 * main.c - the uefi-pmm loader (\EFI\BOOT\BOOTX64.EFI): a Limine-protocol boot loader whose page
 * allocator the kernel can take over live.
 *
 *   GetMemoryMap -> pmm_build (metadata claimed as EfiLoaderData) -> limine.conf found and an
 *   entry chosen (config.c) -> limine_boot (boot.c): the kernel and its modules read, placed and
 *   answered from the allocator, ExitBootServices, pmm_reconcile, the jump.
 *
 * Any failure before ExitBootServices prints what went wrong, gives back what the allocator
 * claimed, and returns an error status to the firmware.
 */
#include "loader.h"

#ifdef PMM_DEBUG_WAIT
/* `make debug`: spin here until GDB, having loaded our symbols at the printed base, clears it. */
volatile int pmm_debug_wait = 1;
#endif

/* Called by gnu-efi's crt0 with the System V convention, after self-relocation. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    boot_tsc_start = rdtsc();
    InitializeLib(image, systab);
    fw_disable_watchdog();
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    Print(L"loader: %a %a, image base 0x%lx\n", LOADER_NAME, LOADER_VERSION,
          li ? (UINT64)(UINTN)li->ImageBase : 0);
#ifdef PMM_DEBUG_WAIT
    Print(L"loader: waiting for the debugger (tools/debug.sh)\n");
    while (pmm_debug_wait)
        __asm__ volatile("pause");
#endif

    struct pmm *p;
    EFI_STATUS st = fw_build_pmm(&p, L"loader");
    if (EFI_ERROR(st))
        return st;
    struct volume vol;
    static struct boot_choice choice;
    st = vol_of_image(image, &vol);
    if (!EFI_ERROR(st))
        st = config_choose(&vol, &choice);
    if (!EFI_ERROR(st))
        st = limine_boot(image, p, &choice);
    fw_release_pmm(p);
    return st;
}
