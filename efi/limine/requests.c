/*
 * requests.c - see requests.h. Reads the image a word at a time and writes nothing: the loader
 * fills the responses later, through the pointers found here.
 */
#include "requests.h"

#include "handoff.h"
#include "limine.h"

struct known {
    uint64_t id[2]; /* the words after the common magic */
    const char *name;
};

static const struct known known[LREQ_COUNT] = {
    [LREQ_BOOTLOADER_INFO] = {{0xf55038d8e2a1202full, 0x279426fcf5f59740ull}, "Bootloader Info"},
    [LREQ_EXECUTABLE_CMDLINE] = {{0x4b161536e598651eull, 0xb390ad4a2f1f303aull},
                                 "Executable Command Line"},
    [LREQ_FIRMWARE_TYPE] = {{0x8c2f75d90bef28a8ull, 0x7045a4688eac00c3ull}, "Firmware Type"},
    [LREQ_STACK_SIZE] = {{0x224ef0460a8e8926ull, 0xe1cb0fc25f46ea3dull}, "Stack Size"},
    [LREQ_HHDM] = {{0x48dcf1cb8ad2b852ull, 0x63984e959a98244bull}, "HHDM"},
    [LREQ_FRAMEBUFFER] = {{0x9d5827dcd881dd75ull, 0xa3148604f6fab11bull}, "Framebuffer"},
    [LREQ_PAGING_MODE] = {{0x95c1a0edab0944cbull, 0xa4e5cb3842f7488aull}, "Paging Mode"},
    [LREQ_MP] = {{0x95a67b819a1b857eull, 0xa0b61b723b6a73e0ull}, "MP"},
    [LREQ_MEMMAP] = {{0x67cf3d9d378a806full, 0xe304acdfc50c3c62ull}, "Memory Map"},
    [LREQ_ENTRY_POINT] = {{0x13d86c035a1cd3e1ull, 0x2b0caa89d8f3026aull}, "Entry Point"},
    [LREQ_EXECUTABLE_FILE] = {{0xad97e90e83f1ed67ull, 0x31eb5d1c5ff23b69ull}, "Executable File"},
    [LREQ_MODULE] = {{0x3e7e279702be32afull, 0xca1c4f3bd1280ceeull}, "Module"},
    [LREQ_RSDP] = {{0xc5e77b6b397e7b43ull, 0x27637845accdcf3cull}, "RSDP"},
    [LREQ_SMBIOS] = {{0x9e9046f11e095391ull, 0xaa4a520fefbde5eeull}, "SMBIOS"},
    [LREQ_EFI_SYSTEM_TABLE] = {{0x5ceba5163eaaf6d6ull, 0x0a6981610cf65fccull}, "EFI System Table"},
    [LREQ_EFI_MEMMAP] = {{0x7df62a431d6872d5ull, 0xa4fcdfb3e57306c8ull}, "EFI Memory Map"},
    [LREQ_DATE_AT_BOOT] = {{0x502746e184c088aaull, 0xfbc5ec83e6327893ull}, "Date at Boot"},
    [LREQ_EXECUTABLE_ADDRESS] = {{0x71ba76863cc55f63ull, 0xb2644a48c516a487ull},
                                 "Executable Address"},
    [LREQ_DTB] = {{0xb40ddb48fb54bac7ull, 0x545081493f81ffb7ull}, "Device Tree Blob"},
    [LREQ_RISCV_BSP_HARTID] = {{0x1369359f025525f9ull, 0x2ff2a56178391bb6ull},
                               "RISC-V BSP Hart ID"},
    [LREQ_BOOTLOADER_PERFORMANCE] = {{0x6b50ad9bf36d13adull, 0xdc4c7e88fc759e17ull},
                                     "Bootloader Performance"},
    [LREQ_KEEP_IOMMU] = {{0x8ebaabe51f490179ull, 0x2aa86a59ffb4ab0full}, "x86-64 Keep IOMMU"},
    [LREQ_TSC_FREQUENCY] = {{0x10f2ee1d87d195e4ull, 0xf747a2b78f6ddb31ull}, "TSC Frequency"},
    [LREQ_FLANTERM_FB_INIT_PARAMS] = {{0x3259399fe7c5f126ull, 0xe01c1c8c5db9d1a9ull},
                                      "Flanterm FB Init Params"},
    [LREQ_ENTROPY] = {{0x65ea80255d5682c5ull, 0x9117240723f493ebull}, "Entropy"},
    [LREQ_TPM_EVENT_LOG] = {{0x98e094fc7e76e979ull, 0xee8d8775c54e1d1full}, "TPM Event Log"},
    [LREQ_PMM] = {{0x9164e45de5f2bd13ull, 0x3f932289e820cf48ull}, "uefi-pmm live allocator"},
};

