/*
 * test_limine_conf.c - the limine.conf reader (efi/limine/conf.c), on the host.
 *
 * Whole configurations first: one written like a real hobby OS's (globals, macros, hashes,
 * modules with command lines, a directory of sub-entries, entries of other protocols), the same
 * with CR LF line ends, and the shapes of limine-c-template's and the OSDev wiki's bare-bones
 * limine.conf. Then one case per refusal: each must fail on the line that holds the problem, with
 * a message that names it. Line numbers are counted here from the text (line_of), not written by
 * hand, so a case stays right when its text changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "harness.h"

HARNESS_GLOBALS

static struct lconf conf;
static char arena[1 << 16];
static struct lconf_error err;

/*
 * After a refusal the result is not to be read; the checks that follow an unexpected one still
 * do, so it is replaced by one whose strings are all "": they fail, they do not crash.
 */
static void blank_result(void)
{
    memset(&conf, 0, sizeof conf);
    for (int i = 0; i < LCONF_MAX_ENTRIES; i++) {
        struct lconf_entry *e = &conf.entries[i];
        e->name = e->protocol_name = e->cmdline = e->comment = e->kernel.path = "";
        for (int m = 0; m < LCONF_MAX_MODULES; m++)
            e->modules[m].file.path = e->modules[m].cmdline = "";
    }
    for (int i = 0; i < LCONF_MAX_NOTES; i++)
        conf.notes[i].key = "";
}

static int parse_n(const char *text, size_t len)
{
    err.line = 0xdead;
    err.why = 0;
    int rc = lconf_parse(text, len, &conf, arena, sizeof arena, &err);
    if (rc)
        blank_result();
    return rc;
}

static int parse(const char *text)
{
    return parse_n(text, strlen(text));
}

/* The 1-based line of text on which marker first appears (0 if it does not). */
static uint32_t line_of(const char *text, const char *marker)
{
    const char *at = strstr(text, marker);
    if (!at)
        return 0;
    uint32_t line = 1;
    for (const char *c = text; c < at; c++)
        line += *c == '\n';
    return line;
}

static void result(int ok, int caller, const char *what, const char *text)
{
    if (ok) {
        h_pass++;
        return;
    }
    h_fail++;
    fprintf(stderr, "FAIL line %d [%s]: %s\n---\n%s\n---\n", caller, h_test, what, text);
}

/*
 * text is refused on the line where `marker` is (or on line `line` if marker is 0), with a
 * message holding `word`.
 */
#define REFUSED_AT(text, marker, word) refused_at(__LINE__, text, marker, word)
#define REFUSED_LINE(text, line, word) refused(__LINE__, text, line, word)
static void refused(int caller, const char *text, uint32_t line, const char *word)
{
    int rc = parse(text);
    char what[512];
    snprintf(what, sizeof what, "want line %u \"%s\", got rc %d line %u \"%s\"", line, word, rc,
             err.line, err.why ? err.why : "(null)");
    result(rc == -1 && err.line == line && err.why && strstr(err.why, word), caller, what, text);
}

static void refused_at(int caller, const char *text, const char *marker, const char *word)
{
    uint32_t line = line_of(text, marker);
    result(line != 0, caller, "the case's marker is not in its text", text);
    refused(caller, text, line, word);
}

#define ACCEPTED(text) accepted(__LINE__, text)
static void accepted(int caller, const char *text)
{
    int rc = parse(text);
    char what[512];
    snprintf(what, sizeof what, "refused: line %u \"%s\"", err.line, err.why ? err.why : "");
    result(rc == 0, caller, what, text);
}

static int in_arena(const char *s)
{
    if (!s || s < arena || s >= arena + sizeof arena)
        return 0;
    return memchr(s, 0, (size_t)(arena + sizeof arena - s)) != 0;
}

/* Every string of the result lies in the arena, NUL-terminated. */
static int strings_in_arena(const struct lconf *c)
{
    for (uint32_t i = 0; i < c->nentries; i++) {
        const struct lconf_entry *e = &c->entries[i];
        if (!in_arena(e->name) || !in_arena(e->protocol_name) || !in_arena(e->cmdline) ||
            !in_arena(e->comment) || !in_arena(e->kernel.path))
            return 0;
        for (uint32_t m = 0; m < e->nmodules; m++)
            if (!in_arena(e->modules[m].file.path) || !in_arena(e->modules[m].cmdline))
                return 0;
    }
    return 1;
}

#define HASH_LO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_HI "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"
#define HASH    HASH_LO HASH_LO /* 128 hex digits */

