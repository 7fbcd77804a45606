/*
 * bitmap.c - bitmaps with summary levels, and the contiguous-run search built on them.
 *
 * Level 0 is one bit per item (a page, or a 2 MiB block for the block map); bit j of level k+1 is
 * set exactly when word j of level k is non-zero; the top level is a single word. So "next set bit
 * at or after i" climbs at most nlevels words and descends as many, wherever the bit is.
 *
 *   level 1:  [0 1 0 0 ...]          word 1 of level 0 has a set bit
 *   level 0:  [00000000][00010000][00000000] ...
 */
#include "state.h"

uint64_t hb_words_for(uint64_t nbits, uint64_t nwords[PMM_LEVELS], uint32_t *nlevels)
{
    uint64_t words = (nbits + 63) / 64, total = 0;
    uint32_t k = 0;
    if (!words)
        words = 1;
    for (;;) {
        nwords[k] = words;
        total += words;
        k++;
        if (words == 1)
            break;
        words = (words + 63) / 64;
    }
    *nlevels = k;
    for (uint32_t i = k; i < PMM_LEVELS; i++)
        nwords[i] = 0;
    return total;
}

void hb_rebuild(const struct pmm *p, const struct pmm_hbits *h)
{
    hb_rebuild_above(p, h, 1);
}

void hb_rebuild_above(const struct pmm *p, const struct pmm_hbits *h, uint32_t from_level)
{
    for (uint32_t k = from_level; k < h->nlevels; k++) {
        const uint64_t *below = pmm_words(p, h, k - 1);
        uint64_t *lk = pmm_words(p, h, k);
        for (uint64_t j = 0; j < h->nwords[k]; j++) {
            uint64_t w = 0, first = j * 64;
            uint64_t last = first + 64 < h->nwords[k - 1] ? first + 64 : h->nwords[k - 1];
            for (uint64_t i = first; i < last; i++)
                w |= (uint64_t)(below[i] != 0) << (i - first);
            lk[j] = w;
        }
    }
}

void hb_propagate(const struct pmm *p, const struct pmm_hbits *h, uint64_t wi)
{
    hb_propagate_from(p, h, 1, wi);
}

/* Word wi of level k - 1 changed: bring levels k and up in line. */
void hb_propagate_from(const struct pmm *p, const struct pmm_hbits *h, uint32_t k, uint64_t wi)
{
    for (; k < h->nlevels; k++) {
        int nonzero = pmm_words(p, h, k - 1)[wi] != 0;
        uint64_t *w = &pmm_words(p, h, k)[wi >> 6];
        uint64_t old = *w;
        *w = nonzero ? old | bit_mask(wi) : old & ~bit_mask(wi);
        if ((old == 0) == (*w == 0))
            return; /* levels above see no change */
        wi >>= 6;
    }
}

uint64_t hb_next_set(const struct pmm *p, const struct pmm_hbits *h, uint64_t from, uint64_t limit)
{
    if (from >= limit || from >= h->nbits)
        return PMM_NONE;
    uint64_t i = from;
    uint32_t k = 0;
    for (;;) {
        const uint64_t *lk = pmm_words(p, h, k);
        uint64_t wi = i >> 6;
        if (wi >= h->nwords[k])
            return PMM_NONE;
        uint64_t w = lk[wi] & (~0ull << (i & 63));
        if (w) {
            i = (wi << 6) | (uint64_t)__builtin_ctzll(w);
            break;
        }
        if (k + 1 == h->nlevels)
            return PMM_NONE;
        i = wi + 1; /* the next word of level k is bit wi + 1 of level k + 1 */
        k++;
    }
    while (k > 0) {
        k--;
        i = (i << 6) | (uint64_t)__builtin_ctzll(pmm_words(p, h, k)[i]);
    }
    return i < limit ? i : PMM_NONE;
}

uint64_t bits_next_clear(const uint64_t *w, uint64_t from, uint64_t limit)
{
    for (uint64_t i = from; i < limit;) {
        uint64_t x = ~w[i >> 6] & (~0ull << (i & 63));
        if (x) {
            uint64_t r = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
            return r < limit ? r : PMM_NONE;
        }
        i = (i & ~63ull) + 64;
    }
    return PMM_NONE;
}

uint64_t bits_next_set(const uint64_t *w, uint64_t from, uint64_t limit)
{
    for (uint64_t i = from; i < limit;) {
        uint64_t x = w[i >> 6] & (~0ull << (i & 63));
        if (x) {
            uint64_t r = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);
            return r < limit ? r : PMM_NONE;
        }
        i = (i & ~63ull) + 64;
    }
    return PMM_NONE;
}

