/*
 * fuzz_limine_conf.c - the limine.conf reader (efi/limine/conf.c).
 *
 * FUZZ-LINK: efi/limine/conf.c
 * FUZZ-CFLAGS: -Iefi/limine
 *
 * Input: the whole input is the configuration text (libFuzzer's buffer has exactly its size, so
 * AddressSanitizer catches a read past it).
 *
 * Properties:
 *  - it never crashes, and reads and writes only the text and the arena (arenas are heap blocks
 *    of exactly their size);
 *  - on success every string lies in the arena and ends there with a NUL; entries' lines ascend,
 *    and each key's line lies between its entry's line and the next entry's; every path starts
 *    with '/'; depths start at 1 and grow by at most one; an entry is a directory exactly when the
 *    next one is deeper, and a directory has nothing but a name and a comment; the protocol's
 *    name agrees with its number; min_paging_mode <= max_paging_mode; a resolution is all set or
 *    all zero; default_entry names an entry if given; notes ascend;
 *  - lconf_pick accepts exactly the Limine-protocol entries with a path, and refuses every other
 *    number with the entry's line (or default_entry's, past the end);
 *  - parsing is deterministic: a second parse into another result and another arena gives the
 *    same result, or the same error;
 *  - a smaller arena (a size drawn from the input, up to what the first parse used) changes
 *    nothing but may run out: the same result, the same error, or an error that names the arena;
 *  - a configuration that parses, written out again as canonical limine.conf text (no macros, no
 *    comments, every key in a fixed order), parses to the same result (lines aside), and that
 *    text written out again is the same text. When a canonical line would be longer than the
 *    4096 bytes a line may have (a long name at a great depth, a long value behind its key), this
 *    last property is not checked for that input.
 * Seeds: tests/fuzz/corpus/limine_conf (whole configurations, and one for each kind of refusal);
 * dictionary tests/fuzz/limine_conf.dict.
 */
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

#define BIG_ARENA (4u << 20) /* what the largest expansion of a fuzzer-sized input needs */
#define OUT_MAX   (8u << 20)

static struct lconf first, second, again;

/* ---- the result's shape ---- */

static int in(const char *s, const char *arena, uint64_t size)
{
    return s >= arena && s < arena + size && memchr(s, 0, (size_t)(arena + size - s));
}

