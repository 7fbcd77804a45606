/* common.h - helpers shared by the allocator tests. */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <string.h>

#include "harness.h"
#include "pmm.h"
#include "sim.h"

#define PG  4096ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* pmm_check passes; prints the violation otherwise. */
#define CHECK_OK(p)                                                                                \
    do {                                                                                           \
        struct pmm_check_fail _f = {0, 0};                                                         \
        int _rc = pmm_check((p), &_f);                                                             \
        if (_rc)                                                                                   \
            fprintf(stderr, "  check: %s at %#llx\n", _f.what, (unsigned long long)_f.pfn);        \
        CHECK_EQ(_rc, PMM_OK);                                                                     \
    } while (0)

/* A call that must fail with `err` and leave the allocator exactly as it was. */
#define CHECK_REJECTS(p, call, err)                                                                \
    do {                                                                                           \
        char _before[256], _after[256];                                                            \
        pmm_summary((p), _before, sizeof _before);                                                 \
        CHECK_EQ((call), (err));                                                                   \
        pmm_summary((p), _after, sizeof _after);                                                   \
        CHECK(strcmp(_before, _after) == 0);                                                       \
        CHECK_OK(p);                                                                               \
    } while (0)

#endif
