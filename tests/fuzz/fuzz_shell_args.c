/*
 * fuzz_shell_args.c - the `pmm` shell command's argument parser (efi/shell/args.c).
 *
 * FUZZ-LINK: efi/shell/args.c
 * FUZZ-CFLAGS: -Iefi/shell
 *
 * Input: byte 0 picks the parser (number, flag, alloc, free, ref); the rest is the command line,
 * one byte per character, except that 0xFF followed by two bytes is one 16-bit character (the
 * shell hands over UCS-2). Spaces separate words (at most 8 of at most 63 characters each).
 *
 * Properties:
 *  - arg_number agrees with a reference parser written here in another way (128-bit arithmetic,
 *    the suffix split off first): the same verdict and, when it accepts, the same value;
 *  - arg_flag recognises exactly the spellings the manual lists;
 *  - alloc, free and ref accept only what their syntax allows, checked from the words again with
 *    the reference parser: page counts from 1 to 2^40 (a count with a unit is bytes, whole
 *    pages), a power-of-two alignment, a non-zero limit, page-aligned addresses, a free run that
 *    ends at or below 2^64, + or -; a refusal names a word that exists (or the count of words,
 *    for one that is missing) and leaves the result untouched.
 * Seeds: tests/fuzz/corpus/shell_args (command lines from the manual's examples and the shell
 * test's bad calls); dictionary tests/fuzz/shell_args.dict.
 */
#include <stdint.h>
#include <string.h>

#include "args.h"
#include "fuzz.h"

#define MAX_WORDS 8
#define MAX_CHARS 63

typedef unsigned __int128 u128;

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The reference: split off the suffix, then the prefix, then add up digits in 128 bits. */
static enum arg_err ref_number(const arg_char *s, uint64_t *v)
{
    size_t n = 0;
    while (s[n])
        n++;
    if (!n)
        return ARG_MISSING;
    unsigned shift = 0;
    const char *units = "kmgt";
    for (int i = 0; i < 4; i++)
        if (lower(s[n - 1]) == units[i]) {
            shift = 10u * (unsigned)(i + 1);
            n--;
            break;
        }
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && lower(s[1]) == 'x') {
        base = 16;
        i = 2;
    }
    if (i == n)
        return ARG_NOT_NUMBER;
    u128 x = 0;
    int big = 0;
    for (; i < n; i++) {
        int c = lower(s[i]), d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return ARG_NOT_NUMBER;
        x = x * base + (unsigned)d;
        if (x >> 64)
            big = 1, x = (u128)1 << 64;
    }
    if (big || (x << shift) >> 64)
        return ARG_TOO_BIG;
    *v = (uint64_t)(x << shift);
    return ARG_OK;
}

/* A page count by the reference: a unit makes it bytes, which must be whole pages; 1 .. 2^40. */
static int ref_pages(const arg_char *s, uint64_t *pages)
{
    uint64_t v = 0;
    if (ref_number(s, &v))
        return 0;
    size_t n = 0;
    while (s[n])
        n++;
    int c = lower(s[n - 1]), unit = c == 'k' || c == 'm' || c == 'g' || c == 't';
    if (unit && v % 4096)
        return 0;
    if (unit)
        v /= 4096;
    if (!v || v > (1ull << 40))
        return 0;
    *pages = v;
    return 1;
}

