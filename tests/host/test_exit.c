/*
 * test_exit.c - efi/exit.c against a fake boot-services table.
 *
 * The fake firmware refuses ExitBootServices a chosen number of times and grows its memory map on
 * every refusal, as a firmware whose exit event handlers allocate does. After the first
 * ExitBootServices call the spec allows GetMemoryMap, ExitBootServices and the memory allocation
 * services only: every other slot of the table counts a violation, and so does any call at all
 * once ExitBootServices succeeded. A failure after the first call must reach the fatal callback
 * and never return.
 */
#include <setjmp.h>

#include "common.h"
#include "exit.h"

HARNESS_GLOBALS

#define DSZ 48

static struct {
    struct sim *sim;
    EFI_BOOT_SERVICES bs;
    uint64_t ndesc, grow; /* map length now; descriptors added at each refusal */
    int refuse;           /* ExitBootServices refusals still to come */
    int map_fails;        /* GetMemoryMap: 1 fails always, 2 fails once exit was called */
    UINTN key;
    int exit_calls, exited, done, violations;
    int map_taken; /* a GetMemoryMap succeeded and no ExitBootServices call came yet */
    int fatal_calls;
    const char *fatal_what;
    jmp_buf out;
} F;

static EFI_STATUS EFIAPI fake_other(void)
{
    F.violations++;
    fprintf(stderr, "  a boot service other than a memory service was called\n");
    return EFI_UNSUPPORTED;
}

static int after_success(const char *what)
{
    if (F.map_taken && strcmp(what, "ExitBootServices") && strcmp(what, "GetMemoryMap")) {
        F.violations++;
        fprintf(stderr, "  %s called between GetMemoryMap and ExitBootServices\n", what);
    }
    if (F.done) {
        F.violations++;
        fprintf(stderr, "  %s called after ExitBootServices succeeded\n", what);
    }
    return F.done;
}

/* Descriptor i of the current map: a recognisable pattern the test reads back. */
static struct pmm_efi_desc desc(uint64_t i)
{
    return (struct pmm_efi_desc){PMM_EFI_RESERVED, 0, (0x100000000ull + i) << 12, 0, 1, F.key};
}

