/*
 * tsan_lib.c - pmm_memset for the ThreadSanitizer build of pmm/.
 *
 * pmm/lib.c fills memory with `rep stosb`, which ThreadSanitizer cannot see: a block's counts
 * written by fresh_open would then be invisible to it, and so would a missing release or acquire
 * between that write and another CPU's read of the counts. The TSan build renames lib.c's
 * function and links this one, the same fill in C (whole aligned words, which TSan records as one
 * access each, so a later read of any part of the word is compared with it).
 */
#include <stdint.h>

typedef uint64_t __attribute__((may_alias)) word_t;

void pmm_memset(void *dst, int c, uint64_t n);
void pmm_memset(void *dst, int c, uint64_t n)
{
    unsigned char *d = dst, b = (unsigned char)c;
    word_t v = 0x0101010101010101ull * b;
    for (; n && ((uintptr_t)d & 7); n--)
        *d++ = b;
    for (; n >= 8; n -= 8, d += 8)
        *(word_t *)(void *)d = v;
    for (; n; n--)
        *d++ = b;
}
