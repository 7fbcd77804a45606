/*
 * save.c - `pmm save [-f] FILE`: the firmware's memory map as text for the host simulator.
 *
 * The text is the Linux efi=debug numeric format, which tools/mapfile.c (and so pmmsim) reads:
 * type numbers and attributes exactly as the firmware gave them. FILE is written as FILE.new
 * first; only when that write has fully succeeded does an existing FILE (replaced only with -f)
 * make way and FILE.new take its name.
 *
 * A refused or failed save leaves the volume as it found it: what would be refused is refused
 * before anything is written (FILE a directory, FILE there without -f, a FILE.new already there,
 * which is not ours to take), and a FILE.new that could not be completed, or could not replace
 * FILE, is removed. Messages name FILE, the path the user gave. The one failure that cannot be
 * undone is the rename after the old FILE was deleted: then the map is in FILE.new, and the
 * message says so.
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

/* What is at path: 0 nothing (or nothing we can open), 1 a file, 2 a directory. */
static int what_is(EFI_SHELL_PROTOCOL *sh, const CHAR16 *path)
{
    SHELL_FILE_HANDLE fh;
    if (EFI_ERROR(uefi_call_wrapper(sh->OpenFileByName, 3, path, &fh, EFI_FILE_MODE_READ)))
        return 0;
    EFI_FILE_INFO *info = uefi_call_wrapper(sh->GetFileInfo, 1, fh);
    int dir = info && (info->Attribute & EFI_FILE_DIRECTORY);
    if (info)
        FreePool(info);
    uefi_call_wrapper(sh->CloseFile, 1, fh);
    return dir ? 2 : 1;
}

/* Write all of text to a new file at path, which the caller found free; on any failure nothing
 * of it is left. */
static EFI_STATUS write_new(EFI_SHELL_PROTOCOL *sh, const CHAR16 *path, CHAR8 *text, UINTN len)
{
    SHELL_FILE_HANDLE fh;
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
    st = uefi_call_wrapper(sh->CloseFile, 1, fh);
    if (EFI_ERROR(st)) /* the last of it may not be on the volume: not a map to keep */
        uefi_call_wrapper(sh->DeleteFileByName, 1, path);
    return st;
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
    int had = what_is(sh, path);
    if (had == 2) {
        err(c, L"pmm save: %s is a directory; name a file\n", path);
        return SHELL_ACCESS_DENIED;
    }
    if (had && !replace) {
        err(c, L"pmm save: %s exists; `pmm save -f %s` replaces it\n", path, path);
        return SHELL_ACCESS_DENIED;
    }
    UINTN plen = StrLen(path);
    CHAR16 *tmp = AllocatePool((plen + 5) * sizeof(CHAR16));
    if (!tmp) {
        err(c, L"pmm save: cannot write %s: %r\n", path, EFI_OUT_OF_RESOURCES);
        return SHELL_OUT_OF_RESOURCES;
    }
    StrCpy(tmp, path);
    StrCat(tmp, L".new");
    SHELL_STATUS rc = SHELL_SUCCESS;
    UINTN len = 0, n = 0;
    CHAR8 *text = NULL;
    EFI_STATUS st;
    if (what_is(sh, tmp)) {
        err(c,
            L"pmm save: %s exists, and save writes FILE.new first; remove it or name another "
            L"FILE\n",
            tmp);
        rc = SHELL_ACCESS_DENIED;
    } else if (!(text = map_text(&len, &n))) {
        err(c, L"pmm save: cannot read the memory map\n");
        rc = SHELL_DEVICE_ERROR;
    } else if (EFI_ERROR((st = write_new(sh, tmp, text, len)))) {
        err(c, L"pmm save: cannot write %s: %r%s\n", path, st,
            had ? L"; the old file is unchanged" : L"");
        rc = SHELL_DEVICE_ERROR;
    } else if (had && EFI_ERROR((st = uefi_call_wrapper(sh->DeleteFileByName, 1, path)))) {
        uefi_call_wrapper(sh->DeleteFileByName, 1, tmp);
        err(c, L"pmm save: cannot replace %s: %r; it is unchanged\n", path, st);
        rc = SHELL_DEVICE_ERROR;
    } else if (EFI_ERROR((st = rename_file(sh, tmp, path)))) {
        if (!had) /* nothing lost yet: leave the volume as it was */
            uefi_call_wrapper(sh->DeleteFileByName, 1, tmp);
        err(c, L"pmm save: cannot write %s: %r%s\n", path, st,
            had ? L"; the old file is gone, the map is in FILE.new" : L"");
        rc = SHELL_DEVICE_ERROR;
    } else {
        say(c, L"pmm: saved %ld descriptor%s to %s\n", n, plural(n), path);
    }
    if (text)
        FreePool(text);
    FreePool(tmp);
    return rc;
}