/* Every string of c in [arena, arena + size); the end of the last one (what the arena used). */
static uint64_t check_strings(const struct lconf *c, const char *arena, uint64_t size)
{
    uint64_t top = 0;
#define STR(s)                                                                                     \
    do {                                                                                           \
        FZ_ASSERT(in((s), arena, size), "string " #s " outside the arena");                        \
        uint64_t end = (uint64_t)((s)-arena) + strlen(s) + 1;                                      \
        top = end > top ? end : top;                                                               \
    } while (0)
    for (uint32_t i = 0; i < c->nentries; i++) {
        const struct lconf_entry *e = &c->entries[i];
        STR(e->name);
        STR(e->protocol_name);
        STR(e->cmdline);
        STR(e->comment);
        STR(e->kernel.path);
        for (uint32_t m = 0; m < e->nmodules; m++) {
            STR(e->modules[m].file.path);
            STR(e->modules[m].cmdline);
        }
    }
#undef STR
    return top;
}

static void check_path(const struct lconf_path *p, uint32_t after, uint32_t before)
{
    FZ_ASSERT(p->path[0] == '/', "path \"%s\" does not start with /", p->path);
    FZ_ASSERT(!strchr(p->path, '#'), "path \"%s\" holds a #", p->path);
    FZ_ASSERT(p->line > after && p->line < before, "path line %u outside (%u, %u)", p->line, after,
              before);
    FZ_ASSERT(p->has_hash <= 1, "has_hash %u", p->has_hash);
}

static void check_entry(const struct lconf *c, uint32_t i)
{
    const struct lconf_entry *e = &c->entries[i];
    uint32_t next = i + 1 < c->nentries ? c->entries[i + 1].line : UINT32_MAX;
    uint32_t next_depth = i + 1 < c->nentries ? c->entries[i + 1].depth : 0;
    FZ_ASSERT(e->line < next, "entry %u: line %u, next %u", i, e->line, next);
    FZ_ASSERT(e->depth >= 1 && e->depth <= (i ? c->entries[i - 1].depth + 1 : 1),
              "entry %u: depth %u", i, e->depth);
    FZ_ASSERT(e->directory == (next_depth > e->depth), "entry %u: directory %u", i, e->directory);
    FZ_ASSERT(e->name[0] && e->name[0] != ' ' && e->name[0] != '\t', "entry %u: name \"%s\"", i,
              e->name);
    if (e->directory)
        FZ_ASSERT(e->protocol == LCONF_PROTO_NONE && !e->has_kernel && !e->nmodules &&
                      !e->cmdline[0] && e->kaslr == 1 && e->paging_mode < 0 &&
                      e->max_paging_mode < 0 && e->min_paging_mode < 0 && !e->res_width,
                  "directory %u has keys", i);
    FZ_ASSERT((e->protocol == LCONF_PROTO_NONE) == !e->protocol_name[0] &&
                  (e->protocol == LCONF_PROTO_LIMINE) == !strcmp(e->protocol_name, "limine") &&
                  (e->protocol == LCONF_PROTO_NONE ||
                   (e->protocol_line > e->line && e->protocol_line < next)),
              "entry %u: protocol %u \"%s\" line %u", i, e->protocol, e->protocol_name,
              e->protocol_line);
    if (e->has_kernel)
        check_path(&e->kernel, e->line, next);
    FZ_ASSERT(e->nmodules <= LCONF_MAX_MODULES, "entry %u: %u modules", i, e->nmodules);
    for (uint32_t m = 0; m < e->nmodules; m++) {
        check_path(&e->modules[m].file, e->line, next);
        FZ_ASSERT(!m || e->modules[m].file.line > e->modules[m - 1].file.line, "module lines");
    }
    FZ_ASSERT(e->kaslr == 0 || e->kaslr == 1, "kaslr %d", e->kaslr);
    FZ_ASSERT(e->paging_mode >= -1 && e->paging_mode <= 1 && e->max_paging_mode >= -1 &&
                  e->max_paging_mode <= 1 && e->min_paging_mode >= -1 && e->min_paging_mode <= 1,
              "paging modes %d %d %d", e->paging_mode, e->max_paging_mode, e->min_paging_mode);
    FZ_ASSERT(e->min_paging_mode < 0 || e->max_paging_mode < 0 ||
                  e->min_paging_mode <= e->max_paging_mode,
              "min_paging_mode %d above max %d", e->min_paging_mode, e->max_paging_mode);
    FZ_ASSERT((e->res_width && e->res_height && e->res_bpp) ||
                  (!e->res_width && !e->res_height && !e->res_bpp),
              "resolution %ux%ux%u", e->res_width, e->res_height, e->res_bpp);
}

/* lconf_pick agrees with the entries' fields, for every number and a few past the end. */
static void check_pick(const struct lconf *c)
{
    for (uint32_t n = 0; n <= c->nentries + 2; n++) {
        const struct lconf_entry *e = 0;
        struct lconf_error err = {0xdead, 0};
        int rc = lconf_pick(c, n, &e, &err);
        if (n < 1 || n > c->nentries) {
            FZ_ASSERT(rc == -1 && err.line == c->default_entry_line && err.why,
                      "pick %u past the end: %d line %u", n, rc, err.line);
            continue;
        }
        const struct lconf_entry *x = &c->entries[n - 1];
        int bootable = !x->directory && x->protocol == LCONF_PROTO_LIMINE && x->has_kernel;
        FZ_ASSERT(rc == (bootable ? 0 : -1), "pick %u: %d", n, rc);
        FZ_ASSERT(bootable ? e == x : err.line == x->line && err.why && !e, "pick %u", n);
    }
}

static void check_result(const struct lconf *c, const char *arena, uint64_t size)
{
    check_strings(c, arena, size);
    FZ_ASSERT(c->nentries <= LCONF_MAX_ENTRIES && c->nnotes <= LCONF_MAX_NOTES, "counts %u %u",
              c->nentries, c->nnotes);
    for (uint32_t i = 0; i < c->nentries; i++)
        check_entry(c, i);
    FZ_ASSERT(c->timeout >= -1 && c->timeout <= UINT32_MAX, "timeout %lld", (long long)c->timeout);
    FZ_ASSERT(c->default_entry >= 1, "default_entry %u", c->default_entry);
    FZ_ASSERT(!c->default_entry_line || c->default_entry <= c->nentries, "default_entry %u of %u",
              c->default_entry, c->nentries);
    FZ_ASSERT(c->default_entry_line || c->default_entry == 1, "default_entry without its line");
    FZ_ASSERT(c->hash_mismatch_panic <= 1, "hash_mismatch_panic %u", c->hash_mismatch_panic);
    for (uint32_t i = 0; i < c->nnotes; i++) {
        FZ_ASSERT(c->notes[i].key && c->notes[i].key[0], "note %u without a key", i);
        FZ_ASSERT(!i || c->notes[i].line > c->notes[i - 1].line, "notes' lines");
    }
    check_pick(c);
}

/* ---- comparing two results ---- */

static int same_path(const struct lconf_path *a, const struct lconf_path *b, int lines)
{
    return !strcmp(a->path, b->path) && a->partition == b->partition &&
           a->has_hash == b->has_hash && !memcmp(a->hash, b->hash, sizeof a->hash) &&
           (!lines || a->line == b->line);
}

static int same_entry(const struct lconf_entry *a, const struct lconf_entry *b, int lines)
{
    if (strcmp(a->name, b->name) || a->depth != b->depth || a->directory != b->directory ||
        a->protocol != b->protocol || strcmp(a->protocol_name, b->protocol_name) ||
        a->has_kernel != b->has_kernel || strcmp(a->cmdline, b->cmdline) ||
        strcmp(a->comment, b->comment) || a->nmodules != b->nmodules || a->kaslr != b->kaslr ||
        a->paging_mode != b->paging_mode || a->max_paging_mode != b->max_paging_mode ||
        a->min_paging_mode != b->min_paging_mode || a->res_width != b->res_width ||
        a->res_height != b->res_height || a->res_bpp != b->res_bpp)
        return 0;
    if (lines && (a->line != b->line || a->protocol_line != b->protocol_line))
        return 0;
    if (a->has_kernel && !same_path(&a->kernel, &b->kernel, lines))
        return 0;
    for (uint32_t m = 0; m < a->nmodules; m++)
        if (!same_path(&a->modules[m].file, &b->modules[m].file, lines) ||
            strcmp(a->modules[m].cmdline, b->modules[m].cmdline))
            return 0;
    return 1;
}

/* a and b say the same; with lines, on the same lines too. */
static void check_same(const struct lconf *a, const struct lconf *b, int lines, const char *what)
{
    FZ_ASSERT(a->timeout == b->timeout && a->default_entry == b->default_entry &&
                  !a->default_entry_line == !b->default_entry_line &&
                  a->hash_mismatch_panic == b->hash_mismatch_panic && a->nentries == b->nentries &&
                  a->nnotes == b->nnotes,
              "%s: globals differ", what);
    FZ_ASSERT(!lines || a->default_entry_line == b->default_entry_line, "%s: default line", what);
    for (uint32_t i = 0; i < a->nentries; i++)
        FZ_ASSERT(same_entry(&a->entries[i], &b->entries[i], lines), "%s: entry %u differs", what,
                  i);
    for (uint32_t i = 0; i < a->nnotes; i++)
        FZ_ASSERT(!strcmp(a->notes[i].key, b->notes[i].key) &&
                      (!lines || a->notes[i].line == b->notes[i].line),
                  "%s: note %u differs", what, i);
}

/* ---- canonical text ---- */

struct out {
    char *p;
    size_t n, line_start;
    int ok; /* 0 once the buffer or a line's length limit was passed */
};

static void put(struct out *o, const char *s)
{
    for (; *s; s++) {
        if (o->n + 1 >= OUT_MAX) {
            o->ok = 0;
            return;
        }
        o->p[o->n++] = *s;
        if (*s == '\n') {
            if (o->n - 1 - o->line_start > 4096)
                o->ok = 0;
            o->line_start = o->n;
        }
    }
}

static void put_num(struct out *o, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    put(o, b);
}

static void put_key(struct out *o, const char *key, const char *value)
{
    put(o, key);
    put(o, ": ");
    put(o, value);
    put(o, "\n");
}

static void put_path(struct out *o, const char *key, const struct lconf_path *p)
{
    put(o, key);
    put(o, ": boot(");
    if (p->partition)
        put_num(o, p->partition);
    put(o, "):");
    put(o, p->path);
    if (p->has_hash) {
        char hex[2 * LCONF_HASH_BYTES + 2] = "#";
        for (int i = 0; i < LCONF_HASH_BYTES; i++)
            snprintf(hex + 1 + 2 * i, 3, "%02x", p->hash[i]);
        put(o, hex);
    }
    put(o, "\n");
}

static const char *mode(int32_t m)
{
    return m ? "5level" : "4level";
}

/* The notes given on lines [from, to), each as `key: yes` (no note's value is read but yes/no). */
static void put_notes(struct out *o, const struct lconf *c, uint32_t from, uint32_t to)
{
    for (uint32_t i = 0; i < c->nnotes; i++)
        if (c->notes[i].line >= from && c->notes[i].line < to)
            put_key(o, c->notes[i].key, "yes");
}

static void put_entry(struct out *o, const struct lconf *c, uint32_t i)
{
    const struct lconf_entry *e = &c->entries[i];
    for (uint32_t d = 0; d < e->depth; d++)
        put(o, "/");
    put(o, "+"); /* always: so a name that starts with '+' keeps it */
    put(o, e->name);
    put(o, "\n");
    if (e->comment[0])
        put_key(o, "comment", e->comment);
    if (e->protocol_name[0])
        put_key(o, "protocol", e->protocol_name);
    if (e->has_kernel)
        put_path(o, "path", &e->kernel);
    if (e->cmdline[0])
        put_key(o, "cmdline", e->cmdline);
    for (uint32_t m = 0; m < e->nmodules; m++) {
        put_path(o, "module_path", &e->modules[m].file);
        if (e->modules[m].cmdline[0])
            put_key(o, "module_cmdline", e->modules[m].cmdline);
    }
    if (!e->kaslr)
        put_key(o, "kaslr", "no");
    if (e->paging_mode >= 0)
        put_key(o, "paging_mode", mode(e->paging_mode));
    if (e->max_paging_mode >= 0)
        put_key(o, "max_paging_mode", mode(e->max_paging_mode));
    if (e->min_paging_mode >= 0)
        put_key(o, "min_paging_mode", mode(e->min_paging_mode));
    if (e->res_width) {
        char r[40];
        snprintf(r, sizeof r, "%ux%ux%u", e->res_width, e->res_height, e->res_bpp);
        put_key(o, "resolution", r);
    }
    put_notes(o, c, e->line, i + 1 < c->nentries ? c->entries[i + 1].line : UINT32_MAX);
}

/* c as canonical limine.conf text; 0 if it does not fit the buffer or a line is too long. */
static int canonical(const struct lconf *c, struct out *o)
{
    o->n = o->line_start = 0;
    o->ok = 1;
    if (c->timeout < 0)
        put_key(o, "timeout", "no");
    else {
        put(o, "timeout: ");
        put_num(o, (uint64_t)c->timeout);
        put(o, "\n");
    }
    if (c->default_entry_line) {
        put(o, "default_entry: ");
        put_num(o, c->default_entry);
        put(o, "\n");
    }
    if (!c->hash_mismatch_panic)
        put_key(o, "hash_mismatch_panic", "no");
    put_notes(o, c, 0, c->nentries ? c->entries[0].line : UINT32_MAX);
    for (uint32_t i = 0; i < c->nentries; i++)
        put_entry(o, c, i);
    return o->ok;
}

/* ---- the target ---- */

static char *arena_a, *arena_b, *arena_c, *text_a, *text_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena_a) {
        arena_a = malloc(BIG_ARENA);
        arena_b = malloc(BIG_ARENA);
        arena_c = malloc(BIG_ARENA);
        text_a = malloc(OUT_MAX);
        text_b = malloc(OUT_MAX);
        if (!arena_a || !arena_b || !arena_c || !text_a || !text_b)
            abort();
    }
    const char *text = (const char *)data;
    struct lconf_error e1 = {0, 0}, e2 = {0, 0};
    int r1 = lconf_parse(text, size, &first, arena_a, BIG_ARENA, &e1);
    int r2 = lconf_parse(text, size, &second, arena_b, BIG_ARENA, &e2);
    FZ_ASSERT(r1 == r2, "two parses disagree: %d, %d", r1, r2);
    if (r1) {
        FZ_ASSERT(r1 == -1 && e1.why && e1.why[0], "refusal without a reason (%d)", r1);
        FZ_ASSERT(e1.line == e2.line && e1.why == e2.why, "two parses refuse differently");
    } else {
        check_result(&first, arena_a, BIG_ARENA);
        check_same(&first, &second, 1, "second parse");
    }

    /*
     * A smaller arena, exactly as large as drawn, on the heap (a write past it is a finding): up
     * to what the first parse kept, or, after a refusal, up to a few times the text.
     */
    uint64_t used = r1 ? 4 * (uint64_t)size + 64 : check_strings(&first, arena_a, BIG_ARENA);
    uint64_t small = fz_hash(data, size, 0x9e3779b97f4a7c15ull) % (used + 2);
    if (small < BIG_ARENA) {
        char *arena = malloc(small ? small : 1);
        struct lconf_error e3 = {0, 0};
        int r3 = lconf_parse(text, size, &again, arena, small, &e3);
        if (r3)
            FZ_ASSERT((r1 && e3.line == e1.line && e3.why == e1.why) || strstr(e3.why, "arena"),
                      "arena of %llu: line %u \"%s\"", (unsigned long long)small, e3.line, e3.why);
        else {
            FZ_ASSERT(!r1, "a smaller arena accepts what a larger one refused");
            check_result(&again, arena, small);
            check_same(&first, &again, 1, "smaller arena");
        }
        free(arena);
    }
    if (r1)
        return 0;

    /* the canonical text parses to the same result, and is its own canonical text */
    struct out o1 = {text_a, 0, 0, 1}, o2 = {text_b, 0, 0, 1};
    if (!canonical(&first, &o1))
        return 0;
    struct lconf_error e4 = {0, 0};
    int r4 = lconf_parse(o1.p, o1.n, &again, arena_c, BIG_ARENA, &e4);
    FZ_ASSERT(r4 == 0, "canonical text refused at line %u: %s\n%.*s", e4.line, e4.why,
              (int)(o1.n < 4000 ? o1.n : 4000), o1.p);
    check_result(&again, arena_c, BIG_ARENA);
    check_same(&first, &again, 0, "canonical text");
    FZ_ASSERT(canonical(&again, &o2) && o1.n == o2.n && !memcmp(o1.p, o2.p, o1.n),
              "canonical text is not its own canonical text");
    return 0;
}
