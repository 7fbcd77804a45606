/*
 * test_mapfile.c - the text map reader (tools/mapfile.c) on what people paste: error messages for
 * any file name, and the formats Linux printed over the years (2.6's lines without "efi: ").
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mapfile.h"

HARNESS_GLOBALS

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    int ok = n >= t && strcmp(s + n - t, tail) == 0;
    if (!ok)
        fprintf(stderr, "  wanted '...%s', got '%s'\n", tail, s);
    return ok;
}

/* A name of n characters: directories, then "/map.txt". */
static char *long_name(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = i % 16 == 0 ? '/' : (char)('a' + i % 26);
    memcpy(s + n - 8, "/map.txt", 8);
    s[n] = 0;
    return s;
}

/* The error buffer holds at most its size whatever the name; line and reason always survive. */
TEST(errors_fit_for_any_file_name)
{
    const char *bad = "# a map\nefi: mem00: type=7, attr=0xf, range=[0x2000-0x1000)\n";
    const char *why = ":2: range ends before it starts";
    size_t cap = sizeof((struct mapfile *)0)->error;
    for (size_t n = 8; n < 3 * cap; n += n < 2 * cap ? 1 : 97) {
        char *name = long_name(n);
        struct mapfile *mf = calloc(1, sizeof *mf); /* on the heap: ASan sees a write past it */
        CHECK_EQ(mapfile_parse(mf, name, bad), -1);
        size_t len = strnlen(mf->error, cap);
        CHECK(len < cap);
        CHECK(ends_with(mf->error, why));
        if (n + strlen(why) < cap) {
            CHECK(strncmp(mf->error, name, n) == 0); /* the whole name when it fits */
        } else {
            CHECK(strncmp(mf->error, "...", 3) == 0); /* else its tail, and the buffer full */
            CHECK(ends_with(mf->error, "/map.txt:2: range ends before it starts"));
            CHECK_EQ(len, cap - 1);
        }
        mapfile_free(mf);
        free(mf);
        free(name);
    }
    /* the same through mapfile_read, whose fopen fails on such a path */
    char *name = long_name(5000);
    struct mapfile *mf = calloc(1, sizeof *mf);
    CHECK_EQ(mapfile_read(mf, name), -1);
    CHECK(strnlen(mf->error, cap) < cap);
    CHECK(strstr(mf->error, "/map.txt: cannot open: ") != 0);
    free(mf);
    free(name);
}

/* Linux 2.6 printed the numeric lines without "efi: " (arch/x86/kernel/efi.c, efi=debug). */
static const char dmesg26[] =
    "[    0.000000] Linux version 2.6.32-5-amd64 (Debian 2.6.32-48squeeze6)\n"
    "[    0.000000] EFI v2.31 by American Megatrends\n"
    "[    0.000000] memory: 3967M\n"
    "[    0.000000] mem00: type=7, attr=0xf, range=[0x0000000000000000-0x000000000009f000) (0MB)\n"
    "[    0.000000] mem01: type=0, attr=0xf, range=[0x000000000009f000-0x00000000000a0000) (0MB)\n"
    "[    0.000000] mem02: type=4, attr=0xf, range=[0x0000000000100000-0x0000000000200000) (1MB)\n"
    "[    0.000000] mem03: type=7, attr=0xf, range=[0x0000000000200000-0x00000000bf000000) "
    "(3054MB)\n"
    "mem104: type=6, attr=0x800000000000000f, range=[0x00000000bf000000-0x00000000bf100000) (1MB)\n"
    "[    0.000000] mem05: type=11, attr=0x8000000000000001, "
    "range=[0x00000000e0000000-0x00000000f0000000) (256MB)\n"
    "[    0.000000] Kernel command line: root=/dev/sda1 mem=4G\n"
    "[    0.000000] Memory: 3962860k/4194304k available\n";

TEST(linux_26_numeric_lines_without_prefix)
{
    struct mapfile mf = {0};
    CHECK_EQ(mapfile_parse(&mf, "dmesg-2.6", dmesg26), 0);
    if (mf.error[0])
        fprintf(stderr, "  %s\n", mf.error);
    const struct {
        uint32_t type;
        uint64_t start, pages, attr;
    } want[] = {
        {7, 0, 0x9f, 0xf},
        {0, 0x9f000, 1, 0xf},
        {4, 0x100000, 0x100, 0xf},
        {7, 0x200000, 0xbee00, 0xf},
        {6, 0xbf000000, 0x100, 0x800000000000000full},
        {11, 0xe0000000, 0x10000, 0x8000000000000001ull},
    };
    CHECK_EQ(mf.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < mf.n && i < sizeof want / sizeof want[0]; i++) {
        CHECK_EQ(mf.desc[i].type, want[i].type);
        CHECK_EQ(mf.desc[i].phys_start, want[i].start);
        CHECK_EQ(mf.desc[i].npages, want[i].pages);
        CHECK_EQ(mf.desc[i].attr, want[i].attr);
    }
    mapfile_free(&mf);

    /* such a line that does not parse is an error naming the line, like the other formats */
    CHECK_EQ(mapfile_parse(&mf, "m", "[ 0.0] mem00: type=7, attr=0xf, range=[0x1000-0x0)\n"), -1);
    CHECK(strcmp(mf.error, "m:1: range ends before it starts") == 0);
    mapfile_free(&mf);
    CHECK_EQ(mapfile_parse(&mf, "m", "mem7: type=seven\n"), -1);
    CHECK(strstr(mf.error, "m:1: ") == mf.error);
    mapfile_free(&mf);
    /* and words that merely start with "mem" are not descriptors */
    CHECK_EQ(mapfile_parse(&mf, "m", "memmap: type=7\nnomem00: type=7, range=[0x0-0x1000)\n"), -1);
    CHECK(strstr(mf.error, "no memory descriptors") != 0);
    mapfile_free(&mf);
}

/* Found by fuzzing: a long line quoted whole pushed the file name out of the message, and a shell
 * memmap line whose end is not the last byte of a page was taken as whole pages. */
TEST(fuzz_findings)
{
    struct mapfile mf = {0};
    char line[1100] = "efi: mem00: type=";
    memset(line + strlen(line), 'x', 1000);
    line[1017] = '\n';
    line[1018] = 0;
    CHECK_EQ(mapfile_parse(&mf, "name.txt", line), -1);
    CHECK(strstr(mf.error, "name.txt:1: ") == mf.error);
    mapfile_free(&mf);
    CHECK_EQ(mapfile_parse(&mf, "s",
                           "Available 0000000000000000-0000000000001234 0000000000000001 "
                           "000000000000000F\n"),
             -1);
    CHECK(strstr(mf.error, "s:1: start-end is not whole pages") == mf.error);
    mapfile_free(&mf);
    CHECK_EQ(mapfile_parse(&mf, "s",
                           "Available 0000000000000000-0000000000001FFF 0000000000000002 "
                           "000000000000000F\n"),
             0);
    CHECK_EQ(mf.n, 1);
    mapfile_free(&mf);
}

int main(void)
{
    RUN(errors_fit_for_any_file_name);
    RUN(linux_26_numeric_lines_without_prefix);
    RUN(fuzz_findings);
    HARNESS_MAIN_END();
}
