/*
 * pmmcmd.c - `pmm`, a UEFI shell command over the live allocator.
 *
 * Built twice from the same objects: pmmcmd.efi, a boot-services driver that registers `pmm`
 * with EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL on its own image handle (`load fs0:\EFI\pmm\pmmcmd.efi`,
 * then `pmm ...` and `help pmm` work like built-in commands, and `unload` of that handle removes
 * it), and pmm.efi, a plain shell application. The driver builds the allocator from the
 * firmware's map on first use and keeps it while it stays loaded, so allocations persist between
 * invocations; the application builds a fresh one each run and gives it back when it returns.
 *
 * The manual page (pmm.man, compiled in as man.inc) is the one description of the syntax: `help
 * pmm` shows it (and pmm -h the same), pmm.efi finds it as pmm.man next to itself, `pmm SUB -h`
 * shows a subcommand's part of it, and a syntax error prints the subcommand's line of its
 * SYNOPSIS. A syntax error or a refused free/ref returns SHELL_INVALID_PARAMETER and changes
 * nothing; the other statuses are listed in the page. Errors and usage go to standard error.
 */
#include "shell.h"

static EFI_HANDLE self;

/* The allocator the command works on, and the size of the firmware map it was built from. */
struct state {
    struct pmm *pmm;
    UINTN ndesc;
};
#ifndef PMM_SHELL_APP
static struct state live; /* the driver's, kept between invocations until it is unloaded */
#endif

static const CHAR16 man_page[] =
#include "man.inc"
    ;

struct subcommand {
    const CHAR16 *name;
    SHELL_STATUS (*run)(struct cmd *c);
    unsigned flags; /* ARG_FLAG_* it accepts */
    int min, max;   /* how many words after its name */
    int needs_pmm;  /* builds the allocator first (map and save show the firmware's map only) */
};

/* The next line of the page after *p (CR LF ended); 0 at the end. */
static int next_line(const CHAR16 **p, const CHAR16 **line, UINTN *len)
{
    const CHAR16 *s = *p;
    if (!*s)
        return 0;
    const CHAR16 *e = s;
    while (*e && *e != L'\r')
        e++;
    *line = s;
    *len = (UINTN)(e - s);
    *p = *e ? e + 2 : e;
    return 1;
}

/* Does line s (len characters) start with word w, followed by a space or its end? */
static int starts_with_word(const CHAR16 *s, UINTN len, const CHAR16 *w, UINTN n)
{
    return len >= n && !StrnCmp(s, w, n) && (len == n || s[n] == L' ');
}

/* Does the SYNOPSIS line s (len characters) describe subcommand name? "pmm NAME" or "pmm [NAME]" */
static int synopsis_of(const CHAR16 *s, UINTN len, const CHAR16 *name)
{
    UINTN n = StrLen(name), i = 4;
    if (len < 4 + n || StrnCmp(s, L"pmm ", 4))
        return 0;
    int bracket = s[i] == L'[';
    i += (UINTN)bracket;
    if (i + n > len || StrnCmp(s + i, name, n))
        return 0;
    i += n;
    if (bracket && (i >= len || s[i++] != L']'))
        return 0;
    return i == len || s[i] == L' ';
}

/* Is word w (n characters) one of the words of line s, brackets aside ("[-align A]" holds A)? */
static int names_word(const CHAR16 *s, UINTN len, const CHAR16 *w, UINTN n)
{
    for (UINTN i = 0; i < len;) {
        while (i < len && (s[i] == L' ' || s[i] == L'[' || s[i] == L']'))
            i++;
        UINTN j = i;
        while (j < len && s[j] != L' ' && s[j] != L'[' && s[j] != L']')
            j++;
        if (j - i == n && !StrnCmp(s + i, w, n))
            return 1;
        i = j;
    }
    return 0;
}

/* One line of the page, on standard output or (for a syntax error's usage) standard error. */
static void line_out(struct cmd *c, int to_err, const CHAR16 *prefix, const CHAR16 *s, UINTN len)
{
    CHAR16 buf[100];
    UINTN n = len < 99 ? len : 99;
    CopyMem(buf, s, n * sizeof(CHAR16));
    buf[n] = 0;
    if (to_err)
        err(c, L"%s%s\n", prefix, buf);
    else
        say(c, L"%s%s\n", prefix, buf);
}

