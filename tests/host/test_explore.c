/*
 * test_explore.c - every interleaving of a few CPUs on one block, explored exhaustively.
 *
 * A model of the pool's trickiest transition (pool.c, summary.c, search.c), written out here step
 * by step rather than stepping pmm/ itself (its steps are not separable from outside): one block
 * of P pages, its free word, its count, its `avail` bit, the counters of summary clears in flight
 * and done. Each simulated CPU runs a short program whose every step is one atomic access, as the
 * C code does it:
 *
 *   taker   the single-page search of one block (take_in + blk_take + claim_any): read the bit;
 *           reserve one page from the count by compare-and-swap (retrying with what it read); if
 *           the count is 0, clear the bit and recheck it (sum_clear, counted in `clearing` and
 *           `clear_gen`); with nothing found, look whether a clear overlapped the search
 *           (search_missed) and if so confirm from the count (pool_confirm) and search again,
 *           once; claim a free bit of the word by compare-and-swap;
 *   giver   a free of one page (give_one): set its bit, add to the count, make sure of the summary
 *           bit (blk_unreserve's sum_set: load, then or if it is clear);
 *   whole   a 2 MiB take (take_whole): reserve the whole count by compare-and-swap, then the word
 *           with a plain store (all its pages are the taker's);
 *   freer   a 2 MiB free (free_block): the word with a plain store, then the count.
 *
 * The explorer runs every interleaving of the CPUs' steps (a depth-first search over states, each
 * state visited once) and checks at every state:
 *   - no page is held by two CPUs, or held and free in the word;
 *   - count + pages reserved and not yet claimed + bits set and not yet counted == popcount(word);
 *   - the summary is one-sided: a clear bit with a count above 0 only while a CPU is between its
 *     clear and its recheck, or a giver between its add and its set;
 *   - no step leaves everything as it was (a CPU that would spin for ever on a stale value);
 * and when a taker comes back empty, that every page that was free (and whose free had completed)
 * when it began was taken by another CPU while it searched: no false PMM_ENOMEM.
 *
 * The same explorer runs the model with faults (a clear with no recheck, a search that never
 * confirms, a giver that counts before it sets its bit, a compare-and-swap that does not reread,
 * the bit left to the giver that took the count from 0) and must find each one: the test can fail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

HARNESS_GLOBALS

#define P     4 /* pages of the block */
#define NCPU  3
#define EMPTY 0xff

enum kind { TAKER, GIVER, WHOLE, FREER };
enum fault { NONE, NO_RECHECK, NO_CONFIRM, COUNT_FIRST, NO_REREAD, FIRST_GIVER_SETS, NFAULTS };
static enum fault fault;
/* The giver's rule, as pmm/ has it: every giver makes sure the bit is set before it returns
 * (blk_unreserve). The fault FIRST_GIVER_SETS leaves it to the giver that took the count from 0,
 * as pmm/ once did. */
static int every_giver_sets;

struct cpu {
    uint8_t kind, pc, page; /* page: the giver's, or what a taker claimed */
    uint8_t c, v;           /* the count and the word as last read */
    uint8_t gen0, round;    /* search_begin's generation; 1 after a confirmation */
    uint8_t start_free;     /* pages free, and whose free completed, when the search began */
    uint8_t taken;          /* reservations other CPUs made since (ghost) */
    uint8_t reserved;       /* pages reserved and not yet claimed */
    uint8_t uncounted;      /* bits set and not yet counted */
    uint8_t window;         /* between the bit's clear and its recheck, or an add and its set */
    uint8_t done;           /* 1: finished; 2: a taker that came back empty */
};
struct state {
    uint8_t word, count, bit, clearing, clear_gen;
    uint8_t owner[P]; /* the CPU holding each page, or EMPTY (ghost) */
    struct cpu cpu[NCPU];
};

static unsigned ncpu;
static uint64_t nstates, violations;
static const char *first_violation;

