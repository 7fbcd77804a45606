/*
 * conf.c - the limine.conf reader (conf.h).
 *
 * Two passes over the lines. The first only collects the macro definitions (`${NAME}=value`), as
 * Limine does, so that a value may use a macro defined further down. The second reads every line
 * in order and stops at the first problem, so the error names the first line that is wrong:
 *
 *   blank or `#...`        skipped
 *   `${NAME}=value`        checked again (well formed, defined once, at most LCONF_MAX_MACROS)
 *   `/Name`, `//Name` ...  closes the entry before it (is it a directory? its end-of-entry
 *                          checks) and opens the next one
 *   `key: value`           one row of the key table below, which says where the key may appear,
 *                          how its value is read and what each refusal says
 *
 * Every value goes through macro expansion first. The expansion is written into the arena's free
 * space as a temporary; what is kept is then copied down to the arena's top and NUL-terminated,
 * so the arena only ever holds the strings of the result (its first byte is the one "" that every
 * empty field points to). Each byte of the input is checked (printable ASCII or tab) before a line
 * is interpreted, and no pointer ever leaves [text, text + len) or [arena, arena + arena_size).
 *
 * Messages are static strings: the table's rows build theirs from the key's name at compile time,
 * so an error can name its key without a buffer to format into.
 */
#include "conf.h"

#include "limine.h"

#define MAX_LINE  4096 /* bytes in a line, without its LF or CR LF */
#define MAX_VALUE 4096 /* bytes in a value after macro expansion */

/* A byte range: of the input, of the arena or of a static string. Not NUL-terminated. */
struct span {
    const char *p;
    uint32_t n;
};

/* ---- the keys ---- */

enum scope { SC_GLOBAL, SC_ENTRY };

enum handler {
    H_TIMEOUT,
    H_DEFAULT_ENTRY,
    H_HASH_PANIC,
    H_RANDOMISE,
    H_NOTE,       /* a look-and-feel key: noted, value not read */
    H_NOTE_YESNO, /* noted, value yes or no */
    H_COMMENT,
    H_PROTOCOL,
    H_KERNEL,
    H_CMDLINE,
    H_MODULE,
    H_MODULE_CMDLINE,
    H_KASLR,
    H_PAGING,
    H_MAX_PAGING,
    H_MIN_PAGING,
    H_RESOLUTION,
    H_TEXTMODE,
    H_REFUSED, /* a key this loader cannot honour: always an error */
    H_OTHER,   /* a key of the other protocols: non-empty, and the entry's protocol must be one */
};

/*
 * One key. alias: the key it is another spelling of (they share one "given twice" check), or 0.
 * misplaced: for a global key, the error when it follows an entry; for a key of the other
 * protocols, the error when the entry's protocol is not one of them. bad: the error for a value
 * the key does not take.
 */
struct key {
    const char *name;
    const char *alias;
    uint8_t scope;
    uint8_t handler;
    const char *twice;
    const char *misplaced;
    const char *bad;
};

#define GLOBAL_KEY(n, h, bad)                                                                      \
    {                                                                                              \
        n, 0, SC_GLOBAL, h, n " is given twice",                                                   \
            n " is a global key: it must come before the first /entry line", bad                   \
    }
#define GLOBAL_ALIAS(n, of, h, bad)                                                                \
    {                                                                                              \
        n, of, SC_GLOBAL, h, n " is given twice (" of " is the same key)",                         \
            n " is a global key: it must come before the first /entry line", bad                   \
    }
#define NOTE_KEY(n) GLOBAL_KEY(n, H_NOTE, 0)
#define ENTRY_KEY(n, h, bad)                                                                       \
    {                                                                                              \
        n, 0, SC_ENTRY, h, n " is given twice in one entry", 0, bad                                \
    }
#define ENTRY_ALIAS(n, of, h, bad)                                                                 \
    {                                                                                              \
        n, of, SC_ENTRY, h, n " is given twice in one entry (" of " is the same key)", 0, bad      \
    }
#define OTHER_KEY(n, of)                                                                           \
    {                                                                                              \
        n, of, SC_ENTRY, H_OTHER, n " is given twice in one entry",                                \
            n " belongs to other protocols (linux, multiboot, chainload ...): this entry's is "    \
              "not one",                                                                           \
            n " needs a value"                                                                     \
    }

#define YESNO " takes yes or no"
#define MODE  " takes 4level or 5level"