/* A hobby OS's limine.conf: every kind of line the reader knows, most of them once. */
static const char real_world[] =
    "# limine.conf of a hobby OS\n"
    "timeout: 3\n"
    "default_entry: 2\n"
    "quiet: yes\n"
    "interface_branding: My OS boot menu\n"
    "interface_branding_colour: 2\n"
    "term_palette: 1e1e2e;f38ba8;a6e3a1;f9e2af;89b4fa;f5c2e7;94e2d5;cdd6f4\n"
    "wallpaper: boot():/boot/bg.png\n"
    "remember_last_entry: yes\n"
    "hash_mismatch_panic: no\n"
    "\n"
    "${KDIR}=boot():/boot\n"
    "${CMD}=console=ttyS0 loglevel=7\n"
    "\n"
    "   # the default: the newest kernel\n"
    "/My OS (${ARCH}, ${FW_TYPE})\n"
    "    comment: the newest kernel, hashed\n"
    "    protocol: limine\n"
    "    path: ${KDIR}/kernel.elf#" HASH "\n"
    "    cmdline: ${CMD} init=/sbin/init # not a comment: part of the command line\n"
    "    module_path: boot(2):/initrd.tar#" HASH_HI HASH_HI "\n"
    "    module_cmdline: initrd\n"
    "    module_path: ${KDIR}/font.psf\n"
    "    module_string: font\n"
    "    module_path: ${KDIR}/symbols.map\n"
    "    kaslr: no\n"
    "    max_paging_mode: 5level\n"
    "    min_paging_mode: 4level\n"
    "    resolution: 1280x720\n"
    "\n"
    "/+Tools\n"
    "    comment: expanded in Limine's menu\n"
    "//Memtest\n"
    "\tPROTOCOL: limine\n"
    "\tKernel_Path:\tboot():/tools/memtest.elf\n"
    "//Linux rescue\n"
    "    protocol: linux\n"
    "    path: boot():/vmlinuz\n"
    "    cmdline: root=/dev/sda2 ro\n"
    "    module_path: boot():/initramfs.img\n"
    "//Windows\n"
    "    protocol: efi_chainload\n"
    "    image_path: boot():/EFI/Microsoft/Boot/bootmgfw.efi\n"
    "\n"
    "/Serial debug\n"
    "    protocol: limine\n"
    "    kernel_path: ${KDIR}/kernel.elf\n"
    "    kernel_cmdline: ${CMD} debug\n"
    "    paging_mode: 4level\n"
    "    resolution: 800x600x16\n"
    "    textmode: no\n";

static void check_real_world(const char *text, size_t len)
{
    CHECK_EQ(parse_n(text, len), 0);
    const struct lconf *c = &conf;
    CHECK_EQ(c->timeout, 3);
    CHECK_EQ(c->default_entry, 2);
    CHECK_EQ(c->default_entry_line, 3);
    CHECK_EQ(c->hash_mismatch_panic, 0);
    CHECK(strings_in_arena(c));

    /* the notes, in file order, each with its line */
    static const char *notes[] = {"quiet",        "interface_branding", "interface_branding_colour",
                                  "term_palette", "wallpaper",          "remember_last_entry",
                                  "textmode"};
    CHECK_EQ(c->nnotes, 7);
    for (uint32_t i = 0; i < 7 && i < c->nnotes; i++) {
        CHECK(strcmp(c->notes[i].key, notes[i]) == 0);
        char marker[64];
        snprintf(marker, sizeof marker, "%s:", notes[i]);
        CHECK_EQ(c->notes[i].line, line_of(real_world, marker));
    }

    CHECK_EQ(c->nentries, 6);
    const struct lconf_entry *e = &c->entries[0];
    CHECK(strcmp(e->name, "My OS (x86-64, UEFI)") == 0);
    CHECK_EQ(e->line, line_of(real_world, "/My OS"));
    CHECK_EQ(e->depth, 1);
    CHECK_EQ(e->directory, 0);
    CHECK_EQ(e->protocol, LCONF_PROTO_LIMINE);
    CHECK(strcmp(e->protocol_name, "limine") == 0);
    CHECK_EQ(e->protocol_line, e->line + 2);
    CHECK(strcmp(e->comment, "the newest kernel, hashed") == 0);
    CHECK_EQ(e->has_kernel, 1);
    CHECK(strcmp(e->kernel.path, "/boot/kernel.elf") == 0);
    CHECK_EQ(e->kernel.partition, 0);
    CHECK_EQ(e->kernel.has_hash, 1);
    CHECK_EQ(e->kernel.line, line_of(real_world, "path: ${KDIR}/kernel.elf#"));
    CHECK(e->kernel.hash[0] == 0x01 && e->kernel.hash[1] == 0x23 && e->kernel.hash[7] == 0xef &&
          e->kernel.hash[63] == 0xef);
    CHECK(strcmp(e->cmdline, "console=ttyS0 loglevel=7 init=/sbin/init # not a comment: part of "
                             "the command line") == 0);
    CHECK_EQ(e->nmodules, 3);
    CHECK(strcmp(e->modules[0].file.path, "/initrd.tar") == 0);
    CHECK_EQ(e->modules[0].file.partition, 2);
    CHECK_EQ(e->modules[0].file.has_hash, 1);
    CHECK(e->modules[0].file.hash[0] == 0xfe && e->modules[0].file.hash[63] == 0x10);
    CHECK(strcmp(e->modules[0].cmdline, "initrd") == 0);
    CHECK(strcmp(e->modules[1].file.path, "/boot/font.psf") == 0);
    CHECK_EQ(e->modules[1].file.has_hash, 0);
    CHECK_EQ(e->modules[1].file.line, line_of(real_world, "module_path: ${KDIR}/font"));
    CHECK(strcmp(e->modules[1].cmdline, "font") == 0);
    CHECK(strcmp(e->modules[2].cmdline, "") == 0);
    CHECK_EQ(e->kaslr, 0);
    CHECK_EQ(e->paging_mode, -1);
    CHECK_EQ(e->max_paging_mode, 1);
    CHECK_EQ(e->min_paging_mode, 0);
    CHECK(e->res_width == 1280 && e->res_height == 720 && e->res_bpp == 32);

    e = &c->entries[1];
    CHECK(strcmp(e->name, "Tools") == 0);
    CHECK(e->directory == 1 && e->depth == 1 && e->protocol == LCONF_PROTO_NONE);
    CHECK(strcmp(e->comment, "expanded in Limine's menu") == 0);
    CHECK(strcmp(e->protocol_name, "") == 0 && strcmp(e->cmdline, "") == 0);

    e = &c->entries[2];
    CHECK(strcmp(e->name, "Memtest") == 0);
    CHECK(e->depth == 2 && !e->directory && e->protocol == LCONF_PROTO_LIMINE);
    CHECK(strcmp(e->kernel.path, "/tools/memtest.elf") == 0);
    CHECK_EQ(e->kaslr, 1);
    CHECK(e->res_width == 0 && e->res_height == 0 && e->res_bpp == 0);

    e = &c->entries[3];
    CHECK(strcmp(e->name, "Linux rescue") == 0);
    CHECK(e->protocol == LCONF_PROTO_OTHER && strcmp(e->protocol_name, "linux") == 0);
    CHECK(strcmp(e->cmdline, "root=/dev/sda2 ro") == 0 && e->nmodules == 1);

    e = &c->entries[4];
    CHECK(e->protocol == LCONF_PROTO_OTHER && strcmp(e->protocol_name, "efi_chainload") == 0);
    CHECK_EQ(e->has_kernel, 0);

    e = &c->entries[5];
    CHECK(strcmp(e->name, "Serial debug") == 0 && e->depth == 1);
    CHECK(strcmp(e->cmdline, "console=ttyS0 loglevel=7 debug") == 0);
    CHECK(e->paging_mode == 0 && e->res_bpp == 16 && e->res_width == 800);
    CHECK_EQ(c->notes[6].line, line_of(real_world, "textmode"));

    /* the lines ascend */
    for (uint32_t i = 1; i < c->nentries; i++)
        CHECK(c->entries[i].line > c->entries[i - 1].line);
}

