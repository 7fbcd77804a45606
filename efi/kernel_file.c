/*
 * kernel_file.c - read files (the kernel, the options) from the volume the loader was loaded from.
 */
#include "loader.h"

#define KERNEL_PATH  L"\\EFI\\pmm\\kernel.elf"
#define OPTIONS_PATH L"\\EFI\\pmm\\options"

static EFI_STATUS volume_read(EFI_HANDLE image, const CHAR16 *path, int quiet, void **data,
                              UINT64 *size);

EFI_STATUS kernel_read(EFI_HANDLE image, void **data, UINT64 *size)
{
    return volume_read(image, KERNEL_PATH, 0, data, size);
}

/* Options for this boot from \EFI\pmm\options, if there is one (format: preflight.h, README). */
EFI_STATUS options_read(EFI_HANDLE image, unsigned *flags)
{
    void *data;
    UINT64 size, line;
    *flags = 0;
    if (EFI_ERROR(volume_read(image, OPTIONS_PATH, 1, &data, &size)))
        return EFI_SUCCESS; /* no file: defaults */
    const char *why = options_parse(data, size, flags, &line);
    FreePool(data);
    if (why) {
        Print(L"loader: %s line %ld: %a; not booting with options it does not understand\n",
              OPTIONS_PATH, line, why);
        return EFI_INVALID_PARAMETER;
    }
    Print(L"loader: options: hold-boot-memory=%s\n",
          *flags & PMM_HOLD_BOOT_MEMORY ? L"on" : L"off");
    return EFI_SUCCESS;
}

static EFI_STATUS volume_read(EFI_HANDLE image, const CHAR16 *path, int quiet, void **data,
                              UINT64 *size)
{
    EFI_LOADED_IMAGE *li = NULL;
    EFI_STATUS st =
        uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle), f;
    if (!root) {
        Print(L"loader: cannot open the boot volume\n");
        return EFI_NOT_FOUND;
    }
    st = uefi_call_wrapper(root->Open, 5, root, &f, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st)) {
        if (!quiet)
            Print(L"loader: kernel file %s not found on the boot volume (%r)\n", path, st);
        return st;
    }
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        Print(L"loader: cannot read the size of %s\n", path);
        return EFI_DEVICE_ERROR;
    }
    UINTN n = (UINTN)info->FileSize;
    FreePool(info);
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, n ? n : 1, data);
    if (!EFI_ERROR(st))
        st = uefi_call_wrapper(f->Read, 3, f, &n, *data);
    uefi_call_wrapper(f->Close, 1, f);
    if (EFI_ERROR(st)) {
        Print(L"loader: reading %s failed (%r)\n", path, st);
        return st;
    }
    *size = n;
    return EFI_SUCCESS;
}
