/*
 * shell.h - the `pmm` UEFI shell command: one invocation's context and the pieces it uses.
 */
#ifndef PMM_SHELL_H
#define PMM_SHELL_H

#include "args.h"
#include "loader.h"
#include <efishell.h>

struct subcommand;

struct cmd {
    EFI_SHELL_PROTOCOL *shell; /* NULL when no shell is around (then nothing pages or saves) */
    struct pmm *pmm;           /* the allocator, if there is one yet (NULL for map and save) */
    UINTN built_ndesc;         /* descriptors of the firmware map it was built from */
    UINT64 app_base, app_end;  /* pmm.efi's own image, [base, end] (0, 0 in the driver) */
    const struct subcommand *sub;
    int argc; /* the subcommand's own words, after its name, flags taken out */
    CHAR16 **argv;
    unsigned flags; /* ARG_FLAG_* given */
    int quit;       /* Q at the page-break prompt or Ctrl-C: stop printing */
};

/*
 * out.c: every line the command prints goes through say() (standard output) or err() (standard
 * error: syntax errors, usage, refusals, failures). Each writes CR LF once per line, honours
 * Ctrl-C and Q, and wraps lines to fit 80 columns (say() not under -sfo, which is for scripts).
 */
void say(struct cmd *c, const CHAR16 *fmt, ...);
void err(struct cmd *c, const CHAR16 *fmt, ...);
void put(struct cmd *c, const CHAR16 *text); /* as say(), text as it is: it carries its own CR LF */
const CHAR16 *dec(CHAR16 buf[21], UINT64 v); /* unsigned decimal (gnu-efi's %ld is signed) */
#define ECHO_MAX 24                          /* characters of a bad argument an error echoes */
const CHAR16 *clip(CHAR16 buf[ECHO_MAX + 1], const CHAR16 *word); /* its first ones, "..." */
const CHAR16 *type_name(UINT32 type);                             /* memmap -sfo's names */
const CHAR16 *short_type(UINT32 type);       /* at most 11 characters, for the listing */
const CHAR16 *hex(CHAR16 buf[17], UINT64 v); /* upper-case hex, no padding (memmap's) */
const CHAR16 *pad(CHAR16 *buf, UINTN width, const CHAR16 *s); /* left-justified in width */
const CHAR16 *kind_name(enum pmm_kind k);
const CHAR16 *plural(UINT64 n); /* L"" for 1, L"s" otherwise */

/* views.c: each returns a SHELL_STATUS */
SHELL_STATUS view_stats(struct cmd *c);
SHELL_STATUS view_map(struct cmd *c);
SHELL_STATUS view_ranges(struct cmd *c);
SHELL_STATUS view_picture(struct cmd *c);
const struct pmm_range *range_of(struct pmm *p, UINT64 pfn); /* NULL for a hole */

/* save.c */
SHELL_STATUS save_map(struct cmd *c, const CHAR16 *path, int replace);

/* map.c: the firmware's map in a buffer that is no change to it, and the allocator built from it */
EFI_STATUS map_read(struct fwmap *m); /* m->buf stays ours: not to be freed */
EFI_STATUS map_build(struct pmm **out, struct fw_build_info *info);
void map_release(void); /* pmm.efi, on its way out */

#endif
