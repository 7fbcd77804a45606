/*
 * test_realmaps.c FILE total=N conv=N boot=N span=N low=N page0_conv=0|1 page0_usable=0|1
 *
 * Replays a real PC's published memory map through the allocator as the loader would run it:
 * build (descriptors 48 bytes apart, like OVMF), allocate in the boot phase with a firmware that
 * claims, reconcile at a simulated ExitBootServices, then take every single page. The expected
 * figures come from tests/memmaps_expect.py, which reads the text its own way.
 */
#include <stdlib.h>

#include "common.h"
#include "mapfile.h"

HARNESS_GLOBALS

static uint64_t want(int argc, char **argv, const char *key)
{
    size_t n = strlen(key);
    for (int i = 2; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return strtoull(argv[i] + n + 1, 0, 10);
    fprintf(stderr, "missing expectation %s=\n", key);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MAPFILE total=N conv=N boot=N span=N low=N\n", argv[0]);
        return 2;
    }
    h_test = argv[1];
    struct mapfile mf = {0};
    if (mapfile_read(&mf, argv[1])) {
        fprintf(stderr, "%s\n", mf.error);
        return 1;
    }
    uint64_t top = 0;
    for (size_t i = 0; i < mf.n; i++) {
        enum pmm_kind k = pmm_classify(mf.desc[i].type, mf.desc[i].attr);
        uint64_t end = mf.desc[i].phys_start + mf.desc[i].npages * PG;
        if (k != PMM_KIND_NEVER && end > top)
            top = end;
    }
    struct sim *s = sim_new(top);
    for (size_t i = 0; i < mf.n; i++)
        sim_add(s, mf.desc[i].type, mf.desc[i].phys_start, mf.desc[i].npages, mf.desc[i].attr);

    struct pmm *p;
    CHECK_EQ(sim_build(s, 1, &p), PMM_OK);
    CHECK_OK(p);
    struct pmm_stats st;
    pmm_stats(p, &st);
    uint64_t total = want(argc, argv, "total"), conv = want(argc, argv, "conv");
    uint64_t page0 = want(argc, argv, "page0_usable"); /* never handed out: withheld */
    CHECK_EQ(st.total, total);
    CHECK_EQ(st.kind_pages[PMM_KIND_FREE], conv);
    CHECK_EQ(st.kind_pages[PMM_KIND_BOOT], want(argc, argv, "boot"));
    CHECK_EQ(st.span, want(argc, argv, "span"));
    CHECK_EQ(st.meta, want(argc, argv, "meta")); /* the documented layout, sized in Python */
    /* before exit only conventional memory is free, less metadata and page 0 */
    CHECK_EQ(st.free, conv - st.meta - want(argc, argv, "page0_conv"));

    /* boot phase: the loader takes a kernel image and a few pages */
    uint64_t kernel, stack;
    CHECK_EQ(pmm_alloc_run(p, 256, 2 * MIB, 0, &kernel), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, 16, 0, 4 * GIB, &stack), PMM_OK);
    CHECK_EQ(sim_reconcile(s, p), PMM_OK);
    CHECK_OK(p);
    pmm_stats(p, &st);
    CHECK_EQ(st.total, total);
    CHECK_EQ(st.alloc, 256 + 16);
    CHECK_EQ(st.free, total - st.meta - 272 - page0);
    /* free below 4 GiB: the map's usable pages there, less page 0 and whatever the allocator
     * reports having placed there (its metadata, the two runs), checked page by page */
    uint64_t g4 = 1ull << 20, placed = 0;
    for (uint64_t i = 0; i < st.meta; i++)
        placed += st.meta_phys / PG + i < g4;
    for (uint64_t i = 0; i < 256; i++)
        placed += kernel / PG + i < g4;
    for (uint64_t i = 0; i < 16; i++)
        placed += stack / PG + i < g4;
    CHECK(stack / PG + 16 <= g4);
    CHECK_EQ(st.below4g, want(argc, argv, "below4g") - page0 - placed);

    /* every page above 1 MiB comes out once as a single page; then runs find nothing */
    uint64_t n = 0, x;
    while (pmm_alloc(p, &x) == PMM_OK)
        n++;
    uint64_t low = want(argc, argv, "low");
    CHECK_EQ(n, total - st.meta - 272 - low);
    CHECK_EQ(pmm_alloc_run(p, 2, 0, 0, &x), PMM_ENOMEM);
    CHECK_OK(p);
    char line[256];
    pmm_summary(p, line, sizeof line);
    printf("%s: %zu descriptors; %s\n", argv[1], mf.n, line);
    mapfile_free(&mf);
    sim_free(s);
    HARNESS_MAIN_END();
}