TEST(real_world_config)
{
    check_real_world(real_world, strlen(real_world));
}

/* The same file with CR LF line ends, and without the last line's end: the same result. */
TEST(real_world_crlf)
{
    static char crlf[sizeof real_world * 2];
    size_t n = 0;
    for (const char *c = real_world; *c; c++) {
        if (*c == '\n')
            crlf[n++] = '\r';
        crlf[n++] = *c;
    }
    check_real_world(crlf, n);
    check_real_world(crlf, n - 2);
    check_real_world(real_world, strlen(real_world) - 1);
}

TEST(real_world_pick)
{
    const struct lconf_entry *e = 0;
    ACCEPTED(real_world);
    CHECK_EQ(lconf_pick(&conf, conf.default_entry, &e, &err), -1); /* 2: the directory */
    CHECK_EQ(err.line, line_of(real_world, "/+Tools"));
    CHECK(strstr(err.why, "is a directory of entries"));
    CHECK_EQ(lconf_pick(&conf, 1, &e, &err), 0);
    CHECK(e == &conf.entries[0]);
    CHECK_EQ(lconf_pick(&conf, 3, &e, &err), 0);
    CHECK(e == &conf.entries[2]);
    CHECK_EQ(lconf_pick(&conf, 4, &e, &err), -1);
    CHECK_EQ(err.line, line_of(real_world, "//Linux"));
    CHECK(strstr(err.why, "protocol linux is not supported by this loader: only limine"));
    CHECK_EQ(lconf_pick(&conf, 5, &e, &err), -1);
    CHECK_EQ(err.line, line_of(real_world, "//Windows"));
    CHECK(strstr(err.why, "protocol efi_chainload is not supported"));
    CHECK_EQ(lconf_pick(&conf, 6, &e, &err), 0);
    CHECK(e == &conf.entries[5]);
    CHECK_EQ(lconf_pick(&conf, 7, &e, &err), -1);
    CHECK_EQ(err.line, 3); /* default_entry's line */
    CHECK(strstr(err.why, "no such entry"));
    CHECK_EQ(lconf_pick(&conf, 0, &e, &err), -1);
    CHECK_EQ(err.line, 3);
}