void bits_fill(uint64_t *w, uint64_t from, uint64_t to, int value)
{
    while (from < to && (from & 63)) {
        uint64_t m = word_mask(from, to);
        w[from >> 6] = value ? w[from >> 6] | m : w[from >> 6] & ~m;
        from = (from & ~63ull) + 64;
    }
    if (from >= to)
        return;
    uint64_t full = (to - from) >> 6;
    pmm_memset(&w[from >> 6], value ? 0xff : 0, full * 8);
    from += full * 64;
    if (from < to) {
        uint64_t m = word_mask(from, to);
        w[from >> 6] = value ? w[from >> 6] | m : w[from >> 6] & ~m;
    }
}

uint64_t bits_count(const uint64_t *w, uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    while (from < to) {
        uint64_t m = word_mask(from, to);
        n += popcount64(w[from >> 6] & m);
        from = (from & ~63ull) + 64;
    }
    return n;
}

/* Block b is full when its 8 free-map words are all ones (a partial last block never is). */
static int blk_full(const struct pmm *p, uint64_t b)
{
    const uint64_t *l0 = pmm_free_l0(p) + b * 8;
    for (int i = 0; i < 8; i++)
        if (l0[i] != ~0ull)
            return 0;
    return 1;
}

static void blk_set(const struct pmm *p, uint64_t b, int value)
{
    uint64_t *w = &pmm_words(p, &p->blkmap, 0)[b >> 6];
    uint64_t old = *w;
    *w = value ? old | bit_mask(b) : old & ~bit_mask(b);
    if ((old == 0) != (*w == 0))
        hb_propagate(p, &p->blkmap, b >> 6);
}

void blk_note_full(const struct pmm *p, uint64_t b)
{
    if (b < p->blkmap.nbits && blk_full(p, b))
        blk_set(p, b, 1);
}

/* One word of the free map, partly covered by [from, to): bit by bit upkeep. */
static void fm_fill_word(struct pmm *p, uint64_t from, uint64_t to, int value)
{
    uint64_t *l0 = pmm_free_l0(p), wi = from >> 6, m = word_mask(from, to);
    uint64_t old = l0[wi], new = value ? old | m : old & ~m;
    st64(&l0[wi], new);
    fm_word_changed(p, wi, old, new);
}

/*
 * One whole 2 MiB block (the commonest run, and the free-block stack's): its eight words are one
 * cache line and its first-level summary bits one byte of one word, so at most one climb.
 */
static void fm_fill_block(struct pmm *p, uint64_t c, int value)
{
    uint64_t *w = pmm_free_l0(p) + (c >> 6), fill = value ? ~0ull : 0;
    for (int i = 0; i < 8; i++) /* word stores: other CPUs' fast paths read these */
        st64(&w[i], fill);
    const struct pmm_hbits *h = &p->freemap;
    uint64_t *l1 = pmm_words(p, h, 1) + (c >> 12), m = 0xffull << ((c >> 6) & 63), old = *l1;
    *l1 = value ? old | m : old & ~m;
    if (!old != !*l1)
        hb_propagate_from(p, h, 2, c >> 12);
    if (value && !bit_test(pmm_words(p, &p->blkmap, 0), c >> PMM_BLOCK_SHIFT))
        blk_set(p, c >> PMM_BLOCK_SHIFT, 1); /* whole and free: its hint must be set */
}

/*
 * Set or clear free-map bits [from, to), keeping the summaries and the block map true. Whole
 * words are written in a row and their first summary level is set or cleared as a range, so a
 * 512-page run costs a few word writes and one climb of the levels, not eight; blocks the range
 * covers whole are marked free without reading them back.
 */
