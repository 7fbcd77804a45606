/*
 * args.h - the `pmm` shell command's argument syntax, apart from UEFI: plain C11 over 16-bit
 * characters (the shell's CHAR16), so the host tests and the fuzzer run the very code the shell
 * command runs.
 *
 * Every parser either fills its result and returns ARG_OK, or returns the first problem and the
 * index of the word it is about (the word count when a word is missing), leaving the result alone.
 */
#ifndef PMM_SHELL_ARGS_H
#define PMM_SHELL_ARGS_H

#include <stdint.h>

typedef uint16_t arg_char; /* one UCS-2 character, as the shell hands them over */

enum arg_err {
    ARG_OK,
    ARG_MISSING,        /* a word the syntax needs is not there */
    ARG_NOT_NUMBER,     /* not decimal, 0x hex, or either with one K/M/G/T suffix */
    ARG_TOO_BIG,        /* the number (times its suffix) does not fit in 64 bits */
    ARG_ZERO,           /* a page count, alignment or limit of 0 */
    ARG_TOO_MANY,       /* a page count above ARG_MAX_PAGES */
    ARG_NOT_PAGES,      /* a size with a unit (bytes) that is not a whole number of pages */
    ARG_NOT_POW2,       /* -align that is not a power of two */
    ARG_UNALIGNED,      /* an address that is not a multiple of 4 KiB */
    ARG_WRAPS,          /* ADDR + N pages runs past the end of the 64-bit address space */
    ARG_UNKNOWN_OPTION, /* a word starting with '-' that the subcommand does not take */
    ARG_NO_VALUE,       /* -align or -below as the last word */
    ARG_TWICE,          /* the same option given twice */
    ARG_EXTRA,          /* more words than the subcommand takes */
    ARG_NOT_SIGN,       /* ref wants + or - */
    ARG_FLAG_HERE,      /* a flag this subcommand does not support (-b, -sfo, -f) */
};

/* What arg_strerror says about the word (lower case, no trailing period, under 50 characters so
 * that "pmm alloc: WORD: " and the message fit a line). */
const char *arg_strerror(enum arg_err e);

/* Case-insensitive comparison with an ASCII literal: 1 if equal. */
int arg_is(const arg_char *s, const char *lit);

/*
 * A number: decimal, or hex after 0x; optionally one K, M, G or T (either case) multiplying by
 * 2^10, 2^20, 2^30, 2^40. At least one digit ("M" alone is not a number). No sign, no spaces.
 */
enum arg_err arg_number(const arg_char *s, uint64_t *v);

/*
 * The most pages a count may name: x86-64 physical addresses have at most 52 bits, so no machine
 * holds more than 2^40 pages of 4 KiB. A larger count is refused as a syntax error, not as out of
 * memory: no memory could ever meet it.
 */
#define ARG_MAX_PAGES (1ull << 40)

/*
 * A page count (N of alloc and free): a number from 1 to ARG_MAX_PAGES. Without a unit it counts
 * pages (16, 0x10); with one it is a size in bytes like -align's and -below's (4K is one page, 2M
 * is 512 pages) and must be a whole number of pages (ARG_NOT_PAGES otherwise).
 */
enum arg_err arg_pages(const arg_char *s, uint64_t *pages);

/* The flags every subcommand may be offered; which it accepts is its own business. */
enum {
    ARG_FLAG_B = 1,     /* -b: page the output */
    ARG_FLAG_SFO = 2,   /* -sfo: standard-format output */
    ARG_FLAG_FORCE = 4, /* -f: replace an existing file */
    ARG_FLAG_HELP = 8,  /* -?, -h, --help */
};
/* The flag a word is (one of ARG_FLAG_*), or 0 for any other word. */
unsigned arg_flag(const arg_char *s);

/* pmm alloc N [-align A] [-below ADDR] (words after "alloc"). N as arg_pages; align defaults to
 * 4 KiB, below to 0 (no limit), both in bytes; an explicit 0 for either is refused, as is an align
 * that is not a power of two. */
struct arg_alloc {
    uint64_t pages, align, below;
};
enum arg_err arg_alloc(int n, const arg_char *const *w, struct arg_alloc *a, int *at);

/* pmm free ADDR [N]: ADDR page-aligned, N as arg_pages (default 1), and the run must not wrap. */
struct arg_free {
    uint64_t phys, pages;
};
enum arg_err arg_free(int n, const arg_char *const *w, struct arg_free *f, int *at);

/* pmm ref ADDR +|-: ADDR page-aligned; inc is 1 for +, 0 for -. */
struct arg_ref {
    uint64_t phys;
    int inc;
};
enum arg_err arg_ref(int n, const arg_char *const *w, struct arg_ref *r, int *at);

#endif