enum section { S_OTHER, S_SYNOPSIS, S_OPTIONS, S_DESCRIPTION };

/* Walks the page's text lines, the .TH and .SH markers left out, knowing the section of each. */
struct page_walk {
    const CHAR16 *p;
    enum section in;
};

static int next_text(struct page_walk *w, const CHAR16 **line, UINTN *len)
{
    while (next_line(&w->p, line, len)) {
        if (*len >= 4 && !StrnCmp(*line, L".SH ", 4)) {
            const CHAR16 *s = *line + 4;
            UINTN n = *len - 4;
            w->in = starts_with_word(s, n, L"SYNOPSIS", 8)       ? S_SYNOPSIS
                    : starts_with_word(s, n, L"OPTIONS", 7)      ? S_OPTIONS
                    : starts_with_word(s, n, L"DESCRIPTION", 11) ? S_DESCRIPTION
                                                                 : S_OTHER;
        } else if (*len < 4 || StrnCmp(*line, L".TH ", 4)) {
            return 1;
        }
    }
    return 0;
}

/* The whole page as `help pmm` prints it: every text line, the headings among them. */
static void print_page(struct cmd *c)
{
    struct page_walk w = {man_page, S_OTHER};
    const CHAR16 *line;
    UINTN len;
    while (next_text(&w, &line, &len))
        line_out(c, 0, L"", line, len);
}

/* A syntax error's usage: sub's SYNOPSIS lines after "usage: ", on standard error. */
static void print_usage(struct cmd *c, const CHAR16 *sub)
{
    struct page_walk w = {man_page, S_OTHER};
    const CHAR16 *line;
    UINTN len;
    while (next_text(&w, &line, &len))
        if (w.in == S_SYNOPSIS && synopsis_of(line, len, sub))
            line_out(c, 1, L"usage: ", line, len);
}

/*
 * `pmm SUB -h`: sub's part of the page. Its SYNOPSIS lines; its DESCRIPTION entry (the line that
 * starts with its name and those indented under it); the OPTIONS entries whose first word its
 * SYNOPSIS names ("-align" for alloc, "ADDR" for free and ref), each with its indented lines.
 */
static void print_sub_help(struct cmd *c, const CHAR16 *sub)
{
    const CHAR16 *line, *syn[4];
    UINTN len, synlen[4], nsyn = 0;
    struct page_walk w = {man_page, S_OTHER};
    while (next_text(&w, &line, &len))
        if (w.in == S_SYNOPSIS && synopsis_of(line, len, sub) && nsyn < 4) {
            line_out(c, 0, L"", line, len);
            syn[nsyn] = line;
            synlen[nsyn++] = len;
        }
    int taking = 0, shown = 0;
    w = (struct page_walk){man_page, S_OTHER};
    while (next_text(&w, &line, &len)) {
        if (w.in != S_DESCRIPTION)
            continue;
        if (len && line[0] != L' ')
            taking = starts_with_word(line, len, sub, StrLen(sub));
        else if (len < 2 || line[1] != L' ')
            taking = 0; /* a blank line ends the entry */
        if (taking && !shown++)
            say(c, L"\n");
        if (taking)
            line_out(c, 0, L"", line, len);
    }
    taking = shown = 0;
    w = (struct page_walk){man_page, S_OTHER};
    while (next_text(&w, &line, &len)) {
        if (w.in != S_OPTIONS)
            continue;
        if (len > 2 && line[0] == L' ' && line[1] == L' ' && line[2] != L' ') {
            UINTN n = 0;
            while (2 + n < len && line[2 + n] != L' ')
                n++;
            taking = 0;
            for (UINTN k = 0; k < nsyn; k++)
                taking |= names_word(syn[k] + 4, synlen[k] - 4, line + 2, n);
        } else if (len < 3 || line[2] != L' ') {
            taking = 0; /* neither an entry nor a line indented under one */
        }
        if (taking && !shown++)
            say(c, L"\n");
        if (taking)
            line_out(c, 0, L"", line, len);
    }
}

/* A syntax error: the word (its first characters) and what is wrong with it, then the
 * subcommand's usage line, all on standard error. */