static EFI_STATUS EFIAPI fake_get_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *buf, UINTN *key,
                                      UINTN *dsize, UINT32 *dver)
{
    if (after_success("GetMemoryMap"))
        return EFI_UNSUPPORTED;
    F.map_taken = 0;
    if (F.map_fails == 1 || (F.map_fails == 2 && F.exited))
        return EFI_DEVICE_ERROR;
    *dsize = DSZ;
    *dver = 1;
    UINTN need = F.ndesc * DSZ;
    if (*size < need) {
        *size = need;
        return EFI_BUFFER_TOO_SMALL;
    }
    for (uint64_t i = 0; i < F.ndesc; i++) {
        struct pmm_efi_desc d = desc(i);
        memset((char *)buf + i * DSZ, 0x5a, DSZ);
        memcpy((char *)buf + i * DSZ, &d, sizeof d);
    }
    *size = need;
    *key = F.key;
    F.map_taken = 1;
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_exit(EFI_HANDLE image, UINTN key)
{
    (void)image;
    if (after_success("ExitBootServices"))
        return EFI_UNSUPPORTED;
    F.exit_calls++;
    F.exited = 1;
    F.map_taken = 0;
    if (key != F.key)
        return EFI_INVALID_PARAMETER;
    if (F.refuse > 0) { /* an exit event handler allocated: the map changed under us */
        F.refuse--;
        F.ndesc += F.grow;
        F.key++;
        return EFI_INVALID_PARAMETER;
    }
    F.done = 1;
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_alloc_pages(EFI_ALLOCATE_TYPE type, EFI_MEMORY_TYPE mt, UINTN n,
                                          EFI_PHYSICAL_ADDRESS *a)
{
    (void)mt;
    if (after_success("AllocatePages"))
        return EFI_UNSUPPORTED;
    if (type != AllocateAddress)
        return EFI_INVALID_PARAMETER;
    uint64_t pfn = *a >> 12;
    for (uint64_t i = 0; i < n; i++)
        if (pfn + i >= F.sim->fw_pages || F.sim->fw_used[pfn + i])
            return EFI_NOT_FOUND;
    memset(F.sim->fw_used + pfn, 2, n);
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_free_pages(EFI_PHYSICAL_ADDRESS a, UINTN n)
{
    if (after_success("FreePages"))
        return EFI_UNSUPPORTED;
    for (uint64_t i = 0; i < n; i++)
        if (F.sim->fw_used[(a >> 12) + i] != 2)
            return EFI_NOT_FOUND;
    memset(F.sim->fw_used + (a >> 12), 0, n);
    return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_alloc_pool(EFI_MEMORY_TYPE t, UINTN n, VOID **p)
{
    (void)t, (void)n, (void)p;
    after_success("AllocatePool");
    return EFI_OUT_OF_RESOURCES;
}

static EFI_STATUS EFIAPI fake_free_pool(VOID *p)
{
    (void)p;
    after_success("FreePool");
    return EFI_INVALID_PARAMETER;
}

/* The allocator's claim hooks, as efi/firmware.c has them, through the fake table. */
static int claim(void *ctx, uint64_t phys, uint64_t n)
{
    (void)ctx;
    EFI_PHYSICAL_ADDRESS a = phys;
    return EFI_ERROR(F.bs.AllocatePages(AllocateAddress, EfiLoaderData, n, &a)) ? -1 : 0;
}

static void release(void *ctx, uint64_t phys, uint64_t n)
{
    (void)ctx;
    F.bs.FreePages(phys, n);
}

static void fatal(void *ctx, const char *what, EFI_STATUS st)
{
    (void)ctx, (void)st;
    F.fatal_calls++;
    F.fatal_what = what;
    longjmp(F.out, 1);
}

/* A fresh machine (64 MiB), firmware and allocator; the map starts at `ndesc` descriptors. */
static struct pmm *setup(uint64_t ndesc, uint64_t grow, int refuse)
{
    if (F.sim)
        sim_free(F.sim);
    memset(&F, 0, sizeof F);
    F.sim = sim_new(64 * MIB);
    sim_add(F.sim, PMM_EFI_CONVENTIONAL, MIB, 63 * MIB / PG, 0);
    typedef EFI_STATUS(EFIAPI * anyfn)(void);
    anyfn other = fake_other;
    for (size_t off = sizeof(EFI_TABLE_HEADER); off + sizeof other <= sizeof F.bs;
         off += sizeof other)
        memcpy((char *)&F.bs + off, &other, sizeof other);
    F.bs.GetMemoryMap = fake_get_map;
    F.bs.ExitBootServices = fake_exit;
    F.bs.AllocatePages = fake_alloc_pages;
    F.bs.FreePages = fake_free_pages;
    F.bs.AllocatePool = fake_alloc_pool;
    F.bs.FreePool = fake_free_pool;
    F.ndesc = ndesc;
    F.grow = grow;
    F.refuse = refuse;
    F.key = 1000;
    struct pmm_build b = {0};
    b.map = sim_map(F.sim);
    b.scratch_size = pmm_map_scratch_size(&b.map);
    b.scratch = malloc(b.scratch_size);
    b.virt_offset = (uint64_t)(uintptr_t)F.sim->mem;
    b.fw = (struct pmm_firmware){claim, release, 0};
    struct pmm *p = 0;
    struct pmm_map_error err;
    CHECK_EQ(pmm_build(&b, &p, &err), PMM_OK);
    free(b.scratch);
    return p;
}

struct run {
    struct fwmap final;
    void *scratch;
    UINT64 scratch_size;
    EFI_STATUS st;
    int returned;
};

/* The loader's starting point: one page of map buffer and the scratch that goes with it. */
static void run_exit(struct pmm *p, struct run *r)
{
    uint64_t off = (uint64_t)(uintptr_t)F.sim->mem, buf, scr;
    struct pmm_map m = {0, 4096 - 4096 % DSZ, DSZ};
    r->scratch_size = pmm_map_scratch_size(&m);
    CHECK_EQ(pmm_alloc_run(p, 1, 4096, 0, &buf), PMM_OK);
    CHECK_EQ(pmm_alloc_run(p, (r->scratch_size + 4095) / 4096, 4096, 0, &scr), PMM_OK);
    r->final = (struct fwmap){(void *)(uintptr_t)(buf + off), 0, 4096, 0, DSZ, 0};
    r->scratch = (void *)(uintptr_t)(scr + off);
    struct exit_ctx x = {&F.bs,       (EFI_HANDLE)0x1234, p,     off, &r->final,
                         &r->scratch, &r->scratch_size,   fatal, 0};
    r->returned = 0;
    if (!setjmp(F.out)) {
        r->st = exit_boot_services(&x);
        r->returned = 1;
    }
}

static uint64_t pmm_allocated(const struct pmm *p)
{
    struct pmm_stats s;
    pmm_stats(p, &s);
    return s.alloc;
}

static int allocated_run(struct pmm *p, const void *va, uint64_t bytes)
{
    uint64_t phys = (uint64_t)(uintptr_t)va - (uint64_t)(uintptr_t)F.sim->mem;
    for (uint64_t a = phys; a < phys + bytes; a += 4096) {
        uint32_t c = 0;
        if (pmm_refcount(p, a, &c) || c != 1 || sim_fw_used(F.sim, a >> 12) != 2)
            return 0;
    }
    return 1;
}

/* Refused three times while the map grows from 20 to 620 descriptors (past the one-page buffer):
 * the buffer and scratch grow through the allocator, the old ones go back, the exit succeeds. */
TEST(refusals_and_growth)
{
    struct pmm *p = setup(20, 200, 3);
    uint64_t before = pmm_allocated(p);
    struct run r;
    run_exit(p, &r);
    CHECK(r.returned);
    CHECK_EQ(r.st, EFI_SUCCESS);
    CHECK_EQ(F.exit_calls, 4);
    CHECK_EQ(F.fatal_calls, 0);
    CHECK_EQ(F.violations, 0);
    CHECK(F.done);
    CHECK_EQ(r.final.size, 620 * DSZ);
    CHECK_EQ(r.final.key, F.key);
    CHECK(r.final.cap >= r.final.size && r.final.cap % 4096 == 0);
    int same = 1;
    for (uint64_t i = 0; i < 620; i++) {
        struct pmm_efi_desc d = desc(i);
        same &= !memcmp((char *)r.final.buf + i * DSZ, &d, sizeof d);
    }
    CHECK(same);
    struct pmm_map m = {r.final.buf, r.final.size, DSZ};
    CHECK(r.scratch_size >= pmm_map_scratch_size(&m));
    CHECK(allocated_run(p, r.final.buf, r.final.cap));
    CHECK(allocated_run(p, r.scratch, r.scratch_size));
    /* exactly the two current buffers are allocated beyond what was before: the old ones are
     * back in the pool and with the firmware */
    CHECK_EQ(pmm_allocated(p) - before, r.final.cap / 4096 + (r.scratch_size + 4095) / 4096);
    CHECK_OK(p);
}

/* A firmware that refuses every key: the loop ends in the fatal report, never in a return. */
TEST(refused_for_good)
{
    struct pmm *p = setup(20, 1, 1000000);
    struct run r;
    run_exit(p, &r);
    CHECK(!r.returned);
    CHECK_EQ(F.fatal_calls, 1);
    CHECK(F.exit_calls >= 2 && F.exit_calls <= EXIT_TRIES);
    CHECK(F.fatal_what && strstr(F.fatal_what, "refused"));
    CHECK_EQ(F.violations, 0);
}

/* GetMemoryMap fails on the retry: fatal, not a return to a boot manager whose timer is off. */
TEST(map_error_after_exit)
{
    struct pmm *p = setup(20, 0, 1);
    F.map_fails = 2;
    struct run r;
    run_exit(p, &r);
    CHECK(!r.returned);
    CHECK_EQ(F.exit_calls, 1);
    CHECK_EQ(F.fatal_calls, 1);
    CHECK_EQ(F.violations, 0);
}

/* The map outgrows any buffer the allocator can give after the first call: fatal. */
TEST(no_memory_to_grow_after_exit)
{
    struct pmm *p = setup(20, 2000000, 1); /* 96 MB of descriptors on a 64 MiB machine */
    uint64_t before = pmm_allocated(p);
    struct run r;
    run_exit(p, &r);
    CHECK(!r.returned);
    CHECK_EQ(F.fatal_calls, 1);
    CHECK(F.fatal_what && strstr(F.fatal_what, "no memory"));
    CHECK_EQ(F.violations, 0);
    CHECK_EQ(pmm_allocated(p), before + 1 + (r.scratch_size + 4095) / 4096); /* nothing leaked */
    CHECK_OK(p);
}

/* Before ExitBootServices was ever called, an error may return: boot services are intact. */
TEST(map_error_before_exit_returns)
{
    struct pmm *p = setup(20, 0, 0);
    F.map_fails = 1;
    struct run r;
    run_exit(p, &r);
    CHECK(r.returned);
    CHECK_EQ(r.st, EFI_DEVICE_ERROR);
    CHECK_EQ(F.exit_calls, 0);
    CHECK_EQ(F.fatal_calls, 0);
    CHECK_EQ(F.violations, 0);
}

/* A map already past the buffer at the first call grows before any exit, then exits at once. */
TEST(grows_before_first_exit)
{
    struct pmm *p = setup(300, 0, 0);
    struct run r;
    run_exit(p, &r);
    CHECK(r.returned);
    CHECK_EQ(r.st, EFI_SUCCESS);
    CHECK_EQ(F.exit_calls, 1);
    CHECK_EQ(r.final.size, 300 * DSZ);
    CHECK_EQ(F.violations, 0);
}

int main(void)
{
    RUN(refusals_and_growth);
    RUN(refused_for_good);
    RUN(map_error_after_exit);
    RUN(no_memory_to_grow_after_exit);
    RUN(map_error_before_exit_returns);
    RUN(grows_before_first_exit);
    sim_free(F.sim);
    HARNESS_MAIN_END();
}
