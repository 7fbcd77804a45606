/*
 * pmmcmd.c - `pmm`, a UEFI shell command over the live allocator.
 *
 * Built twice from the same objects: pmmcmd.efi, a boot-services driver that registers `pmm`
 * with EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL (`load fs0:\EFI\pmm\pmmcmd.efi`, then `pmm ...` and
 * `help pmm` work like built-in commands), and pmm.efi, a plain shell application. The driver
 * builds the allocator from the firmware's map on first use and keeps it while it stays loaded, so
 * allocations persist between invocations; the application builds a fresh one each run.
 *
 * A bad subcommand or argument prints the usage and returns SHELL_INVALID_PARAMETER without
 * touching the allocator.
 */
#include "shell.h"

UINT64 boot_tsc_start;
#ifndef PMM_SHELL_APP
static struct pmm *live; /* the driver's allocator, kept between invocations */
#endif
static EFI_HANDLE self;

static const CHAR16 usage[] =
    L"pmm - inspect and drive the uefi-pmm physical page allocator\n"
    L"\n"
    L"  pmm [stats] [-sfo]                  summary line and table\n"
    L"  pmm map [-b] [-sfo]                 firmware memory map, classified, sorted by address\n"
    L"  pmm free [-b] [-sfo]                free ranges, coalesced, and the largest run\n"
    L"  pmm picture [-b]                    physical memory drawn in text\n"
    L"  pmm alloc N [-align A] [-below ADDR]  allocate N pages; sets %pmm_last%\n"
    L"  pmm free ADDR [N]                   free N pages (1 if omitted) at ADDR\n"
    L"  pmm ref ADDR +|-                    share a page, or release one reference\n"
    L"  pmm check                           full consistency check\n"
    L"  pmm save FILE                       write the firmware map for the host simulator\n"
    L"  pmm boot [KERNEL]                   exit boot services, hand this allocator to KERNEL\n"
    L"                                      (default \\EFI\\pmm\\kernel.elf)\n"
    L"\n"
    L"Numbers are decimal or 0x hex, and may end in K, M, G or T. -b pages long output;\n"
    L"-sfo prints the shell's standard format; -? prints this. Each run leaves its status\n"
    L"in %pmm_status% (0x0 success, 0x2 invalid parameter).\n";

static SHELL_STATUS bad(struct cmd *c, const CHAR16 *why, const CHAR16 *arg)
{
    c->quit = 0;
    Print(L"pmm: %s%s%s\n\n%s", why, arg ? L": " : L"", arg ? arg : L"", usage);
    return SHELL_INVALID_PARAMETER;
}

static void set_last(struct cmd *c, UINT64 phys)
{
    CHAR16 v[24];
    UnicodeSPrint(v, sizeof v, L"0x%lx", phys);
    if (c->shell)
        uefi_call_wrapper(c->shell->SetEnv, 3, L"pmm_last", v, TRUE);
}