/* The shape of limine-c-template's limine.conf: one entry, the kernel under /boot. */
TEST(template_shape)
{
    static const char text[] = "# How long the menu waits before it boots the default entry.\n"
                               "timeout: 3\n"
                               "\n"
                               "# One entry, shown in the menu under this name.\n"
                               "/Limine Template\n"
                               "    # The Limine boot protocol.\n"
                               "    protocol: limine\n"
                               "\n"
                               "    # The kernel; boot():/ is the volume limine.conf is on.\n"
                               "    path: boot():/boot/kernel\n";
    const struct lconf_entry *e = 0;
    ACCEPTED(text);
    CHECK(conf.timeout == 3 && conf.nentries == 1 && conf.nnotes == 0);
    CHECK_EQ(lconf_pick(&conf, conf.default_entry, &e, &err), 0);
    CHECK(e && strcmp(e->name, "Limine Template") == 0 &&
          strcmp(e->kernel.path, "/boot/kernel") == 0);
    CHECK(e && e->kernel.line == 10 && e->line == 5 && e->protocol_line == 7 && e->kaslr == 1);
}

/* The shape of the OSDev wiki's bare-bones limine.conf: kernel_path, no blank line at the end. */
TEST(osdev_bare_bones_shape)
{
    static const char text[] = "# Seconds before the default entry boots.\n"
                               "timeout: 3\n"
                               "\n"
                               "# The entry's name in the menu.\n"
                               "/myos\n"
                               "    # Booted with the Limine protocol.\n"
                               "    protocol: limine\n"
                               "\n"
                               "    # boot():/ is the partition that holds limine.conf.\n"
                               "    kernel_path: boot():/boot/myos";
    const struct lconf_entry *e = 0;
    ACCEPTED(text);
    CHECK_EQ(lconf_pick(&conf, 1, &e, &err), 0);
    CHECK(e && strcmp(e->name, "myos") == 0 && strcmp(e->kernel.path, "/boot/myos") == 0);
    CHECK(e && e->kernel.line == 10 && e->cmdline[0] == 0 && e->nmodules == 0);
}

TEST(empty_and_defaults)
{
    const struct lconf_entry *e = 0;
    ACCEPTED("");
    CHECK(conf.timeout == 5 && conf.default_entry == 1 && conf.default_entry_line == 0);
    CHECK(conf.hash_mismatch_panic == 1 && conf.nentries == 0 && conf.nnotes == 0);
    CHECK_EQ(lconf_pick(&conf, 1, &e, &err), -1);
    CHECK(err.line == 0 && strstr(err.why, "no entries"));
    ACCEPTED("# only a comment\n\n   \n\t\n");
    CHECK_EQ(parse_n(0, 0), 0);
    ACCEPTED("timeout: no\n");
    CHECK_EQ(conf.timeout, -1);
    ACCEPTED("timeout: 0\n");
    CHECK_EQ(conf.timeout, 0);
    ACCEPTED("  TimeOut  :   4294967295  \n"); /* keys ignore case; blanks trimmed */
    CHECK(conf.timeout == 4294967295ll);
}

TEST(syntax_details)
{
    /* a value keeps its ':' and '#'; a key is not expanded, a value is */
    ACCEPTED("/A\nprotocol: limine\npath: boot():/k\ncmdline: a:b # c ${ARCH}\n");
    CHECK(strcmp(conf.entries[0].cmdline, "a:b # c x86-64") == 0);
    /* '+' only right after the slashes; blanks around the name trimmed */
    ACCEPTED("/+  Dir  \n//Sub\n/ +Plus\n");
    CHECK(strcmp(conf.entries[0].name, "Dir") == 0 && conf.entries[0].directory == 1);
    CHECK(strcmp(conf.entries[2].name, "+Plus") == 0);
    /* depths go down any number of levels at once */
    ACCEPTED("/A\n//B\n///C\n/D\n//E\n");
    CHECK(conf.nentries == 5 && conf.entries[0].directory && conf.entries[1].directory);
    CHECK(!conf.entries[2].directory && conf.entries[2].depth == 3 && conf.entries[3].directory);
    CHECK(!conf.entries[4].directory);
    /* an entry line may use macros too */
    ACCEPTED("/${N} ${ARCH}\n${N}=Name\n");
    CHECK(strcmp(conf.entries[0].name, "Name x86-64") == 0);
    /* a protocol after protocol-specific keys; lower-cased */
    ACCEPTED("/W\nimage_path: boot():/x.efi\ndrive: 1\npartition: 2\nmbr_id: 0x1\n"
             "gpt_uuid: 1-2\nPROTOCOL: EFI_Chainload\n");
    CHECK(strcmp(conf.entries[0].protocol_name, "efi_chainload") == 0);
    ACCEPTED("/M\nprotocol: multiboot2\npath: boot():/k\nmodule_path: boot():/m\n"
             "module_string: m1\ntextmode: yes\ngpt_guid: 1\n");
    CHECK(strcmp(conf.entries[0].modules[0].cmdline, "m1") == 0 && conf.nnotes == 1);
    /* the hash in upper case; the highest partition number */
    ACCEPTED("/A\nprotocol: limine\npath: boot(4294967295):/k#" HASH_HI HASH_HI "\n");
    CHECK(conf.entries[0].kernel.partition == 4294967295u &&
          conf.entries[0].kernel.hash[0] == 0xfe);
    /* randomise_memory: no, under either spelling */
    ACCEPTED("randomize_memory: no\n");
    ACCEPTED("randomise_memory: no\n");
    /* macros: used before their definition, a built-in overridden, an empty one */
    ACCEPTED("/A\nprotocol: limine\npath: boot():/${ARCH}/k${E}\n${ARCH}=amd64\n${E}=\n");
    CHECK(strcmp(conf.entries[0].kernel.path, "/amd64/k") == 0);
    /* a line of exactly 4096 bytes */
    static char line[4200];
    memset(line, 0, sizeof line);
    memcpy(line, "comment: ", 9);
    memset(line + 9, 'c', 4096 - 9);
    char text[4300];
    snprintf(text, sizeof text, "/A\n%s\n", line);
    ACCEPTED(text);
    CHECK_EQ(strlen(conf.entries[0].comment), 4096 - 9);
}

