#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    exit(2);
}

struct sim *sim_new(uint64_t bytes)
{
    struct sim *s = calloc(1, sizeof *s);
    s->bytes = bytes;
    s->desc_size = SIM_DESC_SIZE;
    s->fd = memfd_create("simmem", 0);
    if (s->fd < 0 || ftruncate(s->fd, (off_t)bytes))
        die("memfd");
    s->mem = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, s->fd, 0);
    if (s->mem == MAP_FAILED)
        die("mmap sim memory");
    s->fw_pages = bytes >> 12;
    s->fw_used = mmap(0, s->fw_pages, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->fw_used == MAP_FAILED)
        die("mmap fw pages");
    return s;
}

void sim_free(struct sim *s)
{
    munmap(s->mem, s->bytes);
    munmap(s->fw_used, s->fw_pages);
    close(s->fd);
    free(s->desc);
    free(s->scratch);
    free(s);
}

void sim_add(struct sim *s, uint32_t type, uint64_t phys, uint64_t npages, uint64_t attr)
{
    if (s->ndesc == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->desc = realloc(s->desc, s->cap * s->desc_size);
    }
    unsigned char *d = s->desc + s->ndesc++ * s->desc_size;
    memset(d, 0xa5, s->desc_size); /* junk in the padding: it must be ignored */
    struct pmm_efi_desc e = {type, 0, phys, 0, npages, attr};
    memcpy(d, &e, sizeof e);
    /* The firmware considers everything that is not conventional memory as in use. */
    if (type != PMM_EFI_CONVENTIONAL) {
        uint64_t first = phys >> 12;
        for (uint64_t i = 0; i < npages && first + i < s->fw_pages; i++)
            s->fw_used[first + i] = 1;
    }
}

struct pmm_map sim_map(const struct sim *s)
{
    return (struct pmm_map){s->desc, s->ndesc * s->desc_size, s->desc_size};
}

/* EDK2's AllocatePages(AllocateAddress) takes a range from one map entry only. */
static int in_one_descriptor(const struct sim *s, uint64_t pfn, uint64_t n)
{
    for (size_t i = 0; i < s->ndesc; i++) {
        struct pmm_efi_desc d;
        memcpy(&d, s->desc + i * s->desc_size, sizeof d);
        uint64_t first = d.phys_start >> 12;
        if (pfn >= first && pfn + n <= first + d.npages)
            return 1;
    }
    return 0;
}

static int fw_claim(void *ctx, uint64_t phys, uint64_t n)
{
    struct sim *s = ctx;
    uint64_t pfn = phys >> 12;
    s->claims++;
    if (s->refuse_every && s->claims % (uint64_t)s->refuse_every == 0) {
        s->refusals++;
        sim_fw_take(s, pfn, 1); /* somebody else got the first page */
        return -1;
    }
    for (uint64_t i = 0; i < n; i++)
        if (pfn + i >= s->fw_pages || s->fw_used[pfn + i])
            return -1;
    if (s->one_descriptor && !in_one_descriptor(s, pfn, n))
        return -1;
    memset(s->fw_used + pfn, 2, n); /* 2: ours (LoaderData) */
    if (s->on_claim)
        s->on_claim(s, phys, n);
    return 0;
}

static void fw_release(void *ctx, uint64_t phys, uint64_t n)
{
    struct sim *s = ctx;
    uint64_t pfn = phys >> 12;
    for (uint64_t i = 0; i < n; i++) {
        if (s->fw_used[pfn + i] != 2) {
            fprintf(stderr, "sim: release of page %#lx the loader does not hold\n",
                    (unsigned long)(pfn + i));
            abort();
        }
        s->fw_used[pfn + i] = 0;
    }
}

int sim_fw_used(const struct sim *s, uint64_t pfn)
{
    return s->fw_used[pfn];
}

void sim_fw_take(struct sim *s, uint64_t pfn, uint64_t n)
{
    for (uint64_t i = 0; i < n && pfn + i < s->fw_pages; i++)
        if (!s->fw_used[pfn + i])
            s->fw_used[pfn + i] = 3; /* 3: boot-services data the firmware allocated later */
}

