/*
 * acpi_bytes.h - reading ACPI tables byte by byte (freestanding): they are packed and
 * little-endian, and the firmware may place them at any alignment.
 */
#ifndef ACPI_BYTES_H
#define ACPI_BYTES_H

#include <stdint.h>

/* The little-endian value of `bytes` (at most 8) bytes at p. */
static inline uint64_t acpi_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The 8-bit sum of n bytes at p: 0 over a whole table whose checksum is right. */
static inline uint8_t acpi_sum(const uint8_t *p, uint64_t n)
{
    uint8_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

#endif