TEST(refused_old_syntax)
{
    REFUSED_AT("timeout: 3\nTIMEOUT=5\n", "TIMEOUT=", "limine.conf uses key: value and /Entry");
    REFUSED_AT("timeout: 3\n:My OS\nPROTOCOL=limine\n", ":My", "limine.conf uses");
    REFUSED_AT("/A\nKERNEL_PATH=boot:///kernel.elf\n", "KERNEL_PATH", "limine.conf uses");
    REFUSED_AT("/A\nprotocol: limine\npath: boot:///kernel.elf\n", "path:", "URI syntax");
    REFUSED_AT("/A\njust words\n", "just", "expected key: value");
}

TEST(refused_keys)
{
    REFUSED_AT("timeout: 3\nmenu_colour: red\n", "menu_colour", "unknown key");
    REFUSED_AT("/A\nprotocol: limine\nkernel_parh: boot():/k\n", "kernel_parh", "unknown key");
    REFUSED_AT("time${ARCH}out: 3\n", "time", "unknown key"); /* keys are not expanded */
    REFUSED_AT("/A\nprotocol: limine\ntimeout: 3\n", "timeout", "timeout is a global key");
    REFUSED_AT("/A\nterm_font: x\n", "term_font", "term_font is a global key");
    REFUSED_AT("timeout: 3\nprotocol: limine\n", "protocol", "entry");
    REFUSED_AT("timeout: 3\nTIMEOUT: 4\n", "TIMEOUT", "timeout is given twice");
    REFUSED_AT("quiet: yes\nQuiet: no\n", "Quiet", "quiet is given twice");
    REFUSED_AT("randomise_memory: no\nrandomize_memory: no\n", "randomize", "given twice");
    REFUSED_AT("interface_branding_colour: 1\ninterface_branding_color: 2\n",
               "_color:", "given twice");
    REFUSED_AT("/A\npath: boot():/a\nkernel_path: boot():/b\n", "kernel_path", "given twice");
    REFUSED_AT("/A\ncmdline: a\nkernel_cmdline: b\n", "kernel_cmdline", "given twice");
    REFUSED_LINE("/A\nprotocol: limine\nprotocol: limine\n", 3, "protocol is given twice");
    REFUSED_AT("/A\ncomment: a\n/B\ncomment: b\ncomment: c\n", "comment: c", "given twice");
    REFUSED_AT("/A\nprotocol: efi\ngpt_uuid: 1\ngpt_guid: 1\n", "gpt_guid", "given twice");
    REFUSED_LINE("/A\nkaslr: no\nkaslr: no\n", 3, "kaslr is given twice");
}