void fm_fill(struct pmm *p, uint64_t from, uint64_t to, int value)
{
    if (!(from & 511) && to - from == 512 && p->freemap.nlevels > 1) {
        fm_fill_block(p, from, value);
        return;
    }
    if (from & 63) {
        uint64_t end = (from | 63) + 1 < to ? (from | 63) + 1 : to;
        fm_fill_word(p, from, end, value);
        from = end;
    }
    uint64_t w0 = from >> 6, w1 = to >> 6;
    if (w0 < w1) {
        uint64_t *l0 = pmm_free_l0(p), fill = value ? ~0ull : 0;
        for (uint64_t w = w0; w < w1; w++) /* word stores: other CPUs' fast paths read these */
            st64(&l0[w], fill);
        const struct pmm_hbits *h = &p->freemap;
        if (h->nlevels > 1) {
            uint64_t *l1 = pmm_words(p, h, 1);
            for (uint64_t j = w0 >> 6; j <= (w1 - 1) >> 6; j++) {
                uint64_t a = j << 6 > w0 ? j << 6 : w0, b = (j + 1) << 6 < w1 ? (j + 1) << 6 : w1;
                uint64_t m = word_mask(a, b), old = l1[j], new = value ? old | m : old & ~m;
                l1[j] = new;
                if ((old == 0) != (new == 0))
                    hb_propagate_from(p, h, 2, j);
            }
        }
        if (value) { /* blocks inside the words are whole and free; the edge ones may be */
            const uint64_t *bl0 = pmm_words(p, &p->blkmap, 0);
            for (uint64_t b = w0 >> 3; b <= (w1 - 1) >> 3 && b < p->blkmap.nbits; b++) {
                if (bit_test(bl0, b))
                    continue;
                if (b << 3 >= w0 && (b + 1) << 3 <= w1)
                    blk_set(p, b, 1);
                else
                    blk_note_full(p, b);
            }
        }
        from = w1 << 6;
    }
    if (from < to)
        fm_fill_word(p, from, to, value);
}

/*
 * Runs of whole 2 MiB blocks: search the block map, confirm the blocks in the free map (the block
 * map is a hint, see state.h), then check the pages past the last whole block. Blocks never
 * straddle sections; a run that crosses from one slot to a slot that is not its physical
 * neighbour starts over in the later one.
 */
static uint64_t blk_find_run(struct pmm *p, uint64_t n, uint64_t align, uint64_t lo, uint64_t hi)
{
    const uint64_t *bl0 = pmm_words(p, &p->blkmap, 0);
    uint64_t k = n >> PMM_BLOCK_SHIFT, b = (lo + 511) >> PMM_BLOCK_SHIFT;
    for (;;) {
        b = hb_next_set(p, &p->blkmap, b, p->blkmap.nbits);
        if (b == PMM_NONE)
            return PMM_NONE;
        uint64_t s = c_align(p, b << PMM_BLOCK_SHIFT, align);
        if (s == PMM_NONE || s > hi || hi - s < n)
            return PMM_NONE;
        if (s != b << PMM_BLOCK_SHIFT) {
            b = s >> PMM_BLOCK_SHIFT;
            continue;
        }
        uint64_t z = bits_next_clear(bl0, b, b + k);
        for (uint64_t i = b; z == PMM_NONE && i < b + k; i++) {
            if (!blk_full(p, i)) { /* a stale hint: drop it now that we paid to read it */
                blk_set(p, i, 0);
                z = i;
            }
        }
        if (z != PMM_NONE) {
            b = z + 1;
            continue;
        }
        if (bits_next_clear(pmm_free_l0(p), s + (k << PMM_BLOCK_SHIFT), s + n) != PMM_NONE) {
            b += 1;
            continue;
        }
        uint64_t brk = c_break(p, s, n);
        if (brk != PMM_NONE) {
            b = brk >> PMM_BLOCK_SHIFT;
            continue;
        }
        return s;
    }
}

/*
 * First run of n free pages in compact [lo, hi) whose first page is physically aligned to align
 * pages (a power of two) and which is physically contiguous. Each failed candidate moves the
 * search past the used page that broke it, so the cost follows the number of fragments in the
 * way, not the number of pages.
 */
uint64_t fm_find_run(struct pmm *p, uint64_t n, uint64_t align, uint64_t lo, uint64_t hi)
{
    if (n >= 512 && align >= 512)
        return blk_find_run(p, n, align, lo, hi);
    const uint64_t *l0 = pmm_free_l0(p);
    uint64_t pos = lo;
    for (;;) {
        uint64_t s = hb_next_set(p, &p->freemap, pos, hi);
        if (s == PMM_NONE)
            return PMM_NONE;
        s = c_align(p, s, align);
        if (s == PMM_NONE || s > hi || hi - s < n)
            return PMM_NONE;
        uint64_t z = bits_next_clear(l0, s, s + n);
        if (z == PMM_NONE) {
            z = c_break(p, s, n);
            if (z == PMM_NONE)
                return s;
            pos = z;
            continue;
        }
        pos = z + 1;
    }
}
