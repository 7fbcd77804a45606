/*
 * digest.c - the SHA-256 of the one kernel a signed loader may start.
 *
 * Built with a 64-character placeholder. tools/sign.sh replaces it in the finished PE file with
 * the kernel's digest (64 hex digits) and then signs the file, so Secure Boot vouches for the
 * digest along with the code. The firmware does not verify the kernel (an ELF file); the loader
 * does, against this. A writable global, so the compiler cannot fold the comparison away.
 */
#include "loader.h"

char pmm_kernel_sha256[65] = PMM_DIGEST_PLACEHOLDER;