TEST(refused_values)
{
    REFUSED_AT("timeout: -1\n", "timeout", "timeout takes");
    REFUSED_AT("timeout: 3s\n", "timeout", "timeout takes");
    REFUSED_AT("timeout: 4294967296\n", "timeout", "timeout takes");
    REFUSED_AT("timeout:\n", "timeout", "timeout takes");
    REFUSED_AT("timeout: NO\n", "timeout", "timeout takes");
    REFUSED_AT("default_entry: 0\n", "default_entry", "default_entry takes");
    REFUSED_AT("default_entry: 3\n/A\n/B\n", "default_entry", "beyond the last entry");
    REFUSED_AT("default_entry: 1\n", "default_entry", "beyond the last entry");
    REFUSED_AT("hash_mismatch_panic: maybe\n", "hash", "hash_mismatch_panic takes yes or no");
    REFUSED_AT("randomise_memory: yes\n", "randomise", "not supported");
    REFUSED_AT("randomize_memory: yes\n", "randomize", "not supported");
    REFUSED_AT("randomize_memory: off\n", "randomize", "randomize_memory takes yes or no");
    REFUSED_AT("remember_last_entry: 1\n", "remember", "remember_last_entry takes yes or no");
    REFUSED_AT("/A\nprotocol: stivale2\n", "protocol", "unknown protocol");
    REFUSED_AT("/A\nprotocol:\n", "protocol", "unknown protocol");
    REFUSED_AT("/A\nkaslr: off\n", "kaslr", "kaslr takes yes or no");
    REFUSED_AT("/A\nkaslr: Yes\n", "kaslr", "kaslr takes yes or no");
    REFUSED_AT("/A\npaging_mode: 3level\n", "paging", "paging_mode takes 4level or 5level");
    REFUSED_AT("/A\nmax_paging_mode: 5\n", "max_", "max_paging_mode takes");
    REFUSED_AT("/A\nmin_paging_mode: 4LEVEL\n", "min_", "min_paging_mode takes");
    REFUSED_AT("/A\nprotocol: limine\nmin_paging_mode: 5level\nmax_paging_mode: 4level\n/B\n",
               "min_", "min_paging_mode is above max_paging_mode");
    REFUSED_AT("/A\nmax_paging_mode: 4level\nmin_paging_mode: 5level\n", "min_",
               "min_paging_mode is above max_paging_mode");
    static const char *res[] = {"1024",       "0x768", "1024x0",        "1024x768x",
                                "1024x768x0", "axb",   "1024x768x32x1", "1024X768",
                                "-1x2",       "",      "x768"};
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "/A\nprotocol: limine\nresolution: %s\n", res[i]);
        REFUSED_LINE(text, 3, "resolution takes");
    }
    REFUSED_AT("/A\ntextmode: on\n", "textmode", "textmode takes yes or no");
    REFUSED_AT("/A\nprotocol: limine\ndtb_path: boot():/x.dtb\n", "dtb", "device tree");
}

TEST(refused_modules)
{
    REFUSED_AT("/A\nprotocol: limine\nmodule_cmdline: x\nmodule_path: boot():/m\n", "module_cmd",
               "module_cmdline must follow the module_path");
    REFUSED_AT("/A\nmodule_string: x\n", "module_string", "module_string must follow");
    REFUSED_AT("/A\nmodule_path: boot():/m\n/B\nmodule_cmdline: x\n", "module_cmd",
               "must follow the module_path");
    REFUSED_AT("/A\nmodule_path: boot():/m\nmodule_cmdline: x\nmodule_string: y\n", "module_string",
               "given twice");
    static char text[4096];
    int n = snprintf(text, sizeof text, "/A\nprotocol: limine\n");
    for (int i = 0; i < LCONF_MAX_MODULES; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "module_path: boot():/m%d\n", i);
    ACCEPTED(text);
    CHECK_EQ(conf.entries[0].nmodules, LCONF_MAX_MODULES);
    snprintf(text + n, sizeof text - (size_t)n, "module_path: boot():/last\n");
    REFUSED_AT(text, "/last", "more than 32 modules");
}

TEST(refused_protocol_keys)
{
    REFUSED_AT("/A\nprotocol: limine\nimage_path: boot():/x.efi\npath: boot():/k\n/B\n",
               "image_path", "image_path belongs to other protocols");
    REFUSED_AT("/A\ndrive: 1\n", "drive", "drive belongs to other protocols");
    REFUSED_AT("/A\nprotocol: bios_chainload\nmbr_id:\n", "mbr_id", "mbr_id needs a value");
    REFUSED_AT("/A\nprotocol: limine\npath: boot():/k\nmodule_path: boot():/m\n"
               "module_string: s\ngpt_uuid: x\n",
               "gpt_uuid", "gpt_uuid belongs to other protocols");
}

TEST(refused_entries)
{
    REFUSED_AT("/Dir\nprotocol: limine\n//Sub\n", "protocol", "directory");
    REFUSED_AT("/Dir\ncomment: fine\ntextmode: yes\n//Sub\n", "textmode", "directory");
    REFUSED_AT("//Orphan\n", "//Orphan", "sub-entry needs a parent");
    REFUSED_AT("/A\n//B\n////D\n", "////D", "sub-entry needs a parent");
    REFUSED_AT("/A\n/\n", "/\n", "without a name");
    REFUSED_AT("/A\n//+  \n", "//+", "without a name");
    REFUSED_AT("/${E}\n${E}=\n", "/${E}", "without a name");
    static char text[2048];
    int n = 0;
    for (int i = 0; i < LCONF_MAX_ENTRIES; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "/E%d\n", i);
    ACCEPTED(text);
    CHECK_EQ(conf.nentries, LCONF_MAX_ENTRIES);
    snprintf(text + n, sizeof text - (size_t)n, "/Last\n");
    REFUSED_AT(text, "/Last", "more than 64 entries");
}

TEST(refused_notes)
{
    static char text[2048];
    int n = 0;
    for (int i = 0; i < LCONF_MAX_NOTES; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "/E%d\ntextmode: no\n", i);
    ACCEPTED(text);
    CHECK_EQ(conf.nnotes, LCONF_MAX_NOTES);
    snprintf(text + n, sizeof text - (size_t)n, "/Last\ntextmode: yes\n");
    REFUSED_AT(text, "textmode: yes", "more than 32 keys that have no effect");
}

