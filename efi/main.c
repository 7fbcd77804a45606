/*
 * main.c - the uefi-pmm loader (\EFI\BOOT\BOOTX64.EFI).
 *
 *   GetMemoryMap -> pmm_build (metadata claimed as EfiLoaderData) -> read \EFI\pmm\kernel.elf ->
 *   boot_kernel (boot.c): check it, allocate its memory from the allocator, ExitBootServices,
 *   pmm_reconcile, jump (transition.c).
 *
 * Any failure before ExitBootServices prints what went wrong, gives back what the allocator
 * claimed, and returns an error status to the firmware.
 */
#include "loader.h"

#ifdef PMM_DEBUG_WAIT
/* `make debug`: spin here until GDB, having loaded our symbols at the printed base, clears it. */
volatile int pmm_debug_wait = 1;
#endif

UINT64 boot_tsc_start;

/* Called by gnu-efi's crt0 with the System V convention, after self-relocation. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    boot_tsc_start = rdtsc();
    InitializeLib(image, systab);
    fw_disable_watchdog();
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    Print(L"loader: uefi-pmm, image base 0x%lx\n", li ? (UINT64)(UINTN)li->ImageBase : 0);
#ifdef PMM_DEBUG_WAIT
    Print(L"loader: waiting for the debugger (tools/debug.sh)\n");
    while (pmm_debug_wait)
        __asm__ volatile("pause");
#endif

    struct pmm *p;
    EFI_STATUS st = fw_build_pmm(&p, L"loader");
    if (EFI_ERROR(st))
        return st;
    void *file;
    UINT64 fsize;
    unsigned flags;
    st = options_read(image, &flags);
    if (!EFI_ERROR(st))
        st = kernel_read(image, &file, &fsize);
    if (!EFI_ERROR(st)) {
        st = boot_kernel(image, p, file, fsize, flags);
        FreePool(file);
    }
    fw_release_pmm(p);
    return st;
}
