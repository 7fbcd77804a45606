/*
 * lib.c - the memory helpers and error names a library without libc needs.
 *
 * The loader and the kernel link no libc, and the compiler may turn a fill loop back into a call
 * to memset, so these use string instructions on x86_64 (fast on every CPU with ERMS, and what
 * makes a 1 TiB build take milliseconds) and a plain loop elsewhere.
 */
#include "state.h"

void pmm_memset(void *dst, int c, uint64_t n)
{
#if defined(__x86_64__)
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
#else
    volatile unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
#endif
}

void pmm_memcpy(void *dst, const void *src, uint64_t n)
{
#if defined(__x86_64__)
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
#else
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
#endif
}

const char *pmm_strerror(int err)
{
    switch (err) {
    case PMM_OK:
        return "success";
    case PMM_ENOMEM:
        return "out of memory: no free run satisfies the request";
    case PMM_EINVAL:
        return "invalid argument (zero count, unaligned address or alignment not a power of two)";
    case PMM_ERANGE:
        return "request larger than the memory it may come from";
    case PMM_EDOUBLE:
        return "page is already free (double free)";
    case PMM_ENOTOWNED:
        return "page was never handed out by the allocator (reserved, MMIO, metadata or out of "
               "range)";
    case PMM_ESHARED:
        return "page is shared (reference count above 1): release it with ref_dec";
    case PMM_EOVERFLOW:
        return "reference count would overflow";
    case PMM_EMAP:
        return "malformed memory map";
    case PMM_ESTATE:
        return "not a valid allocator state";
    case PMM_ECONFLICT:
        return "final memory map takes back memory the allocator handed out or uses";
    case PMM_ECHECK:
        return "allocator consistency check failed";
    case PMM_EBUSY:
        return "page is held on a per-CPU cache: drain that CPU first";
    }
    return "unknown error";
}