static int same_text(const arg_char *s, const char *lit)
{
    for (; *lit; s++, lit++)
        if (lower(*s) != *lit)
            return 0;
    return !*s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    unsigned mode = data[0] % 5;
    static arg_char buf[MAX_WORDS][MAX_CHARS + 1];
    const arg_char *w[MAX_WORDS];
    int n = 0, len = 0;
    memset(buf, 0, sizeof buf);
    for (size_t i = 1; i < size && n < MAX_WORDS; i++) {
        arg_char c = data[i];
        if (c == 0xff && i + 2 < size) {
            c = (arg_char)(data[i + 1] | data[i + 2] << 8);
            i += 2;
        }
        if (c == ' ' || !c) {
            if (len)
                n++, len = 0;
            continue;
        }
        if (len < MAX_CHARS)
            buf[n][len++] = c;
    }
    if (len)
        n++;
    for (int i = 0; i < n; i++)
        w[i] = buf[i];
    static const arg_char empty[1] = {0};
    const arg_char *first = n ? w[0] : empty;

    if (mode == 0) {
        uint64_t got = 0x5a5a, want = 0xa5a5;
        enum arg_err e = arg_number(first, &got), r = ref_number(first, &want);
        FZ_ASSERT(e == r, "arg_number says %d, the reference %d", e, r);
        FZ_ASSERT(e || got == want, "arg_number gives %#llx, the reference %#llx",
                  (unsigned long long)got, (unsigned long long)want);
        FZ_ASSERT(!e || got == 0x5a5a, "a refused number changed the result");
    } else if (mode == 1) {
        static const struct {
            const char *s;
            unsigned f;
        } known[] = {{"-b", ARG_FLAG_B},    {"-sfo", ARG_FLAG_SFO}, {"-f", ARG_FLAG_FORCE},
                     {"-?", ARG_FLAG_HELP}, {"-h", ARG_FLAG_HELP},  {"--help", ARG_FLAG_HELP}};
        unsigned want = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (same_text(first, known[k].s))
                want = known[k].f;
        FZ_ASSERT(arg_flag(first) == want, "arg_flag gives %u, want %u", arg_flag(first), want);
    } else if (mode == 2) {
        struct arg_alloc a = {1, 2, 3};
        int at = -1;
        enum arg_err e = arg_alloc(n, w, &a, &at);
        if (e) {
            FZ_ASSERT(at >= 0 && at <= n, "refusal names word %d of %d", at, n);
            FZ_ASSERT(a.pages == 1 && a.align == 2 && a.below == 3, "refused alloc changed it");
            return 0;
        }
        uint64_t v = 0;
        FZ_ASSERT(ref_pages(w[0], &v) && v == a.pages, "page count %llu",
                  (unsigned long long)a.pages);
        FZ_ASSERT(a.align && !(a.align & (a.align - 1)), "align %#llx",
                  (unsigned long long)a.align);
        FZ_ASSERT(n % 2 == 1 && n <= 5, "accepted %d words", n);
        int saw_align = 0, saw_below = 0;
        for (int i = 1; i < n; i += 2) {
            int al = same_text(w[i], "-align"), be = same_text(w[i], "-below");
            FZ_ASSERT(al || be, "accepted option word %d", i);
            FZ_ASSERT(!ref_number(w[i + 1], &v) && v, "accepted value word %d", i + 1);
            FZ_ASSERT(v == (al ? a.align : a.below), "option %d not taken", i);
            saw_align += al, saw_below += be;
        }
        FZ_ASSERT(saw_align <= 1 && saw_below <= 1, "an option twice");
        FZ_ASSERT(saw_align || a.align == 4096, "default align %#llx", (unsigned long long)a.align);
        FZ_ASSERT(saw_below || a.below == 0, "default limit %#llx", (unsigned long long)a.below);
    } else if (mode == 3) {
        struct arg_free f = {7, 7};
        int at = -1;
        enum arg_err e = arg_free(n, w, &f, &at);
        if (e) {
            FZ_ASSERT(at >= 0 && at <= n, "refusal names word %d of %d", at, n);
            FZ_ASSERT(f.phys == 7 && f.pages == 7, "refused free changed it");
            return 0;
        }
        uint64_t v = 0;
        FZ_ASSERT(n == 1 || n == 2, "accepted %d words", n);
        FZ_ASSERT(!ref_number(w[0], &v) && v == f.phys && !(v & 4095), "address %#llx",
                  (unsigned long long)f.phys);
        FZ_ASSERT(n == 1 ? f.pages == 1 : ref_pages(w[1], &v) && v == f.pages, "count %llu",
                  (unsigned long long)f.pages);
        FZ_ASSERT((u128)f.phys + (u128)f.pages * 4096 <= (u128)1 << 64, "run wraps");
    } else {
        struct arg_ref r = {7, 7};
        int at = -1;
        enum arg_err e = arg_ref(n, w, &r, &at);
        if (e) {
            FZ_ASSERT(at >= 0 && at <= n, "refusal names word %d of %d", at, n);
            FZ_ASSERT(r.phys == 7 && r.inc == 7, "refused ref changed it");
            return 0;
        }
        uint64_t v = 0;
        FZ_ASSERT(n == 2, "accepted %d words", n);
        FZ_ASSERT(!ref_number(w[0], &v) && v == r.phys && !(v & 4095), "address %#llx",
                  (unsigned long long)r.phys);
        FZ_ASSERT(!w[1][1] && (w[1][0] == '+' || w[1][0] == '-') && r.inc == (w[1][0] == '+'),
                  "sign");
    }
    return 0;
}
