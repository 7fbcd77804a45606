/*
 * test_preflight.c - the loader's refusals before ExitBootServices (efi/preflight.c): the options
 * file, the kernel's addresses, the paging mode.
 */
#include <string.h>

#include "harness.h"
#include "pmm.h"
#include "preflight.h"

HARNESS_GLOBALS

/* Parse text; return the message (0 if accepted), with *flags and *line as the parser left them. */
static const char *parse(const char *text, unsigned *flags, uint64_t *line)
{
    *flags = 0xdead;
    return options_parse(text, strlen(text), flags, line);
}

TEST(options_accepted)
{
    unsigned f;
    uint64_t line;
    CHECK(!parse("", &f, &line) && f == 0);
    CHECK(!parse("hold-boot-memory=on\n", &f, &line) && f == PMM_HOLD_BOOT_MEMORY);
    CHECK(!parse("  hold-boot-memory =\ton  # keep it\r\n", &f, &line) &&
          f == PMM_HOLD_BOOT_MEMORY);
    CHECK(!parse("hold-boot-memory=on", &f, &line) && f == PMM_HOLD_BOOT_MEMORY); /* no newline */
    CHECK(!parse("# comment only\n\n   \n", &f, &line) && f == 0);
    CHECK(!parse("hold-boot-memory=on\nhold-boot-memory=off\n", &f, &line) && f == 0); /* last */
}

/* What the old substring match took for "on": each is off, or refused. */
TEST(options_not_substrings)
{
    unsigned f;
    uint64_t line;
    CHECK(!parse("hold-boot-memory=off\n", &f, &line) && f == 0);
    CHECK(!parse("# hold-boot-memory=on\n", &f, &line) && f == 0);
    CHECK(!parse("   #hold-boot-memory = on\n", &f, &line) && f == 0);
    CHECK(parse("no-hold-boot-memory=on\n", &f, &line) && line == 1);
}

TEST(options_refused_with_line)
{
    unsigned f;
    uint64_t line;
    const char *why = parse("# options\nhold-boot-memory=on\nfoo=1\n", &f, &line);
    CHECK(why && strstr(why, "unknown key"));
    CHECK_EQ(line, 3);
    CHECK_EQ(f, 0xdead); /* refused: nothing set */
    why = parse("\n\nhold-boot-memory=yes\n", &f, &line);
    CHECK(why && strstr(why, "on or off"));
    CHECK_EQ(line, 3);
    why = parse("hold-boot-memory\n", &f, &line); /* the old format: a bare word */
    CHECK(why && strstr(why, "key = value"));
    CHECK_EQ(line, 1);
    why = parse("hold-boot-memory=\n", &f, &line);
    CHECK(why && strstr(why, "on or off"));
    why = parse("=on\n", &f, &line);
    CHECK(why && strstr(why, "unknown key"));
    CHECK(parse("hold-boot-memory=on on\n", &f, &line));
    CHECK(parse("hold-boot-memory=ON\n", &f, &line));
    char nul[] = "hold-boot-memory=on\nx\0y=1\n";
    f = 0;
    why = options_parse(nul, sizeof nul - 1, &f, &line);
    CHECK(why && strstr(why, "ASCII"));
    CHECK_EQ(line, 2);
}

static const char *addrs(uint64_t vlo, uint64_t vhi, uint64_t entry)
{
    struct elf_image img = {vlo, vhi, entry, 1};
    return kernel_addresses_check(&img);
}

TEST(kernel_addresses)
{
    CHECK(!addrs(0xffffffff80000000ull, 0xffffffff80200000ull, 0xffffffff80001000ull));
    CHECK(!addrs(0xffff800000000000ull, 0xffff800000001000ull, 0xffff800000000000ull));
    CHECK(!addrs(0x400000, 0x600000, 0x401000));
    CHECK(!addrs(0x00007ffffffff000ull, 0x0000800000000000ull, 0x00007ffffffff000ull));
    /* the first page past the lower half, the last one before the upper half */
    CHECK(addrs(0x0000800000000000ull, 0x0000800000001000ull, 0x0000800000000000ull));
    CHECK(addrs(0xffff7ffffffff000ull, 0xffff800000000000ull, 0xffff7ffffffff000ull));
    /* canonical start, extent running into the hole */
    CHECK(addrs(0x00007ffffff00000ull, 0x0000800000100000ull, 0x00007ffffff00000ull));
    /* a kernel linked at 0x8000_0000_0000_0000-ish (bit 63 only) */
    CHECK(addrs(0x8000000080000000ull, 0x8000000080200000ull, 0x8000000080001000ull));
    /* entry outside canonical space while the extent is fine (elf_check would refuse it too) */
    CHECK(addrs(0xffffffff80000000ull, 0xffffffff80200000ull, 0x0000900000000000ull));
}

TEST(paging_mode)
{
    uint64_t cr0 = CR0_PG | 1, cr4 = CR4_PAE, efer = EFER_LMA | (1 << 8);
    CHECK(!paging_mode_check(cr0, cr4, efer));
    const char *why = paging_mode_check(cr0, cr4 | CR4_LA57, efer);
    CHECK(why && strstr(why, "5-level"));
    CHECK(paging_mode_check(cr0 & ~CR0_PG, cr4, efer));
    CHECK(paging_mode_check(cr0, cr4 & ~CR4_PAE, efer));
    CHECK(paging_mode_check(cr0, cr4, efer & ~EFER_LMA));
}

int main(void)
{
    RUN(options_accepted);
    RUN(options_not_substrings);
    RUN(options_refused_with_line);
    RUN(kernel_addresses);
    RUN(paging_mode);
    HARNESS_MAIN_END();
}
