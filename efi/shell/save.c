/*
 * save.c - `pmm save [-f] FILE`: the firmware's memory map as text for the host simulator.
 *
 * The text is the Linux efi=debug numeric format, which tools/mapfile.c (and so pmmsim) reads:
 * type numbers and attributes exactly as the firmware gave them. FILE is written as FILE.new
 * first; only when that write has fully succeeded does an existing FILE (replaced only with -f)
 * make way and FILE.new take its name. A failed write leaves FILE as it was.
 */
#include "shell.h"

/* The map as ASCII lines; *len bytes, from AllocatePool. */
static CHAR8 *map_text(UINTN *len, UINTN *ndesc)
{
    struct fwmap m;
    if (EFI_ERROR(map_read(&m)))
        return NULL;
    UINTN n = m.size / m.desc_size, cap = 160 * (n + 2);
    CHAR8 *text = AllocatePool(cap);
    CHAR16 line[160];
    *len = 0;
    *ndesc = n;
    UnicodeSPrint(line, sizeof line,
                  L"# uefi-pmm: memory map saved by `pmm save`; DescriptorSize=%ld version=%d\n",
                  m.desc_size, m.desc_version);
    for (UINTN i = 0; text && i <= n; i++) {
        if (i > 0) {
            EFI_MEMORY_DESCRIPTOR *d =
                (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)m.buf + (i - 1) * m.desc_size);
            UnicodeSPrint(
                line, sizeof line,
                L"efi: mem%02ld: type=%d, attr=0x%lx, range=[0x%016lx-0x%016lx) (%ldMB)\n", i - 1,
                d->Type, d->Attribute, d->PhysicalStart, d->PhysicalStart + d->NumberOfPages * 4096,
                d->NumberOfPages >> 8);
        }
        for (CHAR16 *q = line; *q && *len < cap; q++)
            text[(*len)++] = (CHAR8)*q;
    }
    return text;
}

static int exists(EFI_SHELL_PROTOCOL *sh, const CHAR16 *path)
{
    SHELL_FILE_HANDLE fh;
    if (EFI_ERROR(uefi_call_wrapper(sh->OpenFileByName, 3, path, &fh, EFI_FILE_MODE_READ)))
        return 0;
    uefi_call_wrapper(sh->CloseFile, 1, fh);
    return 1;
}

/* Write all of text to a new file at path (an old one of that name is ours: FILE.new). */
static EFI_STATUS write_new(EFI_SHELL_PROTOCOL *sh, const CHAR16 *path, CHAR8 *text, UINTN len)
{
    SHELL_FILE_HANDLE fh;
    uefi_call_wrapper(sh->DeleteFileByName, 1, path);
    EFI_STATUS st =
        uefi_call_wrapper(sh->OpenFileByName, 3, path, &fh,
                          EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE);
    if (EFI_ERROR(st))
        return st;
    UINTN size = len;
    st = uefi_call_wrapper(sh->WriteFile, 3, fh, &size, text);
    if (!EFI_ERROR(st) && size != len)
        st = EFI_VOLUME_FULL;
    if (!EFI_ERROR(st))
        st = uefi_call_wrapper(sh->FlushFile, 1, fh);
    if (EFI_ERROR(st)) {
        uefi_call_wrapper(sh->DeleteFile, 1, fh); /* closes it too */
        return st;
    }
    return uefi_call_wrapper(sh->CloseFile, 1, fh);
}

/* Rename the file at from to the last component of to (same directory). */
static EFI_STATUS rename_file(EFI_SHELL_PROTOCOL *sh, const CHAR16 *from, const CHAR16 *to)
{
    const CHAR16 *base = to;
    for (const CHAR16 *p = to; *p; p++)
        if (*p == L'\\' || *p == L':' || *p == L'/')
            base = p + 1;
    SHELL_FILE_HANDLE fh;
    EFI_STATUS st = uefi_call_wrapper(sh->OpenFileByName, 3, from, &fh,
                                      EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_INFO *old = uefi_call_wrapper(sh->GetFileInfo, 1, fh);
    UINTN size = SIZE_OF_EFI_FILE_INFO + (StrLen(base) + 1) * sizeof(CHAR16);
    EFI_FILE_INFO *info = old ? AllocateZeroPool(size) : NULL;
    if (info) {
        CopyMem(info, old, SIZE_OF_EFI_FILE_INFO);
        info->Size = size;
        StrCpy(info->FileName, base);
        st = uefi_call_wrapper(sh->SetFileInfo, 2, fh, info);
    } else {
        st = EFI_OUT_OF_RESOURCES;
    }
    if (old)
        FreePool(old);
    if (info)
        FreePool(info);
    EFI_STATUS cl = uefi_call_wrapper(sh->CloseFile, 1, fh);
    return EFI_ERROR(st) ? st : cl;
}

SHELL_STATUS save_map(struct cmd *c, const CHAR16 *path, int replace)
{
    EFI_SHELL_PROTOCOL *sh = c->shell;
    if (!sh) {
        err(c, L"pmm save: needs the UEFI shell's file access\n");
        return SHELL_UNSUPPORTED;
    }
    int had = exists(sh, path);
    if (had && !replace) {
        err(c, L"pmm save: %s exists; `pmm save -f %s` replaces it\n", path, path);
        return SHELL_ACCESS_DENIED;
    }
    UINTN len = 0, n = 0;
    CHAR8 *text = map_text(&len, &n);
    if (!text) {
        err(c, L"pmm save: cannot read the memory map\n");
        return SHELL_DEVICE_ERROR;
    }
    UINTN plen = StrLen(path);
    CHAR16 *tmp = AllocatePool((plen + 5) * sizeof(CHAR16));
    EFI_STATUS st = tmp ? EFI_SUCCESS : EFI_OUT_OF_RESOURCES;
    if (tmp) {
        StrCpy(tmp, path);
        StrCat(tmp, L".new");
        st = write_new(sh, tmp, text, len);
    }
    FreePool(text);
    if (EFI_ERROR(st)) {
        err(c, L"pmm save: cannot write %s: %r%s\n", tmp ? tmp : path, st,
            had ? L"; the old file is unchanged" : L"");
        if (tmp)
            FreePool(tmp);
        return SHELL_DEVICE_ERROR;
    }
    if (had)
        st = uefi_call_wrapper(sh->DeleteFileByName, 1, path);
    if (!EFI_ERROR(st))
        st = rename_file(sh, tmp, path);
    if (EFI_ERROR(st)) {
        err(c, L"pmm save: the map is in %s, but it could not become %s: %r\n", tmp, path, st);
        FreePool(tmp);
        return SHELL_DEVICE_ERROR;
    }
    FreePool(tmp);
    say(c, L"pmm: saved %ld descriptor%s to %s\n", n, plural(n), path);
    return SHELL_SUCCESS;
}