static SHELL_STATUS syntax(struct cmd *c, const CHAR16 *word, const char *why)
{
    CHAR16 w[ECHO_MAX + 1];
    if (word)
        err(c, L"pmm %s: %s: %a\n", c->sub->name, clip(w, word), why);
    else
        err(c, L"pmm %s: %a\n", c->sub->name, why);
    print_usage(c, c->sub->name);
    return SHELL_INVALID_PARAMETER;
}

static SHELL_STATUS arg_error(struct cmd *c, enum arg_err e, int at)
{
    if (e == ARG_MISSING)
        return syntax(c, NULL, "an argument is missing");
    return syntax(c, at < c->argc ? c->argv[at] : NULL, arg_strerror(e));
}

#ifndef PMM_SHELL_APP
static void set_last(struct cmd *c, const CHAR16 *v)
{
    if (c->shell) /* an empty value deletes the variable: %pmm_last% then expands to nothing */
        uefi_call_wrapper(c->shell->SetEnv, 3, L"pmm_last", (CHAR16 *)v, TRUE);
}
#endif

static SHELL_STATUS do_alloc(struct cmd *c)
{
    struct arg_alloc a;
    int at = 0;
#ifndef PMM_SHELL_APP
    set_last(c, L""); /* whatever happens next, no stale address for a script to free */
#endif
    enum arg_err e = arg_alloc(c->argc, (const arg_char *const *)c->argv, &a, &at);
    if (e)
        return arg_error(c, e, at);
    UINT64 phys;
    CHAR16 n[21];
    int rc = pmm_alloc_run(c->pmm, a.pages, a.align, a.below, &phys);
    if (rc == PMM_ENOMEM || rc == PMM_ERANGE) {
        /* ERANGE (more than the memory it may use) and ENOMEM (no run fits now) alike */
        struct pmm_stats s;
        pmm_stats(c->pmm, &s);
        CHAR16 lim[40] = L"";
        if (a.below)
            UnicodeSPrint(lim, sizeof lim, L", below 0x%lx", a.below);
        err(c, L"pmm alloc: out of memory: %s page%s requested (align 0x%lx%s)\n", dec(n, a.pages),
            plural(a.pages), a.align < 4096 ? 4096 : a.align, lim);
        err(c, L"pmm alloc: %ld page%s free, largest free run %ld page%s\n", s.free, plural(s.free),
            s.largest, plural(s.largest));
        return SHELL_OUT_OF_RESOURCES;
    }
    if (rc) {
        err(c, L"pmm alloc: %a\n", pmm_strerror(rc));
        return SHELL_INVALID_PARAMETER;
    }
    UINT64 last = phys + a.pages * 4096 - 1;
#ifdef PMM_SHELL_APP
    say(c, L"pmm: allocated %s page%s at 0x%lx-0x%lx\n", dec(n, a.pages), plural(a.pages), phys,
        last);
    say(c, L"pmm: pmm.efi's allocator, and these pages, end when it returns (load pmmcmd.efi to"
           L" keep them); %%pmm_last%% is left alone\n");
#else
    CHAR16 v[24];
    UnicodeSPrint(v, sizeof v, L"0x%lx", phys);
    set_last(c, v);
    say(c, L"pmm: allocated %s page%s at 0x%lx-0x%lx; %%pmm_last%% = 0x%lx\n", dec(n, a.pages),
        plural(a.pages), phys, last, phys);
#endif
    return SHELL_SUCCESS;
}

/* Why the allocator will not free or release a page that is not an allocated one of its own. */
static void not_ours(struct cmd *c, UINT64 pfn, CHAR16 *buf, UINTN size)
{
    const struct pmm_range *r;
    if (pfn == 0) {
        UnicodeSPrint(buf, size, L"page 0 is withheld for good: the allocator never hands it out");
        return;
    }
    switch (pmm_page_state(c->pmm, pfn)) {
    case PMM_PAGE_META:
        UnicodeSPrint(buf, size, L"page 0x%lx is the allocator's own metadata", pfn << 12);
        return;
    case PMM_PAGE_WITHHELD:
        UnicodeSPrint(buf, size, L"page 0x%lx is withheld: boot-services memory until exit",
                      pfn << 12);
        return;
    case PMM_PAGE_NEVER:
        r = range_of(c->pmm, pfn);
        UnicodeSPrint(buf, size, L"page 0x%lx is %s, which the allocator never manages", pfn << 12,
                      r ? type_name(r->type) : L"reserved");
        return;
    case PMM_PAGE_HOLE:
        UnicodeSPrint(buf, size, L"page 0x%lx: no memory there (a hole in the map)", pfn << 12);
        return;
    default: /* free or allocated, yet not its own to give back: no better word */
        UnicodeSPrint(buf, size, L"page 0x%lx is not the allocator's to give back", pfn << 12);
        return;
    }
}

