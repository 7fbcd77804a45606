/*
 * out.c - output for the shell command: lines out, names for numbers.
 */
#include "shell.h"

#include <stdarg.h>

/*
 * gnu-efi's formatter turns each LF into CR LF, also inside %s arguments: text formatted once and
 * printed again with Print(L"%s") gets CR CR LF. So format once and hand the result to ConOut as
 * it is; under the shell, ConOut is also what a redirection (`> file`) and the page-break prompt
 * (-b) see.
 */
void put(struct cmd *c, const CHAR16 *text)
{
    if (c->quit)
        return;
    uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, (CHAR16 *)text);
    /* Q at the page-break prompt and Ctrl-C both signal ExecutionBreak */
    if (c->shell && uefi_call_wrapper(BS->CheckEvent, 1, c->shell->ExecutionBreak) == EFI_SUCCESS)
        c->quit = 1;
}

void say(struct cmd *c, const CHAR16 *fmt, ...)
{
    CHAR16 buf[512];
    va_list ap;
    va_start(ap, fmt);
    UnicodeVSPrint(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(c, buf);
}

const CHAR16 *plural(UINT64 n)
{
    return n == 1 ? L"" : L"s";
}

const CHAR16 *hex(CHAR16 buf[17], UINT64 v)
{
    CHAR16 *p = buf + 16;
    *p = 0;
    do {
        *--p = L"0123456789ABCDEF"[v & 15];
        v >>= 4;
    } while (v);
    return p;
}

const CHAR16 *pad(CHAR16 *buf, UINTN width, const CHAR16 *s)
{
    UINTN i = 0;
    for (; s[i] && i < width; i++)
        buf[i] = s[i];
    for (; i < width; i++)
        buf[i] = L' ';
    buf[i] = 0;
    return buf;
}

const CHAR16 *type_name(UINT32 type)
{
    static const CHAR16 *const names[] = {L"Reserved",
                                          L"LoaderCode",
                                          L"LoaderData",
                                          L"BootServiceCode",
                                          L"BootServiceData",
                                          L"RuntimeCode",
                                          L"RuntimeData",
                                          L"Available",
                                          L"UnusableMemory",
                                          L"ACPIReclaimMemory",
                                          L"ACPIMemoryNVS",
                                          L"MemoryMappedIO",
                                          L"MemoryMappedIOPortSpace",
                                          L"PalCode",
                                          L"Persistent",
                                          L"Unaccepted"};
    if (type < sizeof names / sizeof names[0])
        return names[type];
    return type >= 0x80000000u ? L"OSDefined" : type >= 0x70000000u ? L"OEMDefined" : L"Unknown";
}

const CHAR16 *short_type(UINT32 type)
{
    static const CHAR16 *const names[] = {
        L"Reserved",    L"LoaderCode", L"LoaderData", L"BootCode",    L"BootData", L"RuntimeCode",
        L"RuntimeData", L"Available",  L"Unusable",   L"ACPIReclaim", L"ACPINVS",  L"MMIO",
        L"MMIOPort",    L"PalCode",    L"Persistent", L"Unaccepted"};
    if (type < sizeof names / sizeof names[0])
        return names[type];
    return type >= 0x80000000u ? L"OSDefined" : type >= 0x70000000u ? L"OEMDefined" : L"Unknown";
}

const CHAR16 *kind_name(enum pmm_kind k)
{
    return k == PMM_KIND_FREE ? L"free-now" : k == PMM_KIND_BOOT ? L"after-exit" : L"never";
}
