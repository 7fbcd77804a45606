/*
 * blake2b.c - BLAKE2b as RFC 7693 specifies it, unkeyed (blake2b.h).
 *
 * The state is eight 64-bit chaining words, a 128-bit count of the bytes hashed and one block of
 * buffered input. A full buffer is compressed only once more input arrives, because the last
 * block, full or not, must be compressed with the final flag set (RFC 7693, 3.3).
 *
 * Freestanding and byte-order independent: words are read and written little-endian with shifts,
 * and every copy is a plain loop (the loader links no libc).
 */
#include "blake2b.h"

/* The initialisation vector: the same words as SHA-512's (RFC 7693, 2.6). */
static const uint64_t iv[8] = {
    0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
    0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
};

/* The message word schedule of each round (RFC 7693, 2.7); rounds 10 and 11 reuse rows 0 and 1. */
static const uint8_t sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static uint64_t rotr(uint64_t x, unsigned n)
{
    return x >> n | x << (64 - n);
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = w << 8 | p[i];
    return w;
}

/* The mixing function G on four words of the working vector (RFC 7693, 3.1). */
static void mix(uint64_t *v, int a, int b, int c, int d, uint64_t x, uint64_t y)
{
    v[a] = v[a] + v[b] + x;
    v[d] = rotr(v[d] ^ v[a], 32);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 24);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 63);
}

/* Compress one 128-byte block into s->h; s->t already counts it; last: the final block. */
static void compress(struct blake2b_state *s, const uint8_t *block, int last)
{
    uint64_t m[16], v[16];
    for (int i = 0; i < 16; i++)
        m[i] = load64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = iv[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    if (last)
        v[14] = ~v[14];
    for (int r = 0; r < 12; r++) {
        const uint8_t *x = sigma[r % 10];
        mix(v, 0, 4, 8, 12, m[x[0]], m[x[1]]);
        mix(v, 1, 5, 9, 13, m[x[2]], m[x[3]]);
        mix(v, 2, 6, 10, 14, m[x[4]], m[x[5]]);
        mix(v, 3, 7, 11, 15, m[x[6]], m[x[7]]);
        mix(v, 0, 5, 10, 15, m[x[8]], m[x[9]]);
        mix(v, 1, 6, 11, 12, m[x[10]], m[x[11]]);
        mix(v, 2, 7, 8, 13, m[x[12]], m[x[13]]);
        mix(v, 3, 4, 9, 14, m[x[14]], m[x[15]]);
    }
    for (int i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];
}

/* Add n bytes to the 128-bit counter. */
static void count(struct blake2b_state *s, uint64_t n)
{
    s->t[0] += n;
    if (s->t[0] < n)
        s->t[1]++;
}

/*
 * The parameter block of an unkeyed hash is all zero but its first word: digest length, key
 * length 0, fanout 1, depth 1 (RFC 7693, 2.5). An outlen outside 1..64 is a caller's mistake;
 * it is taken as 64 so that blake2b_final never reads past h.
 */
void blake2b_init(struct blake2b_state *s, uint32_t outlen)
{
    if (outlen < 1 || outlen > BLAKE2B_OUTBYTES)
        outlen = BLAKE2B_OUTBYTES;
    for (int i = 0; i < 8; i++)
        s->h[i] = iv[i];
    s->h[0] ^= 0x01010000ull ^ outlen;
    s->t[0] = s->t[1] = 0;
    s->buflen = 0;
    s->outlen = outlen;
}

void blake2b_update(struct blake2b_state *s, const void *in, uint64_t n)
{
    const uint8_t *p = in;
    while (n) {
        if (s->buflen == BLAKE2B_BLOCKBYTES) {
            count(s, BLAKE2B_BLOCKBYTES);
            compress(s, s->buf, 0);
            s->buflen = 0;
        }
        /* Whole blocks straight from the input, keeping the last one back for the final flag. */
        while (s->buflen == 0 && n > BLAKE2B_BLOCKBYTES) {
            count(s, BLAKE2B_BLOCKBYTES);
            compress(s, p, 0);
            p += BLAKE2B_BLOCKBYTES;
            n -= BLAKE2B_BLOCKBYTES;
        }
        uint32_t room = BLAKE2B_BLOCKBYTES - s->buflen;
        uint32_t k = n < room ? (uint32_t)n : room;
        for (uint32_t i = 0; i < k; i++)
            s->buf[s->buflen + i] = p[i];
        s->buflen += k;
        p += k;
        n -= k;
    }
}

void blake2b_final(struct blake2b_state *s, uint8_t *out)
{
    count(s, s->buflen);
    for (uint32_t i = s->buflen; i < BLAKE2B_BLOCKBYTES; i++)
        s->buf[i] = 0;
    compress(s, s->buf, 1);
    for (uint32_t i = 0; i < s->outlen; i++)
        out[i] = (uint8_t)(s->h[i / 8] >> (8 * (i % 8)));
}

void blake2b(uint8_t *out, uint32_t outlen, const void *in, uint64_t n)
{
    struct blake2b_state s;
    blake2b_init(&s, outlen);
    blake2b_update(&s, in, n);
    blake2b_final(&s, out);
}
