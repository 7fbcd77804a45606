/*
 * blake2b.h - BLAKE2b (RFC 7693), the hash Limine puts after a path (`path#hash`) and enrolls for
 * its configuration file. Freestanding: the loader links no libc; tests/host/test_blake2b.c
 * checks it against Python's hashlib.
 */
#ifndef PMM_BLAKE2B_H
#define PMM_BLAKE2B_H

#include <stdint.h>

#define BLAKE2B_OUTBYTES   64 /* BLAKE2b-512, what Limine uses */
#define BLAKE2B_BLOCKBYTES 128

struct blake2b_state {
    uint64_t h[8];
    uint64_t t[2]; /* bytes hashed so far, 128-bit */
    uint8_t buf[BLAKE2B_BLOCKBYTES];
    uint32_t buflen;
    uint32_t outlen;
};

/* Unkeyed BLAKE2b with a digest of outlen bytes (1..64). */
void blake2b_init(struct blake2b_state *s, uint32_t outlen);
void blake2b_update(struct blake2b_state *s, const void *in, uint64_t n);
void blake2b_final(struct blake2b_state *s, uint8_t *out);

/* One call: out gets outlen bytes. */
void blake2b(uint8_t *out, uint32_t outlen, const void *in, uint64_t n);

#endif
