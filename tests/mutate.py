#!/usr/bin/env python3
"""make mutate: can the tests fail? Inject one small fault at a time into pmm/ and see.

Each fault below is an exact piece of source and what it becomes: an off-by-one, a skipped counter
update or refusal, an inverted condition, a summary bit left clear, a metadata size doubled, a
search that skips a page, and, in every atomic path, a relaxed order where acquire or release is
needed, a lost compare-and-swap retry, a missing recheck. For each, the tree is copied (with the
current build, so that only what the fault touches is rebuilt, each group of tests just before it
runs), the fault applied, and the host suite run: the unit tests, three of them under ASan, the
many-threads test plain and under ThreadSanitizer (which catches the ordering faults: the test's own bookkeeping gives it no
happens-before edge, tests/host/test_smp.c), the randomized differential test, the real PCs'
maps, and pmmsim, which replays every map through the kernel's own self-test
(handoff/kernel/selftest.c). A fault is caught when any of them fails or hangs.

A fault whose text is no longer in the source is reported as stale (the list must follow the code),
and one that does not compile as invalid; both make the run fail, like a survivor. A fault known
to be equivalent (no observable behaviour changes) is listed in EQUIVALENT with the reason, and is
not run.

usage: tests/mutate.py [-k SUBSTRING] [-j JOBS] [-p PATCH]

-p applies a patch to the tree first (git apply: a fix to pmm/ under review), so that the faults
are measured against the code as it will be.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAST_OUTPUT = ""

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
    # sections.c: compact indices
    ("pmm/sections.c", "        if (sl[s] != sl[s - 1] + 1)\n            return s << PMM_SEC_SHIFT;",
     "        if (sl[s] != sl[s - 1] + 1 && 0)\n            return s << PMM_SEC_SHIFT;",
     "a run may cross from one section to a distant one"),
    ("pmm/sections.c", "    return lo << PMM_SEC_SHIFT;", "    return (lo - (lo > 0)) << PMM_SEC_SHIFT;",
     "a bound in an absent section maps to the slot before the hole"),
    ("pmm/sections.c", "        c = (c + apages - 1) & ~(apages - 1);", "        c = c & ~(apages - 1);",
     "compact alignment rounds down"),
    ("pmm/sections.c", "        total += len;", "        total += len + 1;",
     "usable pages counted one too many per piece"),
    # state.h: helpers every path uses
    ("pmm/state.h", "    return __atomic_load_n(&p->at.own[b], __ATOMIC_ACQUIRE);",
     "    return __atomic_load_n(&p->at.own[b], __ATOMIC_RELAXED);",
     "own_of is relaxed: a block's words written before its state are not acquired with it"),
    ("pmm/state.h", "    if (n >= 64 - lo)\n        return ~0ull << lo;",
     "    if (n > 64 - lo)\n        return ~0ull << lo;",
     "word_mask of a range that reaches the word's end shifts by 64"),
    ("pmm/state.h", "    if (to > p->span) /* the last section's", "    if (0) /* the last section's",
     "pieces of the last section past span count as present"),
    ("pmm/state.h", "    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;",
     "    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f07ull;", "popcount loses a bit of the top byte"),
    ("pmm/state.h", "    return sl[(c + 1) >> PMM_SEC_SHIFT] == sl[c >> PMM_SEC_SHIFT] + 1;",
     "    return sl[(c + 1) >> PMM_SEC_SHIFT] == sl[c >> PMM_SEC_SHIFT] + 2;",
     "neighbouring sections are not adjacent (stats and listings break runs there)"),
    # pool.h: read-modify-writes and views
    ("pmm/pool.h", "static inline bool cas16_x(const struct pmm *p, uint16_t *r, uint16_t *old, uint16_t new)\n"
     "{\n    if (p->concurrent)\n        return __atomic_compare_exchange_n(r, old, new, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);",
     "static inline bool cas16_x(const struct pmm *p, uint16_t *r, uint16_t *old, uint16_t new)\n"
     "{\n    if (p->concurrent)\n        return __atomic_compare_exchange_n(r, old, new, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);",
     "a failed 16-bit compare-and-swap does not acquire what it read (ref_dec then frees unordered)"),
    ("pmm/pool.h", "    return o == OWN_FRESH ? ~0ull : o == OWN_NONE ? 0 : ld64(&p->at.free[wi]);",
     "    return o == OWN_FRESH ? 0 : o == OWN_NONE ? 0 : ld64(&p->at.free[wi]);",
     "a FRESH block's pages read as allocated"),
    ("pmm/pool.h", "    return o == OWN_SOME ? ld64(&p->at.ownw[wi]) : o == OWN_NONE ? 0 : ~0ull;",
     "    return o == OWN_SOME ? ~0ull : o == OWN_NONE ? 0 : ~0ull;",
     "every page of a partly owned block reads as owned"),
    ("pmm/pool.h", "    return p->concurrent && (__atomic_load_n(&p->clearing, __ATOMIC_SEQ_CST) != 0 ||",
     "    return p->concurrent && (0 ||",
     "a search ignores a summary clear still in flight"),
    ("pmm/pool.h", "    uint64_t *w = &p->at.marks[c >> 12], m = bit_mask(c >> 6);",
     "    uint64_t *w = &p->at.marks[c >> 12], m = bit_mask(c);",
     "mark_page marks the wrong group"),
    # pool.c: reserve, claim, give
    ("pmm/pool.c", "        if (!c || c < min)\n            return 0;", "        if (!c || c <= min)\n            return 0;",
     "a reservation of exactly the minimum is refused (no block is ever taken whole)"),
    ("pmm/pool.c", "        if (cas16_x(p, cnt, &c, (uint16_t)(c - take))) {",
     "        if (cas16_x(p, cnt, &c, (uint16_t)(c - take)) || (c = 0, 0)) {",
     "a failed reservation is not retried with the count it read (lost CAS retry)"),
    ("pmm/pool.h", "        sum_set(p, &p->avail, b);\n    if (old + n == PMM_BLOCK_PAGES)",
     "        (void)0;\n    if (old + n == PMM_BLOCK_PAGES)",
     "blk_unreserve does not set the avail bit of a block that had nothing free"),
    ("pmm/pool.c", "    __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE); /* words before the state */",
     "    __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELAXED); /* words before the state */",
     "fresh_open's store of the block state is relaxed: its words are not released with it"),
    ("pmm/pool.c", "    uint64_t *w = &p->at.free[b << 3];\n    for (int i = 0; i < 8; i++)\n        st64(&w[i], ~0ull);\n    pmm_memset",
     "    uint64_t *w = &p->at.free[b << 3];\n    for (int i = 0; i < 7; i++)\n        st64(&w[i], ~0ull);\n    pmm_memset",
     "fresh_open leaves the block's last free word unwritten"),
    ("pmm/pool.c", "    pmm_memset(&p->at.refs[b << PMM_BLOCK_SHIFT], 0, PMM_BLOCK_PAGES * sizeof(uint16_t));\n    marks_clear_block(p, b);\n    __atomic_store_n",
     "    marks_clear_block(p, b);\n    __atomic_store_n",
     "fresh_open leaves the block's reference counts as the memory held them"),
    ("pmm/pool.c", "                lim = from - base >= 64 ? ~0ull : (1ull << (from - base)) - 1;",
     "                lim = 0;", "claim_any ignores `from`: pages below 1 MiB are claimed"),
    ("pmm/pool.c", "    for (; k; k--) {\n        uint64_t lb = v & (~v + 1);",
     "    for (k++; k; k--) {\n        uint64_t lb = v & (~v + 1);",
     "a claim takes one bit more than it reserved"),
    ("pmm/pool.c", "    /* All 512 bits are ours: nobody else holds a reservation here, so plain stores do. */\n    for (int i = 0; i < 8; i++)\n        st64(&w[i], 0);",
     "    /* All 512 bits are ours: nobody else holds a reservation here, so plain stores do. */\n    for (int i = 1; i < 8; i++)\n        st64(&w[i], 0);",
     "a block taken whole keeps its first word's pages free"),
    ("pmm/pool.c", "        __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE);\n        return 1;",
     "        return 1;", "a FRESH block taken whole stays FRESH"),
    ("pmm/pool.c", "        if ((v & m) != m)\n            return 0;", "        if (!(v & m))\n            return 0;",
     "an exact claim takes a word with only some of its pages free"),
    ("pmm/pool.c", "            unclaim_bits(p, c, i);\n", "            (void)unclaim_bits;\n",
     "a failed exact claim keeps the bits it had taken"),
    ("pmm/pool.c", "            fresh_open(p, b);\n            blk_unreserve(p, b, PMM_BLOCK_PAGES);\n        }",
     "            fresh_open(p, b);\n        }",
     "opening a FRESH block for an exact claim loses its count"),
    ("pmm/pool.c", "            if (i > c)\n                give_run(p, c, i - c);",
     "            if (0)\n                give_run(p, c, i - c);",
     "a run claimed in part keeps its first blocks when a later one fails"),
    ("pmm/pool.c", "            if (m == ~0ull) /* the whole word is ours", "            if (m != 0) /* the whole word is ours",
     "give_run stores whole words over pages that are not its own"),
    ("pmm/pool.c", "        blk_unreserve(p, b, e - c);\n        c = e;", "        blk_unreserve(p, b, e - c - (e - c > 1));\n        c = e;",
     "give_run counts one page too few"),
    # summary.c
    ("pmm/summary.c", "    bool again = still(p, b);\n    if (again)\n        set_from(p, s, 0, b);",
     "    bool again = still(p, b);\n    if (0)\n        set_from(p, s, 0, b);",
     "sum_clear does not set the bit again when the recheck finds the predicate true"),
    ("pmm/summary.c", "    clear_begin(p);\n    and_sc(p, sum_words(p, s, 0) + (b >> 6), ~bit_mask(b));",
     "    and_sc(p, sum_words(p, s, 0) + (b >> 6), ~bit_mask(b));",
     "sum_clear is not counted as in flight"),
    ("pmm/summary.c", "        else if (!p->concurrent)\n            return;", "        else\n            return;",
     "sum_set skips the levels above a set bit with many CPUs too"),
    ("pmm/summary.c", "    for (; k < s->nlevels; k++, i >>= 6) {\n        uint64_t *w = sum_words(p, s, k) + (i >> 6), m = bit_mask(i);",
     "    for (; k < 1; k++, i >>= 6) {\n        uint64_t *w = sum_words(p, s, k) + (i >> 6), m = bit_mask(i);",
     "sum_set sets level 0 only"),
    ("pmm/summary.c", "    if (blk_whole(p, b))\n        set_from(p, &p->whole, 0, b);", "",
     "whole_taken does not recheck the count"),
    ("pmm/summary.c", "    if (ld_sc(p, sum_words(p, s, k - 1) + i))\n        set_from(p, s, k, i);", "",
     "clear_stale does not recheck the word below"),
    ("pmm/summary.c", "            i = (i >> 6) + 1;\n            k++;", "            i = (i >> 6) + 2;\n            k++;",
     "sum_next skips a word when it climbs a level"),
    ("pmm/summary.c", "            return i < limit ? i : PMM_NONE;", "            return i <= limit ? i : PMM_NONE;",
     "sum_next returns the block at the limit"),
    ("pmm/summary.c", "                if (i < s->nwords[k - 1] && !ld_sc(p, &below[i]))\n                    clear_stale(p, s, k, i);",
     "                if (0 && i < s->nwords[k - 1] && !ld_sc(p, &below[i]))\n                    clear_stale(p, s, k, i);",
     "sum_scrub clears nothing"),
    ("pmm/summary.c", "        if (pred(p, b)) {\n            set_from(p, s, 0, b);", "        if (pred(p, b)) {",
     "pool_confirm counts the blocks but sets no bit"),
    ("pmm/summary.c", "= s == &p->whole ? blk_whole : blk_avail;", "= blk_avail;",
     "pool_confirm takes any block with free pages as wholly free"),
    # search.c
    ("pmm/search.c", "    uint64_t from = p->c_low; /* the block holding 1 MiB: only its pages above */",
     "    uint64_t from = 0; /* the block holding 1 MiB: only its pages above */",
     "single pages may come from below 1 MiB"),
    ("pmm/search.c", "    for (int pass = 0; pass < 2; pass++) {\n        uint64_t b = pass ? lo : start, end = pass ? start : hi;",
     "    for (int pass = 0; pass < 1; pass++) {\n        uint64_t b = pass ? lo : start, end = pass ? start : hi;",
     "single pages never wrap round to the blocks before the cursor"),
    ("pmm/search.c", "        if (!search_missed(p, gen0) || !pool_confirm(p, &p->avail, blow, p->nblocks))",
     "        if (!search_missed(p, gen0) || 1 || !pool_confirm(p, &p->avail, blow, p->nblocks))",
     "pool_take does not confirm an empty search that overlapped a clear"),
    ("pmm/search.c", "        if (own_of(p, b) == OWN_FRESH)\n            return 0;\n    }",
     "    }", "a FRESH block held whole by another CPU is reserved from as if it were written"),
    ("pmm/search.c", "    if (got < r) /* the rest lies below", "    if (0) /* the rest lies below",
     "blk_take loses the part of its reservation it could not claim"),
    ("pmm/search.c", "        if (x < b + k) {\n            b = x + 1;", "        if (x < b + k) {\n            b = x + 2;",
     "the block search skips a block after a candidate that was not whole"),
    ("pmm/search.c", "        if (t && first_used(p, tc, tc + t) != PMM_NONE) {",
     "        if (0 && t && first_used(p, tc, tc + t) != PMM_NONE) {",
     "the block search takes a run whose tail is not free (claim refuses, candidate lost)"),
    ("pmm/search.c", "            pos = z + 1;\n            continue;", "            pos = z + 2;\n            continue;",
     "the run search skips a page after a used one"),
    ("pmm/search.c", "        uint64_t brk = c_break(p, s, n);\n        if (brk != PMM_NONE) {\n            pos = brk;",
     "        uint64_t brk = PMM_NONE;\n        if (brk != PMM_NONE) {\n            pos = brk;",
     "a run may cross a hole between sections"),
    ("pmm/search.c", "    uint64_t edge[4] = {hi, p->c_high, p->c_dma, lo};", "    uint64_t edge[4] = {hi, p->c_dma, p->c_high, lo};",
     "runs come from [1 MiB, 16 MiB) before [16 MiB, 4 GiB)"),
    ("pmm/search.c", "        if (!search_missed(p, gen0) ||\n            !pool_confirm(p, s,",
     "        if (!search_missed(p, gen0) || 1 ||\n            !pool_confirm(p, s,", "pool_take_run does not confirm an empty search that overlapped a clear"),
    # percpu.c
    ("pmm/percpu.c", "        st16(&p->at.refs[c], 0); /* a free page counts 0 (state.h) */", "",
     "cache_spill gives pages back still counted as held"),
    ("pmm/percpu.c", "        if (c == PMM_NONE || c >> PMM_BLOCK_SHIFT != b) {\n            if (nb)\n                blk_unreserve(p, b, nb);",
     "        if (c == PMM_NONE || c >> PMM_BLOCK_SHIFT != b) {\n            if (nb > 1)\n                blk_unreserve(p, b, nb);",
     "cache_spill loses the count of a block it gives one page back to"),
    ("pmm/percpu.c", "        mark_page(p, got[i]); /* before the count says held (state.h, marks) */\n", "",
     "a refill does not mark its pages' groups"),
    ("pmm/percpu.c", "        st16(&p->at.refs[got[i]], PMM_REF_HELD);\n", "",
     "a refill's pages are not counted as held"),
    ("pmm/percpu.c", "        __atomic_fetch_add(&p->short_gen, 1, __ATOMIC_RELEASE);\n    else\n        p->short_gen++;",
     "        (void)0;\n    else\n        (void)0;", "a shortage is never signalled"),
    ("pmm/percpu.c", "    if (pc->gen != g) {\n        cache_spill(p, pc, pc->n);", "    if (pc->gen != g) {\n        cache_spill(p, pc, 0);",
     "a cache does not give its pages back when the pool ran short"),
    ("pmm/percpu.c", "        pool_short(p); /* everyone's caches back; this CPU's is empty already */\n", "",
     "a CPU whose refill finds nothing does not say the pool is short"),
    ("pmm/percpu.c", "    if (cpu >= p->ncpus)\n        return PMM_EINVAL;\n    return pmm_alloc(p, phys);",
     "    return pmm_alloc(p, phys);", "pmm_cpu_alloc takes a CPU index past the caches"),
    ("pmm/percpu.c", "    if (pc->n == PMM_CPU_CACHE) {\n        /* Full", "    if (pc->n == PMM_CPU_CACHE + 1) {\n        /* Full",
     "a full cache takes one more page (past its end)"),
    ("pmm/percpu.c", "        give_one(p, c);\n        return;\n    }\n    uint64_t pfn = cpfn(p, c);",
     "        return;\n    }\n    uint64_t pfn = cpfn(p, c);",
     "a full cache drops the freed page instead of giving it to the pool"),
    ("pmm/cache.h", "pc->page[n - 1] < p->pfn_high) && n < PMM_CPU_CACHE &&",
     "pc->page[n - 1] < p->pfn_high) && n <= PMM_CPU_CACHE &&",
     "the fast free pushes onto a full cache"),
    # cache.h and percpu.c: the allocator's own cache (counts left at 0, a bit per group)
    ("pmm/cache.h", "        if (n == PMM_CPU_CACHE)\n            return home_full(p, c);",
     "        if (n == PMM_CPU_CACHE + 1)\n            return home_full(p, c);",
     "the own cache's fast free pushes past its end"),
    ("pmm/cache.h", "(!marked(p, c) || !ld16(&p->at.refs[c])) && (!(gw & gm) || p->popped == pfn) &&",
     "(!marked(p, c) || !ld16(&p->at.refs[c])) && 1 &&",
     "the own cache's fast free takes a page it holds already (a double free)"),
    ("pmm/cache.h", "(!marked(p, c) || !ld16(&p->at.refs[c])) && (!(gw & gm) || p->popped == pfn) &&",
     "1 && (!(gw & gm) || p->popped == pfn) &&",
     "the own cache's fast free takes a shared page"),
    ("pmm/cache.h", "        if (!(gw & gm))\n            st64(g, gw | gm);",
     "        (void)g;",
     "the own cache's fast free leaves the page's group bit clear"),
    ("pmm/cache.h", "        if (p->popped == pfn)\n            p->popped = PMM_NONE;\n        return true;",
     "        return true;", "the page handed out last stays the exception after it is freed back"),
    ("pmm/percpu.c", "        if (p->home.page[i] >> 6 == pfn >> 6)\n            return; /* another page",
     "        if (p->home.page[i] >> 6 == pfn >> 6 && 0)\n            return; /* another page",
     "a group's bit goes while another page of it is on the own cache"),
    ("pmm/alloc.c", "    if (!p->concurrent && p->home.n && home_holds(p, cpfn(p, c), c))\n        return PMM_EDOUBLE;",
     "", "a free of a page on the own cache is accepted (slow path)"),
    ("pmm/alloc.c", "        (!p->concurrent && ((ld64(&p->at.homeg[b >> 3]) >> ((b & 7) * 8)) & 0xff)))",
     "        0)", "a block freed whole may hold a page on the own cache"),
    ("pmm/percpu.c", "    if (pfn < p->pfn_high && n && pc->page[n - 1] >= p->pfn_high) {",
     "    if (0) {", "a page below 4 GiB goes on top of a cache's high pages"),
    ("pmm/percpu.c", "    uint64_t n = p->home.n;\n    cache_spill(p, &p->home, p->home.n);",
     "    uint64_t n = p->home.n;\n    (void)0;", "pmm_drain leaves the allocator's own cache as it is"),
    ("pmm/percpu.c", "    if (!p->concurrent)\n        return &p->home;", "",
     "one CPU at a time, pmm_alloc and pmm_free skip the allocator's own cache"),
    # cache.h: the caches' fast halves
    ("pmm/cache.h", "    st16(&p->at.refs[cidx_present(p, pfn)], 0); /* a held page lies in a present section */",
     "    (void)p;", "a page handed out from a cache stays counted as held"),
    ("pmm/cache.h", "pc->gen != __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED))\n        return false;",
     "0)\n        return false;", "a cache hands out pages without looking at the shortage mark"),
    ("pmm/cache.h", "    uint16_t *ref = &p->at.refs[c];\n    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) == OWN_ALL &&",
     "    uint16_t *ref = &p->at.refs[c];\n    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) != OWN_NONE &&",
     "the fast free takes a page of a partly owned block without its own bit"),
    ("pmm/cache.h", "gm = bit_mask(c >> 6);\n    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) == OWN_ALL &&",
     "gm = bit_mask(c >> 6);\n    if (ld8(&p->at.own[c >> PMM_BLOCK_SHIFT]) != OWN_NONE &&",
     "the own cache's fast free takes a page of a partly owned block without its own bit"),
    ("pmm/cache.h", "        (pc->node == PMM_NODE_ANY || ld8(&p->at.node[c >> PMM_BLOCK_SHIFT]) == pc->node) &&",
     "        1 &&", "the fast free holds a page of another node"),
    ("pmm/cache.h", "        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && marked(p, c) && c >= p->c_low &&",
     "        marked(p, c) && c >= p->c_low &&", "the fast free does not check the free bit"),
    ("pmm/cache.h", "        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && marked(p, c) && c >= p->c_low &&",
     "        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && c >= p->c_low &&",
     "the fast free holds a page in a group that is not marked"),
    ("pmm/cache.h", "        (pfn >= p->pfn_high || !n || pc->page[n - 1] < p->pfn_high) && n < PMM_CPU_CACHE &&",
     "        n < PMM_CPU_CACHE &&", "the fast free puts a low page on top of high ones"),
    ("pmm/cache.h", "        (pfn >= p->pfn_high || !n || pc->page[n - 1] < p->pfn_high) && n < PMM_CPU_CACHE &&",
     "        (pfn >= p->pfn_high || !n || pc->page[n - 1] < p->pfn_high) &&",
     "the fast free writes past a full cache"),
    ("pmm/cache.h", "        pc->gen == __atomic_load_n(&p->short_gen, __ATOMIC_RELAXED) &&\n        __atomic_load_n(ref, __ATOMIC_ACQUIRE) == 0) {",
     "        __atomic_load_n(ref, __ATOMIC_ACQUIRE) == 0) {", "the fast free ignores the shortage mark"),
    ("pmm/cache.h", "        __atomic_load_n(ref, __ATOMIC_ACQUIRE) == 0) { /* after the others' releases */",
     "        1) { /* after the others' releases */", "the fast free holds a shared page"),
    ("pmm/cache.h", "        __atomic_load_n(ref, __ATOMIC_ACQUIRE) == 0) { /* after the others' releases */",
     "        __atomic_load_n(ref, __ATOMIC_RELAXED) == 0) { /* after the others' releases */",
     "the fast free's read of the count is relaxed: the sharers' reads are not ordered before it"),
    ("pmm/percpu.c", "    if (c < p->c_low || /* below 1 MiB: for bounded requests, never on a cache */",
     "    if (0 || /* below 1 MiB: for bounded requests, never on a cache */",
     "pages below 1 MiB freed on a CPU stay on its cache"),
    ("pmm/percpu.c", "        (pc->node != PMM_NODE_ANY && p->at.node[c >> PMM_BLOCK_SHIFT] != pc->node)) { /* remote */",
     "        (0)) { /* remote */", "a page of another node freed on a CPU stays on its cache"),
    ("pmm/pool.h", "    if (old + n == PMM_BLOCK_PAGES)\n        sum_set(p, &p->whole, b);",
     "    if (old + n == PMM_BLOCK_PAGES && 0)\n        sum_set(p, &p->whole, b);",
     "blk_unreserve does not set the whole bit of a block it makes whole"),
    ("pmm/pool.h", "    if (n)\n        sum_set(p, &p->avail, b);", "    if (!old)\n        sum_set(p, &p->avail, b);",
     "only the giver that took the count from 0 sets the avail bit (a completed free can be missed)"),
    # alloc.c
    ("pmm/alloc.c", "    if (o == OWN_NONE || (o == OWN_SOME && !((ld64(&p->at.ownw[c >> 6]) >> (c & 63)) & 1)))",
     "    if (o == OWN_NONE)", "a free of a page its partly owned block does not own is taken"),
    ("pmm/alloc.c", "    if (o == OWN_FRESH || ((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1))",
     "    if (((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1))",
     "a page of a FRESH block is judged by words that were never written"),
    ("pmm/alloc.c", "    uint16_t v = *count = __atomic_load_n(&p->at.refs[c], __ATOMIC_ACQUIRE);",
     "    uint16_t v = *count = __atomic_load_n(&p->at.refs[c], __ATOMIC_RELAXED);",
     "free_error's read of the count is relaxed (ref_dec goes on from it): a freed shared page's "
     "readers are not ordered"),
    ("pmm/alloc.c", "    return v == PMM_REF_HELD ? PMM_EDOUBLE : v ? PMM_ESHARED : PMM_OK;",
     "    return v == PMM_REF_HELD ? PMM_OK : v ? PMM_ESHARED : PMM_OK;",
     "a page held on a cache can be freed again"),
    ("pmm/alloc.c", "    return rc == PMM_ESHARED ? PMM_OK : rc;", "    return rc;",
     "a reference call refuses a shared page"),
    ("pmm/alloc.c", "        if (fw_claim_run(p, c, 1))\n            continue;", "        if (fw_claim_run(p, c, 1))\n            return PMM_ENOMEM;",
     "a page the firmware took ends the single-page search"),
    ("pmm/alloc.c", "    uint64_t lo = limit && limit <= (PMM_LOW_PFN << PMM_PAGE_SHIFT) ? 1 : PMM_LOW_PFN;",
     "    uint64_t lo = limit && limit <= (PMM_LOW_PFN << PMM_PAGE_SHIFT) ? 1 : 1;",
     "runs with no low limit may come from below 1 MiB"),
    ("pmm/alloc.c", "    if (hi <= lo || npages > hi - lo || npages > p->total)",
     "    if (hi <= lo || npages > p->total)", "a run larger than its bounds is ENOMEM, not ERANGE"),
    ("pmm/alloc.c", "            if (pc)\n                cache_spill(p, pc, pc->n);", "",
     "a run that failed does not take the caller's cache back"),
    ("pmm/alloc.c", "    if (!p->concurrent && p->hint != PMM_NONE) {", "    if (p->hint != PMM_NONE) {",
     "with many CPUs the one-CPU hint is taken too"),
    ("pmm/alloc.c", "    sum_scrub(p, s);\n    return PMM_NONE;", "    return PMM_NONE;",
     "a failed 2 MiB search leaves stale bits above level 0"),
    ("pmm/alloc.c", "            at += (zhi[z] - zlo[z]) * self / p->ncpus;", "            at += 0;",
     "with cpu_self every CPU starts its 2 MiB search at the zone's start"),
    ("pmm/alloc.c", "        if (!p->concurrent && !p->home.n)\n            return PMM_ENOMEM; /* the general path",
     "        if (1)\n            return PMM_ENOMEM; /* the general path",
     "a 2 MiB block request fails without the general search (and its confirmation)"),
    ("pmm/alloc.c", "        uint64_t x = (~own_view(p, i >> 6) | free_view(p, i >> 6)) & word_mask(i, end);",
     "        uint64_t x = (free_view(p, i >> 6)) & word_mask(i, end);",
     "a run free accepts pages that are not the pool's"),
    ("pmm/alloc.c", "                if (__atomic_load_n(&p->at.refs[i], __ATOMIC_ACQUIRE))\n                    return i;",
     "                if (0)\n                    return i;", "a run free frees shared and held pages"),
    ("pmm/alloc.c", "    if (x || ((ld64(&p->at.marks[b >> 3]) >> ((b & 7) * 8)) & 0xff) ||",
     "    if (x || 0 ||", "a block freed whole may hold a shared or held page"),
    ("pmm/alloc.c", "    if (x || ((ld64(&p->at.marks[b >> 3]) >> ((b & 7) * 8)) & 0xff) ||",
     "    if (0 || ((ld64(&p->at.marks[b >> 3]) >> ((b & 7) * 8)) & 0xff) ||",
     "a block freed whole may hold a free page"),
    ("pmm/alloc.c", "    if (!p->concurrent)\n        p->hint = b;", "",
     "a block freed whole is not the one-CPU hint"),
    ("pmm/alloc.c", "        if (!v)\n            mark_page(p, c);", "",
     "ref_inc does not mark the page's group"),
    ("pmm/alloc.c", "        if (v == PMM_REF_MAX - 1)\n            return PMM_EOVERFLOW;",
     "        if (v == PMM_REF_MAX - 2)\n            return PMM_EOVERFLOW;", "ref_inc refuses one reference early"),
    ("pmm/alloc.c", "        if (cas16_x(p, ref, &v, (uint16_t)(v - 1))) /* the mark stays: stale ones are allowed */\n            return PMM_OK;",
     "        if (cas16_x(p, ref, &v, (uint16_t)(v - 1)) || 1) /* the mark stays: stale ones are allowed */\n            return PMM_OK;",
     "a ref_dec that lost its compare-and-swap returns without retrying (a lost decrement)"),
    ("pmm/alloc.c", "            rc = give_one(p, c);\n            if (!rc)\n                fw_release_run(p, c, 1);\n            return rc;\n        }\n        if (cas16_x",
     "            return 0;\n        }\n        if (cas16_x", "ref_dec of the last reference does not free the page"),
    ("pmm/alloc.c", "        *count = (uint32_t)v + 1;", "        *count = (uint32_t)v;",
     "refcount reports the stored count"),
    ("pmm/alloc.c", "    for (uint64_t i = c; i < c + n; i++) /* a dropped page is no longer owned */\n        if ((own_view(p, i >> 6) >> (i & 63)) & 1)",
     "    for (uint64_t i = c; i < c + n; i++) /* a dropped page is no longer owned */\n        if (!((own_view(p, i >> 6) >> (i & 63)) & 1))",
     "a refused boot-phase claim gives back the dropped pages, not the others"),
    # own.c
    ("pmm/own.c", "                st64(&p->at.ownw[(b << 3) + (uint64_t)i], own[i]);\n            st = OWN_SOME;",
     "            st = OWN_SOME;", "a partly owned block's own words are not written"),
    ("pmm/own.c", "    uint64_t c0 = count_of(p, b), c1 = pop8(fr);", "    uint64_t c0 = count_of(p, b), c1 = pop8(own);",
     "a rewritten block counts its owned pages as free"),
    ("pmm/own.c", "    if (c1)\n        sum_set(p, &p->avail, b);", "    if (0)\n        sum_set(p, &p->avail, b);",
     "a rewritten block with free pages is not in the avail summary"),
    ("pmm/own.c", "        if (all == ~0ull)\n            __atomic_store_n(&p->at.own[b], (uint8_t)OWN_ALL, __ATOMIC_RELEASE);", "",
     "release_boot leaves a block it completes partly owned (SOME with every own bit set)"),
    ("pmm/own.c", "        blk_unreserve(p, b, n);\n    }\n    owned_add(p, n);", "    }\n    owned_add(p, n);",
     "release_boot joins pages without counting them free"),
    ("pmm/own.c", "    blk_write(p, b, own, fr);\n    p->owned -= n;", "    blk_write(p, b, own, fr);",
     "pages that leave the pool stay counted as owned"),
    ("pmm/own.c", "    blk_write(p, b, own, fr);\n    p->owned += joined;", "    blk_write(p, b, own, fr);",
     "pages keep_range joins are not counted as owned"),
    # build.c
    ("pmm/build.c", "        words = (words + 63) / 64;\n    }", "        words = words / 64 + 1;\n    }",
     "summary levels one word too large (metadata grows)"),
    ("pmm/build.c", "        if (k == PMM_LEVELS)\n            return 0;", "        if (k == PMM_LEVELS + 1)\n            return 0;",
     "sum_geometry writes a ninth level's word count past its array (issue 21, defect 2)"),
    ("pmm/build.c", "    at += t->cspan * sizeof(uint16_t);", "    at += 2 * t->cspan * sizeof(uint16_t);",
     "the reference-count array is sized twice over"),
    ("pmm/build.c", "    t->ownw_phys = at;\n    at = round_page(at + page_words(t) * 8);",
     "    t->ownw_phys = at;\n    at = round64(at + page_words(t) * 8);", "the own words are not page aligned"),
    ("pmm/build.c", "        uint64_t tries[2] = {hi - pages, lo};", "        uint64_t tries[2] = {lo, hi - pages};",
     "metadata goes to the bottom of its range"),
    ("pmm/build.c", "            for (uint64_t k = b; k < b1; k++)\n                p->at.count[k] = PMM_BLOCK_PAGES;",
     "            for (uint64_t k = b + 1; k < b1; k++)\n                p->at.count[k] = PMM_BLOCK_PAGES;",
     "the first FRESH block of a range gets no count"),
    ("pmm/build.c", "            bits_fill(sum_words(p, &p->whole, 0), b, b1);\n", "",
     "build leaves the whole summary empty"),
    ("pmm/build.c", "        st64(&w[from >> 6], ld64(&w[from >> 6]) | word_mask(from, to));\n        from = (from | 63) + 1;",
     "        st64(&w[from >> 6], ld64(&w[from >> 6]) | word_mask(from, to - 1));\n        from = (from | 63) + 1;",
     "bits_fill's head misses its last bit"),
    ("pmm/build.c", "    uint64_t cut[2][2] = {{0, 1}, {meta, meta + pages}};", "    uint64_t cut[2][2] = {{0, 0}, {meta, meta + pages}};",
     "page 0 stays in the pool"),
    ("pmm/build.c", "    p->pfn_high = p->c_high < p->cspan ? PMM_HIGH_PFN : 0;", "    p->pfn_high = 0;",
     "a cache keeps no order between high and low pages"),
    ("pmm/build.c", "        p->at.cache[i].cursor = blow + (p->nblocks - blow) * i / p->ncpus;",
     "        p->at.cache[i].cursor = blow;", "every CPU's refill starts at the same block"),
    ("pmm/build.c", "    p->live = !b->fw.claim && !b->fw.release;", "    p->live = 1;",
     "caches are live while the firmware hooks are set"),
    # adopt.c: every check refuses (a removed one lets its case through)
    ("pmm/adopt.c", "    if (s->nlevels != want->nlevels)\n        return refuse",
     "    if (0)\n        return refuse", "adopt takes a summary's level count unchecked"),
    ("pmm/adopt.c", "    if (meta_first(p) >= p->span || p->meta_pages > p->span - meta_first(p))",
     "    if (meta_first(p) >= p->span)", "adopt takes a metadata run that ends past span"),
    ("pmm/adopt.c", "        if (place[i].have != place[i].want)", "        if (i && place[i].have != place[i].want)",
     "adopt takes the range table anywhere"),
    ("pmm/adopt.c", "        if (sl[k] >= p->nsec || (k && sl[k] <= sl[k - 1]) || sec[sl[k]] != k)",
     "        if (sl[k] >= p->nsec || sec[sl[k]] != k)", "adopt takes slots that do not ascend"),
    ("pmm/adopt.c", "    if (present != p->nslots)\n        return refuse", "    if (0)\n        return refuse",
     "adopt takes a section table naming sections no slot holds"),
    ("pmm/adopt.c", "    if (run[p->nruns - 1].end != p->nblocks)\n        return refuse",
     "    if (0)\n        return refuse", "adopt takes node runs that stop short of the last block"),
    ("pmm/adopt.c", "        if (pc[i].n)\n            return refuse(e, \"cache_phys\"", "        if (0)\n            return refuse(e, \"cache_phys\"",
     "adopt takes a state with pages on a CPU's cache"),
    ("pmm/adopt.c", "        if (pc[i].cursor >= p->nblocks)\n            return refuse", "        if (0)\n            return refuse",
     "adopt takes a cache cursor past the blocks"),
    ("pmm/adopt.c", "    if (p->home.n)\n        return refuse", "    if (0)\n        return refuse",
     "adopt takes a state with pages on the allocator's own cache"),
    ("pmm/adopt.c", "    if (p->pfn_high != (p->c_high < p->cspan ? PMM_HIGH_PFN : 0))\n        return refuse",
     "    if (0)\n        return refuse", "adopt takes any pfn_high"),
    ("pmm/adopt.c", "    if (p->clearing)\n        return refuse", "    if (0)\n        return refuse",
     "adopt takes a state with a summary clear in flight"),
    ("pmm/adopt.c", "    if (p->owned > p->total || p->meta_pages > p->total - p->owned)",
     "    if (p->owned > p->total)", "adopt takes owned + metadata above total"),
    ("pmm/adopt.c", "    p->live = 1;\n    p->cpu_self = 0;", "    p->cpu_self = 0;",
     "an adopted state's caches are not live"),
    ("pmm/adopt.c", "    p->concurrent = 1;\n    at_ptrs(p);", "    at_ptrs(p);", "an adopted state is not concurrent"),
    ("pmm/adopt.c", "    if (on && (p->fw.claim || p->fw.release))\n        return PMM_ESTATE;", "",
     "concurrent mode is allowed while the firmware hooks are set"),
    # check.c: every invariant checked (a removed check lets its case through)
    ("pmm/check.c", "    if (cnt != nfree)\n        return fail", "    if (0)\n        return fail",
     "pmm_check misses a count that differs from the block's free pages"),
    ("pmm/check.c", "                if (cache_holders(p, cpfn(p, c)) != 1)", "                if (cache_holders(p, cpfn(p, c)) > 1)",
     "pmm_check misses a held page on no cache"),
    ("pmm/check.c", "            if (v && !((ld64(&p->at.marks[w >> 6]) >> (w & 63)) & 1))",
     "            if (0 && v && !((ld64(&p->at.marks[w >> 6]) >> (w & 63)) & 1))",
     "pmm_check misses a shared or held page in an unmarked group"),
    ("pmm/check.c", "            if (j >= s->nwords[k - 1] ? bit : (below[j] && !bit))",
     "            if (j >= s->nwords[k - 1] ? bit : (below[j] && !bit && 0))", "pmm_check misses a summary level that misses a word"),
    ("pmm/check.c", "        if (b < s->nbits && !bit && pred(p, b))", "        if (b < s->nbits && !bit && 0 && pred(p, b))",
     "pmm_check misses a block its summary misses"),
    ("pmm/check.c", "        if (o != OWN_ALL && o != OWN_SOME)\n                return fail",
     "        if (0 && o != OWN_ALL && o != OWN_SOME)\n                return fail",
     "pmm_check takes a cached page in a block with no words"),
    ("pmm/check.c", "    if (owned != p->owned)\n        return fail", "    if (0)\n        return fail",
     "pmm_check misses an owned counter that differs"),
    ("pmm/check.c", "        if (p->live != (!p->fw.claim && !p->fw.release))", "        if (0)",
     "pmm_check takes caches live with the firmware hooks set"),
    ("pmm/check.c", "            if (j >= n || (seen >> j & 1) || (k == 0 && j != i) ||\n                (k > 1 && d[i * n + j] < d[i * n + o[i * n + k - 1]]))",
     "            if (j >= n || (seen >> j & 1) || (k == 0 && j != i) ||\n                (k > 1 && d[i * n + j] < d[i * n + o[i * n + k - 1]] && 0))",
     "pmm_check takes a node order that is not by distance"),
    ("pmm/check.c", "    for (uint64_t i = mc; i < mc + p->meta_pages; i = (i | 63) + 1)\n        if (own_view",
     "    for (uint64_t i = mc; i < mc; i = (i | 63) + 1)\n        if (own_view", "pmm_check takes a metadata page in the pool"),
    # reconcile.c
    ("pmm/reconcile.c", "if (join && was == PMM_KIND_FREE && !p->dropped)", "if (join && was == PMM_KIND_FREE)",
     "reconcile skips conventional memory even when the firmware took pages from it"),
    ("pmm/reconcile.c", "    if (from < meta_end(p) && meta < to) {\n        k->bad", "    if (0) {\n        k->bad",
     "reconcile takes a final map that reserves the metadata"),
    ("pmm/reconcile.c", "                if (wi == 0 && page0)", "                if (wi == 0 && page0 && 0)",
     "reconcile puts page 0 in the pool"),
    ("pmm/reconcile.c", "    int join = usable(r) && !(a->hold && r->kind == PMM_KIND_BOOT);",
     "    int join = usable(r);", "hold mode frees boot-services memory at once"),
    ("pmm/reconcile.c", "            if (r[i].kind > last.kind) {", "            if (r[i].kind < last.kind) {",
     "merged ranges take the less restrictive kind"),
    ("pmm/reconcile.c", "    pmm_drain(p, 0);\n", "", "reconcile judges held pages as allocated (no drain first)"),
    ("pmm/reconcile.c", "    p->boot_held = 0;\n", "", "release_boot releases held memory again on a second call"),
    ("pmm/reconcile.c", "                ld16(&p->at.refs[i]) == PMM_REF_HELD)\n                return PMM_EBUSY;",
     "                ld16(&p->at.refs[i]) == PMM_REF_HELD && 0)\n                return PMM_EBUSY;",
     "keep_range takes a page held on a cache"),
    # stats.c
    ("pmm/stats.c", "                best = cur > best ? cur : best;\n                cur = 0;\n            }\n        }",
     "                best = cur;\n                cur = 0;\n            }\n        }", "the longest free run forgets a longer one before"),
    ("pmm/stats.c", "    s->free = pool + cached;", "    s->free = pool;", "held pages are not counted free"),
    ("pmm/stats.c", "    s->below4g = pool_free(p, 0, p->c_high >> PMM_BLOCK_SHIFT);",
     "    s->below4g = pool_free(p, 0, p->nblocks);", "free pages above 4 GiB counted below it"),
    ("pmm/stats.c", "            return ((fr | held_bits(p, wi, own, fr)) >> (c & 63)) & 1 ? PMM_PAGE_FREE",
     "            return ((fr) >> (c & 63)) & 1 ? PMM_PAGE_FREE", "a held page reads as allocated"),
    ("pmm/stats.c", "        if (e == slot_end && !c_adjacent(p, e - 1))\n            break;", "",
     "a listed range runs on across a hole between sections"),
]

# Faults that change no observable behaviour, with the reason; listed, not run.
EQUIVALENT = [
    ("pmm/cache.h", "    p->popped = pfn;\n", "",
     "the own cache not remembering the page it handed out last: a shortcut only; that page's "
     "free then takes the slow path, whose look into the cache (home_holds) finds it is not there"),
    ("pmm/cache.h", "        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && marked(p, c) && c >= p->c_low &&",
     "        !((ld64(&p->at.free[c >> 6]) >> (c & 63)) & 1) && marked(p, c) &&",
     "the fast free's check that a page lies above 1 MiB: it also requires the page's block to be "
     "ALL, and the block holding 1 MiB is block 0, which holds page 0, never the pool's"),
    ("pmm/percpu.c", "    if (!homeg_test(p, c) || p->popped == pfn)\n        return false;",
     "    if (!homeg_test(p, c))\n        return false;",
     "home_holds without its shortcut for the page handed out last: the scan that follows looks "
     "only at the pages on the cache, and the page handed out last is never one of them "
     "(pmm_check)"),
    ("pmm/pool.h", "static inline uint64_t count_of(const struct pmm *p, uint64_t b)\n{\n    return __atomic_load_n(&p->at.count[b], __ATOMIC_ACQUIRE);",
     "static inline uint64_t count_of(const struct pmm *p, uint64_t b)\n{\n    return __atomic_load_n(&p->at.count[b], __ATOMIC_RELAXED);",
     "count_of relaxed: every count it reads is taken with a compare-and-swap (acquire-release) "
     "before anything it orders is read (blk_reserve), or read at a quiet moment (own.c)"),
    ("pmm/pool.h", "        return __atomic_fetch_or(w, m, __ATOMIC_ACQ_REL);",
     "        return __atomic_fetch_or(w, m, __ATOMIC_RELAXED);",
     "the free word's fetch-or relaxed: a giver adds to the count (acquire-release) after it, and "
     "every taker reserves from the count before it claims"),
    ("pmm/pool.c", "uint32_t passes = from > b << PMM_BLOCK_SHIFT ? 1 : PMM_CLAIM_PASSES;",
     "uint32_t passes = 1;", "claim_any gives up after one empty pass: the rest of the reservation goes "
     "back (blk_take), so a pass that raced only costs pages this time"),
    ("pmm/pool.c", "        blk_unreserve(p, b, e - c);\n        c = e;", "see the give_run faults",
     "give_run adding to the count before it sets the bits: a taker then finds fewer bits for a "
     "moment and claim_any passes again or gives the rest back, and the giver's writes are "
     "released by the add either way"),
    ("pmm/pool.c", "            if (c == PMM_BLOCK_PAGES) /* no longer wholly free: the taker clears its bit */",
     "            if (0)", "no taker clears a whole bit: a stale bit is allowed, and every search "
     "that meets one reads the count and clears it"),
    ("pmm/pool.c", "    marks_clear_block(p, b);\n    __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE); /* words",
     "    __atomic_store_n(&p->at.own[b], OWN_ALL, __ATOMIC_RELEASE); /* words",
     "fresh_open leaving the block's marks: a FRESH block's marks are clear already (build, "
     "blk_write), and a stale mark only sends a free down the general path"),
    ("pmm/pool.c", "void marks_clear(struct pmm *p, uint64_t c, uint64_t n)", "",
     "marks_clear has no caller"),
    ("pmm/search.c", "        if (z == 2)\n            zlo = lo;", "",
     "run_in_node's zlo for zone 2 is max(lo, edge[3] = lo) already"),
    ("pmm/pool.h", "    if (or64_x(p, &p->at.free[c >> 6], m) & m)\n        return PMM_EDOUBLE;",
     "    (void)or64_x(p, &p->at.free[c >> 6], m);",
     "give_one's own double-free check: every caller checked the page first (free_error), so it "
     "only matters for two frees of one page racing, which pmm.h calls a caller bug"),
    ("pmm/check.c", "    if (p->cursor >= p->nblocks || p->cursor < blk_low(p))", "    if (p->cursor >= p->nblocks)",
     "the cursor's lower bound in pmm_check and pmm_adopt: blk_low is always 0 (the block holding "
     "1 MiB is block 0, which holds page 0 too), so no cursor lies below it (test_issue21 d3)"),
    ("pmm/pool.h", "        return __atomic_fetch_add(r, n, __ATOMIC_ACQ_REL);",
     "        return __atomic_fetch_add(r, n, __ATOMIC_RELAXED);",
     "a count's add relaxed: every taker that reserves from the count then claims with a "
     "compare-and-swap on the free word the giver's fetch-or released (claim_any), or took the "
     "block whole after finding it by a summary bit that its last giver set with a fetch-or after "
     "the add; either read carries the giver's writes"),
    ("pmm/build.c", "    p->hint = PMM_NONE;", "    p->hint = 0;",
     "a hint of block 0 at build: block 0 holds page 0, is never whole, and lies below every zone "
     "blocks come from"),
]

# The unit tests that link pmm/, cheapest and most telling first (the suite stops at the first
# failure), then the ones under ASan that watch memory safety (adopt's bounds).
TESTS = ["test_summary", "test_check", "test_percpu", "test_blocks", "test_issue21", "test_alloc",
         "test_adopt", "test_phases", "test_nodes", "test_memmap", "test_claims", "test_handover",
         "test_exit", "test_limits"]
ASAN_TESTS = ["test_adopt", "test_issue21", "test_summary"]
# The many-threads test: plain, then under ThreadSanitizer at two sizes (tests/run.sh runs these).
SMP = [["build/host/test_smp", "4", "40000"], ["build/tsan/test_smp", "8", "3000", "64"],
       ["build/tsan/test_smp", "16", "1500", "64"]]


def run(cmd, cwd, timeout):
    """Exit status and the last 4 KiB of output: kept in a file, since a test that fails in a
    loop under a fault can print without end."""
    with tempfile.TemporaryFile() as out:
        # its own process group, all of it killed on a timeout (a script's children too)
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout", ""
        out.seek(max(0, out.seek(0, 2) - 4096))
        return rc, out.read().decode(errors="replace")


class BuildFailed(Exception):
    pass


def suite(tree, maps, jobs):
    """Run the host suite in tree; return the name of the first test that failed, or None (the
    failing test's last output in LAST_OUTPUT). Each group's binaries are built just before it
    runs, so that a fault the plain unit tests catch costs no sanitizer build; BuildFailed if a
    build fails."""
    global LAST_OUTPUT

    def build(targets):
        global LAST_OUTPUT
        rc, LAST_OUTPUT = run(["make", "-s", "-j", jobs] + targets, tree, 600)
        if rc != 0:
            raise BuildFailed(LAST_OUTPUT)

    build([f"build/host/{t}" for t in TESTS])
    for t in TESTS:
        rc, LAST_OUTPUT = run([f"build/host/{t}"], tree, 120)
        if rc != 0:
            return t
    build([f"build/asan/{t}" for t in ASAN_TESTS])
    for t in ASAN_TESTS:
        rc, LAST_OUTPUT = run([f"build/asan/{t}"], tree, 120)
        if rc != 0:
            return t + " (asan)"
    build(sorted({cmd[0] for cmd in SMP}))
    for cmd in SMP:
        rc, LAST_OUTPUT = run(cmd, tree, 120)
        if rc != 0:
            return f"test_smp ({os.path.basename(os.path.dirname(cmd[0]))}), {cmd[1]} threads"
    build(["build/host/test_random", "build/host/test_realmaps", "build/pmmsim"])
    rc, LAST_OUTPUT = run(["build/host/test_random", "300000", "3"], tree, 120)
    if rc != 0:
        return "test_random"
    for m, expect in maps:
        rc, LAST_OUTPUT = run(["build/host/test_realmaps", m] + expect, tree, 120)
        if rc != 0:
            return "test_realmaps " + os.path.basename(m)
    rc, LAST_OUTPUT = run(["tests/pmmsim.sh"], tree, 300)
    if rc != 0:
        return "pmmsim (kernel self-test on the real maps)"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only faults whose description contains this")
    ap.add_argument("-j", default="2", help="make jobs")
    ap.add_argument("-p", "--patch", help="apply this patch to the tree first (a fix under review)")
    args = ap.parse_args()
    # The committed tree (HEAD), built once: the working tree may hold someone's half-done edit.
    work = tempfile.mkdtemp(prefix="pmm-mutate-")
    base = os.path.join(work, "base")
    os.mkdir(base)
    subprocess.run(f"git archive HEAD | tar -x -C {base}", shell=True, cwd=ROOT, check=True)
    if args.patch:
        subprocess.run(["git", "apply", os.path.abspath(args.patch)], cwd=base, check=True)
        print(f"mutate: {args.patch} applied to the tree")
    targets = [f"build/host/{t}" for t in TESTS + ["test_random", "test_realmaps", "test_smp"]]
    targets += [f"build/asan/{t}" for t in ASAN_TESTS] + ["build/tsan/test_smp", "build/pmmsim"]
    subprocess.run(["make", "-s", "-j", args.j] + targets, cwd=base, check=True,
                   stdout=subprocess.DEVNULL)
    maps = []
    mapdir = os.path.join(base, "tests/memmaps")
    for f in sorted(os.listdir(mapdir)):
        if f.endswith(".txt"):
            exp = subprocess.check_output(["python3", "tests/memmaps_expect.py", f"tests/memmaps/{f}"],
                                          cwd=base, text=True).split()
            maps.append((f"tests/memmaps/{f}", exp))
    clean = suite(base, maps, args.j)
    if clean:
        shutil.rmtree(work, ignore_errors=True)
        print(LAST_OUTPUT[-2000:])
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
            try:
                by = suite(tree, maps, args.j)
            except BuildFailed as e:
                bad += 1
                out = str(e).strip()
                print(f"INVALID   {path}: {why} (does not build)")
                print("          " + out.splitlines()[-1] if out else "")
            else:
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
