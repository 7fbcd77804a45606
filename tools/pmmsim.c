/*
 * pmmsim [--json] [--svg FILE] [--hold] MAPFILE
 *
 * Replays a PC's memory map through what would run on it, with the same pmm/ code: the loader's
 * build (claiming from a simulated firmware), its allocations (kernel image, stack, responses,
 * final-map buffer), the reconcile at a simulated ExitBootServices, the Limine memory map it
 * would hand over (efi/limine/memmap.c), and the kernel stub's own self-test (handoff/kernel/
 * selftest.c, compiled for the host) through a second mapping of the same memory, the memory map
 * checked against the allocator first, then pmm_check(). Prints the shared summary line (or a JSON
 * object with --json), optionally draws the layout as SVG, and exits 0 only if everything passed.
 * Physical memory is a sparse mapping: a 12 TiB server's map costs what is touched (metadata and
 * the test's pages).
 *
 * Map formats: see tools/mapfile.h (Linux efi=debug logs, UEFI shell memmap, `pmm save`).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel.h" /* the stub's: struct boot_info, selftest() */
#include "mapfile.h"
#include "memmap.h"
#include "pmm.h"
#include "sim.h"
#include "svg.h"

static int quiet;
struct boot_info boot;

/* selftest.c reports failures through kprintf; a panic would be a pmmsim bug. */
void panic(const char *fmt, ...)
{
    fprintf(stderr, "pmmsim: panic: %s\n", fmt);
    exit(1);
}

