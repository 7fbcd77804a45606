/*
 * test_sha256.c - the loader's SHA-256 against Python's hashlib (tests/run.sh passes the
 * expected digests): every length around the padding boundaries, and a megabyte.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sha256.h"

HARNESS_GLOBALS

/* The same bytes tests/run.sh gives hashlib: byte i of a message of length n is (i * 31 + n) & 255.
 */
static void fill(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((i * 31 + n) & 255);
}

int main(int argc, char **argv)
{
    /* argv: LEN=HEX ... */
    for (int a = 1; a < argc; a++) {
        size_t n = strtoull(argv[a], 0, 10);
        const char *want = strchr(argv[a], '=') + 1;
        uint8_t *b = malloc(n + 1), d[32];
        char hex[65];
        fill(b, n);
        sha256(b, n, d);
        sha256_hex(d, hex);
        h_test = argv[a];
        CHECK(strcmp(hex, want) == 0);
        free(b);
    }
    CHECK(argc > 20);
    HARNESS_MAIN_END();
}
