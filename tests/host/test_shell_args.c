/*
 * test_shell_args.c - the `pmm` shell command's argument syntax (efi/shell/args.c), on the host.
 *
 * Expected values are written out by hand from the syntax in efi/shell/pmm.man; a few properties
 * (every number that parses prints back the same, suffixes multiply exactly) are checked against
 * 64-bit arithmetic done here.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "harness.h"

HARNESS_GLOBALS

/* Up to 8 words of up to 63 characters each, widened to the shell's 16-bit characters. */
struct words {
    arg_char buf[8][64];
    const arg_char *w[8];
    int n;
};

static void widen(arg_char *out, const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 63; i++)
        out[i] = (arg_char)(unsigned char)s[i];
    out[i] = 0;
}

static struct words *words(const char *line)
{
    static struct words ws;
    memset(&ws, 0, sizeof ws);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", line);
    for (char *t = strtok(tmp, " "); t && ws.n < 8; t = strtok(NULL, " ")) {
        widen(ws.buf[ws.n], t);
        ws.w[ws.n] = ws.buf[ws.n];
        ws.n++;
    }
    return &ws;
}

static enum arg_err num(const char *s, uint64_t *v)
{
    arg_char w[64];
    widen(w, s);
    return arg_number(w, v);
}

TEST(numbers)
{
    uint64_t v = 7;
    CHECK_EQ(num("0", &v), ARG_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(num("4096", &v), ARG_OK);
    CHECK_EQ(v, 4096);
    CHECK_EQ(num("0x1F000", &v), ARG_OK);
    CHECK_EQ(v, 0x1F000);
    CHECK_EQ(num("0XaBc", &v), ARG_OK);
    CHECK_EQ(v, 0xabc);
    CHECK_EQ(num("64K", &v), ARG_OK);
    CHECK_EQ(v, 64 << 10);
    CHECK_EQ(num("16m", &v), ARG_OK);
    CHECK_EQ(v, 16 << 20);
    CHECK_EQ(num("0x2G", &v), ARG_OK);
    CHECK(v == 2ull << 30);
    CHECK_EQ(num("3T", &v), ARG_OK);
    CHECK(v == 3ull << 40);
    CHECK_EQ(num("18446744073709551615", &v), ARG_OK);
    CHECK(v == UINT64_MAX);
    CHECK_EQ(num("0xFFFFFFFFFFFFFFFF", &v), ARG_OK);
    CHECK(v == UINT64_MAX);
    CHECK_EQ(num("16777215T", &v), ARG_OK); /* 2^24 - 1 TiB: the largest with a T */
    CHECK(v == ((1ull << 24) - 1) << 40);

    v = 12345;
    CHECK_EQ(num("", &v), ARG_MISSING);
    CHECK_EQ(num("M", &v), ARG_NOT_NUMBER); /* a bare suffix is not 0 */
    CHECK_EQ(num("0x", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("0xK", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("12KB", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("12 ", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("-1", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("+1", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("1e3", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("0x1g0", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("12P", &v), ARG_NOT_NUMBER);
    CHECK_EQ(num("18446744073709551616", &v), ARG_TOO_BIG);
    CHECK_EQ(num("99999999999999999999", &v), ARG_TOO_BIG);
    CHECK_EQ(num("0x10000000000000000", &v), ARG_TOO_BIG);
    CHECK_EQ(num("16777216T", &v), ARG_TOO_BIG);
    CHECK_EQ(num("17179869184G", &v), ARG_TOO_BIG);
    CHECK_EQ(num("99999999999999999999x", &v), ARG_NOT_NUMBER); /* not a number, whatever size */
    CHECK_EQ(v, 12345);                                         /* refusals leave it alone */
}

/* Every value round-trips through decimal and hex, with and without a suffix that divides it. */
TEST(numbers_round_trip)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t want = x >> (i % 64), got = 0;
        char s[40];
        snprintf(s, sizeof s, "%llu", (unsigned long long)want);
        CHECK(num(s, &got) == ARG_OK && got == want);
        snprintf(s, sizeof s, "0x%llx", (unsigned long long)want);
        CHECK(num(s, &got) == ARG_OK && got == want);
        unsigned k = (unsigned)(i % 4) + 1;
        uint64_t m = want >> (10 * k);
        snprintf(s, sizeof s, "%llu%c", (unsigned long long)m, "KMGT"[k - 1]);
        CHECK(num(s, &got) == ARG_OK && got == m << (10 * k));
    }
}

static enum arg_err pages(const char *s, uint64_t *v)
{
    arg_char w[64];
    widen(w, s);
    return arg_pages(w, v);
}

/* Page counts: a plain number is pages, one with a unit bytes; checked against 64-bit arithmetic
 * done here for counts across the whole range, the limit on both sides. */
TEST(page_counts)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t n = (x >> (i % 41 + 23)) + 1, got = 0; /* 1 .. 2^41 */
        char s[40];
        snprintf(s, sizeof s, "%llu", (unsigned long long)n);
        CHECK_EQ(pages(s, &got), n <= ARG_MAX_PAGES ? ARG_OK : ARG_TOO_MANY);
        CHECK(n > ARG_MAX_PAGES || got == n);
        snprintf(s, sizeof s, "%lluK", (unsigned long long)n * 4); /* 4n KiB = n pages */
        CHECK_EQ(pages(s, &got), n <= ARG_MAX_PAGES ? ARG_OK : ARG_TOO_MANY);
        CHECK(n > ARG_MAX_PAGES || got == n);
        snprintf(s, sizeof s, "%lluK", (unsigned long long)n * 4 + 1 + (n & 2)); /* 1 or 3 KiB */
        CHECK_EQ(pages(s, &got), ARG_NOT_PAGES);
    }
    uint64_t v = 77;
    CHECK_EQ(pages("0x10000000000", &v), ARG_OK);
    CHECK(v == ARG_MAX_PAGES);
    CHECK_EQ(pages("4096T", &v), ARG_OK); /* 2^52 bytes */
    CHECK(v == ARG_MAX_PAGES);
    v = 77;
    CHECK_EQ(pages("0x10000000001", &v), ARG_TOO_MANY);
    CHECK_EQ(pages("0", &v), ARG_ZERO);
    CHECK_EQ(pages("2K", &v), ARG_NOT_PAGES);
    CHECK_EQ(pages("", &v), ARG_MISSING);
    CHECK_EQ(pages("1e3", &v), ARG_NOT_NUMBER);
    CHECK_EQ(pages("99999999999999999999", &v), ARG_TOO_BIG);
    CHECK_EQ(v, 77); /* refusals leave it alone */
}

TEST(flags)
{
    arg_char w[64];
    static const struct {
        const char *s;
        unsigned f;
    } cases[] = {{"-b", ARG_FLAG_B},
                 {"-B", ARG_FLAG_B},
                 {"-sfo", ARG_FLAG_SFO},
                 {"-SFO", ARG_FLAG_SFO},
                 {"-f", ARG_FLAG_FORCE},
                 {"-?", ARG_FLAG_HELP},
                 {"-h", ARG_FLAG_HELP},
                 {"--help", ARG_FLAG_HELP},
                 {"-", 0},
                 {"+", 0},
                 {"-bb", 0},
                 {"-align", 0},
                 {"b", 0},
                 {"", 0},
                 {"-sf", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        widen(w, cases[i].s);
        CHECK_EQ(arg_flag(w), cases[i].f);
    }
}

static enum arg_err alloc(const char *line, struct arg_alloc *a, int *at)
{
    struct words *ws = words(line);
    *at = -1;
    return arg_alloc(ws->n, ws->w, a, at);
}

TEST(alloc_args)
{
    struct arg_alloc a;
    int at;
    CHECK_EQ(alloc("16", &a, &at), ARG_OK);
    CHECK(a.pages == 16 && a.align == 4096 && a.below == 0);
    CHECK_EQ(alloc("16 -align 64K -below 16M", &a, &at), ARG_OK);
    CHECK(a.pages == 16 && a.align == 65536 && a.below == 16 << 20);
    CHECK_EQ(alloc("1 -BELOW 0x100000 -Align 2M", &a, &at), ARG_OK);
    CHECK(a.pages == 1 && a.align == 2 << 20 && a.below == 1 << 20);
    CHECK_EQ(alloc("0x10000000000", &a, &at), ARG_OK); /* out of memory is not a syntax error */
    CHECK(a.pages == ARG_MAX_PAGES);                   /* 2^40: every page 52 bits can reach */
    CHECK_EQ(alloc("3 -align 1", &a, &at), ARG_OK);    /* 2^0; pages are 4K-aligned anyway */
    /* a count with a unit is a size in bytes, like -align's: 4K is one page, 2M 512 pages */
    CHECK_EQ(alloc("4K", &a, &at), ARG_OK);
    CHECK(a.pages == 1);
    CHECK_EQ(alloc("2M -align 2M", &a, &at), ARG_OK);
    CHECK(a.pages == 512 && a.align == 2 << 20);
    CHECK_EQ(alloc("0x10K", &a, &at), ARG_OK); /* 16 KiB */
    CHECK(a.pages == 4);
    CHECK_EQ(alloc("4T", &a, &at), ARG_OK);
    CHECK(a.pages == 1ull << 30);
    CHECK_EQ(alloc("4096", &a, &at), ARG_OK); /* no unit: pages */
    CHECK(a.pages == 4096);

    a = (struct arg_alloc){111, 222, 333};
    CHECK_EQ(alloc("", &a, &at), ARG_MISSING);
    CHECK_EQ(at, 0);
    CHECK_EQ(alloc("0", &a, &at), ARG_ZERO);
    CHECK_EQ(at, 0);
    CHECK_EQ(alloc("99999999999999999999", &a, &at), ARG_TOO_BIG);
    CHECK_EQ(at, 0);
    CHECK_EQ(alloc("0xFFFFFFFFFFFFFFFF", &a, &at), ARG_TOO_MANY); /* not -1, not out of memory */
    CHECK_EQ(at, 0);
    CHECK_EQ(alloc("0x10000000001", &a, &at), ARG_TOO_MANY); /* 2^40 + 1 */
    CHECK_EQ(alloc("4097T", &a, &at), ARG_TOO_MANY);         /* 2^40 + 2^28 pages of bytes */
    CHECK_EQ(alloc("1K", &a, &at), ARG_NOT_PAGES);
    CHECK_EQ(at, 0);
    CHECK_EQ(alloc("6K", &a, &at), ARG_NOT_PAGES);
    CHECK_EQ(alloc("0K", &a, &at), ARG_ZERO);
    CHECK_EQ(alloc("4 -align 0", &a, &at), ARG_ZERO);
    CHECK_EQ(at, 2);
    CHECK_EQ(alloc("4 -align 3", &a, &at), ARG_NOT_POW2);
    CHECK_EQ(at, 2);
    CHECK_EQ(alloc("4 -align 0x3000", &a, &at), ARG_NOT_POW2);
    CHECK_EQ(alloc("4 -below 0", &a, &at), ARG_ZERO);
    CHECK_EQ(at, 2);
    CHECK_EQ(alloc("4 -below M", &a, &at), ARG_NOT_NUMBER);
    CHECK_EQ(at, 2);
    CHECK_EQ(alloc("4 -below", &a, &at), ARG_NO_VALUE);
    CHECK_EQ(at, 1);
    CHECK_EQ(alloc("4 -sideways 2", &a, &at), ARG_UNKNOWN_OPTION);
    CHECK_EQ(at, 1);
    CHECK_EQ(alloc("4 5", &a, &at), ARG_EXTRA);
    CHECK_EQ(at, 1);
    CHECK_EQ(alloc("4 -align 4K -align 8K", &a, &at), ARG_TWICE);
    CHECK_EQ(at, 3);
    CHECK_EQ(alloc("4 -below 1M -align 4K -below 2M", &a, &at), ARG_TWICE);
    CHECK_EQ(at, 5);
    CHECK(a.pages == 111 && a.align == 222 && a.below == 333); /* refusals leave it alone */
}

static enum arg_err fre(const char *line, struct arg_free *f, int *at)
{
    struct words *ws = words(line);
    *at = -1;
    return arg_free(ws->n, ws->w, f, at);
}

TEST(free_args)
{
    struct arg_free f;
    int at;
    CHECK_EQ(fre("0x1000", &f, &at), ARG_OK);
    CHECK(f.phys == 0x1000 && f.pages == 1);
    CHECK_EQ(fre("16M 16", &f, &at), ARG_OK);
    CHECK(f.phys == 16 << 20 && f.pages == 16);
    /* the highest page, and a run ending exactly at 2^64 */
    CHECK_EQ(fre("0xFFFFFFFFFFFFF000", &f, &at), ARG_OK);
    CHECK_EQ(fre("0xFFFFFFFFFFFF0000 16", &f, &at), ARG_OK);
    CHECK_EQ(fre("0 0x10000000000", &f, &at), ARG_OK); /* 2^40 pages: all 52 bits reach */
    CHECK(f.phys == 0 && f.pages == ARG_MAX_PAGES);
    CHECK_EQ(fre("0x200000 2M", &f, &at), ARG_OK); /* 2 MiB: 512 pages */
    CHECK(f.phys == 0x200000 && f.pages == 512);

    f = (struct arg_free){5, 6};
    CHECK_EQ(fre("", &f, &at), ARG_MISSING); /* `pmm free %pmm_last%` with it empty */
    CHECK_EQ(at, 0);
    CHECK_EQ(fre("0x1001", &f, &at), ARG_UNALIGNED);
    CHECK_EQ(at, 0);
    CHECK_EQ(fre("0x1000 0", &f, &at), ARG_ZERO);
    CHECK_EQ(at, 1);
    CHECK_EQ(fre("0x1000 0xFFFFFFFFFFFFFFFF", &f, &at), ARG_TOO_MANY);
    CHECK_EQ(at, 1);
    CHECK_EQ(fre("0x1000 3K", &f, &at), ARG_NOT_PAGES);
    CHECK_EQ(at, 1);
    CHECK_EQ(fre("0xFFFFFFFFFFFF0000 17", &f, &at), ARG_WRAPS);
    CHECK_EQ(at, 1);
    CHECK_EQ(fre("0xFFFFFFFFFFFFF000 2", &f, &at), ARG_WRAPS);
    CHECK_EQ(fre("0xFFFFFF0000000000 0x10000000000", &f, &at), ARG_WRAPS); /* 2^40 pages */
    CHECK_EQ(fre("0x1000 1 2", &f, &at), ARG_EXTRA);
    CHECK_EQ(at, 2);
    CHECK_EQ(fre("fs0:", &f, &at), ARG_NOT_NUMBER);
    CHECK(f.phys == 5 && f.pages == 6);
}

static enum arg_err ref(const char *line, struct arg_ref *r, int *at)
{
    struct words *ws = words(line);
    *at = -1;
    return arg_ref(ws->n, ws->w, r, at);
}

TEST(ref_args)
{
    struct arg_ref r;
    int at;
    CHECK_EQ(ref("0x200000 +", &r, &at), ARG_OK);
    CHECK(r.phys == 0x200000 && r.inc == 1);
    CHECK_EQ(ref("2M -", &r, &at), ARG_OK);
    CHECK(r.phys == 0x200000 && r.inc == 0);

    r = (struct arg_ref){9, 9};
    CHECK_EQ(ref("", &r, &at), ARG_MISSING);
    CHECK_EQ(at, 0);
    CHECK_EQ(ref("0x200000", &r, &at), ARG_MISSING);
    CHECK_EQ(at, 1);
    CHECK_EQ(ref("0x200000 *", &r, &at), ARG_NOT_SIGN);
    CHECK_EQ(at, 1);
    CHECK_EQ(ref("0x200000 ++", &r, &at), ARG_NOT_SIGN);
    CHECK_EQ(ref("0x200000 + +", &r, &at), ARG_EXTRA);
    CHECK_EQ(at, 2);
    CHECK_EQ(ref("0x200001 +", &r, &at), ARG_UNALIGNED);
    CHECK_EQ(at, 0);
    CHECK(r.phys == 9 && r.inc == 9);
}

TEST(messages)
{
    for (int e = ARG_OK; e <= ARG_FLAG_HERE; e++) {
        const char *m = arg_strerror((enum arg_err)e);
        CHECK(m && *m && strlen(m) < 50); /* "pmm alloc: WORD: " + message fits 80 columns */
    }
    CHECK(strstr(arg_strerror(ARG_TOO_BIG), "64 bits"));
    CHECK(strstr(arg_strerror(ARG_TOO_MANY), "2^40")); /* the limit is named */
    CHECK(strstr(arg_strerror(ARG_NOT_PAGES), "4K"));
    arg_char w[8];
    widen(w, "-ALIGN");
    CHECK(arg_is(w, "-align"));
    CHECK(!arg_is(w, "-align2"));
    CHECK(!arg_is(w, "-alig"));
}

int main(void)
{
    RUN(numbers);
    RUN(numbers_round_trip);
    RUN(page_counts);
    RUN(flags);
    RUN(alloc_args);
    RUN(free_args);
    RUN(ref_args);
    RUN(messages);
    HARNESS_MAIN_END();
}
