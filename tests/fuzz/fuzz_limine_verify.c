/*
 * fuzz_limine_verify.c - the kernel's check of the Limine responses it builds on
 * (handoff/limine_verify.c): HHDM offset, Paging Mode, memory map, Executable Address,
 * framebuffers.
 *
 * FUZZ-LINK: handoff/limine_verify.c
 *
 * Input, little-endian: flags (u8); the HHDM offset (u64); the Paging Mode response (u8: bit 7
 * there is one, bits 0-6 its mode); the memory map: entry count (u32), pointer flags (u8: bit 0
 * the response, bit 1 the array misaligned), then per entry base, length (u64), type, pointer
 * flag (u8: bit 0 misaligned); the executable: pointer flag (u8), physical and virtual base (u64),
 * image pages (u32), the direct map's span (u64); the framebuffers: count (u8), pointer flags
 * (u8), then per framebuffer its pointer flag (u8), address, width, height, pitch (u64), bpp
 * (u16), memory model and the six mask bytes (u8).
 * Flags help mutated input past the first checks: bit 0 sorts the entries, bit 1 makes each
 * pitch width * bpp / 8, bit 2 is 5-level paging, bit 3 takes the span from the memory map,
 * bit 4 makes each framebuffer RGB with a bpp of 16, 24 or 32, bit 5 page-aligns the entries,
 * bit 6 cuts width and height to 16 bits.
 *
 * Every structure gets an allocation of exactly its size (a misaligned pointer points 1-7 bytes
 * into one 8 bytes larger), so ASan sees any read past it; entries past the input are one shared
 * zeroed entry; a count above the limits comes with an array pointer (8) that must never be read.
 * Pointers are checked with an HHDM offset of 0.
 *
 * Property: each function accepts exactly what an independent reading of the contract in
 * limine_verify.h accepts (in 128-bit arithmetic), refuses naming the same field, and lv_memmap's
 * top is the end of the last entry.
 */
#include "fuzz.h"
#include "limine_verify.h"

typedef unsigned __int128 u128;

#define TRAP   ((void *)8) /* a pointer behind a refused count: reading it faults */
#define LIMIT  ((u128)1 << 52)
#define FLOOR  0xffffffff80000000ull
#define MAXFB  16
#define MAXENT 65536

struct obj { /* one allocation, and the pointer the response holds */
    void *base, *ptr;
    int bad;
};

static struct obj place(const void *src, size_t size, int misalign)
{
    struct obj o = {calloc(1, size + 8), 0, misalign != 0};
    if (!o.base)
        abort();
    o.ptr = (char *)o.base + (misalign ? 1 + (misalign & 7) % 7 : 0);
    if (src)
        memcpy(o.ptr, src, size);
    return o;
}

/* Pointer i of an array that may be misaligned on purpose. */
static void put(void *array, uint64_t i, const void *p)
{
    memcpy((char *)array + i * sizeof p, &p, sizeof p);
}

/* The field a refusal names: the text before its ':'. */
static int field_is(const char *why, const char *field)
{
    size_t n = strlen(field);
    return why && !strncmp(why, field, n) && why[n] == ':';
}

static const char *o_hhdm(uint64_t off, unsigned levels)
{
    uint64_t floor = levels == 5 ? 0xff00000000000000ull : 0xffff800000000000ull;
    if (off < floor || off % (2ull << 20))
        return "hhdm.offset";
    return 0;
}

static const char *o_paging(int has, uint64_t mode, unsigned levels)
{
    if (!has)
        return 0;
    if (mode > 1 || (mode == 1) != (levels == 5))
        return "paging_mode.mode";
    return 0;
}

struct memmap_in {
    uint64_t count;
    int bad_resp, bad_array;
    struct limine_memmap_entry *e; /* count entries as the harness made them */
    int *bad;                      /* per entry */
};

static const char *o_memmap(const struct memmap_in *m, u128 *top)
{
    *top = 0;
    if (m->bad_resp)
        return "memmap";
    if (m->count < 1 || m->count > MAXENT)
        return "memmap.entry_count";
    if (m->bad_array)
        return "memmap.entries";
    u128 end = 0;
    for (uint64_t i = 0; i < m->count; i++) {
        const struct limine_memmap_entry *e = &m->e[i];
        if (m->bad[i])
            return "memmap.entries[]";
        u128 e_end = (u128)e->base + e->length;
        if (e->length == 0 || e_end > LIMIT)
            return "memmap.entries[].length";
        if (e->type > 8)
            return "memmap.entries[].type";
        if ((e->type == 0 || e->type == 5) && (e->base % 4096 || e->length % 4096))
            return "memmap.entries[].base, length";
        if (i && e->base < end)
            return "memmap.entries[].base";
        end = e_end;
    }
    *top = end;
    return 0;
}