/* Why the page at pfn cannot be freed, in words; 0 if it could be. *shared gets its reference
 * count when that is the reason (more than one). */
static int page_problem(struct cmd *c, UINT64 pfn, CHAR16 *buf, UINTN size, UINT32 *shared)
{
    UINT32 refs = 0;
    int rc = pmm_refcount(c->pmm, pfn << 12, &refs);
    if (rc == PMM_EDOUBLE)
        UnicodeSPrint(buf, size, L"page 0x%lx is already free", pfn << 12);
    else if (rc)
        not_ours(c, pfn, buf, size);
    else if (refs > 1)
        UnicodeSPrint(buf, size, L"page 0x%lx has %d references", pfn << 12, *shared = refs);
    else
        return 0;
    return 1;
}

static SHELL_STATUS do_free(struct cmd *c)
{
    struct arg_free f;
    int at = 0;
    enum arg_err e = arg_free(c->argc, (const arg_char *const *)c->argv, &f, &at);
    if (e)
        return arg_error(c, e, at);
    int rc = pmm_free_run(c->pmm, f.phys, f.pages);
    CHAR16 n[21];
    if (rc) {
        /* name the first page of the run that stopped it */
        struct pmm_stats s;
        pmm_stats(c->pmm, &s);
        CHAR16 why[160] = L"";
        UINT64 first = f.phys >> 12, pfn = first;
        UINT32 shared = 0;
        if (first >= s.span) {
            UnicodeSPrint(why, sizeof why,
                          L"the run starts past the allocator's memory, which stops at 0x%lx",
                          s.span << 12);
        } else {
            for (; pfn - first < f.pages && pfn < s.span; pfn++)
                if (page_problem(c, pfn, why, sizeof why, &shared))
                    break;
            if (!why[0] && first + f.pages > s.span)
                UnicodeSPrint(why, sizeof why,
                              L"the run ends past the allocator's memory, which stops at 0x%lx",
                              s.span << 12);
            else if (!why[0])
                UnicodeSPrint(why, sizeof why, L"%a", pmm_strerror(rc));
        }
        err(c, L"pmm free: 0x%lx (%s page%s) refused: %s\n", f.phys, dec(n, f.pages),
            plural(f.pages), why);
        if (shared)
            err(c, L"pmm free: each `pmm ref 0x%lx -` releases one of them\n", pfn << 12);
        return SHELL_INVALID_PARAMETER;
    }
    say(c, L"pmm: freed %s page%s at 0x%lx\n", dec(n, f.pages), plural(f.pages), f.phys);
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_ref(struct cmd *c)
{
    struct arg_ref r;
    int at = 0;
    enum arg_err e = arg_ref(c->argc, (const arg_char *const *)c->argv, &r, &at);
    if (e)
        return arg_error(c, e, at);
    int rc = r.inc ? pmm_ref_inc(c->pmm, r.phys) : pmm_ref_dec(c->pmm, r.phys);
    if (rc) {
        const CHAR16 *sign = r.inc ? L"+" : L"-";
        CHAR16 why[160];
        if (rc == PMM_EDOUBLE) {
            err(c, L"pmm ref %s: 0x%lx refused: the page is free%s\n", sign, r.phys,
                r.inc ? L"; only an allocated page can be shared" : L" (released already)");
        } else if (rc == PMM_EOVERFLOW) {
            err(c, L"pmm ref +: 0x%lx refused: it has the most references a page can have (%d)\n",
                r.phys, PMM_REF_MAX);
        } else {
            not_ours(c, r.phys >> 12, why, sizeof why);
            err(c, L"pmm ref %s: 0x%lx refused: %s\n", sign, r.phys, why);
        }
        return SHELL_INVALID_PARAMETER;
    }
    UINT32 count = 0;
    if (pmm_refcount(c->pmm, r.phys, &count) == PMM_EDOUBLE)
        say(c, L"pmm: 0x%lx released its last reference and is free\n", r.phys);
    else
        say(c, L"pmm: 0x%lx now has %d reference%s\n", r.phys, count, plural(count));
    return SHELL_SUCCESS;
}

static SHELL_STATUS do_check(struct cmd *c)
{
    struct pmm_check_fail f = {0, 0};
    if (pmm_check(c->pmm, &f)) {
        err(c, L"pmm check: FAILED: %a (page 0x%lx)\n", f.what, f.pfn);
        return SHELL_DEVICE_ERROR;
    }
    struct pmm_stats s;
    pmm_stats(c->pmm, &s);
    say(c, L"pmm: check ok: %ld page%s covered, every invariant holds\n", s.span, plural(s.span));
    return SHELL_SUCCESS;
}

/*
 * `pmm boot [FILE]`: a Limine-protocol kernel, with this allocator live. FILE may be a limine.conf
 * (its entry chosen as the loader would) or a kernel; without it, the current volume is searched
 * for limine.conf where Limine looks, then \EFI\pmm\kernel.elf.
 */
static SHELL_STATUS do_boot(struct cmd *c)
{
    const CHAR16 *arg = c->argc > 0 ? c->argv[0] : L"\\";
    EFI_DEVICE_PATH *dp =
        c->shell ? uefi_call_wrapper(c->shell->GetDevicePathFromFilePath, 1, arg) : 0;
    struct volume vol;
    static char path[512];
    static struct boot_choice choice;
    if (!dp || EFI_ERROR(vol_of_path(dp, &vol, path, sizeof path))) {
        err(c, L"pmm boot: %s is not a file on a volume the firmware can read\n", arg);
        return SHELL_NOT_FOUND;
    }
    UINTN n = 0;
    while (path[n])
        n++;
    EFI_STATUS st;
    if (c->argc == 0)
        st = config_choose(&vol, &choice);
    else if (n > 5 && !CompareMem(path + n - 5, ".conf", 5))
        st = config_choose_from(&vol, path, 0, &choice);
    else
        st = config_choose_from(&vol, 0, path, &choice);
    if (EFI_ERROR(st))
        return SHELL_LOAD_ERROR;
    say(c, L"pmm: booting with this allocator\n");
    boot_tsc_start = rdtsc();
    limine_boot(self, c->pmm, &choice); /* returns only if the kernel could not start */
    return SHELL_LOAD_ERROR;
}

static SHELL_STATUS do_save(struct cmd *c)
{
    return save_map(c, c->argv[0], (c->flags & ARG_FLAG_FORCE) != 0);
}

/* The subcommands; each one's syntax line is in pmm.man's SYNOPSIS. */
#define B   ARG_FLAG_B
#define SFO ARG_FLAG_SFO
static const struct subcommand subcommands[] = {
    {L"stats", view_stats, SFO, 0, 0, 1},
    {L"map", view_map, B | SFO, 0, 0, 0},
    {L"ranges", view_ranges, B | SFO, 0, 0, 1},
    {L"picture", view_picture, B, 0, 0, 1},
    {L"alloc", do_alloc, 0, 1, 5, 1},
    {L"free", do_free, 0, 1, 2, 1},
    {L"ref", do_ref, 0, 2, 2, 1},
    {L"check", do_check, 0, 0, 0, 1},
    {L"save", do_save, ARG_FLAG_FORCE, 1, 1, 0},
    {L"boot", do_boot, 0, 0, 1, 1},
};
#undef B
#undef SFO

/*
 * The allocator from the firmware's current map (map_build, as the loader builds it); its one
 * line of news is an ordinary line of this command's output, left out under -sfo (records only).
 */
static SHELL_STATUS build(struct cmd *c, struct state *state)
{
    struct fw_build_info info;
    EFI_STATUS st = map_build(&state->pmm, &info);
    if (EFI_ERROR(st) && info.rc == PMM_OK) {
        err(c, L"pmm: cannot read the memory map: %r\n", st);
        return SHELL_DEVICE_ERROR;
    }
    if (info.rc) {
        state->pmm = NULL;
        if (info.err.why)
            err(c, L"pmm: cannot build the allocator: %a: %a (descriptor %ld)\n",
                pmm_strerror(info.rc), info.err.why, info.err.index);
        else
            err(c, L"pmm: cannot build the allocator: %a\n", pmm_strerror(info.rc));
        return info.rc == PMM_ENOMEM ? SHELL_OUT_OF_RESOURCES : SHELL_DEVICE_ERROR;
    }
    state->ndesc = info.ndesc;
    if (!(c->flags & ARG_FLAG_SFO))
        say(c, L"pmm: allocator built from the firmware's map (%ld descriptor%s)\n", info.ndesc,
            plural(info.ndesc));
    return SHELL_SUCCESS;
}

static SHELL_STATUS dispatch(struct cmd *c, EFI_SHELL_PARAMETERS_PROTOCOL *params,
                             struct state *state)
{
    /* flags anywhere; the first other word names the subcommand ("stats" if there is none) */
    const CHAR16 *sub = NULL;
    for (UINTN i = 1; i < params->Argc; i++) {
        CHAR16 *a = params->Argv[i];
        unsigned f = arg_flag((const arg_char *)a);
        if (f)
            c->flags |= f;
        else if (!sub)
            sub = a;
        else
            c->argv[c->argc++] = a;
    }
    if ((c->flags & ARG_FLAG_HELP) && !sub) {
        print_page(c);
        return SHELL_SUCCESS;
    }
    for (UINTN i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!StriCmp(sub ? sub : L"stats", subcommands[i].name))
            c->sub = &subcommands[i];
    if (!c->sub) {
        CHAR16 w[ECHO_MAX + 1];
        err(c, L"pmm: unknown subcommand: %s; help pmm describes them\n", clip(w, sub));
        err(c, L"pmm: stats, map, ranges, picture, alloc, free, ref, check, save or boot\n");
        return SHELL_INVALID_PARAMETER;
    }
    if (c->flags & ARG_FLAG_HELP) {
        print_sub_help(c, c->sub->name);
        return SHELL_SUCCESS;
    }
    unsigned stray = c->flags & ~c->sub->flags;
    if (stray)
        return syntax(c,
                      stray & ARG_FLAG_SFO ? L"-sfo"
                      : stray & ARG_FLAG_B ? L"-b"
                                           : L"-f",
                      arg_strerror(ARG_FLAG_HERE));
    if (c->argc < c->sub->min)
        return syntax(c, NULL, "an argument is missing");
    if (c->argc > c->sub->max)
        return syntax(c, c->argv[c->sub->max], arg_strerror(ARG_EXTRA));
    if ((c->sub->run == do_save || c->sub->run == do_boot) && !c->shell) {
        err(c, L"pmm %s: needs the UEFI shell\n", c->sub->name);
        return SHELL_UNSUPPORTED;
    }
    if (c->sub->needs_pmm && !state->pmm) {
        SHELL_STATUS rc = build(c, state);
        if (rc)
            return rc;
    }
    c->pmm = state->pmm; /* map and save get it too, when there is one: map names its pages */
    c->built_ndesc = state->ndesc;
    return c->sub->run(c);
}

static SHELL_STATUS run(EFI_SHELL_PARAMETERS_PROTOCOL *params, EFI_SHELL_PROTOCOL *shell,
                        struct state *state, const EFI_LOADED_IMAGE *app)
{
    struct cmd c = {0};
    c.shell = shell;
    if (app) { /* pmm.efi: its image is in the maps it shows, and gone when it returns */
        c.app_base = (UINT64)(UINTN)app->ImageBase;
        c.app_end = c.app_base + ((app->ImageSize + 4095) & ~4095ull) - 1;
    }
    if (!params)
        return SHELL_INVALID_PARAMETER;
    c.argv = AllocatePool(sizeof(CHAR16 *) * (params->Argc + 1));
    if (!c.argv)
        return SHELL_OUT_OF_RESOURCES;
    BOOLEAN paging = FALSE;
    if (shell) {
        uefi_call_wrapper(BS->CheckEvent, 1, shell->ExecutionBreak); /* an old Ctrl-C is not ours */
        paging = uefi_call_wrapper(shell->GetPageBreak, 0);
    }
    /* -b: the shell's own page-break prompt, as for its built-in commands */
    for (UINTN i = 1; shell && i < params->Argc; i++)
        if (arg_flag((const arg_char *)params->Argv[i]) == ARG_FLAG_B)
            uefi_call_wrapper(shell->EnablePageBreak, 0);
    SHELL_STATUS rc = dispatch(&c, params, state);
    if (c.quit && rc == SHELL_SUCCESS)
        rc = SHELL_ABORTED;
    if (shell && !paging)
        uefi_call_wrapper(shell->DisablePageBreak, 0);
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
    return run(params, shell, &live, NULL);
}

/* `help pmm` (and `pmm -?`, which the shell turns into it): the manual page; the shell frees it. */
static CHAR16 *EFIAPI get_help(EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL *this, const CHAR8 *lang)
{
    (void)this;
    (void)lang;
    CHAR16 *text = AllocatePool(sizeof man_page);
    if (text)
        CopyMem(text, man_page, sizeof man_page);
    return text;
}

static EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL command = {L"pmm", handler, get_help};

/* Is a `pmm` command already registered (an earlier load of this driver)? */
static int registered(EFI_GUID *dyn)
{
    UINTN n = 0;
    EFI_HANDLE *h = NULL;
    int found = 0;
    if (EFI_ERROR(LibLocateHandle(ByProtocol, dyn, NULL, &n, &h)))
        return 0;
    for (UINTN i = 0; i < n && !found; i++) {
        EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL *d = NULL;
        if (!EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, h[i], dyn, (void **)&d)) && d &&
            d->CommandName && !StriCmp((CHAR16 *)d->CommandName, command.CommandName))
            found = 1;
    }
    FreePool(h);
    return found;
}

