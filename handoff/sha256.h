/* sha256.h - SHA-256 (FIPS 180-4), freestanding: the loader checks the kernel image with it. */
#ifndef PMM_SHA256_H
#define PMM_SHA256_H

#include <stdint.h>

void sha256(const void *data, uint64_t len, uint8_t out[32]);

/* Lower-case hex of a digest into hex[65] (NUL-terminated). */
void sha256_hex(const uint8_t d[32], char hex[65]);

#endif