static const char *o_exec(int bad, const struct limine_executable_address_response *r, u128 image,
                          u128 top)
{
    if (bad)
        return "executable_address";
    if (r->physical_base % 4096 || r->physical_base >= LIMIT || r->physical_base + image > LIMIT)
        return "executable_address.physical_base";
    if (r->virtual_base < FLOOR || r->virtual_base % 4096 ||
        r->virtual_base + image > ((u128)1 << 64))
        return "executable_address.virtual_base";
    if (top > FLOOR) /* the HHDM offset is 0 here */
        return "executable_address.virtual_base";
    return 0;
}

static const char *o_fb(const struct limine_framebuffer *f, const struct memmap_in *m)
{
    u128 a = (u128)(uintptr_t)f->address;
    if (a >= LIMIT)
        return "framebuffer.address";
    if (f->memory_model != 1)
        return "framebuffer.memory_model";
    if (f->bpp != 16 && f->bpp != 24 && f->bpp != 32)
        return "framebuffer.bpp";
    if (!f->width || !f->height)
        return "framebuffer.width, height";
    if ((u128)f->width * f->bpp > (u128)f->pitch * 8)
        return "framebuffer.pitch";
    u128 end = a + (u128)f->height * f->pitch;
    if (end > LIMIT)
        return "framebuffer.height";
    for (uint64_t i = 0; i < m->count; i++) {
        const struct limine_memmap_entry *e = &m->e[i];
        if ((e->type == 0 || e->type == 5 || e->type == 6) && e->base < end &&
            a < (u128)e->base + e->length)
            return "framebuffer.address";
    }
    const uint8_t *k = &f->red_mask_size;
    static const char *const names[3] = {"framebuffer.red_mask", "framebuffer.green_mask",
                                         "framebuffer.blue_mask"};
    u128 seen = 0;
    for (int c = 0; c < 3; c++) {
        if (!k[2 * c] || k[2 * c] + k[2 * c + 1] > f->bpp)
            return names[c];
        u128 bits = (((u128)1 << k[2 * c]) - 1) << k[2 * c + 1];
        if (bits & seen)
            return "framebuffer.masks";
        seen |= bits;
    }
    return 0;
}

