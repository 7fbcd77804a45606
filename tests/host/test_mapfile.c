/*
 * test_mapfile.c - the text map reader (tools/mapfile.c) on what people paste: error messages for
 * any file name, and the formats Linux printed over the years.
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

int main(void)
{
    RUN(errors_fit_for_any_file_name);
    HARNESS_MAIN_END();
}
