/*
 * args.c - the `pmm` shell command's argument syntax (see args.h). No libc, no UEFI.
 */
#include "args.h"

#define PAGE 4096ull

const char *arg_strerror(enum arg_err e)
{
    switch (e) {
    case ARG_OK:
        return "ok";
    case ARG_MISSING:
        return "missing";
    case ARG_NOT_NUMBER:
        return "not a number (decimal or 0x hex, K/M/G/T suffix)";
    case ARG_TOO_BIG:
        return "too large: does not fit in 64 bits";
    case ARG_ZERO:
        return "must not be 0";
    case ARG_TOO_MANY:
        return "more pages than 52-bit addresses hold (2^40)";
    case ARG_NOT_PAGES:
        return "with K/M/G/T it is bytes: not whole 4K pages";
    case ARG_NOT_POW2:
        return "not a power of two";
    case ARG_UNALIGNED:
        return "not a multiple of 4K (a page address)";
    case ARG_WRAPS:
        return "the run would pass the top of memory (2^64)";
    case ARG_UNKNOWN_OPTION:
        return "unknown option";
    case ARG_NO_VALUE:
        return "needs a value after it";
    case ARG_TWICE:
        return "given twice";
    case ARG_EXTRA:
        return "one argument too many";
    case ARG_NOT_SIGN:
        return "want + (share) or - (release)";
    case ARG_FLAG_HERE:
        return "not supported by this subcommand";
    }
    return "bad argument";
}

static arg_char lower(arg_char c)
{
    return c >= 'A' && c <= 'Z' ? (arg_char)(c + ('a' - 'A')) : c;
}

int arg_is(const arg_char *s, const char *lit)
{
    for (; *lit; s++, lit++)
        if (lower(*s) != lower((arg_char)(unsigned char)*lit))
            return 0;
    return *s == 0;
}

/* arg_number, and whether the number had a unit (K, M, G or T). */
static enum arg_err number(const arg_char *s, uint64_t *v, int *unit)
{
    if (!s || !*s)
        return ARG_MISSING;
    uint64_t x = 0, base = 10;
    if (s[0] == '0' && lower(s[1]) == 'x') {
        base = 16;
        s += 2;
    }
    int digits = 0, big = 0;
    for (;; s++, digits++) {
        uint64_t d;
        arg_char c = lower(*s);
        if (c >= '0' && c <= '9')
            d = (uint64_t)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (uint64_t)(c - 'a' + 10);
        else
            break;
        if (x > (UINT64_MAX - d) / base)
            big = 1; /* keep reading: "12x" is not a number, whatever its size */
        else
            x = x * base + d;
    }
    if (!digits)
        return ARG_NOT_NUMBER;
    static const char units[] = "kmgt";
    unsigned shift = 0;
    for (unsigned i = 0; *s && i < 4; i++)
        if (lower(*s) == units[i]) {
            shift = 10 * (i + 1);
            s++;
            break;
        }
    if (*s)
        return ARG_NOT_NUMBER;
    if (big || (shift && x > (UINT64_MAX >> shift)))
        return ARG_TOO_BIG;
    *v = x << shift;
    *unit = shift != 0;
    return ARG_OK;
}

enum arg_err arg_number(const arg_char *s, uint64_t *v)
{
    int unit;
    return number(s, v, &unit);
}

unsigned arg_flag(const arg_char *s)
{
    if (arg_is(s, "-b"))
        return ARG_FLAG_B;
    if (arg_is(s, "-sfo"))
        return ARG_FLAG_SFO;
    if (arg_is(s, "-f"))
        return ARG_FLAG_FORCE;
    if (arg_is(s, "-?") || arg_is(s, "-h") || arg_is(s, "--help"))
        return ARG_FLAG_HELP;
    return 0;
}

