/*
 * test_blake2b.c - the loader's BLAKE2b (efi/limine/blake2b.c) against Python's hashlib.
 *
 * tests/run.sh passes LEN:OUTLEN=HEX arguments: the hashlib digest of OUTLEN bytes of the message
 * of LEN bytes whose byte i is (i * 31 + LEN) & 255. Each one is checked in one call, then fed in
 * pieces (one byte at a time, chunks around the 128-byte block, pseudo-random cuts, empty updates
 * between them): every way must give the same digest, and no byte past OUTLEN may be written.
 */
#include <stdlib.h>
#include <string.h>

#include "blake2b.h"
#include "harness.h"

HARNESS_GLOBALS

static void fill(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((i * 31 + n) & 255);
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    out[2 * n] = 0;
}

/* The digest of b[0..n) fed in chunks of `chunk` bytes (0: pseudo-random sizes from 0 to 300). */
static void pieces(const uint8_t *b, size_t n, uint32_t outlen, size_t chunk, uint8_t *out)
{
    struct blake2b_state s;
    uint32_t x = 0x2545f491u ^ (uint32_t)n;
    blake2b_init(&s, outlen);
    for (size_t at = 0; at < n;) {
        size_t k = chunk;
        if (!chunk) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            k = x % 301;
        }
        if (k > n - at)
            k = n - at;
        blake2b_update(&s, b + at, k);
        blake2b_update(&s, b + at, 0);
        at += k;
    }
    blake2b_final(&s, out);
}

/* One LEN:OUTLEN=HEX argument. */
static void check_case(const char *arg)
{
    size_t n = strtoull(arg, 0, 10);
    uint32_t outlen = (uint32_t)strtoul(strchr(arg, ':') + 1, 0, 10);
    const char *want = strchr(arg, '=') + 1;
    uint8_t *b = malloc(n + 1), d[BLAKE2B_OUTBYTES + 8];
    char got[2 * sizeof d + 1];
    fill(b, n);
    h_test = arg;

    memset(d, 0xee, sizeof d);
    blake2b(d, outlen, b, n);
    hex(d, outlen, got);
    CHECK(strcmp(got, want) == 0);
    CHECK(d[outlen] == 0xee && d[sizeof d - 1] == 0xee);

    static const size_t chunks[] = {1, 7, 64, 127, 128, 129, 255, 256, 257, 4095, 0};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        if (chunks[c] == 1 && n > 5000)
            continue; /* a byte at a time over a megabyte proves nothing more */
        memset(d, 0xee, sizeof d);
        pieces(b, n, outlen, chunks[c], d);
        hex(d, outlen, got);
        CHECK(strcmp(got, want) == 0);
        CHECK(d[outlen] == 0xee);
    }
    free(b);
}

/* RFC 7693, Appendix A: BLAKE2b-512("abc"), written out here, independent of hashlib. */
TEST(rfc_abc)
{
    static const char want[] = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                               "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
    uint8_t d[64];
    char got[129];
    blake2b(d, 64, "abc", 3);
    hex(d, 64, got);
    CHECK(strcmp(got, want) == 0);
}

int main(int argc, char **argv)
{
    RUN(rfc_abc);
    for (int a = 1; a < argc; a++)
        check_case(argv[a]);
    CHECK(argc > 300); /* tests/run.sh passed its cases */
    HARNESS_MAIN_END();
}
