/*
 * shell.h - the `pmm` UEFI shell command: one invocation's context and the pieces it uses.
 */
#ifndef PMM_SHELL_H
#define PMM_SHELL_H

#include "loader.h"
#include <efishell.h>

struct cmd {
    EFI_SHELL_PROTOCOL *shell;
    struct pmm *pmm;
    int argc; /* arguments left after the flags were taken out */
    CHAR16 **argv;
    int sfo;  /* -sfo: standard-format output */
    int page; /* -b: stop after each screenful */
    int quit; /* the user stopped the paging */
    UINTN rows, lines;
};

/* out.c */
void say(struct cmd *c, const CHAR16 *fmt, ...); /* Print, counting lines for -b */
int parse_u64(const CHAR16 *s, UINT64 *v);       /* decimal or 0x hex; K/M/G/T suffix */
const CHAR16 *type_name(UINT32 type);            /* memmap -sfo's names */
const CHAR16 *hex(CHAR16 buf[17], UINT64 v);     /* upper-case hex, no padding (memmap's) */
const CHAR16 *pad(CHAR16 *buf, UINTN width, const CHAR16 *s); /* left-justified in width */
const CHAR16 *kind_name(enum pmm_kind k);

/* views.c: each returns a SHELL_STATUS */
SHELL_STATUS view_stats(struct cmd *c);
SHELL_STATUS view_map(struct cmd *c);
SHELL_STATUS view_free(struct cmd *c);
SHELL_STATUS view_picture(struct cmd *c);
SHELL_STATUS save_map(struct cmd *c, const CHAR16 *path);

#endif