/* Visited states: open addressing on the state's bytes. */
#define TABLE (1u << 20)
static struct state *table;
static uint8_t *used;

static uint64_t hash(const struct state *s)
{
    const unsigned char *b = (const unsigned char *)s;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < sizeof *s; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
static int visit(const struct state *s)
{
    for (uint64_t i = hash(s) & (TABLE - 1);; i = (i + 1) & (TABLE - 1)) {
        if (!used[i]) {
            used[i] = 1;
            table[i] = *s;
            nstates++;
            return 1;
        }
        if (!memcmp(&table[i], s, sizeof *s))
            return 0;
    }
}

static unsigned popcount(unsigned x)
{
    return (unsigned)__builtin_popcount(x);
}

/* The CPUs that stepped, root to here: printed with the first violation when TRACE is set. */
static uint8_t path[4096];
static unsigned depth;

static void violation(const char *what)
{
    if (!violations++) {
        first_violation = what;
        if (getenv("TRACE")) {
            fprintf(stderr, "  %s after steps of CPUs", what);
            for (unsigned i = 0; i < depth; i++)
                fprintf(stderr, " %u", path[i]);
            fputc('\n', stderr);
        }
    }
}

/* Pages free in the word whose free is complete: counted, and the bit set if it had to be. */
static unsigned free_complete(const struct state *s)
{
    unsigned pending = 0;
    for (unsigned i = 0; i < ncpu; i++) {
        const struct cpu *c = &s->cpu[i];
        pending += c->uncounted;
        if (c->window && (c->kind == GIVER || c->kind == FREER)) /* counted, bit not yet set */
            pending += c->kind == GIVER ? 1 : P;
    }
    return s->count > pending ? s->count - pending : 0;
}

static void check(const struct state *s)
{
    unsigned reserved = 0, uncounted = 0, window = 0;
    for (unsigned i = 0; i < ncpu; i++) {
        reserved += s->cpu[i].reserved;
        uncounted += s->cpu[i].uncounted;
        window |= s->cpu[i].window;
    }
    for (unsigned pg = 0; pg < P; pg++)
        if (s->owner[pg] != EMPTY && ((unsigned)s->word >> pg & 1))
            violation("a page held by a CPU is free in the word");
    if ((unsigned)s->count + reserved + uncounted != popcount(s->word))
        violation("count + reserved + uncounted differs from the free bits");
    if (!s->bit && s->count && !window)
        violation("the summary bit is clear over a count above 0 with no clear or set under way");
}

/* The taker reserved one page: every other taker's search counts it. */
static void reserved_one(struct state *s, unsigned me, unsigned n)
{
    for (unsigned i = 0; i < ncpu; i++)
        if (i != me && s->cpu[i].kind == TAKER && !s->cpu[i].done)
            s->cpu[i].taken += (uint8_t)n;
}

/* Taker pcs. */
enum {
    T_BEGIN,
    T_BIT,
    T_COUNT,
    T_CAS,
    T_CL_INC,
    T_CL_AND,
    T_CL_LOAD,
    T_CL_SETLOAD,
    T_CL_SETOR,
    T_CL_GEN,
    T_CL_DEC,
    T_MISS_CLEARING,
    T_MISS_GEN,
    T_CONF_LOAD,
    T_CONF_SETLOAD,
    T_CONF_SETOR,
    T_CLAIM_LOAD,
    T_CLAIM_CAS
};
/* Giver pcs. */
enum { G_OR, G_ADD, G_SETLOAD, G_SETOR };

/* One step of CPU i; returns 0 if it has finished. */
static int step(struct state *s, unsigned i)
{
    struct cpu *c = &s->cpu[i];
    if (c->done)
        return 0;
    switch (c->kind) {
    case TAKER:
        switch (c->pc) {
        case T_BEGIN: /* search_begin; what is free now is what it must not miss */
            c->gen0 = s->clear_gen;
            c->start_free = (uint8_t)free_complete(s);
            c->taken = 0;
            c->pc = T_BIT;
            break;
        case T_BIT:
            c->pc = s->bit ? T_COUNT : T_MISS_CLEARING;
            break;
        case T_COUNT:
            c->c = s->count;
            c->pc = T_CAS;
            break;
        case T_CAS:
            if (!c->c) { /* nothing to reserve: the block's bit is stale, clear it */
                c->pc = T_CL_INC;
            } else if (s->count == c->c) {
                s->count--;
                c->reserved = 1;
                reserved_one(s, i, 1);
                c->pc = T_CLAIM_LOAD;
            } else if (fault != NO_REREAD) {
                c->c = s->count; /* a failed compare-and-swap returns what is there */
            }
            break;
        case T_CL_INC:
            s->clearing++;
            c->pc = T_CL_AND;
            break;
        case T_CL_AND:
            s->bit = 0;
            c->window = 1;
            c->pc = fault == NO_RECHECK ? T_CL_GEN : T_CL_LOAD;
            break;
        case T_CL_LOAD:
            c->c = s->count;
            c->pc = c->c ? T_CL_SETLOAD : T_CL_GEN;
            break;
        case T_CL_SETLOAD:
            c->pc = s->bit ? T_CL_GEN : T_CL_SETOR;
            break;
        case T_CL_SETOR:
            s->bit = 1;
            c->pc = T_CL_GEN;
            break;
        case T_CL_GEN:
            s->clear_gen = (uint8_t)((s->clear_gen + 1) & 7);
            c->window = 0;
            c->pc = T_CL_DEC;
            break;
        case T_CL_DEC:
            s->clearing--;
            c->pc = T_MISS_CLEARING;
            break;
        case T_MISS_CLEARING: /* search_missed: a clear in flight ... */
            c->pc = s->clearing && fault != NO_CONFIRM ? T_CONF_LOAD : T_MISS_GEN;
            break;
        case T_MISS_GEN: /* ... or one done since the search began */
            if (s->clear_gen != c->gen0 && fault != NO_CONFIRM && !c->round) {
                c->pc = T_CONF_LOAD;
                break;
            }
            if (c->start_free > c->taken)
                violation("a taker came back empty while a page free when it began was not taken");
            c->done = 2;
            break;
        case T_CONF_LOAD:
            if (c->round) { /* confirmed once already: that is the answer */
                if (c->start_free > c->taken)
                    violation("a taker came back empty after confirming");
                c->done = 2;
                break;
            }
            c->c = s->count;
            if (!c->c) {
                if (c->start_free > c->taken)
                    violation("a confirmation found no page that was free");
                c->done = 2;
                break;
            }
            c->window = 1;
            c->pc = T_CONF_SETLOAD;
            break;
        case T_CONF_SETLOAD:
            if (s->bit) { /* set already: search again */
                c->window = 0;
                c->round = 1;
                c->gen0 = s->clear_gen;
                c->pc = T_BIT;
            } else {
                c->pc = T_CONF_SETOR;
            }
            break;
        case T_CONF_SETOR:
            s->bit = 1;
            c->window = 0;
            c->round = 1;
            c->gen0 = s->clear_gen;
            c->pc = T_BIT;
            break;
        case T_CLAIM_LOAD:
            c->v = s->word;
            c->pc = T_CLAIM_CAS;
            break;
        case T_CLAIM_CAS: {
            if (!c->v) { /* no bit seen: pass again */
                c->pc = T_CLAIM_LOAD;
                break;
            }
            unsigned pg = (unsigned)__builtin_ctz(c->v);
            if (s->word == c->v) {
                s->word = (uint8_t)(s->word & ~(1u << pg));
                if (s->owner[pg] != EMPTY)
                    violation("a page claimed twice");
                s->owner[pg] = (uint8_t)i;
                c->page = (uint8_t)pg;
                c->reserved = 0;
                c->done = 1;
            } else {
                c->v = s->word;
            }
            break;
        }
        }
        break;
    case GIVER:
        switch (c->pc) {
        case G_OR:
            if (fault == COUNT_FIRST) { /* the count before the bit */
                s->count++;
                c->c = (uint8_t)(s->count - 1);
                c->pc = G_ADD;
                break;
            }
            s->word = (uint8_t)(s->word | 1u << c->page);
            s->owner[c->page] = EMPTY;
            c->uncounted = 1;
            c->pc = G_ADD;
            break;
        case G_ADD:
            if (fault == COUNT_FIRST) {
                s->word = (uint8_t)(s->word | 1u << c->page);
                s->owner[c->page] = EMPTY;
            } else {
                c->c = s->count++;
                c->uncounted = 0;
            }
            c->window = !c->c || every_giver_sets;
            c->pc = G_SETLOAD;
            if (!c->window)
                c->done = 1;
            break;
        case G_SETLOAD:
            if (s->bit) {
                c->window = 0;
                c->done = 1;
            } else {
                c->pc = G_SETOR;
            }
            break;
        case G_SETOR:
            s->bit = 1;
            c->window = 0;
            c->done = 1;
            break;
        }
        break;
    case WHOLE:
        if (c->pc == 0) { /* blk_reserve(P, P) */
            c->c = s->count;
            c->pc = 1;
        } else if (c->pc == 1) {
            if (c->c < P) {
                c->done = 1;
            } else if (s->count == c->c) {
                s->count = 0;
                c->reserved = P;
                reserved_one(s, i, P);
                c->pc = 2;
            } else {
                c->c = s->count;
            }
        } else { /* the word, with a plain store: every page is ours */
            for (unsigned pg = 0; pg < P; pg++) {
                if (s->owner[pg] != EMPTY)
                    violation("a page taken whole was held");
                s->owner[pg] = (uint8_t)i;
            }
            s->word = 0;
            c->reserved = 0;
            c->done = 1;
        }
        break;
    case FREER:
        if (c->pc == 0) { /* free_block: the word first, then the count */
            for (unsigned pg = 0; pg < P; pg++)
                s->owner[pg] = EMPTY;
            s->word = (1u << P) - 1;
            c->uncounted = P;
            c->pc = 1;
        } else if (c->pc == 1) {
            c->c = s->count;
            s->count = (uint8_t)(s->count + P);
            c->uncounted = 0;
            c->window = !c->c || every_giver_sets;
            c->pc = 2;
            if (!c->window)
                c->done = 1;
        } else {
            s->bit = 1;
            c->window = 0;
            c->done = 1;
        }
        break;
    }
    return 1;
}

static void explore(const struct state *s)
{
    if (!visit(s))
        return;
    check(s);
    for (unsigned i = 0; i < ncpu; i++) {
        struct state t = *s;
        if (!step(&t, i))
            continue;
        path[depth++] = (uint8_t)i;
        if (!memcmp(&t, s, sizeof t)) /* a step that changes nothing repeats for ever */
            violation("a CPU spins on a value it never reads again");
        explore(&t);
        depth--;
    }
}

/*
 * A scenario: the block's word and count (the summary bit set or not, stale or not) and each CPU's
 * program; pages not free in the word are held by the CPU that gives them, or by nobody (allocated
 * elsewhere).
 */
struct scenario {
    const char *name;
    uint8_t word, bit;
    uint8_t kinds[NCPU], pages[NCPU];
    unsigned ncpu;
};

static uint64_t run(const struct scenario *sc, enum fault f)
{
    every_giver_sets = f != FIRST_GIVER_SETS;
    static struct state s;
    memset(&s, 0, sizeof s);
    memset(used, 0, TABLE);
    fault = f;
    ncpu = sc->ncpu;
    s.word = sc->word;
    s.count = (uint8_t)popcount(sc->word);
    s.bit = sc->bit;
    memset(s.owner, EMPTY, sizeof s.owner);
    for (unsigned i = 0; i < ncpu; i++) {
        s.cpu[i].kind = sc->kinds[i];
        s.cpu[i].page = sc->pages[i];
        if (sc->kinds[i] == GIVER)
            s.owner[sc->pages[i]] = (uint8_t)i;
        if (sc->kinds[i] == FREER)
            for (unsigned pg = 0; pg < P; pg++)
                s.owner[pg] = (uint8_t)i;
    }
    nstates = violations = 0;
    first_violation = 0;
    explore(&s);
    return violations;
}

static const struct scenario scenarios[] = {
    /* two takers race for the last free page while a third CPU frees another */
    {"two takers, one giver", 0x1, 1, {TAKER, TAKER, GIVER}, {0, 0, 1}, 3},
    /* nothing free and the bit clear: a taker meets two frees of the same word */
    {"a taker, two givers", 0x0, 0, {TAKER, GIVER, GIVER}, {0, 0, 1}, 3},
    /* a stale bit over a count of 0: the takers clear it while a giver makes it true again */
    {"a stale bit, two takers, a giver", 0x0, 1, {TAKER, TAKER, GIVER}, {0, 0, 2}, 3},
    /* a page's free into the word a whole-block taker wants, beside a single-page taker */
    {"a whole take, a taker, a giver", 0x7, 1, {WHOLE, TAKER, GIVER}, {0, 0, 3}, 3},
    /* a block freed whole while a single-page taker and a whole-block taker look at it */
    {"a whole free, a whole take, a taker", 0x0, 0, {FREER, WHOLE, TAKER}, {0, 0, 0}, 3},
    /* three takers for two pages */
    {"three takers", 0x5, 1, {TAKER, TAKER, TAKER}, {0, 0, 0}, 3},
};

/* The model as pmm/ has it: every invariant in every state. */
TEST(every_interleaving_keeps_the_invariants)
{
    for (unsigned k = 0; k < sizeof scenarios / sizeof scenarios[0]; k++) {
        uint64_t v = run(&scenarios[k], NONE);
        if (v)
            fprintf(stderr, "  %s: %s\n", scenarios[k].name, first_violation);
        CHECK_EQ(v, 0);
        CHECK(nstates > 50);
        printf("%s: %llu states\n", scenarios[k].name, (unsigned long long)nstates);
    }
}

/*
 * Each fault put in the model is found in some scenario: the explorer can fail. The last is the
 * rule pmm/ had before blk_unreserve set the bit on every free: giver G1 takes the count from 0
 * to 1 and is stopped before it sets the summary bit; giver G2 adds its page and returns without
 * looking at the bit; a search that begins after G2's free has completed finds the bit clear and
 * no clear in flight, and comes back empty with G2's page free ("a taker, two givers";
 * test_summary a_free_that_completed_is_found_while_another_is_under_way shows it on pmm/).
 */
TEST(each_fault_is_found)
{
    static const char *names[NFAULTS] = {"",
                                         "a clear with no recheck",
                                         "no confirmation",
                                         "a giver that counts before it sets its bit",
                                         "a compare-and-swap that does not reread",
                                         "only the giver that took the count from 0 sets the bit"};
    for (int f = NO_RECHECK; f < NFAULTS; f++) {
        uint64_t found = 0;
        const char *what = 0;
        for (unsigned k = 0; k < sizeof scenarios / sizeof scenarios[0]; k++) {
            uint64_t v = run(&scenarios[k], (enum fault)f);
            if (v && !what)
                what = first_violation;
            found += v;
        }
        if (!found)
            fprintf(stderr, "  fault not found: %s\n", names[f]);
        CHECK(found > 0);
        printf("fault %s: %llu violating states (first: %s)\n", names[f], (unsigned long long)found,
               what ? what : "-");
    }
}

int main(void)
{
    table = malloc(sizeof *table * TABLE);
    used = malloc(TABLE);
    RUN(every_interleaving_keeps_the_invariants);
    RUN(each_fault_is_found);
    free(table);
    free(used);
    HARNESS_MAIN_END();
}
