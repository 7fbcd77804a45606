/*
 * conf.h - limine.conf, read as Limine 8 and later read it, for the entries this loader can boot.
 *
 * Syntax (Limine's CONFIG.md): `key: value` lines; comments are lines whose first non-blank
 * character is '#'; `/Name` starts an entry, `//Name` a sub-entry one level down, and so on (a
 * '+' after the slashes marks a directory shown expanded; an entry followed by a deeper one is a
 * directory, not bootable); `${NAME}=value` defines a macro, `${NAME}` anywhere in a value expands
 * it (built in: ${ARCH} = x86-64, ${FW_TYPE} = UEFI). Keys are case-insensitive. Paths are
 * `boot():/path` or `boot(N):/path`, optionally followed by `#` and the file's BLAKE2b-512 in 128
 * hex digits.
 *
 * What is not supported is refused with its line, never dropped: an unknown key, a key this loader
 * cannot honour (another resource than boot(), a compressed `$` path, randomise_memory: yes,
 * dtb_path), a malformed value. Keys that only change Limine's own menu and terminal (interface_*,
 * term_*, wallpaper ...) are accepted and listed in notes[], so the loader can say that they have
 * no effect here. Entries of another protocol (linux, efi_chainload ...) are parsed, kept with
 * their protocol name, and refused only if they are chosen (lconf_pick).
 *
 * Freestanding: no libc, no allocation; every string is copied into the caller's arena.
 */
#ifndef PMM_LIMINE_CONF_H
#define PMM_LIMINE_CONF_H

#include <stdint.h>

#define LCONF_MAX_ENTRIES 64
#define LCONF_MAX_MODULES 32
#define LCONF_MAX_NOTES   32
#define LCONF_MAX_MACROS  32
#define LCONF_HASH_BYTES  64 /* BLAKE2b-512 */

enum lconf_protocol {
    LCONF_PROTO_NONE = 0,   /* a directory, or an entry without `protocol:` */
    LCONF_PROTO_LIMINE = 1, /* the one this loader boots */
    LCONF_PROTO_OTHER = 2,  /* linux, multiboot1/2, efi, efi_chainload, bios_chainload ... */
};

/* A file named in the configuration. */
struct lconf_path {
    const char *path;   /* on the volume, starting with '/', in the arena */
    uint32_t partition; /* boot(N): N; 0 for boot(), the volume the configuration is on */
    uint32_t has_hash;  /* 1 if `#hash` followed the path */
    uint8_t hash[LCONF_HASH_BYTES];
    uint32_t line;
};

struct lconf_module {
    struct lconf_path file;
    const char *cmdline; /* module_cmdline (or its alias module_string); "" if none */
};

struct lconf_entry {
    const char *name;          /* without the slashes and the '+' */
    uint32_t line;             /* of its /Name line */
    uint32_t depth;            /* number of slashes */
    uint32_t directory;        /* 1 if the next entry is deeper: not bootable */
    uint32_t protocol;         /* enum lconf_protocol */
    const char *protocol_name; /* as written, lower case; "" if none */
    uint32_t protocol_line;
    uint32_t has_kernel; /* path or kernel_path given */
    struct lconf_path kernel;
    const char *cmdline; /* cmdline or kernel_cmdline; "" if none */
    const char *comment; /* "" if none */
    uint32_t nmodules;
    struct lconf_module modules[LCONF_MAX_MODULES];
    int32_t kaslr;       /* 1 (the default) or 0 */
    int32_t paging_mode; /* -1 unset, else LIMINE_PAGING_MODE_X86_64_*: paging_mode */
    int32_t max_paging_mode, min_paging_mode; /* -1 unset */
    uint32_t res_width, res_height, res_bpp;  /* resolution: WxH or WxHxBPP (BPP 32 if left out);
                                                 all 0 if unset */
};

/* A key accepted without effect here (Limine's menu and terminal look). */
struct lconf_note {
    uint32_t line;
    const char *key; /* lower case, static */
};

struct lconf {
    int64_t timeout;              /* seconds; -1 for `timeout: no` (wait for a choice); default 5 */
    uint32_t default_entry;       /* 1-based, counting every /Name line in order; default 1 */
    uint32_t default_entry_line;  /* 0 if not given */
    uint32_t hash_mismatch_panic; /* 1 (the default) or 0 */
    uint32_t nentries;
    struct lconf_entry entries[LCONF_MAX_ENTRIES];
    uint32_t nnotes;
    struct lconf_note notes[LCONF_MAX_NOTES];
};

struct lconf_error {
    uint32_t line; /* 1-based; 0: the file as a whole */
    const char *why;
};

/*
 * Parse len bytes of text (not NUL-terminated; CR LF and LF line ends). Strings go into arena
 * (arena_size bytes). 0 with *out filled, or -1 with *err naming the first problem.
 */
int lconf_parse(const char *text, uint64_t len, struct lconf *out, char *arena, uint64_t arena_size,
                struct lconf_error *err);

/*
 * The entry numbered n (1-based, as default_entry counts), if it can be booted here: a Limine-
 * protocol entry with a kernel path. 0 with *e set, or -1 with *err naming the problem and the
 * entry's line (a directory, another protocol, no protocol, no path, no such entry).
 */
int lconf_pick(const struct lconf *c, uint32_t n, const struct lconf_entry **e,
               struct lconf_error *err);

#endif