static const struct key keys[] = {
    GLOBAL_KEY("timeout", H_TIMEOUT, "timeout takes a number of seconds or no"),
    GLOBAL_KEY("default_entry", H_DEFAULT_ENTRY,
               "default_entry takes an entry's number, from 1 (every /entry line counts)"),
    GLOBAL_KEY("hash_mismatch_panic", H_HASH_PANIC, "hash_mismatch_panic" YESNO),
    GLOBAL_KEY("randomise_memory", H_RANDOMISE, "randomise_memory" YESNO),
    GLOBAL_ALIAS("randomize_memory", "randomise_memory", H_RANDOMISE, "randomize_memory" YESNO),
    GLOBAL_KEY("remember_last_entry", H_NOTE_YESNO, "remember_last_entry" YESNO),
    NOTE_KEY("quiet"),
    NOTE_KEY("verbose"),
    NOTE_KEY("serial"),
    NOTE_KEY("serial_baudrate"),
    NOTE_KEY("graphics"),
    NOTE_KEY("interface_resolution"),
    NOTE_KEY("interface_branding"),
    NOTE_KEY("interface_branding_colour"),
    GLOBAL_ALIAS("interface_branding_color", "interface_branding_colour", H_NOTE, 0),
    NOTE_KEY("interface_help_hidden"),
    NOTE_KEY("term_font"),
    NOTE_KEY("term_font_size"),
    NOTE_KEY("term_font_scale"),
    NOTE_KEY("term_font_spacing"),
    NOTE_KEY("term_palette"),
    NOTE_KEY("term_palette_bright"),
    NOTE_KEY("term_background"),
    NOTE_KEY("term_foreground"),
    NOTE_KEY("term_background_bright"),
    NOTE_KEY("term_foreground_bright"),
    NOTE_KEY("term_margin"),
    NOTE_KEY("term_margin_gradient"),
    NOTE_KEY("wallpaper"),
    NOTE_KEY("wallpaper_style"),
    NOTE_KEY("backdrop"),
    NOTE_KEY("editor_enabled"),
    NOTE_KEY("editor_highlighting"),
    NOTE_KEY("editor_validation"),

    ENTRY_KEY("comment", H_COMMENT, 0),
    ENTRY_KEY("protocol", H_PROTOCOL,
              "unknown protocol (limine.conf has limine, linux, multiboot1, multiboot2, efi, "
              "efi_chainload, bios_chainload)"),
    ENTRY_KEY("path", H_KERNEL, 0),
    ENTRY_ALIAS("kernel_path", "path", H_KERNEL, 0),
    ENTRY_KEY("cmdline", H_CMDLINE, 0),
    ENTRY_ALIAS("kernel_cmdline", "cmdline", H_CMDLINE, 0),
    ENTRY_KEY("module_path", H_MODULE, 0),
    ENTRY_KEY("module_cmdline", H_MODULE_CMDLINE,
              "module_cmdline must follow the module_path it belongs to"),
    ENTRY_KEY("module_string", H_MODULE_CMDLINE,
              "module_string must follow the module_path it belongs to"),
    ENTRY_KEY("kaslr", H_KASLR, "kaslr" YESNO),
    ENTRY_KEY("paging_mode", H_PAGING, "paging_mode" MODE),
    ENTRY_KEY("max_paging_mode", H_MAX_PAGING, "max_paging_mode" MODE),
    ENTRY_KEY("min_paging_mode", H_MIN_PAGING, "min_paging_mode" MODE),
    ENTRY_KEY("resolution", H_RESOLUTION,
              "resolution takes WIDTHxHEIGHT or WIDTHxHEIGHTxBPP, each a number from 1"),
    ENTRY_KEY("textmode", H_TEXTMODE, "textmode" YESNO),
    ENTRY_KEY("dtb_path", H_REFUSED,
              "dtb_path is not supported: there is no device tree on x86_64 UEFI"),
    OTHER_KEY("image_path", 0),
    OTHER_KEY("drive", 0),
    OTHER_KEY("partition", 0),
    OTHER_KEY("mbr_id", 0),
    OTHER_KEY("gpt_uuid", 0),
    OTHER_KEY("gpt_guid", "gpt_uuid"),
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* The protocols limine.conf names; all but limine are kept and refused only when picked. */
#define OTHER_PROTOCOL(n)                                                                          \
    {                                                                                              \
        n, "protocol " n " is not supported by this loader: only limine"                           \
    }
static const struct {
    const char *name;
    const char *refused;
} protocols[] = {
    {"limine", 0},
    OTHER_PROTOCOL("linux"),
    OTHER_PROTOCOL("multiboot"),
    OTHER_PROTOCOL("multiboot1"),
    OTHER_PROTOCOL("multiboot2"),
    OTHER_PROTOCOL("efi"),
    OTHER_PROTOCOL("efi_chainload"),
    OTHER_PROTOCOL("bios_chainload"),
    OTHER_PROTOCOL("chainload"),
    OTHER_PROTOCOL("chainload_next"),
};

/* Limine's other resources: named in the refusal so that the user sees which one is meant. */
#define RESOURCE(n)                                                                                \
    {                                                                                              \
        n, "resource " n "() is not supported: this loader reads boot() volumes only"              \
    }
static const struct {
    const char *name;
    const char *refused;
} resources[] = {
    RESOURCE("hdd"),     RESOURCE("odd"),  RESOURCE("guid"), RESOURCE("uuid"),
    RESOURCE("fslabel"), RESOURCE("tftp"), RESOURCE("bios"),
};

static const struct {
    const char *name, *value;
} builtin_macros[] = {{"ARCH", "x86-64"}, {"FW_TYPE", "UEFI"}};

/* ---- characters and spans ---- */

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* A macro name's character, and a key's. */
static int word_char(char c)
{
    return digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '_';
}

static struct span trim(struct span s)
{
    while (s.n && blank(s.p[0]))
        s.p++, s.n--;
    while (s.n && blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static uint32_t cstrlen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

static struct span cspan(const char *s)
{
    return (struct span){s, cstrlen(s)};
}

static int same(struct span a, struct span b)
{
    if (a.n != b.n)
        return 0;
    for (uint32_t i = 0; i < a.n; i++)
        if (a.p[i] != b.p[i])
            return 0;
    return 1;
}

/* s equals the lower-case word w, ignoring case. */
static int same_nocase(struct span s, const char *w)
{
    uint32_t i = 0;
    for (; i < s.n && w[i]; i++)
        if (lower(s.p[i]) != w[i])
            return 0;
    return i == s.n && !w[i];
}

static int is(struct span s, const char *w)
{
    return same(s, cspan(w));
}

/* Index of the first c in s, or s.n. */
static uint32_t find(struct span s, char c)
{
    uint32_t i = 0;
    while (i < s.n && s.p[i] != c)
        i++;
    return i;
}

static int starts_macro(struct span s, uint32_t i)
{
    return i + 1 < s.n && s.p[i] == '$' && s.p[i + 1] == '{';
}

/* A decimal number from 0 to 2^32 - 1, nothing else: 0, or -1. */
static int number(struct span s, uint32_t *v)
{
    uint64_t x = 0;
    if (!s.n)
        return -1;
    for (uint32_t i = 0; i < s.n; i++) {
        if (!digit(s.p[i]))
            return -1;
        x = x * 10 + (uint64_t)(s.p[i] - '0');
        if (x > 0xffffffffu)
            return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

/* yes -> 1, no -> 0, anything else -1 (lower case only, as Limine compares them). */
static int yesno(struct span s)
{
    return is(s, "yes") ? 1 : is(s, "no") ? 0 : -1;
}

static int hexval(char c)
{
    c = lower(c);
    return digit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- the parser's state ---- */

struct macro {
    struct span name, value; /* in the input */
    uint32_t line;           /* of its definition */
};

struct parser {
    struct lconf *c;
    struct lconf_error *err;
    char *arena;
    uint64_t size, used; /* arena[0, used) holds the result's strings */
    const char *empty;   /* arena[0]: "" */

    struct macro macros[LCONF_MAX_MACROS];
    uint32_t nmacros;
    uint32_t macros_full_line; /* the first definition that did not fit, or 0 */

    uint32_t seen[NKEYS]; /* line each key (or its alias) was given on, 0 if not yet: globals for
                             the whole file, entry keys since the current entry's line */

    struct lconf_entry *e;   /* the entry being read, 0 before the first */
    uint32_t key_line;       /* its first key other than comment (a directory takes none) */
    const struct key *other; /* its first key of the other protocols, and where */
    uint32_t other_line;
    uint32_t min_paging_line; /* min_paging_mode's line: checked against max at the end */
    uint32_t module_cmdline;  /* its last module was given a cmdline */
};

static int fail(struct parser *p, uint32_t line, const char *why)
{
    p->err->line = line;
    p->err->why = why;
    return -1;
}

static int arena_full(struct parser *p, uint32_t line)
{
    return fail(p, line,
                "the loader's string arena is full: this configuration holds too much text");
}

/*
 * Copy s to the arena's top and NUL-terminate it: the result's string. s may be a temporary in
 * the free space above the top (an expansion), which the copy then moves down; the copy runs
 * forward, so the overlap is safe. 0 if the arena is full.
 */
static const char *keep(struct parser *p, struct span s)
{
    if (p->size - p->used < (uint64_t)s.n + 1)
        return 0;
    char *d = p->arena + p->used;
    for (uint32_t i = 0; i < s.n; i++)
        d[i] = s.p[i];
    d[s.n] = 0;
    p->used += (uint64_t)s.n + 1;
    return d;
}

/* ---- lines ---- */

struct reader {
    const char *p, *end;
    uint32_t line;
};

/* The next line without its LF or CR LF, and its number; 0 at the end of the text. */
static int next_line(struct reader *r, struct span *l)
{
    if (r->p == r->end || r->line == 0xffffffffu)
        return 0;
    const char *b = r->p, *e = b;
    while (e < r->end && *e != '\n')
        e++;
    r->p = e < r->end ? e + 1 : e;
    if (e > b && e[-1] == '\r')
        e--;
    r->line++;
    /* a line longer than uint32_t is cut here; it is refused as too long anyway */
    uint64_t n = (uint64_t)(e - b);
    l->p = b;
    l->n = n > MAX_LINE + 1 ? MAX_LINE + 1 : (uint32_t)n;
    return 1;
}

/* What is wrong with the bytes of a line, or 0. */
static const char *bad_bytes(struct span l)
{
    if (l.n > MAX_LINE)
        return "line longer than 4096 bytes";
    for (uint32_t i = 0; i < l.n; i++) {
        unsigned char c = (unsigned char)l.p[i];
        if (c == 0)
            return "NUL byte in the line";
        if (c == '\r')
            return "carriage return inside a line (lines end in LF or CR LF)";
        if (c > 0x7e)
            return "non-ASCII byte: limine.conf is read as printable ASCII";
        if (c < 0x20 && c != '\t')
            return "control character: only printable ASCII and tab are allowed";
    }
    return 0;
}

/* ---- macros ---- */

/* `${NAME}=value`: 0 with NAME and the trimmed value, or what is wrong with it. */
static const char *macro_definition(struct span t, struct span *name, struct span *value)
{
    uint32_t i = 2;
    while (i < t.n && word_char(t.p[i]))
        i++;
    if (i == 2 || i == t.n || t.p[i] != '}')
        return "malformed macro definition: expected ${NAME}=value, NAME of letters, digits and _";
    *name = (struct span){t.p + 2, i - 2};
    i++;
    while (i < t.n && blank(t.p[i]))
        i++;
    if (i == t.n || t.p[i] != '=')
        return "malformed macro definition: expected ${NAME}=value, NAME of letters, digits and _";
    *value = trim((struct span){t.p + i + 1, t.n - i - 1});
    for (uint32_t k = 0; k < value->n; k++)
        if (starts_macro(*value, k))
            return "a macro's value cannot use another macro";
    return 0;
}

static struct macro *user_macro(struct parser *p, struct span name)
{
    for (uint32_t i = 0; i < p->nmacros; i++)
        if (same(p->macros[i].name, name))
            return &p->macros[i];
    return 0;
}

/*
 * The first pass: every well-formed definition, the first one of each name, in the table. A line
 * that is wrong in any way is skipped here: the second pass reaches it in order and refuses it.
 */
static void collect_macros(struct parser *p, const char *text, uint64_t len)
{
    struct reader r = {text, text + len, 0};
    struct span l, name, value;
    while (next_line(&r, &l)) {
        struct span t = trim(l);
        if (bad_bytes(l) || !starts_macro(t, 0) || macro_definition(t, &name, &value) ||
            user_macro(p, name))
            continue;
        if (p->nmacros == LCONF_MAX_MACROS) {
            if (!p->macros_full_line)
                p->macros_full_line = r.line;
            continue;
        }
        struct macro *m = &p->macros[p->nmacros++];
        m->name = name; /* field by field: a struct copy may become a memcpy call */
        m->value = value;
        m->line = r.line;
    }
}

/* The second pass meets a definition: well formed, and the one the table holds for its name. */
static int macro_line(struct parser *p, struct span t, uint32_t line)
{
    struct span name, value;
    const char *why = macro_definition(t, &name, &value);
    if (why)
        return fail(p, line, why);
    struct macro *m = user_macro(p, name);
    if (!m)
        return fail(p, line, "more than 32 macros");
    if (m->line != line)
        return fail(p, line, "macro defined twice: this name has a definition on an earlier line");
    return 0;
}

/* A macro's value: the user's definition, else a built-in one; 0 if there is none. */
static int macro_value(struct parser *p, struct span name, struct span *v)
{
    struct macro *m = user_macro(p, name);
    if (m) {
        *v = m->value;
        return 1;
    }
    for (uint32_t i = 0; i < sizeof builtin_macros / sizeof builtin_macros[0]; i++)
        if (is(name, builtin_macros[i].name)) {
            *v = cspan(builtin_macros[i].value);
            return 1;
        }
    return 0;
}

/*
 * s with every ${NAME} replaced, trimmed, written into the arena's free space: *out is a
 * temporary there, until the next keep. A macro's value is not expanded again; a $ and a { that
 * meet only after expansion would read as a macro in any later reading of the value, so they
 * are refused.
 */
static int expand(struct parser *p, struct span s, uint32_t line, struct span *out)
{
    char *d = p->arena + p->used;
    uint64_t room = p->size - p->used;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s.n;) {
        struct span piece = {s.p + i, 1};
        if (starts_macro(s, i)) {
            uint32_t j = i + 2;
            while (j < s.n && word_char(s.p[j]))
                j++;
            if (j == i + 2 || j == s.n || s.p[j] != '}')
                return fail(p, line, "malformed ${NAME}: NAME is letters, digits and _, then }");
            if (!macro_value(p, (struct span){s.p + i + 2, j - i - 2}, &piece))
                return p->macros_full_line ? fail(p, p->macros_full_line, "more than 32 macros")
                                           : fail(p, line, "undefined macro");
            i = j + 1;
        } else {
            i++;
        }
        if (n + (uint64_t)piece.n > MAX_VALUE)
            return fail(p, line, "value longer than 4096 bytes after macro expansion");
        if (n + (uint64_t)piece.n > room)
            return arena_full(p, line);
        for (uint32_t k = 0; k < piece.n; k++)
            d[n + k] = piece.p[k];
        n += piece.n;
    }
    *out = trim((struct span){d, n});
    for (uint32_t k = 0; k < out->n; k++)
        if (starts_macro(*out, k))
            return fail(p, line, "macro expansion put a $ before a {: that would read as ${");
    return 0;
}

/* Expand s and keep it: *kept is the result's string. */
static int expand_keep(struct parser *p, struct span s, uint32_t line, const char **kept)
{
    struct span v;
    if (expand(p, s, line, &v))
        return -1;
    *kept = keep(p, v);
    return *kept ? 0 : arena_full(p, line);
}

/* ---- paths ---- */

/* The part of boot(...) between the parentheses: empty -> 0, else a partition number from 1. */
static const char *partition(struct span s, uint32_t *part)
{
    *part = 0;
    if (s.n && (number(s, part) || *part == 0))
        return "boot(N): N is a partition number from 1 (boot() is the configuration's own)";
    return 0;
}

/* `#` and 128 hex digits after a path: the BLAKE2b-512 of the file. */
static const char *hash(struct span s, uint8_t *out)
{
    if (s.n != 2 * LCONF_HASH_BYTES)
        return "a hash is # and 128 hex digits (the file's BLAKE2b-512)";
    for (uint32_t i = 0; i < LCONF_HASH_BYTES; i++) {
        int hi = hexval(s.p[2 * i]), lo = hexval(s.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return "a hash is # and 128 hex digits (the file's BLAKE2b-512)";
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Why a value without boot(...) in front is not a path this loader reads. */
static const char *not_boot(struct span v, uint32_t paren)
{
    struct span res = {v.p, paren};
    uint32_t colon = find(v, ':');
    if (v.n && v.p[0] == '/')
        return "a bare path: write boot():/path (or boot(N):/path for partition N)";
    if (paren < v.n && colon > paren && paren) {
        for (uint32_t i = 0; i < res.n; i++)
            if (!word_char(res.p[i]))
                return "a path is boot():/path or boot(N):/path";
        for (uint32_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
            if (is(res, resources[i].name))
                return resources[i].refused;
        return "unknown resource: this loader reads boot():/path and boot(N):/path";
    }
    if (colon + 2 < v.n && v.p[colon + 1] == '/' && v.p[colon + 2] == '/')
        return "resource://path is limine.cfg's URI syntax: limine.conf uses boot():/path";
    return "a path is boot():/path or boot(N):/path";
}

/*
 * `boot():/path`, `boot(N):/path`, either followed by `#hash`. The path ends at the first '#'
 * (a file whose name holds one cannot be named here). v is the expanded value.
 */
static int path_value(struct parser *p, struct span v, uint32_t line, struct lconf_path *out)
{
    if (v.n && v.p[0] == '$')
        return fail(p, line, "compressed files ($ before the path) are not supported");
    uint32_t paren = find(v, '('); /* v.n if there is none: "boot" alone must not pass */
    if (paren == v.n || paren != 4 || !same((struct span){v.p, 4}, cspan("boot")))
        return fail(p, line, not_boot(v, paren));
    struct span rest = {v.p + 5, v.n - 5};
    uint32_t close = find(rest, ')');
    if (close == rest.n)
        return fail(p, line, "boot( without its )");
    const char *why = partition((struct span){rest.p, close}, &out->partition);
    if (why)
        return fail(p, line, why);
    rest.p += close + 1, rest.n -= close + 1;
    if (!rest.n || rest.p[0] != ':' || rest.n < 2 || rest.p[1] != '/')
        return fail(p, line, "boot(...) is followed by : and a path that starts with /");
    rest.p++, rest.n--;
    uint32_t sharp = find(rest, '#');
    out->has_hash = sharp < rest.n;
    for (uint32_t i = 0; i < LCONF_HASH_BYTES; i++)
        out->hash[i] = 0;
    if (out->has_hash) {
        why = hash((struct span){rest.p + sharp + 1, rest.n - sharp - 1}, out->hash);
        if (why)
            return fail(p, line, why);
    }
    out->path = keep(p, (struct span){rest.p, sharp});
    out->line = line;
    return out->path ? 0 : arena_full(p, line);
}

/* ---- global keys ---- */

static int note(struct parser *p, const struct key *k, uint32_t line)
{
    if (p->c->nnotes == LCONF_MAX_NOTES)
        return fail(p, line, "more than 32 keys that have no effect here (menu and terminal keys)");
    p->c->notes[p->c->nnotes++] = (struct lconf_note){line, k->name};
    return 0;
}

static int global_key(struct parser *p, const struct key *k, struct span v, uint32_t line)
{
    struct lconf *c = p->c;
    uint32_t x;
    int b = yesno(v);
    switch (k->handler) {
    case H_TIMEOUT:
        if (is(v, "no"))
            c->timeout = -1;
        else if (!number(v, &x))
            c->timeout = x;
        else
            return fail(p, line, k->bad);
        return 0;
    case H_DEFAULT_ENTRY:
        if (number(v, &x) || x == 0)
            return fail(p, line, k->bad);
        c->default_entry = x;
        c->default_entry_line = line;
        return 0;
    case H_HASH_PANIC:
        if (b < 0)
            return fail(p, line, k->bad);
        c->hash_mismatch_panic = (uint32_t)b;
        return 0;
    case H_RANDOMISE:
        if (b == 1)
            return fail(p, line, "randomising memory is not supported by this loader");
        return b < 0 ? fail(p, line, k->bad) : 0;
    case H_NOTE_YESNO:
        if (b < 0)
            return fail(p, line, k->bad);
        return note(p, k, line);
    default:
        return note(p, k, line);
    }
}

/* ---- entries ---- */

static int paging_mode(struct span v, int32_t *mode)
{
    if (is(v, "4level"))
        *mode = LIMINE_PAGING_MODE_X86_64_4LVL;
    else if (is(v, "5level"))
        *mode = LIMINE_PAGING_MODE_X86_64_5LVL;
    else
        return -1;
    return 0;
}

/* WxH or WxHxBPP, each from 1; BPP 32 if left out. */
static int resolution(struct span v, struct lconf_entry *e)
{
    uint32_t f[3] = {0, 0, 32}, nf = 0, start = 0;
    for (uint32_t i = 0; i <= v.n; i++) {
        if (i < v.n && v.p[i] != 'x')
            continue;
        if (nf == 3 || number((struct span){v.p + start, i - start}, &f[nf]) || !f[nf])
            return -1;
        nf++;
        start = i + 1;
    }
    if (nf < 2)
        return -1;
    e->res_width = f[0], e->res_height = f[1], e->res_bpp = f[2];
    return 0;
}

static int protocol_value(struct parser *p, struct span v, uint32_t line, const struct key *k)
{
    struct lconf_entry *e = p->e;
    for (uint32_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
        if (!same_nocase(v, protocols[i].name))
            continue;
        e->protocol = protocols[i].refused ? LCONF_PROTO_OTHER : LCONF_PROTO_LIMINE;
        e->protocol_name = keep(p, cspan(protocols[i].name));
        e->protocol_line = line;
        return e->protocol_name ? 0 : arena_full(p, line);
    }
    return fail(p, line, k->bad);
}

static int module_path(struct parser *p, struct span v, uint32_t line)
{
    struct lconf_entry *e = p->e;
    if (e->nmodules == LCONF_MAX_MODULES)
        return fail(p, line, "more than 32 modules in one entry");
    struct lconf_module *m = &e->modules[e->nmodules];
    if (path_value(p, v, line, &m->file))
        return -1;
    m->cmdline = p->empty;
    e->nmodules++;
    p->module_cmdline = 0;
    return 0;
}

static int module_cmdline(struct parser *p, const struct key *k, struct span v, uint32_t line)
{
    struct lconf_entry *e = p->e;
    if (!e->nmodules)
        return fail(p, line, k->bad);
    if (p->module_cmdline)
        return fail(p, line, "a module's command line is given twice");
    p->module_cmdline = 1;
    e->modules[e->nmodules - 1].cmdline = keep(p, v);
    return e->modules[e->nmodules - 1].cmdline ? 0 : arena_full(p, line);
}

static int keep_into(struct parser *p, const char **field, struct span v, uint32_t line)
{
    *field = keep(p, v);
    return *field ? 0 : arena_full(p, line);
}

static int entry_key(struct parser *p, const struct key *k, struct span v, uint32_t line)
{
    struct lconf_entry *e = p->e;
    int b = yesno(v);
    if (k->handler != H_COMMENT && !p->key_line)
        p->key_line = line;
    switch (k->handler) {
    case H_COMMENT:
        return keep_into(p, &e->comment, v, line);
    case H_PROTOCOL:
        return protocol_value(p, v, line, k);
    case H_KERNEL:
        e->has_kernel = 1;
        return path_value(p, v, line, &e->kernel);
    case H_CMDLINE:
        return keep_into(p, &e->cmdline, v, line);
    case H_MODULE:
        return module_path(p, v, line);
    case H_MODULE_CMDLINE:
        return module_cmdline(p, k, v, line);
    case H_KASLR:
        if (b < 0)
            return fail(p, line, k->bad);
        e->kaslr = b;
        return 0;
    case H_PAGING:
        return paging_mode(v, &e->paging_mode) ? fail(p, line, k->bad) : 0;
    case H_MAX_PAGING:
        return paging_mode(v, &e->max_paging_mode) ? fail(p, line, k->bad) : 0;
    case H_MIN_PAGING:
        p->min_paging_line = line;
        return paging_mode(v, &e->min_paging_mode) ? fail(p, line, k->bad) : 0;
    case H_RESOLUTION:
        return resolution(v, e) ? fail(p, line, k->bad) : 0;
    case H_TEXTMODE:
        return b < 0 ? fail(p, line, k->bad) : note(p, k, line);
    case H_OTHER:
        if (!v.n)
            return fail(p, line, k->bad);
        if (!p->other)
            p->other = k, p->other_line = line;
        return 0;
    default:
        return fail(p, line, k->bad);
    }
}

/*
 * The entry being read ends: the next entry line has depth next (0 at the end of the file). It is
 * a directory if next is deeper, and a directory takes no key but comment. Then the checks that
 * need the whole entry, whatever order its keys came in.
 */
static int finish_entry(struct parser *p, uint32_t next)
{
    struct lconf_entry *e = p->e;
    if (!e)
        return 0;
    e->directory = next > e->depth;
    if (e->directory && p->key_line)
        return fail(p, p->key_line,
                    "a directory (an entry followed by deeper ones) takes no key but comment");
    if (e->min_paging_mode > e->max_paging_mode && e->max_paging_mode >= 0)
        return fail(p, p->min_paging_line, "min_paging_mode is above max_paging_mode");
    if (p->other && e->protocol != LCONF_PROTO_OTHER)
        return fail(p, p->other_line, p->other->misplaced);
    return 0;
}

static void init_entry(struct parser *p, struct lconf_entry *e, uint32_t line, uint32_t depth)
{
    e->line = line;
    e->depth = depth;
    e->directory = 0;
    e->protocol = LCONF_PROTO_NONE;
    e->protocol_name = e->cmdline = e->comment = p->empty;
    e->protocol_line = 0;
    e->has_kernel = 0;
    e->kernel.path = p->empty;
    e->kernel.partition = e->kernel.has_hash = e->kernel.line = 0;
    for (uint32_t i = 0; i < LCONF_HASH_BYTES; i++)
        e->kernel.hash[i] = 0;
    e->nmodules = 0;
    e->kaslr = 1;
    e->paging_mode = e->max_paging_mode = e->min_paging_mode = -1;
    e->res_width = e->res_height = e->res_bpp = 0;

    p->e = e;
    p->key_line = p->other_line = p->min_paging_line = p->module_cmdline = 0;
    p->other = 0;
    for (uint32_t i = 0; i < NKEYS; i++)
        if (keys[i].scope == SC_ENTRY)
            p->seen[i] = 0;
}

/* `/Name`, `//Name` ... (a '+' right after the slashes: shown expanded in Limine's menu). */
static int entry_line(struct parser *p, struct span t, uint32_t line)
{
    struct lconf *c = p->c;
    uint32_t depth = 0;
    while (depth < t.n && t.p[depth] == '/')
        depth++;
    struct span raw = {t.p + depth, t.n - depth};
    if (raw.n && raw.p[0] == '+')
        raw.p++, raw.n--;
    if (finish_entry(p, depth))
        return -1;
    if (depth > (p->e ? p->e->depth + 1 : 1))
        return fail(p, line,
                    "a sub-entry needs a parent: more than one / deeper than the entry "
                    "before it");
    if (c->nentries == LCONF_MAX_ENTRIES)
        return fail(p, line, "more than 64 entries");
    struct lconf_entry *e = &c->entries[c->nentries];
    init_entry(p, e, line, depth);
    c->nentries++;
    if (expand_keep(p, trim(raw), line, &e->name))
        return -1;
    return e->name[0] ? 0 : fail(p, line, "an entry without a name");
}

/* ---- one line ---- */

static const char old_syntax[] = "limine.cfg syntax (KEY=VALUE or :Entry): limine.conf uses "
                                 "key: value and /Entry";

static const struct key *lookup(struct span name)
{
    for (uint32_t i = 0; i < NKEYS; i++)
        if (same_nocase(name, keys[i].name))
            return &keys[i];
    return 0;
}

/* The index whose line says whether k was given: its own, or the key it is an alias of. */
static uint32_t slot(const struct key *k)
{
    if (k->alias)
        k = lookup(cspan(k->alias));
    return (uint32_t)(k - keys);
}

static int key_line(struct parser *p, struct span t, uint32_t line)
{
    uint32_t colon = find(t, ':'), eq = find(t, '=');
    if (eq < colon)
        return fail(p, line, old_syntax);
    if (colon == t.n)
        return fail(p, line, "expected key: value");
    const struct key *k = lookup(trim((struct span){t.p, colon}));
    if (!k)
        return fail(p, line, "unknown key");
    if (k->scope == SC_GLOBAL && p->e)
        return fail(p, line, k->misplaced);
    if (k->scope == SC_ENTRY && !p->e)
        return fail(p, line, "an entry's key before the first /entry line");
    uint32_t s = slot(k);
    if (k->handler != H_MODULE && k->handler != H_MODULE_CMDLINE) {
        if (p->seen[s])
            return fail(p, line, k->twice);
        p->seen[s] = line;
    }
    struct span v;
    if (expand(p, (struct span){t.p + colon + 1, t.n - colon - 1}, line, &v))
        return -1;
    return k->scope == SC_GLOBAL ? global_key(p, k, v, line) : entry_key(p, k, v, line);
}

static int one_line(struct parser *p, struct span l, uint32_t line)
{
    const char *why = bad_bytes(l);
    if (why)
        return fail(p, line, why);
    struct span t = trim(l);
    if (!t.n || t.p[0] == '#')
        return 0;
    if (starts_macro(t, 0))
        return macro_line(p, t, line);
    if (t.p[0] == '/')
        return entry_line(p, t, line);
    if (t.p[0] == ':')
        return fail(p, line, old_syntax);
    return key_line(p, t, line);
}

/* ---- the interface ---- */

static void init_conf(struct lconf *c)
{
    c->timeout = 5;
    c->default_entry = 1;
    c->default_entry_line = 0;
    c->hash_mismatch_panic = 1;
    c->nentries = 0;
    c->nnotes = 0;
}

int lconf_parse(const char *text, uint64_t len, struct lconf *out, char *arena, uint64_t arena_size,
                struct lconf_error *err)
{
    struct parser p;
    if (!err)
        return -1; /* nowhere to say why */
    p.err = err;
    if (!out || (!text && len))
        return fail(&p, 0, "no configuration to read");
    if (!arena || !arena_size)
        return fail(&p, 0,
                    "the loader's string arena is full: this configuration holds too "
                    "much text");
    p.c = out;
    p.arena = arena;
    p.size = arena_size;
    arena[0] = 0;
    p.empty = arena;
    p.used = 1;
    p.nmacros = p.macros_full_line = 0;
    for (uint32_t i = 0; i < NKEYS; i++)
        p.seen[i] = 0;
    p.e = 0; /* init_entry sets the rest of the entry's state */
    init_conf(out);

    collect_macros(&p, text, len);
    struct reader r = {text, text + len, 0};
    struct span l;
    while (next_line(&r, &l))
        if (one_line(&p, l, r.line))
            return -1;
    if (r.p != r.end)
        return fail(&p, 0, "more than 4294967294 lines");
    if (finish_entry(&p, 0))
        return -1;
    if (out->default_entry_line && out->default_entry > out->nentries)
        return fail(&p, out->default_entry_line, "default_entry is beyond the last entry");
    return 0;
}

int lconf_pick(const struct lconf *c, uint32_t n, const struct lconf_entry **e,
               struct lconf_error *err)
{
    if (n < 1 || n > c->nentries) {
        err->line = c->default_entry_line;
        err->why = c->nentries ? "no such entry: default_entry is beyond the last entry"
                               : "the configuration has no entries";
        return -1;
    }
    const struct lconf_entry *x = &c->entries[n - 1];
    err->line = x->line;
    if (x->directory) {
        err->why = "the entry is a directory of entries, not one to boot";
        return -1;
    }
    if (x->protocol == LCONF_PROTO_OTHER) {
        err->why = "the entry's protocol is not supported by this loader: only limine";
        for (uint32_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
            if (protocols[i].refused && same(cspan(x->protocol_name), cspan(protocols[i].name)))
                err->why = protocols[i].refused;
        return -1;
    }
    if (x->protocol != LCONF_PROTO_LIMINE) {
        err->why = "the entry has no protocol: key (this loader boots protocol: limine)";
        return -1;
    }
    if (!x->has_kernel) {
        err->why = "the entry has no path: key (the kernel to boot)";
        return -1;
    }
    *e = x;
    return 0;
}