static SHELL_STATUS do_alloc(struct cmd *c)
{
    UINT64 n, align = 4096, below = 0;
    if (c->argc < 2 || !parse_u64(c->argv[1], &n) || n == 0)
        return bad(c, L"alloc needs a page count above 0", c->argc > 1 ? c->argv[1] : NULL);
    for (int i = 2; i < c->argc; i += 2) {
        UINT64 *dst = !StriCmp(c->argv[i], L"-align")   ? &align
                      : !StriCmp(c->argv[i], L"-below") ? &below
                                                        : NULL;
        if (!dst)
            return bad(c, L"unknown option", c->argv[i]);
        if (i + 1 >= c->argc || !parse_u64(c->argv[i + 1], dst))
            return bad(c, L"option needs a number", c->argv[i]);
    }
    if (align & (align - 1))
        return bad(c, L"-align must be a power of two", NULL);
    UINT64 phys;
    int rc = pmm_alloc_run(c->pmm, n, align, below, &phys);
    if (rc == PMM_EINVAL || rc == PMM_ERANGE)
        return bad(c, L"cannot satisfy that request", NULL);
    if (rc) {
        say(c, L"pmm: alloc %ld pages: %a\n", n, pmm_strerror(rc));
        return SHELL_OUT_OF_RESOURCES;
    }
    set_last(c, phys);
    say(c, L"pmm: allocated %ld pages at 0x%lx-0x%lx (align 0x%lx%s); %%pmm_last%% = 0x%lx\n", n,
        phys, phys + n * 4096 - 1, align, below ? L", below limit" : L"", phys);
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_free(struct cmd *c)
{
    UINT64 phys, n = 1;
    if (!parse_u64(c->argv[1], &phys) || (c->argc > 2 && (!parse_u64(c->argv[2], &n) || !n)) ||
        c->argc > 3)
        return bad(c, L"free needs ADDR [N]", c->argv[1]);
    int rc = pmm_free_run(c->pmm, phys, n);
    if (rc) {
        say(c, L"pmm: free 0x%lx (%ld pages) refused: %a\n", phys, n, pmm_strerror(rc));
        return SHELL_INVALID_PARAMETER;
    }
    say(c, L"pmm: freed %ld pages at 0x%lx\n", n, phys);
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_ref(struct cmd *c)
{
    UINT64 phys;
    if (c->argc != 3 || !parse_u64(c->argv[1], &phys) ||
        (StrCmp(c->argv[2], L"+") && StrCmp(c->argv[2], L"-")))
        return bad(c, L"ref needs ADDR and + or -", NULL);
    int inc = c->argv[2][0] == L'+';
    int rc = inc ? pmm_ref_inc(c->pmm, phys) : pmm_ref_dec(c->pmm, phys);
    if (rc) {
        say(c, L"pmm: ref %s 0x%lx refused: %a\n", c->argv[2], phys, pmm_strerror(rc));
        return SHELL_INVALID_PARAMETER;
    }
    UINT32 count = 0;
    if (pmm_refcount(c->pmm, phys, &count) == PMM_EDOUBLE)
        say(c, L"pmm: 0x%lx released its last reference and is free\n", phys);
    else
        say(c, L"pmm: 0x%lx now has %d references\n", phys, count);
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_check(struct cmd *c)
{
    struct pmm_check_fail f = {0, 0};
    if (pmm_check(c->pmm, &f)) {
        say(c, L"pmm: check FAILED: %a (page 0x%lx)\n", f.what, f.pfn);
        return SHELL_DEVICE_ERROR;
    }
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    say(c, L"pmm: check ok: %ld pages covered, every invariant holds\n", s.span);
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_boot(struct cmd *c)
{
    const CHAR16 *path = c->argc > 1 ? c->argv[1] : L"\\EFI\\pmm\\kernel.elf";
    if (c->argc > 2 || !c->shell)
        return bad(c, L"boot takes at most one kernel path", NULL);
    SHELL_FILE_HANDLE fh;
    UINT64 size = 0;
    EFI_STATUS st = uefi_call_wrapper(c->shell->OpenFileByName, 3, path, &fh, EFI_FILE_MODE_READ);
    if (EFI_ERROR(st)) {
        say(c, L"pmm: cannot open kernel %s: %r\n", path, st);
        return SHELL_NOT_FOUND;
    }
    uefi_call_wrapper(c->shell->GetFileSize, 2, fh, &size);
    void *file = AllocatePool(size ? size : 1);
    UINTN n = size;
    st = file ? uefi_call_wrapper(c->shell->ReadFile, 3, fh, &n, file) : EFI_OUT_OF_RESOURCES;
    uefi_call_wrapper(c->shell->CloseFile, 1, fh);
    if (EFI_ERROR(st) || n != size) {
        say(c, L"pmm: cannot read kernel %s: %r\n", path, st);
        return SHELL_DEVICE_ERROR;
    }
    say(c, L"pmm: booting %s with this allocator\n", path);
    boot_tsc_start = rdtsc();
    boot_kernel(self, c->pmm, file, size, 0); /* returns only if the kernel could not start */
    FreePool(file);
    return SHELL_LOAD_ERROR;
}

/* `pmm free` lists free ranges; `pmm free ADDR [N]` frees. */
static SHELL_STATUS do_free_or_list(struct cmd *c)
{
    return c->argc > 1 ? do_free(c) : view_free(c);
}

static SHELL_STATUS do_save(struct cmd *c)
{
    return c->argc != 2 ? bad(c, L"save needs one file name", NULL) : save_map(c, c->argv[1]);
}

/* The subcommands; argv[0] is the subcommand's own name. */
static const struct subcommand {
    const CHAR16 *name;
    SHELL_STATUS (*run)(struct cmd *c);
    int no_args;
} subcommands[] = {
    {L"stats", view_stats, 1},     {L"map", view_map, 1},   {L"free", do_free_or_list, 0},
    {L"picture", view_picture, 1}, {L"alloc", do_alloc, 0}, {L"ref", do_ref, 0},
    {L"check", do_check, 1},       {L"save", do_save, 0},   {L"boot", do_boot, 0},
};

/* Take -b, -sfo, -? out of the arguments; what is left is the subcommand and its arguments. */
static int parse_flags(struct cmd *c, EFI_SHELL_PARAMETERS_PROTOCOL *params, int *help)
{
    c->argv = AllocatePool(sizeof(CHAR16 *) * (params->Argc + 1));
    if (!c->argv)
        return 0;
    for (UINTN i = 1; i < params->Argc; i++) {
        CHAR16 *a = params->Argv[i];
        if (!StriCmp(a, L"-b"))
            c->page = 1;
        else if (!StriCmp(a, L"-sfo"))
            c->sfo = 1;
        else if (!StrCmp(a, L"-?") || !StriCmp(a, L"-h") || !StriCmp(a, L"--help"))
            *help = 1;
        else
            c->argv[c->argc++] = a;
    }
    return 1;
}

static SHELL_STATUS run(EFI_SHELL_PARAMETERS_PROTOCOL *params, EFI_SHELL_PROTOCOL *shell,
                        struct pmm **state)
{
    struct cmd c = {0};
    c.shell = shell;
    int help = 0;
    if (!params || !parse_flags(&c, params, &help))
        return SHELL_OUT_OF_RESOURCES;
    SHELL_STATUS rc;
    uefi_call_wrapper(ST->ConOut->QueryMode, 4, ST->ConOut, ST->ConOut->Mode->Mode, &(UINTN){0},
                      &c.rows);
    const CHAR16 *sub = c.argc ? c.argv[0] : L"stats";
    if (help) {
        Print(L"%s", usage);
        rc = SHELL_SUCCESS;
        goto out;
    }
    const struct subcommand *cmd = NULL;
    for (UINTN i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!StriCmp(sub, subcommands[i].name))
            cmd = &subcommands[i];
    if (!cmd) {
        rc = bad(&c, L"unknown subcommand", sub);
        goto out;
    }
    if (cmd->no_args && c.argc > 1) {
        rc = bad(&c, L"this subcommand takes no arguments", sub);
        goto out;
    }
    if (!*state && EFI_ERROR(fw_build_pmm(state, L"pmm"))) {
        rc = SHELL_OUT_OF_RESOURCES;
        goto out;
    }
    c.pmm = *state;
    rc = cmd->run(&c);
out:
    FreePool(c.argv);
    /* EDK2's shell leaves %lasterror% alone after dynamic commands, so scripts read this. */
    if (shell) {
        CHAR16 v[8];
        UnicodeSPrint(v, sizeof v, L"0x%x", (UINTN)rc);
        uefi_call_wrapper(shell->SetEnv, 3, L"pmm_status", v, TRUE);
    }
    return rc;
}

#ifndef PMM_SHELL_APP
static SHELL_STATUS EFIAPI handler(EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL *this, EFI_SYSTEM_TABLE *st,
                                   EFI_SHELL_PARAMETERS_PROTOCOL *params, EFI_SHELL_PROTOCOL *shell)
{
    (void)this;
    (void)st;
    return run(params, shell, &live);
}

/*
 * `help pmm` and `pmm -?`: the shell wants man-page text (a ".TH name 0" title line with the brief
 * description, then ".SH" sections, CRLF between lines, blank lines dropped). Built from the one
 * usage text; the shell frees it.
 */
static CHAR16 *EFIAPI get_help(EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL *this, const CHAR8 *lang)
{
    (void)this;
    (void)lang;
    static const CHAR16 head[] = L".TH pmm 0 \"Inspect and drive the uefi-pmm page allocator\"\r\n"
                                 L".SH NAME\r\n"
                                 L"Inspect and drive the uefi-pmm physical page allocator.\r\n"
                                 L".SH SYNOPSIS\r\n";
    UINTN n = sizeof head / sizeof head[0] + 2 * (sizeof usage / sizeof usage[0]);
    CHAR16 *text = AllocatePool(n * sizeof(CHAR16)), *o = text;
    if (!text)
        return NULL;
    for (const CHAR16 *h = head; *h; h++)
        *o++ = *h;
    for (const CHAR16 *u = usage; *u; u++) {
        if (*u == L'\n') {
            if (u > usage && u[-1] == L'\n')
                *o++ = L' '; /* keep blank lines: the parser drops empty ones */
            *o++ = L'\r';
        }
        *o++ = *u;
    }
    *o = 0;
    return text;
}
#endif

#ifndef PMM_SHELL_APP
static EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL command = {L"pmm", handler, get_help};
#endif

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    self = image;
    EFI_GUID params_guid = EFI_SHELL_PARAMETERS_PROTOCOL_GUID, shell_guid = EFI_SHELL_PROTOCOL_GUID;
    EFI_SHELL_PARAMETERS_PROTOCOL *params = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &params_guid, (void **)&params);
#ifdef PMM_SHELL_APP
    /* pmm.efi: run once, as a shell application. */
    EFI_SHELL_PROTOCOL *shell = NULL;
    LibLocateProtocol(&shell_guid, (void **)&shell);
    struct pmm *state = NULL;
    SHELL_STATUS rc = run(params, shell, &state);
    if (state)
        fw_release_pmm(state);
    return rc == SHELL_SUCCESS ? EFI_SUCCESS : EFIERR(rc);
#else
    (void)shell_guid;
    /* pmmcmd.efi: stay resident and answer `pmm` from now on. */
    EFI_GUID dyn = EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL_GUID;
    EFI_HANDLE h = NULL;
    EFI_STATUS st = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &h, &dyn,
                                      EFI_NATIVE_INTERFACE, &command);
    if (EFI_ERROR(st))
        Print(L"pmm: cannot register the shell command: %r\n", st);
    return st;
#endif
}
