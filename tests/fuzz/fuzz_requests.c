/*
 * fuzz_requests.c - the loader's search for Limine requests in a kernel image
 * (efi/limine/requests.c), on any bytes.
 *
 * FUZZ-LINK: efi/limine/requests.c
 * FUZZ-CFLAGS: -Iefi/limine
 *
 * Input: a flags byte, then the image (its length rounded down to 8 bytes, at virtual address
 * 0xffffffff80000000). Flag bit 0: the image has a .limine_reqs section covering its second half.
 * The image is scanned from an exact-size copy, so ASan sees any read past it.
 *
 * Properties: lreq_scan writes nothing into the image; every request it reports starts with the
 * common magic and its ID, 8-byte aligned, fits the image with its revision's size, and lies
 * between the last start marker and the first end marker (when scanning); a refusal names a
 * request or the markers; an accepted image has no request ID twice in the scanned area (counted
 * here independently); the base revision tag, if reported, has both magic words.
 */
#include "fuzz.h"
#include "limine.h"
#include "requests.h"

static const uint64_t magic[2] = {LIMINE_COMMON_MAGIC};
static const uint64_t start_m[4] = LIMINE_REQUESTS_START_MARKER;
static const uint64_t end_m[2] = LIMINE_REQUESTS_END_MARKER;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    int section = data[0] & 1;
    size_t n = (size - 1) / 8 * 8;
    uint64_t *img = malloc(n ? n : 8), vbase = 0xffffffff80000000ull;
    memcpy(img, data + 1, n);
    uint64_t *copy = malloc(n ? n : 8);
    memcpy(copy, img, n);
    struct lreq_found f;
    int which;
    uint64_t reqs = section ? vbase + n / 2 / 8 * 8 : 0,
             reqs_size = section ? n - n / 2 / 8 * 8 : 0;
    const char *why = lreq_scan(img, n, vbase, reqs, reqs_size, &f, &which);
    FZ_ASSERT(!memcmp(img, copy, n), "the scan wrote into the image");
    uint64_t words = n / 8, lo = 0, hi = words;
    for (uint64_t i = 0; i + 4 <= words; i++)
        if (!memcmp(&img[i], start_m, 32))
            lo = i + 4;
    for (uint64_t i = 0; i + 2 <= words; i++)
        if (!memcmp(&img[i], end_m, 16)) {
            hi = i;
            break;
        }
    if (why) {
        FZ_ASSERT(why[0], "an empty refusal");
    } else {
        for (int r = 0; r < LREQ_COUNT; r++) {
            uint64_t *q = f.req[r];
            if (!q)
                continue;
            uint64_t at = (uint64_t)(q - img);
            FZ_ASSERT(q >= img && at < words && !memcmp(q, magic, 16),
                      "request %d is not a request in the image", r);
            FZ_ASSERT((at + 5) * 8 <= n && n - at * 8 >= lreq_size(r, q[4]),
                      "request %d does not fit the image", r);
            FZ_ASSERT(f.from_section || (at >= lo && at < hi), "request %d outside the markers", r);
        }
        if (f.base_tag) {
            FZ_ASSERT(f.base_tag[0] == LIMINE_BASE_REVISION_MAGIC0 &&
                          f.base_tag[1] == LIMINE_BASE_REVISION_MAGIC1,
                      "the base revision tag has not its magic");
            FZ_ASSERT(f.wanted_revision == f.base_tag[2], "wanted revision not the tag's");
        }
        /* no known request twice in the scanned area: every other copy of a found one's ID */
        for (int r = 0; r < LREQ_COUNT && !f.from_section; r++) {
            uint64_t *q = f.req[r];
            for (uint64_t j = lo; q && j + 4 <= hi; j++)
                FZ_ASSERT(&img[j] == q || memcmp(&img[j], q, 32),
                          "request %d twice in the image, accepted", r);
        }
    }
    free(img);
    free(copy);
    return 0;
}