void kprintf(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static int usage(void)
{
    fprintf(stderr, "usage: pmmsim [--json] [--svg FILE] [--hold] MAPFILE\n"
                    "  --json      print a JSON object instead of the summary line\n"
                    "  --svg FILE  draw the physical memory layout as SVG\n"
                    "  --hold      hold boot-services memory until the kernel releases it\n");
    return 2;
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "pmmsim: %s: %s\n", what, pmm_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *svg = NULL;
    int json = 0, hold = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--hold"))
            hold = 1;
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
            svg = argv[++i];
        else if (argv[i][0] == '-' || path)
            return usage();
        else
            path = argv[i];
    }
    if (!path)
        return usage();
    quiet = json;

    struct mapfile mf = {0};
    if (mapfile_read(&mf, path)) {
        fprintf(stderr, "pmmsim: %s\n", mf.error);
        return 1;
    }
    uint64_t top = 0;
    for (size_t i = 0; i < mf.n; i++) {
        uint64_t end = mf.desc[i].phys_start + mf.desc[i].npages * 4096;
        if (pmm_classify(mf.desc[i].type, mf.desc[i].attr) != PMM_KIND_NEVER && end > top)
            top = end;
    }
    if (!top) {
        fprintf(stderr, "pmmsim: %s: no usable memory in the map\n", path);
        return 1;
    }
    struct sim *s = sim_new(top);
    s->numa = mf.numa; /* the SRAT's nodes, if the map has them */
    s->numa_count = mf.nnuma;
    s->nnodes = mf.nnodes;
    for (size_t i = 0; i < mf.n; i++)
        sim_add(s, mf.desc[i].type, mf.desc[i].phys_start, mf.desc[i].npages, mf.desc[i].attr);

    /* The loader, boot services alive. */
    struct pmm *p;
    int rc = sim_build(s, 1, &p);
    if (rc)
        fail("build", rc);
    uint64_t kernel, stack, ho, mapbuf, mapcap = (mf.n + 128) * s->desc_size;
    uint64_t mappages = (mapcap + 4095) / 4096;
    if ((rc = pmm_alloc_run(p, 16, 2 << 20, 0, &kernel)) ||
        (rc = pmm_alloc_run(p, 16, 4096, 0, &stack)) || (rc = pmm_alloc(p, &ho)) ||
        (rc = pmm_alloc_run(p, mappages, 4096, 0, &mapbuf)))
        fail("loader allocations", rc);

    /* ExitBootServices: the final map goes into the buffer the loader allocated. */
    size_t fsize;
    void *fin = sim_final_map(s, &fsize);
    if (fsize > mapcap) {
        fprintf(stderr, "pmmsim: final map outgrew its buffer\n");
        return 1;
    }
    memcpy(s->mem + mapbuf, fin, fsize);
    free(fin);
    struct pmm_map m = {s->mem + mapbuf, fsize, s->desc_size};
    uint64_t ssize = pmm_map_scratch_size(&m);
    void *scratch = malloc(ssize);
    struct pmm_map_error err = {0, 0};
    rc = pmm_reconcile(p, &m, scratch, ssize, hold ? PMM_HOLD_BOOT_MEMORY : 0, &err);
    free(scratch);
    if (rc)
        fail(err.why ? err.why : "reconcile", rc);

    /* What the loader hands over, in the order and kinds it records them. */
    static struct pmm_handed handed[4];
    struct pmm_handed runs[4] = {{kernel, 16, PMM_HANDED_EXECUTABLE, 0},
                                 {stack, 16, PMM_HANDED_STACK, 0},
                                 {ho, 1, PMM_HANDED_RESPONSES, 0},
                                 {mapbuf, mappages, PMM_HANDED_EFI_MEMMAP, 0}};
    for (int i = 0; i < 4; i++) { /* sorted by address, as the response has them */
        int at = 0;
        for (int j = 0; j < 4; j++)
            at += runs[j].phys < runs[i].phys;
        handed[at] = runs[i];
    }
    static struct pmm_response resp;
    resp.handed = handed;
    resp.handed_count = 4;

    /* The kernel: adopt through its own mapping of the same memory, release, self-test, check. */
    uint64_t state = pmm_state_phys(p);
    /* The loader's mapping goes with the loader: the memory counts once, and a machine of half
     * the address space still fits a second mapping. */
    munmap(s->mem, s->bytes);
    unsigned char *direct = sim_alias(s);
    s->mem = direct;
    boot.hhdm = (uint64_t)(uintptr_t)direct;
    int aerr;
    struct pmm_adopt_error why = {"", ""};
    struct pmm *k = pmm_adopt_why(state, boot.hhdm, &aerr, &why);
    if (!k) {
        fprintf(stderr, "pmmsim: adopt: %s: %s\n", why.field, why.why);
        exit(1);
    }
    uint64_t released = 0;
    if (hold && (rc = pmm_release_boot(k, &released)))
        fail("release boot memory", rc);
    /* The Limine memory map the loader would hand over, and the rest of what the stub reads. */
    struct lmm_input in = {k, handed, 4, 0, 0, 6};
    uint64_t nmm = lmm_build(&in, 0, 0);
    struct limine_memmap_entry *ents = calloc(nmm + 1, sizeof *ents);
    struct limine_memmap_entry **eptr = calloc(nmm + 1, sizeof *eptr);
    if (!ents || !eptr || lmm_build(&in, ents, nmm) != nmm) {
        fprintf(stderr, "pmmsim: the memory map builder disagrees with itself\n");
        return 1;
    }
    for (uint64_t i = 0; i < nmm; i++)
        eptr[i] = &ents[i];
    static struct limine_efi_memmap_response efimap;
    efimap.memmap = direct + mapbuf;
    efimap.memmap_size = fsize;
    efimap.desc_size = s->desc_size;
    boot.memmap = eptr;
    boot.memmap_count = nmm;
    boot.efi_memmap = &efimap;
    boot.kernel_phys = kernel;
    boot.kernel_pages = 16;
    boot.pmm = &resp;
    int failures = hold ? 0 : selftest_entry(k); /* held memory: usable entries are fewer */
    failures += selftest(k);
    free(ents);
    free(eptr);
    struct pmm_check_fail cf = {0, 0};
    int check = pmm_check(k, &cf);

    struct pmm_stats st;
    pmm_stats(k, &st);
    char line[256];
    pmm_summary(k, line, sizeof line);
    if (json) {
        printf("{\"map\": \"%s\", \"descriptors\": %zu, \"total\": %llu, \"free\": %llu, "
               "\"used\": %llu, \"meta\": %llu, \"alloc\": %llu, \"withheld\": %llu, "
               "\"largest\": %llu, \"below4g\": %llu, \"below16m\": %llu, \"span\": %llu, "
               "\"meta_phys\": %llu, \"released\": %llu, \"sections\": \"%llu/%llu\", "
               "\"unmanaged\": %llu, \"cached\": %llu, \"selftest\": \"%s\", \"check\": \"%s\", "
               "\"nodes\": [",
               path, mf.n, (unsigned long long)st.total, (unsigned long long)st.free,
               (unsigned long long)st.used, (unsigned long long)st.meta,
               (unsigned long long)st.alloc, (unsigned long long)st.withheld,
               (unsigned long long)st.largest, (unsigned long long)st.below4g,
               (unsigned long long)st.below16m, (unsigned long long)st.span,
               (unsigned long long)st.meta_phys, (unsigned long long)released,
               (unsigned long long)st.present_sections, (unsigned long long)st.sections,
               (unsigned long long)st.unmanaged, (unsigned long long)st.cached,
               failures ? "fail" : "pass", check ? cf.what : "ok");
        for (uint32_t n = 0; n < st.nodes; n++) { /* the SRAT's nodes: one without a table */
            struct pmm_node_stats ns;
            pmm_node_stats(k, n, &ns);
            printf("%s{\"node\": %u, \"total\": %llu, \"free\": %llu}", n ? ", " : "", n,
                   (unsigned long long)ns.total, (unsigned long long)(ns.free + ns.cached));
        }
        printf("]}\n");
    } else {
        printf("%s\n", line);
        printf("pmmsim: %s: %zu descriptors; self-test %s; pmm_check %s%s\n", path, mf.n,
               failures ? "FAILED" : "passed", check ? "FAILED: " : "ok", check ? cf.what : "");
    }
    if (svg && svg_write(k, svg, path, line)) {
        fprintf(stderr, "pmmsim: cannot write %s\n", svg);
        return 1;
    }
    sim_free(s);
    mapfile_free(&mf);
    return failures || check ? 1 : 0;
}
