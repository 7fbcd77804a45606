#!/usr/bin/env python3
"""make mutate: can the tests fail? Inject one small fault at a time into pmm/ and see.

Each fault below is an exact piece of source and what it becomes: an off-by-one, a skipped counter
update or refusal, an inverted condition, a summary bit left set, a metadata size doubled, a search
that skips a page. For each, the tree is copied (with the current build, so only what the fault
touches is rebuilt), the fault applied, and the host suite run: the unit tests, the randomized
differential test, the real PCs' maps, and pmmsim, which replays every map through the kernel's own
self-test (handoff/kernel/selftest.c). A fault is caught when any of them fails or hangs.

A fault whose text is no longer in the source is reported as stale (the list must follow the code),
and one that does not compile as invalid; both make the run fail, like a survivor. A fault known
to be equivalent (no observable behaviour changes) is listed in EQUIVALENT with the reason, and is
not run.

usage: tests/mutate.py [-k SUBSTRING] [-j JOBS]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (file, original text, faulty text, what the fault is)
FAULTS = [
    # memmap.c: intake and classification
    ("pmm/memmap.c", "    case PMM_EFI_BOOT_DATA:\n", "",
     "boot-services data classified as never usable"),
    ("pmm/memmap.c", "if (attr & (PMM_EFI_ATTR_RUNTIME | PMM_EFI_ATTR_SP))",
     "if (attr & PMM_EFI_ATTR_RUNTIME)", "specific-purpose memory treated as ordinary RAM"),
    ("pmm/memmap.c", "            if (kind == PMM_KIND_NEVER)\n                hi++;",
     "            if (kind != PMM_KIND_NEVER)\n                hi++;",
     "unaligned descriptors grow and shrink the wrong way (inverted condition)"),
    ("pmm/memmap.c", "if (d.npages > room)", "if (d.npages > room + 1)",
     "a descriptor that wraps by one page is accepted"),
    ("pmm/memmap.c", "if (c + 1 < n && ev_less(&e[c], &e[c + 1]))",
     "if (c + 1 < n && ev_less(&e[c + 1], &e[c]))", "heapsort picks the smaller child"),
    ("pmm/memmap.c", "last->kind == kind && last->type == type",
     "last->kind == kind", "neighbours of different EFI types merge"),
    ("pmm/memmap.c", "if (map->map_size % map->desc_size)", "if (0)",
     "a ragged map size is accepted (skipped refusal)"),
    # bitmap.c and state.h: bitmaps, summaries, the run search
    ("pmm/bitmap.c", "        words = (words + 63) / 64;\n", "        words = words / 64 + 1;\n",
     "summary levels one word too large (metadata grows)"),
    ("pmm/bitmap.c", "*w = nonzero ? old | bit_mask(wi) : old & ~bit_mask(wi);",
     "*w = nonzero ? old | bit_mask(wi) : old;", "a summary bit is left set when its word empties"),
    ("pmm/bitmap.c", "        i = wi + 1; /* the next word", "        i = wi + 2; /* the next word",
     "next-set search skips a word when it climbs a level"),
    ("pmm/bitmap.c",
     "        uint64_t x = ~w[i >> 6] & (~0ull << (i & 63));\n        if (x) {\n"
     "            uint64_t r = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);\n"
     "            return r < limit ? r : PMM_NONE;",
     "        uint64_t x = ~w[i >> 6] & (~0ull << (i & 63));\n        if (x) {\n"
     "            uint64_t r = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);\n"
     "            return r <= limit ? r : PMM_NONE;",
     "next-clear search accepts the bit at the limit (off-by-one)"),
    ("pmm/bitmap.c", "    while (from < to && (from & 63)) {", "    while (from < to && (from & 31)) {",
     "bits_fill's head stops at a 32-bit boundary (word mask off)"),
    ("pmm/bitmap.c", "n += popcount64(w[from >> 6] & m);", "n += popcount64(w[from >> 6] & (m | ~m));",
     "bits_count ignores the mask of a partial word"),
    ("pmm/bitmap.c", "    for (int i = 0; i < 8; i++)\n        if (l0[i] != ~0ull)",
     "    for (int i = 0; i < 7; i++)\n        if (l0[i] != ~0ull)",
     "a block counts as full with its last free-map word unread"),
    ("pmm/state.h", "if (new == ~0ull && old != ~0ull", "if (new == ~1ull && old != ~0ull",
     "a block that becomes free is never noted in the block map"),
    ("pmm/bitmap.c", "s + (k << PMM_BLOCK_SHIFT), s + n) != PMM_NONE",
     "s + (k << PMM_BLOCK_SHIFT), s + n - 1) != PMM_NONE",
     "the partial tail after whole blocks is checked one page short"),
    ("pmm/bitmap.c", "            if (!blk_full(p, i)) {", "            if (0) {",
     "a stale block hint is trusted without reading the free map"),
    ("pmm/bitmap.c", "        pos = z + 1;\n", "        pos = z + 2;\n",
     "the run search skips a page after a used one"),
    ("pmm/bitmap.c", "        if (s == PMM_NONE || s > hi || hi - s < n)\n            return PMM_NONE;\n"
     "        uint64_t z = bits_next_clear(l0, s, s + n);",
     "        if (s == PMM_NONE || s > hi || hi - s < n - 1)\n            return PMM_NONE;\n"
     "        uint64_t z = bits_next_clear(l0, s, s + n);",
     "a run may end one page past the limit"),
    ("pmm/bitmap.c", "                if (b << 3 >= w0 && (b + 1) << 3 <= w1)\n                    blk_set(p, b, 1);",
     "                if (b << 3 >= w0 && (b + 1) << 3 <= w1)\n                    (void)0;",
     "a block freed whole by a run is not marked in the block map"),
    ("pmm/bitmap.c", "                if ((old == 0) != (new == 0))\n                    hb_propagate_from(p, h, 2, j);",
     "                if ((old == 0) != (new == 0) && 0)\n                    hb_propagate_from(p, h, 2, j);",
     "a run's fill does not carry a summary change above the first level"),
    # sections.c and the compact index
    ("pmm/state.h", "    if (to > p->span) /* the last section", "    if (0) /* the last section",
     "pages of the last section past span count as present"),
    ("pmm/sections.c", "        if (sl[s] != sl[s - 1] + 1)\n            return s << PMM_SEC_SHIFT;",
     "        if (sl[s] != sl[s - 1] + 1 && 0)\n            return s << PMM_SEC_SHIFT;",
     "a run may cross from one section to a distant one"),
    ("pmm/sections.c", "    return lo << PMM_SEC_SHIFT;", "    return (lo - (lo > 0)) << PMM_SEC_SHIFT;",
     "a bound in an absent section maps to the slot before the hole"),
    ("pmm/sections.c", "        c = (c + apages - 1) & ~(apages - 1);", "        c = c & ~(apages - 1);",
     "compact alignment rounds down"),
    # alloc.c: the stack, runs, frees, reference counts
    ("pmm/alloc.c", "    p->nfree--;\n    p->nalloc++;\n", "    p->nalloc++;\n",
     "single-page alloc skips the free counter"),
    ("pmm/alloc.c", "if (p->top < PMM_STACK_CAP && c >= p->c_low)",
     "if (p->top < PMM_STACK_CAP)", "freed pages below 1 MiB go on the stack"),
    ("pmm/alloc.c", "            if (!v)\n                shared_mark(p, c);",
     "            (void)v;", "ref_inc does not mark the page's group shared"),
    ("pmm/alloc.c", "return !rc && (ld64(&pmm_shared(p)[c >> 12]) & bit_mask(c >> 6)) && ld16",
     "return !rc && 0 && ld16", "a single free skips the shared-page check"),
    ("pmm/alloc.c", "for (uint64_t g = (c + 63) >> 6, g1 = (c + n) >> 6; g < g1;",
     "for (uint64_t g = c >> 6, g1 = (c + n + 63) >> 6; g < g1;",
     "a run's allocation clears the shared mark of a group only partly inside it"),
    ("pmm/alloc.c", "            pmm_memset(pmm_refs(p) + (k << PMM_RINIT_SHIFT), 0, PMM_PAGE_SIZE);\n", "",
     "a page of counts is used without being zeroed"),
    ("pmm/alloc.c", "                refs_ready(p, cur, 1); /* so that", "                (void)0; /* so that",
     "refill leaves a stacked page's counts page unzeroed"),
    ("pmm/alloc.c", "*count = (uint32_t)ld16(&pmm_refs(p)[c]) + 1;",
     "*count = (uint32_t)ld16(&pmm_refs(p)[c]);",
     "refcount reports the stored count - 1"),
    ("pmm/alloc.c", "if (x) {\n            bad = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);",
     "if (x & (x - 1)) {\n            bad = (i & ~63ull) | (uint64_t)__builtin_ctzll(x);",
     "freeing a run misses a lone page that is not allocated"),
    ("pmm/reconcile.c", "if (join && was == PMM_KIND_FREE && !p->dropped)",
     "if (join && was == PMM_KIND_FREE)",
     "reconcile skips conventional memory even when the firmware took pages from it"),
    ("pmm/reconcile.c", "if (!join && was != PMM_KIND_FREE && was != WAS_ANY)",
     "if (!join && was != WAS_ANY)", "reconcile keeps free pages the final map no longer shows"),
    ("pmm/build.c", "                if (p->freemap.nlevels > 1)\n                    bits_fill(l1,",
     "                if (0)\n                    bits_fill(l1,",
     "build leaves the first summary level empty"),
    ("pmm/alloc.c", "(PMM_LOW_PFN << PMM_PAGE_SHIFT) ? 1 : PMM_LOW_PFN",
     "(PMM_LOW_PFN << PMM_PAGE_SHIFT) ? 0 : PMM_LOW_PFN", "a low run may start at page 0"),
    ("pmm/alloc.c", "if (hi <= lo || npages > hi - lo || npages > p->total)",
     "if (hi <= lo || npages > p->total)", "a run larger than its bounds is ENOMEM, not ERANGE"),
    ("pmm/alloc.c", "if (p->stack[i] - start >= n)", "if (p->stack[i] - start >= n - 1)",
     "a run's last page stays on the free-page stack"),
    ('pmm/alloc.c', 'uint64_t bad = PMM_NONE, end = c + n;',
     'uint64_t bad = PMM_NONE, end = c + n - 1;',
     "free_run does not check the run's last page"),
    ("pmm/alloc.c", "ld16(&pmm_refs(p)[c]) != 0\n", "ld16(&pmm_refs(p)[c]) > 1\n",
     "a page with two references can be freed"),
    ("pmm/alloc.c", "        if (v == PMM_REF_MAX - 1)\n            return PMM_EOVERFLOW;",
     "        if (v == PMM_REF_MAX - 2)\n            return PMM_EOVERFLOW;",
     "ref_inc refuses one reference early"),
    ("pmm/alloc.c", "        if (!v) { /* the last reference: the page is free */",
     "        if (v == 1) { /* the last reference: the page is free */",
     "ref_dec frees a page that still has a reference"),
    ("pmm/alloc.c", "uint64_t pref = p->c_high < p->cspan ? p->c_high : p->c_low, at",
     "uint64_t pref = p->c_low, at",
     "single pages come from low memory first"),
    ("pmm/alloc.c", "    if (ld64(&pmm_free_l0(p)[c >> 6]) & bit_mask(c))\n        return PMM_EDOUBLE;\n",
     "",
     "a free page counts as allocated (double free not refused)"),
    # build.c: layout, placement, the initial pool
    ("pmm/build.c", "    at += p->cspan * sizeof(uint16_t);",
     "    at += 2 * p->cspan * sizeof(uint16_t);",
     "the reference-count array is sized twice over"),
    ("pmm/build.c", "uint64_t to = k ? meta + pages : 1;",
     "uint64_t to = k ? meta + pages : 0;",
     "page 0 stays in the pool"),
    ("pmm/build.c", "uint64_t tries[2] = {hi - pages, lo};", "uint64_t tries[2] = {lo, hi - pages};",
     "metadata goes to the bottom of its range"),
    ("pmm/build.c", "p->nfree -= bits_count(l0, c, c + len);",
     "p->nfree -= k ? bits_count(l0, c, c + len) : 0;",
     "the free counter forgets page 0"),
    ("pmm/build.c", "        if (r[i].kind == PMM_KIND_FREE)\n            nfree += r[i].npages;\n", "",
     "build counts no free pages"),
    # percpu.c: the per-CPU caches
    ("pmm/percpu.c", "uint64_t ok = (ld64(&pmm_own(p)[wi]) & ~ld64(&pmm_free_l0(p)[wi])) >> (c & 63) &",
     "uint64_t ok = ld64(&pmm_own(p)[wi]) >> (c & 63) &",
     "the fast free takes a page that is free in the pool"),
    ("pmm/percpu.c", "!(__atomic_load_n(&pc->drain_req, __ATOMIC_RELAXED) | count)",
     "!(__atomic_load_n(&pc->drain_req, __ATOMIC_RELAXED) | (count & 0))",
     "the fast free takes a shared or cached page"),
    ("pmm/percpu.c", "ld64(&pmm_shared(p)[c >> 12]) >> (wi & 63) & 1;", "1;",
     "the fast free caches a page in a group the shared map does not mark"),
    ("pmm/percpu.c", "        shared_mark(p, c); /* before the count says cached", "        (void)0; /* before the count says cached",
     "a cache fill leaves its pages' groups unmarked"),
    ("pmm/percpu.c", "        st16(&refs[c], 0); /* a free page counts 0", "        (void)refs; /* a free page counts 0",
     "a drained page keeps the cached count"),
    ("pmm/percpu.c", "if (ok & (n < PMM_CPU_CACHE) &", "if (ok & (n <= PMM_CPU_CACHE) &",
     "the fast free writes one page past a full cache"),
    ("pmm/percpu.c", "if (answer_drain(p, pc) || c < p->c_low) {", "if (answer_drain(p, pc)) {",
     "a page below 1 MiB goes on a cache"),
    ("pmm/build.c", "        if (pc[i].n || pc[i].drain_req)", "        if (pc[i].n & 0)",
     "adopt takes a state with pages on a cache"),
    ("pmm/percpu.c", "uint64_t want = answer_drain(p, pc) || p->reclaimers ? 1 : PMM_CPU_BATCH;",
     "uint64_t want = answer_drain(p, pc) ? 1 : PMM_CPU_BATCH;",
     "a cache refills a whole batch while another CPU waits for the pages it had drained"),
    ("pmm/percpu.c", "            if (asked_map[i >> 6] & bit_mask(i))\n",
     "            if (asked_map[i >> 6] & bit_mask(i) || 1)\n",
     "reclaim waits on drain requests it did not make"),
    ("pmm/percpu.c", "        if (i != self && ld64(&pc->n)) {", "        if (i != self && ld64(&pc->n) && 0) {",
     "reclaim asks no other CPU to drain (false out-of-memory)"),
    ("pmm/stats.c", "    s->free = p->nfree + cached + stacked;", "    s->free = p->nfree + stacked;",
     "statistics leave the cached pages out of free"),
    ("pmm/check.c", "                if (cache_holders(p, cpfn(p, c0 + k)) != 1)", "                if (cache_holders(p, cpfn(p, c0 + k)) < 1)",
     "the checker misses a page on two caches"),
    # blocks.c, blocks.h and their callers: block states and the free-block stack
    ("pmm/blocks.h", "    st8(&pmm_bst(p)[p->bblk[top - 1]], PMM_BLK_WHOLE);", "",
     "a popped block stays marked stacked (its free is refused)"),
    ("pmm/blocks.h", "    st8(&pmm_bst(p)[b], PMM_BLK_STACKED);", "",
     "a pushed block stays marked whole (a second free is taken)"),
    ("pmm/blocks.h", "    p->bfront = top > 1 ? p->bstack[top - 2] : 0;", "    p->bfront = 0;",
     "a pop forgets the blocks below the top"),
    ("pmm/blocks.h", "    p->bfront = f;", "",
     "a push leaves the stack's front as it was"),
    ("pmm/blocks.c", "    p->bfront = 0;\n", "",
     "a flush leaves the stack's front naming a block back in the pool"),
    ("pmm/blocks.h", "    if (top == PMM_BSTACK_CAP)\n        return 0;", "",
     "the stack takes a block past its capacity"),
    ("pmm/blocks.h", "    st8(&pmm_bst(p)[c >> PMM_BLOCK_SHIFT], PMM_BLK_NORMAL);", "    (void)p, (void)c;",
     "freeing, sharing or caching one page leaves its block whole"),
    ("pmm/blocks.c", "        if (ld8(&st[b]) == PMM_BLK_WHOLE)\n            st8(&st[b], PMM_BLK_NORMAL);",
     "        if (0)\n            st8(&st[b], PMM_BLK_NORMAL);",
     "a run freed over whole blocks leaves them whole"),
    ("pmm/blocks.c", "        if (ld8(&st[b]) == PMM_BLK_STACKED)", "        if (ld8(&st[b]) == 7)",
     "a run free over a stacked block is not refused"),
    ("pmm/blocks.c", "p->reconciled && c >= blk_first_zone(p))", "p->reconciled)",
     "a block below the first zone becomes whole and goes on the stack"),
    ("pmm/blocks.c", "!(c & (n - 1)) && p->reconciled &&", "!(c & (n - 1)) &&",
     "a block taken in the boot phase becomes whole (its free skips the firmware)"),
    ("pmm/blocks.c", "        fm_fill(p, c, c + (1ull << PMM_BLOCK_SHIFT), 1);", "        fm_fill(p, c, c, 1);",
     "a flushed block is lost to the pool"),
    ("pmm/alloc.c", "    if (ld8(&pmm_bst(p)[c >> PMM_BLOCK_SHIFT]) == PMM_BLK_STACKED) /* blocks.c */",
     "    if (0)", "a page of a stacked block is taken for allocated"),
    ("pmm/alloc.c", "        if (from[k] < pref && p->btop)", "        if (from[k] < pref && 0)",
     "single pages come from low memory while blocks sit on the stack"),
    ("pmm/alloc.c", "    if (!p->top && p->btop) { /* blocks.c", "    if (0) { /* blocks.c",
     "single pages run out while blocks sit on the stack"),
    ("pmm/alloc.c", "if (s == PMM_NONE && blk_flush_in(p, zlo, zhi))", "if (s == PMM_NONE && 0 && blk_flush_in(p, zlo, zhi))",
     "runs come from low memory while blocks sit on the stack"),
    ("pmm/alloc.c", "if (s == PMM_NONE && blk_flush_in(p, clo, chi))", "if (s == PMM_NONE && 0 && blk_flush_in(p, clo, chi))",
     "a run that needs the stacked blocks fails"),
    ("pmm/reconcile.c", "    blk_flush(p); /* a stacked block", "    (void)0; /* a stacked block",
     "pmm_keep_range leaves a kept page on the block stack"),
    ("pmm/alloc.c", "(!limit || limit >> PMM_PAGE_SHIFT >= p->span)", "1",
     "a request bounded below the top of RAM takes a stacked block"),
    ("pmm/alloc.c", "npages == 1ull << PMM_BLOCK_SHIFT && align <= npages << PMM_PAGE_SHIFT &&",
     "npages == 1ull << PMM_BLOCK_SHIFT &&",
     "a request for a stricter alignment takes a stacked block"),
    ("pmm/alloc.c", "        return alloc_run_slow(p, 1ull << PMM_BLOCK_SHIFT, align, limit, phys);",
     "        return alloc_run_slow(p, 1ull << PMM_BLOCK_SHIFT, align & 0, limit, phys);",
     "with a lock, a block request the stack cannot serve loses its alignment"),
    ("pmm/alloc.c", "!(phys & ((npages << PMM_PAGE_SHIFT) - 1)) &&", "",
     "a 512-page run that starts inside a whole block is stacked as that block"),
    ("pmm/stats.c", "    s->free = p->nfree + cached + stacked;", "    s->free = p->nfree + cached;",
     "statistics leave the stacked blocks out of free"),
    ("pmm/stats.c", "||\n                       pmm_bst(p)[c >> PMM_BLOCK_SHIFT] == PMM_BLK_STACKED", "",
     "a page of a stacked block is reported allocated"),
    ("pmm/stats.c", "pmm_bst(p)[wi >> 3] == PMM_BLK_STACKED ? ~0ull : ", "",
     "free-range listings leave the stacked blocks out"),
    ("pmm/stats.c", "        uint64_t w = st[wi >> 3] == PMM_BLK_STACKED ? ~0ull : l0[wi];",
     "        uint64_t w = st[wi >> 3] == 99 ? ~0ull : l0[wi];",
     "the largest free run leaves the stacked blocks out"),
    ("pmm/check.c", "        if (st[c >> PMM_BLOCK_SHIFT] != PMM_BLK_STACKED)\n            return fail",
     "        if (0)\n            return fail", "the checker misses a stacked entry not marked stacked"),
    ("pmm/check.c", "    if (nstacked != p->btop)", "    if (0)",
     "the checker misses a block on the stack twice, or marked and not on it"),
    ("pmm/check.c", "        if (p->bblk[i] != c >> PMM_BLOCK_SHIFT)", "        if (0)",
     "the checker misses a stacked entry whose compact number is wrong"),
    ("pmm/check.c", "        if (c < first || !p->reconciled)", "        if ((void)first, !p->reconciled)",
     "the checker misses a whole block below the first zone"),
    ("pmm/check.c", "        if (all != ~0ull)\n            return fail(f, \"whole or stacked", "        if (0)\n            return fail(f, \"whole or stacked",
     "the checker misses a whole block with a free page"),
    ("pmm/check.c", "((c >> 6) & 63)) & 0xff)\n            return fail", "((c >> 6) & 63)) & 0)\n            return fail",
     "the checker misses a whole block with a shared page"),
    ("pmm/build.c", "    if (p->btop > PMM_BSTACK_CAP)\n        return refuse", "    if (0)\n        return refuse",
     "adopt takes a free-block stack past its capacity"),
    ("pmm/build.c", "        if (p->bblk[i] != b)", "        if (0)",
     "adopt takes a stacked entry whose compact number is wrong"),
    ("pmm/build.c", "            if (p->bstack[j] == f)", "            if (0)",
     "adopt takes a block stacked twice"),
    ("pmm/build.c", "        if (pf < meta_end(p) && meta_first(p) < pf + (1ull << PMM_BLOCK_SHIFT))",
     "        if (0)", "adopt takes a stacked block of the metadata"),
    ("pmm/build.c", "        if (pf < (p->c_high < p->cspan ? PMM_HIGH_PFN", "        if (0 && pf < (p->c_high < p->cspan ? PMM_HIGH_PFN",
     "adopt takes a stacked block below the first zone"),
    ("pmm/check.c", "            if (p->bstack[j] == p->bstack[i])\n                return fail", "            if (0)\n                return fail",
     "the checker misses a block on the stack twice beside a stray stacked mark"),
    ("pmm/blocks.c", "        if (c >= lo && c + (1ull << PMM_BLOCK_SHIFT) <= hi) {", "        if (c >= lo && c + (1ull << PMM_BLOCK_SHIFT) <= hi && 0) {",
     "a failed search keeps stacked blocks that lie in its range"),
    ("pmm/blocks.c", "        if (c >= lo && c + (1ull << PMM_BLOCK_SHIFT) <= hi) {", "        if (c >= lo || c < hi) {",
     "a failed bounded search empties the stack although its blocks could not help"),
    ("pmm/build.c", "        if (bst[b] != PMM_BLK_STACKED)", "        if (bst[b] == 99)",
     "adopt takes a stacked entry whose state byte is not stacked"),
    ("pmm/bitmap.c", "    *l1 = value ? old | m : old & ~m;", "    *l1 = value ? old | m : old;",
     "a whole block taken leaves its summary bits set"),
    ("pmm/bitmap.c", "    if (value && !bit_test(pmm_words(p, &p->blkmap, 0), c >> PMM_BLOCK_SHIFT))",
     "    if (value && 0)", "a whole block freed leaves its 2 MiB hint clear"),
    ("pmm/bitmap.c", "    if (!old != !*l1)\n        hb_propagate_from(p, h, 2, c >> 12);",
     "    if (!old != !*l1 && value)\n        hb_propagate_from(p, h, 2, c >> 12);",
     "a whole block taken leaves the upper summary levels marked"),
    ("pmm/alloc.c", "            st64(&sh[g >> 6], w & ~m);", "            st64(&sh[g >> 6], w);",
     "a run handed out keeps its stale shared bits (its free takes the general path)"),
    # reconcile.c
    ("pmm/reconcile.c", "    if (from < meta_end(p) && meta < to) {\n        k->bad",
     "    if (0) {\n        k->bad",
     "a final map that takes the metadata is not refused"),
    ("pmm/reconcile.c", "if (wi == 0 && page0)",
     "if (wi == 0 && page0 && 0)",
     "page 0 joins the pool at reconcile"),
    ("pmm/reconcile.c", "m &= ~word_mask(a->meta > wlo ? a->meta : wlo, a->mend);",
     "m &= ~word_mask(a->meta > wlo ? a->meta : wlo, a->meta > wlo ? a->meta : wlo);",
     "metadata pages join the pool at reconcile"),
    ("pmm/reconcile.c", "!(a->hold && r->kind == PMM_KIND_BOOT)",
     "!(a->hold && r->kind == PMM_KIND_FREE)", "hold mode holds the wrong kind"),
    ("pmm/reconcile.c", "            if (r[i].kind > last.kind) {", "            if (r[i].kind < last.kind) {",
     "a merge keeps the less restrictive kind"),
    ("pmm/reconcile.c", "                p->nfree -= popcount64(m);\n            }",
     "            }",
     "pages that leave the pool stay counted free"),
    # stats.c
    ("pmm/stats.c", "                best = cur > best ? cur : best;", "                best = cur;",
     "largest free run forgets a longer earlier run"),
    ("pmm/stats.c", "bits_count(pmm_free_l0(p), 0, c_ceil(p, 1ull << 20))",
     "bits_count(pmm_free_l0(p), 0, c_ceil(p, 1ull << 19))",
     "below4g counts below 2 GiB"),
    ("pmm/stats.c", "s->withheld = p->total - p->nfree - p->nalloc - p->meta_pages;",
     "s->withheld = p->total - p->nfree - p->nalloc;", "withheld counts the metadata"),
    # check.c: the checker must notice what it claims to
    ("pmm/check.c", "            if (!is_alloc && count)",
     "            if (!is_alloc && count && 0)",
     "the checker skips reference counts"),
    ("pmm/check.c", "if (p->stack[j] == c)",
     "if (p->stack[j] == c && 0)",
     "the checker misses a page stacked twice"),
    ("pmm/check.c", "    if (nfree != p->nfree)", "    if (0)",
     "the checker skips the free counter"),
]

# Faults shown to change nothing observable; kept here so nobody adds them again as survivors.
EQUIVALENT = [
    ("pmm/sections.c", "        if (sl[mid] <= sec)", "        if (sl[mid] < sec)",
     "c_ceil searches only for sections that are absent, which no slot names: < and <= agree"),
    ("pmm/alloc.c", "if (p->stack[i] - start >= n)", "if (p->stack[i] - start > n)",
     "evicting the free page just past a run from the stack only shortens the stack: a free page "
     "need not be stacked (state.h), and refill finds it again in the free map"),
]

TESTS = ["test_bitmap", "test_memmap", "test_check", "test_alloc", "test_phases", "test_adopt",
         "test_percpu", "test_blocks"]


def run(cmd, cwd, timeout):
    """Exit status and the last 4 KiB of output: kept in a file, since a test that fails in a
    loop under a fault can print without end."""
    with tempfile.TemporaryFile() as out:
        try:
            r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
            rc = r.returncode
        except subprocess.TimeoutExpired:
            return "timeout", ""
        out.seek(max(0, out.seek(0, 2) - 4096))
        return rc, out.read().decode(errors="replace")


def suite(tree, maps):
    """Run the host suite in tree; return the name of the first test that failed, or None."""
    for t in TESTS:
        if os.path.exists(os.path.join(tree, "build/host", t)):
            rc, _ = run([f"build/host/{t}"], tree, 120)
            if rc != 0:
                return t
    rc, _ = run(["build/host/test_smp", "4", "20000", "spin", "64"], tree, 120)
    if rc != 0:
        return "test_smp (4 threads)"
    rc, _ = run(["build/host/test_random", "300000", "3"], tree, 120)
    if rc != 0:
        return "test_random"
    for m, expect in maps:
        rc, _ = run(["build/host/test_realmaps", m] + expect, tree, 120)
        if rc != 0:
            return "test_realmaps " + os.path.basename(m)
    rc, _ = run(["tests/pmmsim.sh"], tree, 300)
    if rc != 0:
        return "pmmsim (kernel self-test on the real maps)"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only faults whose description contains this")
    ap.add_argument("-j", default="2", help="make jobs")
    args = ap.parse_args()
    # The committed tree (HEAD), built once: the working tree may hold someone's half-done edit.
    work = tempfile.mkdtemp(prefix="pmm-mutate-")
    base = os.path.join(work, "base")
    os.mkdir(base)
    subprocess.run(f"git archive HEAD | tar -x -C {base}", shell=True, cwd=ROOT, check=True)
    targets = [f"build/host/{t}" for t in TESTS + ["test_random", "test_realmaps", "test_smp"]
               if os.path.exists(os.path.join(base, "tests/host", t + ".c"))] + ["build/pmmsim"]
    subprocess.run(["make", "-s", "-j", args.j] + targets, cwd=base, check=True,
                   stdout=subprocess.DEVNULL)
    maps = []
    mapdir = os.path.join(base, "tests/memmaps")
    for f in sorted(os.listdir(mapdir)):
        if f.endswith(".txt"):
            exp = subprocess.check_output(["python3", "tests/memmaps_expect.py", f"tests/memmaps/{f}"],
                                          cwd=base, text=True).split()
            maps.append((f"tests/memmaps/{f}", exp))
    clean = suite(base, maps)
    if clean:
        shutil.rmtree(work, ignore_errors=True)
        sys.exit(f"mutate: the unmutated tree already fails {clean}; fix that first")

    caught = survived = bad = 0
    t0 = time.time()
    try:
        for i, (path, old, new, why) in enumerate(FAULTS):
            if args.k not in why:
                continue
            tree = os.path.join(work, str(i))
            shutil.copytree(base, tree, symlinks=True)
            src = open(os.path.join(tree, path)).read()
            if src.count(old) != 1:
                bad += 1
                print(f"STALE     {path}: {why} (text found {src.count(old)} times)")
                shutil.rmtree(tree)
                continue
            with open(os.path.join(tree, path), "w") as f:
                f.write(src.replace(old, new))
            rc, out = run(["make", "-s", "-j", args.j] + targets, tree, 600)
            if rc != 0:
                bad += 1
                print(f"INVALID   {path}: {why} (does not build)")
                print("          " + out.strip().splitlines()[-1] if out.strip() else "")
            else:
                by = suite(tree, maps)
                if by:
                    caught += 1
                    print(f"caught    {path}: {why}  [by {by}]")
                else:
                    survived += 1
                    print(f"SURVIVED  {path}: {why}")
            sys.stdout.flush()
            shutil.rmtree(tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for path, old, new, why in EQUIVALENT:
        print(f"skipped   {path}: {why} (equivalent)")
    total = caught + survived + bad
    print(f"mutation score: {caught} of {total} faults caught, {survived} survived, "
          f"{bad} stale or invalid, {len(EQUIVALENT)} equivalent skipped "
          f"({time.time() - t0:.0f} s)")
    sys.exit(0 if survived == 0 and bad == 0 else 1)


if __name__ == "__main__":
    main()