/*
 * `unload` of the driver's handle: the command goes first (if the shell will not let it go, the
 * driver stays, whole), then every page its allocator holds, metadata included, goes back to the
 * firmware, and %pmm_last%, which named one of them, is cleared. The firmware frees the image.
 */
static EFI_STATUS EFIAPI unload(EFI_HANDLE image)
{
    EFI_GUID dyn = EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL_GUID, shell_guid = EFI_SHELL_PROTOCOL_GUID;
    EFI_STATUS st = uefi_call_wrapper(BS->UninstallProtocolInterface, 3, image, &dyn, &command);
    if (EFI_ERROR(st))
        return st;
    if (live.pmm)
        fw_release_pmm(live.pmm);
    live = (struct state){NULL, 0};
    map_release();
    EFI_SHELL_PROTOCOL *shell = NULL;
    if (!EFI_ERROR(LibLocateProtocol(&shell_guid, (void **)&shell)) && shell)
        uefi_call_wrapper(shell->SetEnv, 3, L"pmm_last", L"", TRUE);
    return EFI_SUCCESS;
}
#endif

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    self = image;
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
#ifdef PMM_SHELL_APP
    /* pmm.efi: run once, as a shell application, and give everything back. */
    EFI_GUID params_guid = EFI_SHELL_PARAMETERS_PROTOCOL_GUID, shell_guid = EFI_SHELL_PROTOCOL_GUID;
    EFI_SHELL_PARAMETERS_PROTOCOL *params = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &params_guid, (void **)&params);
    EFI_SHELL_PROTOCOL *shell = NULL;
    LibLocateProtocol(&shell_guid, (void **)&shell);
    struct state state = {NULL, 0};
    SHELL_STATUS rc = run(params, shell, &state, li);
    if (state.pmm)
        fw_release_pmm(state.pmm);
    map_release();
    return rc == SHELL_SUCCESS ? EFI_SUCCESS : EFIERR(rc);
#else
    /* pmmcmd.efi: stay resident and answer `pmm` from now on, once, on this image's handle, so
     * that `unload` of that handle (the one dh -p ShellDynamicCommand lists) removes it. */
    EFI_GUID dyn = EFI_SHELL_DYNAMIC_COMMAND_PROTOCOL_GUID;
    if (registered(&dyn)) {
        Print(L"pmm: the pmm command is already loaded; this copy is not installed\n");
        return EFI_ALREADY_STARTED;
    }
    EFI_STATUS st = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &image, &dyn,
                                      EFI_NATIVE_INTERFACE, &command);
    if (EFI_ERROR(st))
        Print(L"pmm: cannot register the shell command: %r\n", st);
    else if (li)
        li->Unload = unload;
    return st;
#endif
}