static const uint64_t magic[2] = {LIMINE_COMMON_MAGIC};
static const uint64_t start_marker[4] = LIMINE_REQUESTS_START_MARKER;
static const uint64_t end_marker[2] = LIMINE_REQUESTS_END_MARKER;

const char *lreq_name(int r)
{
    return r >= 0 && r < LREQ_COUNT ? known[r].name : "unknown request";
}

uint64_t lreq_size(int r, uint64_t revision)
{
    uint64_t header = sizeof(struct limine_request_header);
    switch (r) {
    case LREQ_STACK_SIZE:
    case LREQ_MP:
    case LREQ_ENTRY_POINT:
    case LREQ_ENTROPY:
    case LREQ_PMM:
        return header + 8;
    case LREQ_PAGING_MODE:
        return header + (revision >= 1 ? 24 : 8);
    case LREQ_MODULE:
        return header + (revision >= 1 ? 16 : 0);
    default:
        return header;
    }
}

static int words_are(const uint64_t *w, const uint64_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (w[i] != want[i])
            return 0;
    return 1;
}

static int identify(const uint64_t *w)
{
    for (int r = 0; r < LREQ_COUNT; r++)
        if (w[2] == known[r].id[0] && w[3] == known[r].id[1])
            return r;
    return -1;
}

/* The request at word index i of [lo, hi), which starts with the common magic. */
static const char *take(uint64_t *w, uint64_t i, uint64_t hi, struct lreq_found *out, int *which)
{
    int r = identify(&w[i]);
    if (r < 0) {
        if (out->nunknown < LREQ_MAX_UNKNOWN) {
            out->unknown[out->nunknown][0] = w[i + 2];
            out->unknown[out->nunknown][1] = w[i + 3];
        }
        out->nunknown++;
        return 0;
    }
    *which = r;
    if (i + 5 > hi || (hi - i) * 8 < lreq_size(r, w[i + 4]))
        return "the request runs past the end of the image (or its requests area)";
    if (out->req[r])
        return "the kernel has the same request twice";
    out->req[r] = &w[i];
    return 0;
}

/* Base revision 0 with a .limine_reqs section: its NULL-terminated list of request pointers. */
static const char *from_section(uint64_t *w, uint64_t nwords, uint64_t vbase, uint64_t reqs,
                                uint64_t reqs_size, struct lreq_found *out, int *which)
{
    if (reqs < vbase || (reqs - vbase) & 7 || (reqs - vbase) / 8 >= nwords)
        return ".limine_reqs does not lie 8-byte aligned in the image";
    uint64_t at = (reqs - vbase) / 8, n = reqs_size / 8;
    if (n > nwords - at)
        n = nwords - at;
    out->from_section = 1;
    for (uint64_t k = 0; k < n && w[at + k]; k++) {
        uint64_t v = w[at + k];
        if (v < vbase || (v - vbase) & 7 || (v - vbase) / 8 >= nwords ||
            nwords - (v - vbase) / 8 < 4)
            return ".limine_reqs lists a pointer that is not an aligned request in the image";
        uint64_t i = (v - vbase) / 8;
        if (!words_are(&w[i], magic, 2))
            return ".limine_reqs lists a pointer to something that is not a request";
        const char *why = take(w, i, nwords, out, which);
        if (why)
            return why;
    }
    return 0;
}

const char *lreq_scan(void *image, uint64_t size, uint64_t vbase, uint64_t reqs, uint64_t reqs_size,
                      struct lreq_found *out, int *which)
{
    uint64_t *w = image, n = size / 8, lo = 0, hi = n;
    unsigned char *z = (unsigned char *)out;
    for (uint64_t i = 0; i < sizeof *out; i++)
        z[i] = 0;
    *which = -1;
    int have_start = 0, have_end = 0;
    for (uint64_t i = 0; i + 4 <= n; i++) {
        if (words_are(&w[i], start_marker, 4))
            lo = i + 4, have_start = 1;
    }
    for (uint64_t i = 0; i + 2 <= n && !have_end; i++) {
        if (words_are(&w[i], end_marker, 2))
            hi = i, have_end = 1;
    }
    if (have_start && have_end && hi < lo)
        return "the requests end marker comes before the start marker";
    for (uint64_t i = lo; i + 3 <= hi; i++) {
        if (w[i] != LIMINE_BASE_REVISION_MAGIC0 || w[i + 1] != LIMINE_BASE_REVISION_MAGIC1)
            continue;
        if (out->base_tag)
            return "the kernel has two base revision tags";
        out->base_tag = &w[i];
        out->wanted_revision = w[i + 2];
    }
    if (out->wanted_revision == 0 && reqs_size)
        return from_section(w, n, vbase, reqs, reqs_size, out, which);
    for (uint64_t i = lo; i + 4 <= hi; i++) {
        if (!words_are(&w[i], magic, 2))
            continue;
        const char *why = take(w, i, hi, out, which);
        if (why)
            return why;
    }
    return 0;
}
