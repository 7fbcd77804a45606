/*
 * harness.h - the smallest test framework that does the job.
 *
 * CHECK records a failure with file and line and carries on; each test binary ends with
 * "N passed, N failed" and exits non-zero if anything failed. tests/run.sh adds the binaries up.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdio.h>
#include <stdlib.h>

extern int h_pass, h_fail;
extern const char *h_test;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            h_pass++;                                                                              \
        } else {                                                                                   \
            h_fail++;                                                                              \
            fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, h_test, #cond);           \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a == _b) {                                                                            \
            h_pass++;                                                                              \
        } else {                                                                                   \
            h_fail++;                                                                              \
            fprintf(stderr, "FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,      \
                    h_test, #a, #b, _a, _b);                                                       \
        }                                                                                          \
    } while (0)

#define TEST(name) static void name(void)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        h_test = #name;                                                                            \
        name();                                                                                    \
    } while (0)

#define HARNESS_MAIN_END()                                                                         \
    do {                                                                                           \
        printf("%d passed, %d failed\n", h_pass, h_fail);                                          \
        return h_fail ? 1 : 0;                                                                     \
    } while (0)

#define HARNESS_GLOBALS                                                                            \
    int h_pass, h_fail;                                                                            \
    const char *h_test = "";

#endif