TEST(refused_paths)
{
    static const struct {
        const char *value, *word;
    } cases[] = {
        {"guid(736b5698-5ae1-4dff-be2c-ef8f44a61c52):/k",
         "resource guid() is not supported: this loader reads boot() volumes only"},
        {"uuid(736b5698-5ae1-4dff-be2c-ef8f44a61c52):/k", "resource uuid() is not supported"},
        {"hdd(1:2):/k", "resource hdd() is not supported"},
        {"odd(1:1):/k", "resource odd() is not supported"},
        {"fslabel(BOOT):/k", "resource fslabel() is not supported"},
        {"tftp(10.0.0.1):/k", "resource tftp() is not supported"},
        {"nvme(1):/k", "unknown resource"},
        {"Boot():/k", "unknown resource"},
        {"$boot():/k.gz", "compressed"},
        {"/boot/kernel", "bare path"},
        {"kernel.elf", "boot():/path"},
        {"", "boot():/path"},
        {"(1):/k", "boot():/path"},
        {"boot:///kernel", "URI syntax"},
        {"boot", "boot():/path"},
        {"boot:", "boot():/path"},
        {"boot(", "without its )"},
        {"boot(0):/k", "partition number from 1"},
        {"boot(00):/k", "partition number from 1"},
        {"boot(x):/k", "partition number from 1"},
        {"boot(-1):/k", "partition number from 1"},
        {"boot(4294967296):/k", "partition number from 1"},
        {"boot(1:/k", "without its )"},
        {"boot():k", "starts with /"},
        {"boot()/k", "starts with /"},
        {"boot():", "starts with /"},
        {"boot()", "starts with /"},
        {"boot():/k#", "128 hex digits"},
        {"boot():/k#" HASH_LO, "128 hex digits"},
        {"boot():/k#" HASH "0", "128 hex digits"},
        {"boot():/k#" HASH_LO HASH_LO "#", "128 hex digits"},
        {"boot():/k#g" HASH_LO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
         "128 hex digits"},
    };
    static const char *keys[] = {"path", "kernel_path", "module_path"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            char text[512];
            snprintf(text, sizeof text, "timeout: 1\n/A\n  protocol: limine\n  %s: %s\n", keys[k],
                     cases[i].value);
            h_test = cases[i].value;
            REFUSED_LINE(text, 4, cases[i].word);
        }
    h_test = "refused_paths";
}

TEST(refused_bytes)
{
    static const char nul[] = "/A\ncomment: a\0b\n";
    CHECK_EQ(parse_n(nul, sizeof nul - 1), -1);
    CHECK(err.line == 2 && strstr(err.why, "NUL"));
    REFUSED_AT("/A\ncomment: caf\xc3\xa9\n", "comment", "non-ASCII");
    REFUSED_AT("# caf\xc3\xa9 in a comment\n", "#", "non-ASCII");
    REFUSED_AT("/A\ncomment: bell\a\n", "comment", "control character");
    REFUSED_AT("/A\ncomment: a\rb\n", "comment", "carriage return");
    REFUSED_AT("/A\r\ncomment: a\r\r\n", "comment", "carriage return");
    REFUSED_AT("/A\ncomment: \x7f\n", "comment", "non-ASCII");
    static char text[8300];
    memset(text, 0, sizeof text);
    memcpy(text, "/A\ncomment: ", 12);
    memset(text + 12, 'c', 4097 - 9);
    strcat(text, "\n");
    REFUSED_LINE(text, 2, "longer than 4096 bytes");
    memset(text + 12, 'c', 8000);
    REFUSED_LINE(text, 2, "longer than 4096 bytes");
}