enum arg_err arg_pages(const arg_char *s, uint64_t *pages)
{
    uint64_t x = 0;
    int unit = 0;
    enum arg_err e = number(s, &x, &unit);
    if (e)
        return e;
    if (unit) {
        if (x & (PAGE - 1))
            return ARG_NOT_PAGES;
        x /= PAGE;
    }
    if (!x)
        return ARG_ZERO;
    if (x > ARG_MAX_PAGES)
        return ARG_TOO_MANY;
    *pages = x;
    return ARG_OK;
}

/* A word that must be a byte count or address of at least 1 (-align, -below). */
static enum arg_err positive(const arg_char *s, uint64_t *v)
{
    uint64_t x = 0;
    enum arg_err e = arg_number(s, &x);
    if (!e && !x)
        e = ARG_ZERO;
    if (!e)
        *v = x;
    return e;
}

/* A word that must be a page address. */
static enum arg_err page_address(const arg_char *s, uint64_t *v)
{
    uint64_t x = 0;
    enum arg_err e = arg_number(s, &x);
    if (!e && (x & (PAGE - 1)))
        e = ARG_UNALIGNED;
    if (!e)
        *v = x;
    return e;
}

static enum arg_err fail(int *at, int i, enum arg_err e)
{
    *at = i;
    return e;
}

enum arg_err arg_alloc(int n, const arg_char *const *w, struct arg_alloc *a, int *at)
{
    struct arg_alloc r = {0, PAGE, 0};
    enum arg_err e;
    if (n < 1)
        return fail(at, n, ARG_MISSING);
    if ((e = arg_pages(w[0], &r.pages)))
        return fail(at, 0, e);
    int seen_align = 0, seen_below = 0;
    for (int i = 1; i < n; i += 2) {
        int is_align = arg_is(w[i], "-align"), is_below = arg_is(w[i], "-below");
        if (!is_align && !is_below)
            return fail(at, i, w[i][0] == '-' ? ARG_UNKNOWN_OPTION : ARG_EXTRA);
        int *seen = is_align ? &seen_align : &seen_below;
        if (*seen)
            return fail(at, i, ARG_TWICE);
        *seen = 1;
        if (i + 1 >= n)
            return fail(at, i, ARG_NO_VALUE);
        uint64_t v = 0;
        if ((e = positive(w[i + 1], &v)))
            return fail(at, i + 1, e);
        if (is_align && (v & (v - 1)))
            return fail(at, i + 1, ARG_NOT_POW2);
        *(is_align ? &r.align : &r.below) = v;
    }
    *a = r;
    return ARG_OK;
}

enum arg_err arg_free(int n, const arg_char *const *w, struct arg_free *f, int *at)
{
    struct arg_free r = {0, 1};
    enum arg_err e;
    if (n < 1)
        return fail(at, n, ARG_MISSING);
    if ((e = page_address(w[0], &r.phys)))
        return fail(at, 0, e);
    if (n > 1 && (e = arg_pages(w[1], &r.pages)))
        return fail(at, 1, e);
    if (n > 2)
        return fail(at, 2, ARG_EXTRA);
    /* the last page must start at or below 2^64 - 4K */
    if (r.pages - 1 > (UINT64_MAX - PAGE + 1 - r.phys) / PAGE)
        return fail(at, 1, ARG_WRAPS);
    *f = r;
    return ARG_OK;
}

enum arg_err arg_ref(int n, const arg_char *const *w, struct arg_ref *r, int *at)
{
    struct arg_ref x = {0, 0};
    enum arg_err e;
    if (n < 1)
        return fail(at, n, ARG_MISSING);
    if ((e = page_address(w[0], &x.phys)))
        return fail(at, 0, e);
    if (n < 2)
        return fail(at, 1, ARG_MISSING);
    if ((w[1][0] != '+' && w[1][0] != '-') || w[1][1])
        return fail(at, 1, ARG_NOT_SIGN);
    if (n > 2)
        return fail(at, 2, ARG_EXTRA);
    x.inc = w[1][0] == '+';
    *r = x;
    return ARG_OK;
}
