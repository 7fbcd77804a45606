/*
 * files.c - volumes and the files on them, named by '/'-separated ASCII paths as limine.conf
 * writes them (boot():/boot/kernel); the firmware's file protocol wants '\' and UTF-16.
 */
#include "loader.h"

/* The partition node of a device path (the last HD node), or 0. */
static HARDDRIVE_DEVICE_PATH *partition_node(EFI_DEVICE_PATH *dp)
{
    HARDDRIVE_DEVICE_PATH *hd = 0;
    for (; dp && !IsDevicePathEnd(dp); dp = NextDevicePathNode(dp))
        if (DevicePathType(dp) == MEDIA_DEVICE_PATH && DevicePathSubType(dp) == MEDIA_HARDDRIVE_DP)
            hd = (HARDDRIVE_DEVICE_PATH *)dp;
    return hd;
}

static EFI_STATUS vol_open(EFI_HANDLE h, struct volume *v)
{
    SetMem(v, sizeof *v, 0);
    v->handle = h;
    v->root = LibOpenRoot(h);
    if (!v->root)
        return EFI_NOT_FOUND;
    HARDDRIVE_DEVICE_PATH *hd = partition_node(DevicePathFromHandle(h));
    if (hd) {
        v->partition = hd->PartitionNumber;
        if (hd->SignatureType == SIGNATURE_TYPE_GUID)
            CopyMem(v->part_guid, hd->Signature, 16);
        else if (hd->SignatureType == SIGNATURE_TYPE_MBR)
            CopyMem(&v->mbr_id, hd->Signature, 4);
    }
    return EFI_SUCCESS;
}

EFI_STATUS vol_of_path(EFI_DEVICE_PATH *dp, struct volume *v, char *path, UINTN cap)
{
    EFI_HANDLE h;
    EFI_DEVICE_PATH *rest = dp;
    EFI_STATUS st = uefi_call_wrapper(BS->LocateDevicePath, 3, &FileSystemProtocol, &rest, &h);
    if (EFI_ERROR(st))
        return st;
    UINTN n = 0;
    for (; rest && !IsDevicePathEnd(rest); rest = NextDevicePathNode(rest)) {
        if (DevicePathType(rest) != MEDIA_DEVICE_PATH ||
            DevicePathSubType(rest) != MEDIA_FILEPATH_DP)
            return EFI_UNSUPPORTED;
        const CHAR16 *name = ((FILEPATH_DEVICE_PATH *)rest)->PathName;
        if (n && path[n - 1] != '/' && name[0] != L'\\')
            path[n++] = '/';
        for (; *name && n + 1 < cap; name++) {
            if (*name > 0x7e)
                return EFI_UNSUPPORTED;
            path[n++] = *name == L'\\' ? '/' : (char)*name;
        }
    }
    if (!n || n + 1 >= cap)
        return EFI_INVALID_PARAMETER;
    path[n] = 0;
    return vol_open(h, v);
}

EFI_STATUS vol_of_image(EFI_HANDLE image, struct volume *v)
{
    EFI_LOADED_IMAGE *li = NULL;
    EFI_STATUS st =
        uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    if (EFI_ERROR(st))
        return st;
    st = vol_open(li->DeviceHandle, v);
    if (EFI_ERROR(st))
        Print(L"loader: cannot open the boot volume\n");
    return st;
}

/* Byte length of the device path up to (not including) its partition node; 0 if it has none. */
static UINTN disk_prefix(EFI_DEVICE_PATH *dp)
{
    HARDDRIVE_DEVICE_PATH *hd = partition_node(dp);
    return hd ? (UINTN)((UINT8 *)hd - (UINT8 *)dp) : 0;
}

EFI_STATUS vol_partition(const struct volume *v, UINT32 n, struct volume *out)
{
    if (n == 0 || n == v->partition) {
        *out = *v;
        return EFI_SUCCESS;
    }
    EFI_DEVICE_PATH *mine = DevicePathFromHandle(v->handle);
    UINTN len = mine ? disk_prefix(mine) : 0;
    if (!len)
        return EFI_NOT_FOUND; /* not on a partitioned disk: there is no partition n */
    UINTN count = 0;
    EFI_HANDLE *hs = 0;
    EFI_STATUS st = LibLocateHandle(ByProtocol, &FileSystemProtocol, NULL, &count, &hs);
    if (EFI_ERROR(st))
        return st;
    st = EFI_NOT_FOUND;
    for (UINTN i = 0; i < count; i++) {
        EFI_DEVICE_PATH *dp = DevicePathFromHandle(hs[i]);
        HARDDRIVE_DEVICE_PATH *hd = dp ? partition_node(dp) : 0;
        if (hd && hd->PartitionNumber == n && disk_prefix(dp) == len &&
            !CompareMem(dp, mine, len)) {
            st = vol_open(hs[i], out);
            break;
        }
    }
    FreePool(hs);
    return st;
}