static int by_base(const void *a, const void *b)
{
    const struct limine_memmap_entry *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

static void agree(const char *what, const char *why, const char *want)
{
    if (!want)
        FZ_ASSERT(!why, "%s refuses '%s', the contract accepts", what, why);
    else
        FZ_ASSERT(field_is(why, want), "%s says '%s', the contract refuses %s", what,
                  why ? why : "ok", want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    uint8_t flags = fz_u8(&in);
    unsigned levels = flags & 4 ? 5 : 4;
    uint64_t off = fz_u64(&in);
    agree("lv_hhdm", lv_hhdm(off, levels), o_hhdm(off, levels));
    uint8_t pm = fz_u8(&in);
    struct limine_paging_mode_response pr = {0, pm & 0x7f};
    agree("lv_paging_mode", lv_paging_mode(pm & 0x80 ? &pr : 0, levels),
          o_paging(pm >> 7, pm & 0x7f, levels));

    /* the memory map */
    static struct limine_memmap_entry zero;
    struct memmap_in m = {fz_u32(&in), 0, 0, 0, 0};
    uint8_t mf = fz_u8(&in);
    m.bad_resp = mf & 1, m.bad_array = (mf >> 1) & 1;
    uint64_t given = 0;
    struct obj *eobj = 0, arr = {0, TRAP, 0};
    if (m.count <= MAXENT) {
        m.e = calloc(m.count + 1, sizeof *m.e);
        m.bad = calloc(m.count + 1, sizeof *m.bad);
        eobj = calloc(m.count + 1, sizeof *eobj);
        for (; given < m.count && in.n; given++) {
            m.e[given].base = fz_u64(&in);
            m.e[given].length = fz_u64(&in);
            m.e[given].type = fz_u8(&in);
            m.bad[given] = fz_u8(&in) & 1;
            if (flags & 32) {
                m.e[given].base &= ~4095ull;
                m.e[given].length = (m.e[given].length + 4095) & ~4095ull;
            }
        }
        if (flags & 1)
            qsort(m.e, given, sizeof *m.e, by_base); /* pointer flags stay in input order */
        arr = place(0, m.count * sizeof(void *), m.bad_array);
        for (uint64_t i = 0; i < m.count; i++) {
            if (i < given) {
                eobj[i] = place(&m.e[i], sizeof m.e[i], m.bad[i]);
                put(arr.ptr, i, eobj[i].ptr);
            } else {
                put(arr.ptr, i, &zero); /* length 0: the first of them is refused */
            }
        }
    }
    struct limine_memmap_response mr = {0, m.count, arr.ptr};
    struct obj mobj = place(&mr, sizeof mr, m.bad_resp);
    uint64_t top = 0;
    u128 want_top = 0;
    const char *mwhy = lv_memmap(mobj.ptr, 0, &top);
    const char *mwant = o_memmap(&m, &want_top);
    agree("lv_memmap", mwhy, mwant);
    FZ_ASSERT(top == want_top, "lv_memmap's top 0x%llx, the last entry ends at 0x%llx",
              (unsigned long long)top, (unsigned long long)want_top);

    /* the executable */
    uint8_t kf = fz_u8(&in);
    struct limine_executable_address_response kr = {0, fz_u64(&in), fz_u64(&in)};
    uint64_t image = (uint64_t)fz_u32(&in) * 4096, span = fz_u64(&in);
    if ((flags & 8) && !mwhy)
        span = top;
    struct obj kobj = place(&kr, sizeof kr, kf & 1);
    agree("lv_executable", lv_executable(kobj.ptr, image, 0, span),
          o_exec(kf & 1, &kr, image, span));

    /* the framebuffers, against a memory map that passed */
    uint8_t nfb = fz_u8(&in), ff = fz_u8(&in);
    struct obj fbobj[MAXFB], fbarr = {0, TRAP, 0};
    struct limine_framebuffer fbs[MAXFB];
    int bad_fb[MAXFB] = {0};
    memset(fbs, 0, sizeof fbs);
    if (nfb <= MAXFB) {
        fbarr = place(0, (nfb ? nfb : 1) * sizeof(void *), (ff >> 1) & 1);
        for (unsigned i = 0; i < nfb; i++) {
            struct limine_framebuffer *f = &fbs[i];
            bad_fb[i] = fz_u8(&in) & 1;
            f->address = (void *)(uintptr_t)fz_u64(&in);
            f->width = fz_u64(&in), f->height = fz_u64(&in), f->pitch = fz_u64(&in);
            f->bpp = fz_u16(&in);
            f->memory_model = fz_u8(&in);
            uint8_t *k = &f->red_mask_size;
            for (int j = 0; j < 6; j++)
                k[j] = fz_u8(&in);
            if (flags & 64)
                f->width &= 0xffff, f->height &= 0xffff;
            if (flags & 16) {
                static const uint16_t bpps[3] = {16, 24, 32};
                f->memory_model = LIMINE_FRAMEBUFFER_RGB;
                f->bpp = bpps[f->bpp % 3];
            }
            if (flags & 2)
                f->pitch = f->width * (f->bpp / 8);
            fbobj[i] = place(f, sizeof *f, bad_fb[i]);
            put(fbarr.ptr, i, fbobj[i].ptr);
        }
    }
    struct limine_framebuffer_response fr = {1, nfb, fbarr.ptr};
    struct obj frobj = place(&fr, sizeof fr, ff & 1);
    if (!mwhy) {
        const char *want = 0;
        if (ff & 1)
            want = "framebuffer";
        else if (nfb > MAXFB)
            want = "framebuffer.framebuffer_count";
        else if (nfb && ((ff >> 1) & 1))
            want = "framebuffer.framebuffers";
        for (unsigned i = 0; !want && i < nfb; i++)
            want = bad_fb[i] ? "framebuffer.framebuffers[]" : o_fb(&fbs[i], &m);
        agree("lv_framebuffers", lv_framebuffers(frobj.ptr, 0, mobj.ptr), want);
    }

    for (unsigned i = 0; nfb <= MAXFB && i < nfb; i++)
        free(fbobj[i].base);
    free(fbarr.base);
    free(frobj.base);
    free(kobj.base);
    for (uint64_t i = 0; eobj && i < given; i++)
        free(eobj[i].base);
    free(eobj);
    free(arr.base);
    free(mobj.base);
    free(m.e);
    free(m.bad);
    return 0;
}
