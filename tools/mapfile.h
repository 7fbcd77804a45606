/*
 * mapfile.h - read a memory map published as text (host only).
 *
 * Formats, detected line by line:
 *   Linux 2.6:   [ts] mem02: type=4, attr=0xf, range=[0x58000-0x59000) (0MB)
 *   Linux 3.x:   [ts] efi: mem02: type=4, attr=0xf, range=[0x58000-0x59000) (0MB)
 *   Linux 4.x+:  efi: mem01: [Loader Data | ... |WB|WT|WC|UC] range=[0x1000-0x5fff] (0MB)
 *                (range closed with ']' is inclusive, with ')' exclusive; "EFI:" works too)
 *   UEFI shell:  available  0000000000000000-000000000008EFFF  000000000000008F 000000000000000F
 * and the NUMA nodes Linux reads from the ACPI SRAT (optional):
 *   Linux:       ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x17fffffff] (hotplug)
 * Lines that mention none of these are skipped (a whole dmesg works); a line that starts to look
 * like a descriptor but does not parse is an error naming the line.
 */
#ifndef MAPFILE_H
#define MAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include "pmm.h"

struct mapfile {
    struct pmm_efi_desc *desc;
    size_t n, cap;
    struct pmm_numa_range *numa; /* SRAT memory ranges, sorted and merged (mapfile_parse) */
    size_t nnuma, numa_cap;
    uint32_t nnodes; /* 1 + the highest node named, 0 without SRAT lines */
    char error[256]; /* "FILE:LINE: why" */
};

/* Parse text; 0 on success, -1 with mf->error set. mf must start zeroed. */
int mapfile_parse(struct mapfile *mf, const char *name, const char *text);
int mapfile_read(struct mapfile *mf, const char *path);
void mapfile_free(struct mapfile *mf);

/* Lay the descriptors out at desc_size bytes each (>= 40), as firmware would. Caller frees. */
void *mapfile_pack(const struct mapfile *mf, size_t desc_size, size_t *map_size);

/* Type number for a Linux or UEFI-shell type name, or -1. */
int mapfile_type_by_name(const char *name, size_t len);

#endif
