/*
 * out.c - output for the shell command: paging for -b, numbers in, names out.
 */
#include "shell.h"

#include <stdarg.h>

static void wait_key(struct cmd *c)
{
    Print(L"-- more: any key, q to stop --");
    EFI_INPUT_KEY key = {0, 0};
    UINTN idx;
    uefi_call_wrapper(BS->WaitForEvent, 3, 1, &ST->ConIn->WaitForKey, &idx);
    uefi_call_wrapper(ST->ConIn->ReadKeyStroke, 2, ST->ConIn, &key);
    Print(L"\r                               \r");
    if (key.UnicodeChar == L'q' || key.UnicodeChar == L'Q')
        c->quit = 1;
}

void say(struct cmd *c, const CHAR16 *fmt, ...)
{
    if (c->quit)
        return;
    CHAR16 buf[512];
    va_list ap;
    va_start(ap, fmt);
    UnicodeVSPrint(buf, sizeof buf, fmt, ap);
    va_end(ap);
    Print(L"%s", buf);
    for (CHAR16 *s = buf; *s; s++) {
        if (*s != L'\n')
            continue;
        c->lines++;
        if (c->page && c->rows > 2 && c->lines >= c->rows - 1) {
            wait_key(c);
            c->lines = 0;
            if (c->quit)
                return;
        }
    }
}

int parse_u64(const CHAR16 *s, UINT64 *v)
{
    UINT64 x = 0, base = 10;
    if (!s || !*s)
        return 0;
    if (s[0] == L'0' && (s[1] == L'x' || s[1] == L'X')) {
        base = 16;
        s += 2;
        if (!*s)
            return 0;
    }
    for (; *s; s++) {
        UINT64 d;
        if (*s >= L'0' && *s <= L'9')
            d = (UINT64)(*s - L'0');
        else if (base == 16 && *s >= L'a' && *s <= L'f')
            d = (UINT64)(*s - L'a' + 10);
        else if (base == 16 && *s >= L'A' && *s <= L'F')
            d = (UINT64)(*s - L'A' + 10);
        else
            break;
        if (x > (~0ull - d) / base)
            return 0; /* overflow */
        x = x * base + d;
    }
    static const CHAR16 units[] = L"KMGT";
    for (int i = 0; *s && i < 4; i++) {
        if (*s == units[i] || *s == units[i] + 32) {
            UINT64 shift = 10ull * (UINT64)(i + 1);
            if (x > (~0ull >> shift))
                return 0;
            x <<= shift;
            s++;
            break;
        }
    }
    if (*s)
        return 0;
    *v = x;
    return 1;
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

const CHAR16 *kind_name(enum pmm_kind k)
{
    return k == PMM_KIND_FREE ? L"free-now" : k == PMM_KIND_BOOT ? L"after-exit" : L"never";
}