static void *scratch_for(struct sim *s, struct pmm_map *m, uint64_t *size)
{
    *size = pmm_map_scratch_size(m);
    free(s->scratch);
    s->scratch = malloc(*size ? *size : 1);
    return s->scratch;
}

int sim_build(struct sim *s, int fw, struct pmm **out)
{
    struct pmm_build b = {0};
    b.map = sim_map(s);
    b.scratch = scratch_for(s, &b.map, &b.scratch_size);
    b.virt_offset = (uint64_t)(uintptr_t)s->mem;
    b.extra_descriptors = 64;
    b.max_cpus = s->max_cpus;
    b.numa = s->numa;
    b.numa_count = s->numa_count;
    b.nnodes = s->nnodes;
    if (fw)
        b.fw = (struct pmm_firmware){fw_claim, fw_release, s};
    struct pmm_map_error err;
    return pmm_build(&b, out, &err);
}

/*
 * The final map: the original descriptors with conventional pages the firmware now considers used
 * re-typed (2 -> LoaderData, 3 -> BootServicesData), split page by page and merged back into runs.
 * Returns a malloc'd buffer of *size bytes, s->desc_size per descriptor.
 */
void *sim_final_map(struct sim *s, size_t *size)
{
    size_t cap = 64, n = 0;
    unsigned char *fin = malloc(cap * s->desc_size);
    for (size_t i = 0; i < s->ndesc; i++) {
        struct pmm_efi_desc d;
        memcpy(&d, s->desc + i * s->desc_size, sizeof d);
        uint64_t pfn = d.phys_start >> 12, end = pfn + d.npages;
        while (pfn < end) {
            uint32_t type = d.type;
            if (d.type == PMM_EFI_CONVENTIONAL && pfn < s->fw_pages && s->fw_used[pfn])
                type = s->fw_used[pfn] == 2 ? PMM_EFI_LOADER_DATA : PMM_EFI_BOOT_DATA;
            uint64_t run = pfn + 1;
            if (type == PMM_EFI_CONVENTIONAL) { /* still free: skip free pages 8 at a time */
                while (run < end && run < s->fw_pages && (run & 7) && !s->fw_used[run])
                    run++;
                while (run + 8 <= end && run + 8 <= s->fw_pages && !(run & 7) &&
                       !*(const uint64_t *)(s->fw_used + run))
                    run += 8;
            }
            while (run < end && d.type == PMM_EFI_CONVENTIONAL && run < s->fw_pages &&
                   (s->fw_used[run]
                        ? (s->fw_used[run] == 2 ? PMM_EFI_LOADER_DATA : PMM_EFI_BOOT_DATA)
                        : PMM_EFI_CONVENTIONAL) == type)
                run++;
            if (d.type != PMM_EFI_CONVENTIONAL)
                run = end;
            if (n == cap) {
                cap *= 2;
                fin = realloc(fin, cap * s->desc_size);
            }
            struct pmm_efi_desc e = {type, 0, pfn << 12, 0, run - pfn, d.attr};
            memset(fin + n * s->desc_size, 0x5a, s->desc_size);
            memcpy(fin + n++ * s->desc_size, &e, sizeof e);
            pfn = run;
        }
    }
    *size = n * s->desc_size;
    return fin;
}

int sim_reconcile(struct sim *s, struct pmm *p)
{
    size_t bytes;
    void *fin = sim_final_map(s, &bytes);
    struct pmm_map m = {fin, bytes, s->desc_size};
    uint64_t size;
    void *scratch = scratch_for(s, &m, &size);
    struct pmm_map_error err;
    int rc = pmm_reconcile(p, &m, scratch, size, s->reconcile_flags, &err);
    free(fin);
    return rc;
}

unsigned char *sim_alias(struct sim *s)
{
    unsigned char *m =
        mmap(0, s->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, s->fd, 0);
    if (m == MAP_FAILED)
        die("mmap alias");
    return m;
}
