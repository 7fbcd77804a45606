/*
 * secure.c - Secure Boot's trust carried from the signed loader to every file it starts.
 *
 * The firmware verifies this loader's signature; nothing verifies the kernel and modules, which
 * are not PE images. So, as Limine does, a signed loader carries the BLAKE2b-512 of the
 * configuration it may use (tools/sign.sh writes it over the placeholder below before signing),
 * and the configuration names every file with its hash (`path#hash`). With Secure Boot on, the
 * loader refuses a configuration whose hash differs, a missing configuration, and any file
 * without a hash or whose bytes do not match it. With Secure Boot off, a hash given is still
 * checked (hash_mismatch_panic: no makes a mismatch a warning, as in Limine).
 */
#include "blake2b.h"
#include "loader.h"

/* A writable global, so the compiler cannot fold the comparison with the placeholder away. */
char pmm_conf_blake2b[129] = PMM_CONF_HASH_PLACEHOLDER;
_Static_assert(sizeof PMM_CONF_HASH_PLACEHOLDER == 129, "the placeholder is 128 characters");

int secure_boot_on(void)
{
    UINT8 v = 0;
    UINTN n = sizeof v;
    UINT32 attr;
    EFI_STATUS st =
        uefi_call_wrapper(RT->GetVariable, 5, L"SecureBoot", &EfiGlobalVariable, &attr, &n, &v);
    if (st == EFI_NOT_FOUND)
        return 0;
    return EFI_ERROR(st) || v != 0; /* unreadable for any other reason: fail closed */
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int conf_enrolled(void)
{
    for (int i = 0; i < 128; i++)
        if (hexval(pmm_conf_blake2b[i]) < 0)
            return 0;
    return 1;
}

const char *hash_check(const void *data, UINT64 n, const uint8_t *hash)
{
    uint8_t d[BLAKE2B_OUTBYTES];
    blake2b(d, sizeof d, data, n);
    for (int i = 0; i < BLAKE2B_OUTBYTES; i++)
        if (d[i] != hash[i])
            return "its BLAKE2b hash differs from the one given";
    return 0;
}

const char *secure_check_conf(const struct boot_choice *c)
{
    if (!secure_boot_on())
        return 0;
    if (!conf_enrolled())
        return "Secure Boot is on, but this loader has no configuration hash enrolled, so it "
               "cannot check limine.conf and will not boot. Sign it with tools/sign.sh, which "
               "enrolls the configuration's BLAKE2b before signing";
    uint8_t want[BLAKE2B_OUTBYTES];
    for (int i = 0; i < BLAKE2B_OUTBYTES; i++)
        want[i] =
            (uint8_t)(hexval(pmm_conf_blake2b[2 * i]) << 4 | hexval(pmm_conf_blake2b[2 * i + 1]));
    if (hash_check(c->conf_text, c->conf_size, want))
        return "Secure Boot: this configuration is not the one enrolled in the signed loader "
               "(its BLAKE2b differs); refused";
    return 0;
}