TEST(refused_macros)
{
    REFUSED_AT("/A\ncmdline: ${NOPE}\n", "cmdline", "undefined macro");
    REFUSED_AT("/${NOPE}\n", "/", "undefined macro");
    REFUSED_AT("/A\ncmdline: ${arch}\n", "cmdline", "undefined macro"); /* names keep case */
    REFUSED_AT("/A\ncmdline: ${ARCH\n", "cmdline", "malformed ${NAME}");
    REFUSED_AT("/A\ncmdline: ${}\n", "cmdline", "malformed ${NAME}");
    REFUSED_AT("/A\ncmdline: ${A-B}\n", "cmdline", "malformed ${NAME}");
    REFUSED_AT("${A}=1\n${B}=2\n${A}=3\n", "${A}=3", "macro defined twice");
    REFUSED_AT("${A B}=1\n", "${A", "malformed macro definition");
    REFUSED_AT("${A}\n", "${A", "malformed macro definition");
    REFUSED_AT("${}=1\n", "${", "malformed macro definition");
    REFUSED_AT("${A}: 1\n", "${A", "malformed macro definition");
    REFUSED_AT("${A}=1\n${B}=${A}2\n", "${B}", "cannot use another macro");
    REFUSED_AT("${D}=$\n/A\ncmdline: ${D}{ARCH}\n", "cmdline", "$ before a {");
    /* a value may grow to 4096 bytes through macros, not further */
    static char text[16384];
    int n = snprintf(text, sizeof text, "${X}=");
    for (int i = 0; i < 1000; i++)
        text[n++] = 'x';
    n += snprintf(text + n, sizeof text - (size_t)n, "\n/A\ncomment: ${X}${X}${X}${X}\n");
    ACCEPTED(text);
    snprintf(text + n, sizeof text - (size_t)n, "cmdline: ${X}${X}${X}${X}${X}\n");
    REFUSED_AT(text, "cmdline", "longer than 4096 bytes after macro expansion");
    /* 32 macros, then one more: refused at its line, even where a use comes first */
    n = 0;
    for (int i = 0; i < LCONF_MAX_MACROS; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "${M%d}=%d\n", i, i);
    n += snprintf(text + n, sizeof text - (size_t)n, "/A\ncomment: ${M31}\n");
    ACCEPTED(text);
    CHECK(strcmp(conf.entries[0].comment, "31") == 0);
    snprintf(text + n, sizeof text - (size_t)n, "${M32}=32\n");
    REFUSED_AT(text, "${M32}", "more than 32 macros");
    snprintf(text + n, sizeof text - (size_t)n, "cmdline: ${M32}\n${M32}=32\n");
    REFUSED_AT(text, "${M32}=", "more than 32 macros");
}

/*
 * Every arena size from 0 to what the real-world configuration needs: each parse either succeeds
 * with the same result or fails naming the arena, and writes nothing past the size it was given.
 */
TEST(arena_sizes)
{
    static char big[1 << 16];
    ACCEPTED(real_world);
    const char *name0 = conf.entries[0].name;
    char want[64];
    snprintf(want, sizeof want, "%s", name0);
    uint32_t successes = 0, failures = 0, lines = line_of(real_world, "textmode");
    for (uint64_t size = 0; size < 2048; size++) {
        memset(big, 0x5a, sizeof big);
        int rc = lconf_parse(real_world, strlen(real_world), &conf, big, size, &err);
        int untouched = 1;
        for (uint64_t i = size; i < size + 4096; i++)
            untouched &= big[i] == 0x5a;
        CHECK(untouched);
        if (rc == 0) {
            successes++;
            CHECK(strcmp(conf.entries[0].name, want) == 0 && conf.nentries == 6);
        } else {
            failures++;
            CHECK(strstr(err.why, "arena") != 0);
            CHECK(err.line <= lines && (err.line > 0 || size == 0));
            CHECK(successes == 0); /* a larger arena never fails where a smaller one did not */
        }
        if (rc == 0 && successes == 1)
            printf("the real-world configuration needs an arena of %llu bytes\n",
                   (unsigned long long)size);
    }
    CHECK(successes > 0 && failures > 400);
}

TEST(pick_refusals)
{
    static const char text[] = "default_entry: 4\n"
                               "/No protocol\n"
                               "    path: boot():/k\n"
                               "/No path\n"
                               "    protocol: limine\n"
                               "/Multiboot\n"
                               "    protocol: multiboot2\n"
                               "    path: boot():/k\n"
                               "/Chain\n"
                               "    protocol: chainload_next\n";
    const struct lconf_entry *e = 0;
    ACCEPTED(text);
    CHECK_EQ(lconf_pick(&conf, 1, &e, &err), -1);
    CHECK(err.line == 2 && strstr(err.why, "no protocol"));
    CHECK_EQ(lconf_pick(&conf, 2, &e, &err), -1);
    CHECK(err.line == 4 && strstr(err.why, "no path"));
    CHECK_EQ(lconf_pick(&conf, 3, &e, &err), -1);
    CHECK(err.line == 6 && strstr(err.why, "protocol multiboot2 is not supported"));
    CHECK_EQ(lconf_pick(&conf, conf.default_entry, &e, &err), -1);
    CHECK(err.line == 9 && strstr(err.why, "protocol chainload_next is not supported"));
    CHECK_EQ(lconf_pick(&conf, 5, &e, &err), -1);
    CHECK(err.line == 1 && strstr(err.why, "no such entry"));
    CHECK(e == 0);
}

int main(void)
{
    RUN(real_world_config);
    RUN(real_world_crlf);
    RUN(real_world_pick);
    RUN(template_shape);
    RUN(osdev_bare_bones_shape);
    RUN(empty_and_defaults);
    RUN(syntax_details);
    RUN(refused_old_syntax);
    RUN(refused_keys);
    RUN(refused_values);
    RUN(refused_modules);
    RUN(refused_protocol_keys);
    RUN(refused_entries);
    RUN(refused_notes);
    RUN(refused_paths);
    RUN(refused_bytes);
    RUN(refused_macros);
    RUN(arena_sizes);
    RUN(pick_refusals);
    HARNESS_MAIN_END();
}
