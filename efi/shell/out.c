/*
 * out.c - output for the shell command: lines out, names for numbers.
 */
#include "shell.h"

#include <stdarg.h>

/* Columns a line may take: 79, as a line of 80 makes some consoles wrap before its CR LF. */
#define COLUMNS 79

/*
 * Where a continuation line starts: under the text after the line's leading "name: " ("pmm: ",
 * "pmm free: ", "usage: ") when there is one in the first 24 columns, else 4 columns further in
 * than the line itself; never past column 40, so each continuation line still holds 39.
 */
static UINTN hang(const CHAR16 *line, UINTN len)
{
    UINTN lead = 0;
    while (lead < len && line[lead] == L' ')
        lead++;
    UINTN at = lead + 4;
    for (UINTN i = lead; i + 1 < len && i < 24; i++)
        if (line[i] == L':' && line[i + 1] == L' ') {
            at = i + 2;
            break;
        }
    return at < 40 ? at : 40;
}

/* Characters on their way to one console: written out 255 at a time. */
struct sink {
    SIMPLE_TEXT_OUTPUT_INTERFACE *to;
    CHAR16 buf[256];
    UINTN used;
};

static void flush(struct sink *k)
{
    k->buf[k->used] = 0;
    if (k->used)
        uefi_call_wrapper(k->to->OutputString, 2, k->to, k->buf);
    k->used = 0;
}

static void emit(struct sink *k, const CHAR16 *s, UINTN n)
{
    for (UINTN i = 0; i < n; i++) {
        if (k->used == 255)
            flush(k);
        k->buf[k->used++] = s[i];
    }
}

/*
 * Write text to `to`, each line ended by CR LF once. With wrap, a line longer than COLUMNS breaks
 * at its last space that fits (or at COLUMNS, inside a word longer than that), and the rest
 * continues on lines indented by hang(). Without it (-sfo, for scripts), lines go out whole.
 */
static void out(SIMPLE_TEXT_OUTPUT_INTERFACE *to, const CHAR16 *text, int wrap)
{
    struct sink k;
    k.to = to;
    k.used = 0;
    while (*text) {
        UINTN len = 0;
        while (text[len] && text[len] != L'\r' && text[len] != L'\n')
            len++;
        const CHAR16 *line = text, *next = text + len;
        int ended = *next != 0;
        if (*next == L'\r')
            next++;
        if (*next == L'\n')
            next++;
        UINTN indent = wrap && len > COLUMNS ? hang(line, len) : 0, col = 0, lead = 0;
        while (lead < len && line[lead] == L' ')
            lead++;
        while (wrap && col + len > COLUMNS) {
            UINTN fit = COLUMNS - col, cut = fit;
            while (cut > lead && line[cut] != L' ')
                cut--;
            if (cut <= lead)
                cut = fit; /* one word wider than the line: break inside it */
            UINTN end = cut;
            while (end > 0 && line[end - 1] == L' ')
                end--;
            emit(&k, line, end);
            emit(&k, L"\r\n", 2);
            while (cut < len && line[cut] == L' ')
                cut++;
            line += cut;
            len -= cut;
            lead = 0;
            for (col = 0; col < indent; col++)
                emit(&k, L" ", 1);
        }
        emit(&k, line, len);
        if (ended)
            emit(&k, L"\r\n", 2);
        text = next;
    }
    flush(&k);
}

/*
 * gnu-efi's formatter turns each LF into CR LF, also inside %s arguments: text formatted once and
 * printed again with Print(L"%s") gets CR CR LF. So format once and hand the result to the console
 * as it is; under the shell, ConOut and StdErr are also what a redirection (`> file`, `2> file`)
 * and the page-break prompt (-b) see.
 */
static void put_to(struct cmd *c, SIMPLE_TEXT_OUTPUT_INTERFACE *to, const CHAR16 *text, int wrap)
{
    if (c->quit)
        return;
    out(to, text, wrap);
    /* Q at the page-break prompt and Ctrl-C both signal ExecutionBreak */
    if (c->shell && uefi_call_wrapper(BS->CheckEvent, 1, c->shell->ExecutionBreak) == EFI_SUCCESS)
        c->quit = 1;
}

void put(struct cmd *c, const CHAR16 *text)
{
    put_to(c, ST->ConOut, text, !(c->flags & ARG_FLAG_SFO));
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

void err(struct cmd *c, const CHAR16 *fmt, ...)
{
    CHAR16 buf[512];
    va_list ap;
    va_start(ap, fmt);
    UnicodeVSPrint(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put_to(c, ST->StdErr ? ST->StdErr : ST->ConOut, buf, 1);
}

const CHAR16 *dec(CHAR16 buf[21], UINT64 v)
{
    CHAR16 *p = buf + 20;
    *p = 0;
    do {
        *--p = (CHAR16)(L'0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

const CHAR16 *clip(CHAR16 buf[ECHO_MAX + 1], const CHAR16 *word)
{
    UINTN n = StrLen(word);
    if (n <= ECHO_MAX)
        return word;
    CopyMem(buf, word, (ECHO_MAX - 3) * sizeof(CHAR16));
    StrCpy(buf + ECHO_MAX - 3, L"...");
    return buf;
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
