/*
 * kernel_file.c - read the kernel from the volume the loader itself was loaded from.
 */
#include "loader.h"

#define KERNEL_PATH L"\\EFI\\pmm\\kernel.elf"

EFI_STATUS kernel_read(EFI_HANDLE image, void **data, UINT64 *size)
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
    st = uefi_call_wrapper(root->Open, 5, root, &f, KERNEL_PATH, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st)) {
        Print(L"loader: kernel file %s not found on the boot volume (%r)\n", KERNEL_PATH, st);
        return st;
    }
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        Print(L"loader: cannot read the size of %s\n", KERNEL_PATH);
        return EFI_DEVICE_ERROR;
    }
    UINTN n = (UINTN)info->FileSize;
    FreePool(info);
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, n ? n : 1, data);
    if (!EFI_ERROR(st))
        st = uefi_call_wrapper(f->Read, 3, f, &n, *data);
    uefi_call_wrapper(f->Close, 1, f);
    if (EFI_ERROR(st)) {
        Print(L"loader: reading %s failed (%r)\n", KERNEL_PATH, st);
        return st;
    }
    *size = n;
    return EFI_SUCCESS;
}
