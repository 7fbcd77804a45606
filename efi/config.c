/*
 * config.c - which kernel to boot: limine.conf where Limine looks for it, its menu, its entry.
 *
 * Limine searches the boot volume for /limine.conf, /limine/limine.conf, /boot/limine.conf,
 * /boot/limine/limine.conf and /EFI/BOOT/limine.conf, in that order; so does this loader, so a
 * volume set up for Limine boots with our BOOTX64.EFI in place of Limine's. Without any, it boots
 * DEFAULT_KERNEL (the kernel stub of this repository, or any Limine-protocol kernel put there)
 * with no command line and no modules: one boot path either way.
 */
#include "loader.h"

static const char *const where[] = {"/limine.conf", "/limine/limine.conf", "/boot/limine.conf",
                                    "/boot/limine/limine.conf", "/EFI/BOOT/limine.conf"};

#define ARENA_BYTES (256u << 10)

/* The menu: entries listed, the default marked; keys move and choose; 0 = the default. */
static UINT32 menu(const struct lconf *c)
{
    UINT32 sel = c->default_entry;
    if (c->timeout == 0)
        return sel;
    Print(L"loader: limine.conf entries (Up/Down to choose, Enter to boot):\n");
    for (UINT32 i = 0; i < c->nentries; i++) {
        const struct lconf_entry *e = &c->entries[i];
        Print(L"  %c %d. ", i + 1 == sel ? L'>' : L' ', i + 1);
        for (UINT32 d = 1; d < e->depth; d++)
            Print(L"  ");
        Print(L"%a%a%a%a\n", e->name, e->directory ? " (directory)" : "",
              e->protocol == LCONF_PROTO_OTHER ? " (not bootable here: protocol " : "",
              e->protocol == LCONF_PROTO_OTHER ? e->protocol_name : "");
    }
    EFI_EVENT timer, events[2];
    uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &timer);
    events[0] = ST->ConIn->WaitForKey;
    events[1] = timer;
    INT64 left = c->timeout;
    int counting = left >= 0;
    for (;;) {
        if (counting) {
            if (left <= 0)
                break;
            Print(L"\rloader: booting entry %d in %ld s ", sel, left);
            uefi_call_wrapper(BS->SetTimer, 3, timer, TimerRelative, 10000000);
        }
        UINTN which = 0;
        uefi_call_wrapper(BS->WaitForEvent, 3, counting ? 2 : 1, events, &which);
        if (which == 1) {
            left--;
            continue;
        }
        EFI_INPUT_KEY k;
        if (EFI_ERROR(uefi_call_wrapper(ST->ConIn->ReadKeyStroke, 2, ST->ConIn, &k)))
            continue;
        counting = 0;
        if (k.UnicodeChar == L'\r')
            break;
        if (k.ScanCode == SCAN_UP && sel > 1)
            sel--;
        else if (k.ScanCode == SCAN_DOWN && sel < c->nentries)
            sel++;
        else if (k.UnicodeChar >= L'1' && k.UnicodeChar <= L'9' &&
                 (UINT32)(k.UnicodeChar - L'0') <= c->nentries)
            sel = k.UnicodeChar - L'0';
        Print(L"\rloader: entry %d chosen, Enter boots it        ", sel);
    }
    uefi_call_wrapper(BS->CloseEvent, 1, timer);
    Print(L"\n");
    return sel;
}

static void default_entry(struct lconf_entry *e, const char *kernel)
{
    SetMem(e, sizeof *e, 0);
    e->name = "default kernel";
    e->protocol = LCONF_PROTO_LIMINE;
    e->protocol_name = "limine";
    e->has_kernel = 1;
    e->kernel.path = kernel;
    e->cmdline = "";
    e->comment = "";
    e->kaslr = 1;
    e->paging_mode = e->max_paging_mode = e->min_paging_mode = -1;
}

EFI_STATUS config_choose(const struct volume *vol, struct boot_choice *c)
{
    for (UINTN i = 0; i < sizeof where / sizeof where[0]; i++) {
        EFI_FILE_HANDLE f;
        CHAR16 p16[32];
        UINTN k = 0;
        for (; where[i][k]; k++)
            p16[k] = where[i][k] == '/' ? L'\\' : (CHAR16)where[i][k];
        p16[k] = 0;
        if (!EFI_ERROR(
                uefi_call_wrapper(vol->root->Open, 5, vol->root, &f, p16, EFI_FILE_MODE_READ, 0))) {
            uefi_call_wrapper(f->Close, 1, f);
            return config_choose_from(vol, where[i], 0, c);
        }
    }
    return config_choose_from(vol, 0, DEFAULT_KERNEL, c);
}

EFI_STATUS config_choose_from(const struct volume *vol, const char *conf, const char *kernel,
                              struct boot_choice *c)
{
    SetMem(c, sizeof *c, 0);
    c->vol = *vol;
    void *text = 0;
    UINT64 size = 0;
    if (conf) {
        EFI_STATUS st = vol_read(vol, conf, 0, &text, &size);
        if (EFI_ERROR(st))
            return st;
        c->conf_path = conf;
    }
    if (!text && secure_boot_on()) {
        Print(L"loader: Secure Boot is on and there is no limine.conf: a signed loader boots only "
              L"the configuration enrolled in it (tools/sign.sh)\n");
        return EFI_SECURITY_VIOLATION;
    }
    if (!text) {
        Print(L"loader: no limine.conf; booting %a\n", kernel);
        default_entry(&c->entry, kernel);
        return EFI_SUCCESS;
    }
    c->conf_text = text;
    c->conf_size = size;
    const char *why = secure_check_conf(c);
    if (why) {
        Print(L"loader: %a: %a\n", c->conf_path, why);
        return EFI_SECURITY_VIOLATION;
    }
    if (secure_boot_on())
        Print(L"loader: Secure Boot: %a matches the BLAKE2b enrolled in this loader; every file "
              L"it names must match its own\n",
              c->conf_path);
    char *arena = AllocatePool(ARENA_BYTES);
    c->conf = AllocatePool(sizeof *c->conf);
    if (!arena || !c->conf)
        return EFI_OUT_OF_RESOURCES;
    struct lconf_error err = {0, 0};
    if (lconf_parse(text, size, c->conf, arena, ARENA_BYTES, &err)) {
        if (err.line)
            Print(L"loader: %a line %d: %a; not booting with a configuration it cannot honour\n",
                  c->conf_path, err.line, err.why);
        else
            Print(L"loader: %a: %a\n", c->conf_path, err.why);
        return EFI_INVALID_PARAMETER;
    }
    Print(L"loader: %a: %d entr%s\n", c->conf_path, c->conf->nentries,
          c->conf->nentries == 1 ? L"y" : L"ies");
    for (UINT32 i = 0; i < c->conf->nnotes; i++)
        Print(L"loader: %a line %d: %a has no effect here (it styles Limine's own menu)\n",
              c->conf_path, c->conf->notes[i].line, c->conf->notes[i].key);
    const struct lconf_entry *e;
    UINT32 n = menu(c->conf);
    if (lconf_pick(c->conf, n, &e, &err)) {
        Print(L"loader: %a line %d: %a\n", c->conf_path, err.line, err.why);
        return EFI_INVALID_PARAMETER;
    }
    c->entry = *e;
    Print(L"loader: booting entry %d, \"%a\" (line %d)\n", n, e->name, e->line);
    return EFI_SUCCESS;
}