/* "/a/b" -> L"\\a\\b", in a buffer of cap characters. 0 if it does not fit or is not ASCII. */
static int path16(const char *path, CHAR16 *out, UINTN cap)
{
    UINTN i = 0;
    for (; path[i]; i++) {
        if (i + 1 >= cap || (unsigned char)path[i] > 0x7e)
            return 0;
        out[i] = path[i] == '/' ? L'\\' : (CHAR16)path[i];
    }
    out[i] = 0;
    return 1;
}

static EFI_STATUS open_file(const struct volume *v, const char *path, int quiet, EFI_FILE_HANDLE *f,
                            UINT64 *size)
{
    CHAR16 p16[512];
    if (!path16(path, p16, 512)) {
        Print(L"loader: path %a is too long or not ASCII\n", path);
        return EFI_INVALID_PARAMETER;
    }
    EFI_STATUS st = uefi_call_wrapper(v->root->Open, 5, v->root, f, p16, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st)) {
        if (!quiet)
            Print(L"loader: file %a not found on the volume (%r)\n", path, st);
        return st;
    }
    EFI_FILE_INFO *info = LibFileInfo(*f);
    if (!info) {
        uefi_call_wrapper((*f)->Close, 1, *f);
        Print(L"loader: cannot read the size of %a\n", path);
        return EFI_DEVICE_ERROR;
    }
    *size = info->FileSize;
    int dir = (info->Attribute & EFI_FILE_DIRECTORY) != 0;
    FreePool(info);
    if (dir) {
        uefi_call_wrapper((*f)->Close, 1, *f);
        Print(L"loader: %a is a directory, not a file\n", path);
        return EFI_INVALID_PARAMETER;
    }
    return EFI_SUCCESS;
}

static EFI_STATUS read_into(EFI_FILE_HANDLE f, const char *path, void *buf, UINT64 size)
{
    UINTN n = size;
    EFI_STATUS st = uefi_call_wrapper(f->Read, 3, f, &n, buf);
    uefi_call_wrapper(f->Close, 1, f);
    if (!EFI_ERROR(st) && n != size)
        st = EFI_END_OF_FILE;
    if (EFI_ERROR(st))
        Print(L"loader: reading %a failed (%r)\n", path, st);
    return st;
}

EFI_STATUS vol_read(const struct volume *v, const char *path, int quiet, void **data, UINT64 *size)
{
    EFI_FILE_HANDLE f;
    EFI_STATUS st = open_file(v, path, quiet, &f, size);
    if (EFI_ERROR(st))
        return st;
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, *size ? *size : 1, data);
    if (EFI_ERROR(st)) {
        uefi_call_wrapper(f->Close, 1, f);
        Print(L"loader: no memory for %a (%ld bytes)\n", path, *size);
        return st;
    }
    st = read_into(f, path, *data, *size);
    if (EFI_ERROR(st))
        FreePool(*data);
    return st;
}

EFI_STATUS vol_read_pages(const struct volume *v, struct pmm *p, const char *path, UINT64 *phys,
                          UINT64 *pages, UINT64 *size)
{
    EFI_FILE_HANDLE f;
    EFI_STATUS st = open_file(v, path, 0, &f, size);
    if (EFI_ERROR(st))
        return st;
    *pages = *size ? (*size + 4095) / 4096 : 1;
    int rc = pmm_alloc_run(p, *pages, 4096, 0, phys);
    if (rc) {
        uefi_call_wrapper(f->Close, 1, f);
        Print(L"loader: no memory for %a (%ld pages): %a\n", path, *pages, pmm_strerror(rc));
        return EFI_OUT_OF_RESOURCES;
    }
    UINT8 *d = (UINT8 *)(UINTN)*phys;
    SetMem(d + *size, *pages * 4096 - *size, 0); /* the tail of the last page is the file's too */
    st = read_into(f, path, d, *size);
    if (EFI_ERROR(st))
        pmm_free_run(p, *phys, *pages);
    return st;
}
