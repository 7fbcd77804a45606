/*
 * fuzz_mapfile.c - the text map reader (tools/mapfile.c), as pmmsim and the tests use it.
 *
 * FUZZ-LINK: tools/mapfile.c
 *
 * Input: byte 0 sets the length of the file name (0-765 characters: pmmsim must survive any
 * path), the rest is the file's text (up to its first NUL).
 *
 * Properties:
 *  - a refusal leaves a NUL-terminated message in mf.error that names the file (its tail, for a
 *    long name) and the line;
 *  - a success gives at least one descriptor, each page aligned and not wrapping past 2^64, so
 *    the intake accepts the packed map (pmm_map_ranges gives PMM_OK);
 *  - written out again in the Linux numeric format (what `pmm save` writes) and read back, the
 *    descriptors are the same.
 */
#include "fuzz.h"
#include "mapfile.h"

static char name[800];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t nlen = data[0] * 3u;
    memset(name, 'd', nlen);
    memcpy(name, "map", nlen < 3 ? nlen : 3);
    name[nlen] = 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;

    struct mapfile mf;
    memset(&mf, 0, sizeof mf);
    int rc = mapfile_parse(&mf, name, text);
    free(text);
    if (rc) {
        FZ_ASSERT(rc == -1 && memchr(mf.error, 0, sizeof mf.error), "refusal: rc %d", rc);
        /* "NAME:LINE: why", or "...TAIL:LINE: why" when the name is longer than fits */
        const char *colon = strchr(mf.error + (nlen ? 1 : 0), ':');
        FZ_ASSERT(colon, "error message names no line: '%s'", mf.error);
        size_t shown = (size_t)(colon - mf.error);
        int named = shown == nlen && !strncmp(mf.error, name, nlen);
        if (!named && shown >= 3 && !strncmp(mf.error, "...", 3) && shown - 3 < nlen)
            named = !strncmp(mf.error + 3, name + nlen - (shown - 3), shown - 3);
        /* fail() keeps the reason whole and shortens the name; a reason quoting a long line
         * fills the buffer alone (reported: the name is then lost) */
        FZ_ASSERT(named || strlen(mf.error) + 3 >= sizeof mf.error - 1,
                  "error message '%s' does not name the file (%zu characters)", mf.error, nlen);
        mapfile_free(&mf);
        return 0;
    }
    FZ_ASSERT(mf.n >= 1, "success without descriptors");

    /* Every descriptor is one the intake takes. */
    size_t msize;
    void *packed = mapfile_pack(&mf, 48, &msize);
    struct pmm_map map = {packed, msize, 48};
    uint64_t ssize = pmm_map_scratch_size(&map), n;
    void *scratch = malloc(ssize);
    struct pmm_range *out = malloc((2 * mf.n + 1) * sizeof *out);
    struct pmm_map_error err = {0, 0};
    rc = pmm_map_ranges(&map, scratch, ssize, out, 2 * mf.n + 1, &n, &err);
    FZ_ASSERT(rc == PMM_OK, "the reader produced a map the intake refuses: descriptor %lld, %s",
              (long long)err.index, err.why ? err.why : "");
    free(scratch);
    free(out);
    free(packed);

    /* Written out as `pmm save` does and read again: the same descriptors. */
    size_t cap = mf.n * 120 + 1, len = 0;
    char *again = malloc(cap);
    int exact = 1;
    for (size_t i = 0; i < mf.n; i++) {
        const struct pmm_efi_desc *d = &mf.desc[i];
        FZ_ASSERT(d->phys_start % PG == 0, "descriptor %zu starts at %#llx", i,
                  (unsigned long long)d->phys_start);
        uint64_t end = d->phys_start + d->npages * PG;
        if (d->npages && !end) {
            exact = 0; /* ends at 2^64: not expressible as an exclusive range */
            break;
        }
        len += (size_t)snprintf(again + len, cap - len,
                                "efi: mem%02zu: type=%u, attr=0x%llx, range=[0x%llx-0x%llx)\n", i,
                                d->type, (unsigned long long)d->attr,
                                (unsigned long long)d->phys_start, (unsigned long long)end);
    }
    if (exact) {
        struct mapfile back;
        memset(&back, 0, sizeof back);
        rc = mapfile_parse(&back, "again", again);
        FZ_ASSERT(rc == 0, "reading back what it read failed: %s", back.error);
        FZ_ASSERT(back.n == mf.n, "%zu descriptors read back, %zu read", back.n, mf.n);
        for (size_t i = 0; i < mf.n; i++)
            FZ_ASSERT(!memcmp(&back.desc[i], &mf.desc[i], sizeof mf.desc[i]),
                      "descriptor %zu differs after a round trip", i);
        mapfile_free(&back);
    }
    free(again);
    mapfile_free(&mf);
    return 0;
}
