/*
 * test_pe.c FILE.efi... - each EFI binary is NX-compatible the way Microsoft's UEFI CA rules and
 * shim ask: a PE32+ image for x86_64 whose section alignment is 4 KiB, every section starting on a
 * 4 KiB boundary, no section both writable and executable, and the NX_COMPAT DLL characteristic
 * set. Reads the headers with bounds checks; a malformed file fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

HARNESS_GLOBALS

static unsigned char buf[4 << 20];

static uint32_t u16(size_t o)
{
    return (uint32_t)buf[o] | (uint32_t)buf[o + 1] << 8;
}
static uint32_t u32(size_t o)
{
    return u16(o) | u16(o + 2) << 16;
}

static void check_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        h_fail++;
        return;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    h_test = path;
    CHECK(n > 0x40 && buf[0] == 'M' && buf[1] == 'Z');
    if (n <= 0x40)
        return;
    size_t pe = u32(0x3c);
    CHECK(pe + 24 <= n && !memcmp(buf + pe, "PE\0\0", 4));
    if (pe + 24 + 96 > n)
        return;
    CHECK_EQ(u16(pe + 4), 0x8664); /* IMAGE_FILE_MACHINE_AMD64 */
    size_t nsec = u16(pe + 6), optsz = u16(pe + 20), opt = pe + 24;
    CHECK_EQ(u16(opt), 0x20b);     /* PE32+ */
    CHECK_EQ(u32(opt + 32), 4096); /* SectionAlignment */
    CHECK(u16(opt + 70) & 0x100);  /* IMAGE_DLLCHARACTERISTICS_NX_COMPAT */
    size_t sec = opt + optsz;
    CHECK(nsec > 0 && sec + 40 * nsec <= n);
    if (sec + 40 * nsec > n)
        return;
    for (size_t i = 0; i < nsec; i++) {
        size_t s = sec + 40 * i;
        uint32_t va = u32(s + 12), ch = u32(s + 36);
        int w = (ch & 0x80000000u) != 0, x = (ch & 0x20000000u) != 0;
        if (va % 4096 || (w && x))
            fprintf(stderr, "  %s: section %.8s at 0x%x:%s%s\n", path, (const char *)buf + s, va,
                    va % 4096 ? " not 4 KiB aligned" : "",
                    w && x ? " writable and executable" : "");
        CHECK_EQ(va % 4096, 0);
        CHECK(!(w && x));
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_pe FILE.efi...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        check_file(argv[i]);
    HARNESS_MAIN_END();
}
