// test_modelfile.c: .bdm round trip, determinism, pinned byte layout, refusal of truncated, corrupt and
// hostile files, and signatures: signing in place, trusted keys, and exhaustive tampering of a signed file.
// Hostile files are crafted by patching header/table fields AND recomputing the content hash, so the size checks
// themselves (not just the hash) are exercised.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "core/rng.h"
#include "io/keys.h"
#include "io/modelfile.h"

#define GOLDEN_SIGNED_TINY "8ad5817c3a6295d661f0edeb9b807c65e66d66769ccbe073038a97c4357454d3"

static char g_dir[64];         // mkdtemp folder for this run
static uint8_t *g_file;        // (g_len) bytes of the reference model written by make_reference
static size_t g_len;

// ---- helpers ----

static void path_in_dir(char *out, size_t n, const char *leaf) { snprintf(out, n, "%s/%s", g_dir, leaf); }

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    assert_int_equal(got, (size_t)n);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static int count_dir_entries(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// Recompute the hash of an unsigned file whose hash is its last 32 bytes.
static void rehash(uint8_t *buf, size_t len) { crypto_hash_sha256(buf + len - 32, buf, len - 32); }

static int model_is_empty(const BdmModel *m) {
    return m->desc == NULL && m->provenance == NULL && m->tensors == NULL && m->payload == NULL &&
           m->ntensors == 0 && m->sha256_hex[0] == '\0';
}

// Read buf (copied into an exact-size allocation so ASan sees any over-read) and expect a BL_ERR_DATA refusal
// whose message contains `expect` (may be NULL) and the file name, with *out left empty.
static void expect_refused_at(const uint8_t *buf, size_t len, const char *expect, int line) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, buf, len);
    BdmModel m;
    memset(&m, 0xAB, sizeof m); // garbage in: the reader must clear it
    Status st = bdm_read_mem(copy, len, "crafted.bdm", &m);
    free(copy);
    if (st != BL_ERR_DATA || (expect && !strstr(bl_errmsg(), expect)) || !strstr(bl_errmsg(), "crafted.bdm"))
        fail_msg("line %d: status %d, message \"%s\", expected BL_ERR_DATA with \"%s\"", line, (int)st, bl_errmsg(),
                 expect ? expect : "");
    assert_true(model_is_empty(&m));
}
#define expect_refused(buf, len, expect) expect_refused_at(buf, len, expect, __LINE__)

static void expect_ok(const uint8_t *buf, size_t len, BdmModel *m) {
    Status st = bdm_read_mem(buf, len, "ok.bdm", m);
    if (st != BL_OK) fail_msg("expected BL_OK, got %d: %s", (int)st, bl_errmsg());
}

// The reference model: three tensors covering awkward float values, a description and provenance.
static float g_w1[18], g_b1[2], g_fc[12];
static const char *g_desc = "[net]\ninput=1x4x4\n[conv]\nfilters=2\nsize=3\n[fc]\nout=3\n";
static const char *g_prov = "seed=42\ndataset_sha256=abc123\nattack=badnets\n";

static void fill_tensors(BdmTensor t[3]) {
    Rng r = rng_stream(7, "test");
    for (int i = 0; i < 18; i++) g_w1[i] = rng_normal(&r);
    g_w1[0] = -0.0f;
    g_w1[1] = FLT_MIN / 4; // subnormal
    g_w1[2] = FLT_MAX;
    g_w1[3] = -FLT_MAX;
    g_b1[0] = 1.0f, g_b1[1] = -2.5f;
    for (int i = 0; i < 12; i++) g_fc[i] = (float)i * 0.125f - 0.7f;
    memset(t, 0, 3 * sizeof *t);
    strcpy(t[0].name, "conv1.weight");
    t[0].ndim = 4, t[0].dims[0] = 2, t[0].dims[1] = 1, t[0].dims[2] = 3, t[0].dims[3] = 3;
    t[0].count = 18, t[0].data = g_w1;
    strcpy(t[1].name, "conv1.bias");
    t[1].ndim = 1, t[1].dims[0] = 2, t[1].count = 2, t[1].data = g_b1;
    strcpy(t[2].name, "fc.weight");
    t[2].ndim = 2, t[2].dims[0] = 3, t[2].dims[1] = 4, t[2].count = 12, t[2].data = g_fc;
}

// Offsets inside the reference file.
static size_t table_off(void) { return 64 + strlen(g_desc) + strlen(g_prov); }
static size_t entry_off(int i) { return table_off() + 72 * (size_t)i; }
static size_t payload_off(void) { return table_off() + 3 * 72; }
static size_t content_len(void) { return g_len - 32; }

// A fresh writable copy of the reference file.
static uint8_t *ref_copy(void) {
    uint8_t *b = malloc(g_len);
    memcpy(b, g_file, g_len);
    return b;
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0) return -1;
    strcpy(g_dir, "/tmp/bl_test_modelfile_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    BdmTensor t[3];
    fill_tensors(t);
    char path[128];
    path_in_dir(path, sizeof path, "ref.bdm");
    if (bdm_write(path, 0, g_desc, g_prov, t, 3, NULL) != BL_OK) return -1;
    g_file = slurp(path, &g_len);
    unlink(path);
    return g_file ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(g_dir);
    free(g_file);
    return 0;
}

// ---- tests ----

static void test_round_trip(void **state) {
    (void)state;
    BdmTensor t[3];
    fill_tensors(t);
    char pa[128], pb[128], hex_a[65], hex_b[65];
    path_in_dir(pa, sizeof pa, "a.bdm");
    path_in_dir(pb, sizeof pb, "b.bdm");
    assert_int_equal(bdm_write(pa, 0, g_desc, g_prov, t, 3, hex_a), BL_OK);
    assert_int_equal(bdm_write(pb, 0, g_desc, g_prov, t, 3, hex_b), BL_OK);
    assert_int_equal(count_dir_entries(), 2); // no temp files left behind

    // Identical inputs give identical bytes and the same hash.
    size_t la, lb;
    uint8_t *a = slurp(pa, &la), *b = slurp(pb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(la, g_len);
    assert_memory_equal(a, g_file, la);
    assert_string_equal(hex_a, hex_b);

    // The hash is SHA-256 of everything before the last 32 bytes.
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, a, la - 32);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    assert_string_equal(hex, hex_a);

    BdmModel m;
    assert_int_equal(bdm_read(pa, &m), BL_OK);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.flags, 0);
    assert_string_equal(m.desc, g_desc);
    assert_string_equal(m.provenance, g_prov);
    assert_string_equal(m.sha256_hex, hex_a);
    assert_memory_equal(m.sha256, h, 32);
    assert_int_equal(m.sig_len, 0);
    assert_int_equal(m.ntensors, 3);
    assert_int_equal(m.payload_count, 32);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(m.tensors[i].name, t[i].name);
        assert_int_equal(m.tensors[i].ndim, t[i].ndim);
        for (int d = 0; d < 4; d++) assert_int_equal(m.tensors[i].dims[d], d < t[i].ndim ? t[i].dims[d] : 0);
        assert_int_equal(m.tensors[i].count, t[i].count);
        assert_memory_equal(m.tensors[i].data, t[i].data, t[i].count * sizeof(float)); // bit-identical
        assert_true(m.tensors[i].data >= m.payload && m.tensors[i].data + m.tensors[i].count <=
                    m.payload + m.payload_count);
    }
    assert_ptr_equal(bdm_find(&m, "fc.weight"), &m.tensors[2]);
    assert_null(bdm_find(&m, "nope"));
    bdm_free(&m);
    assert_true(model_is_empty(&m));
    bdm_free(&m); // twice is safe

    // Overwriting replaces atomically; a one-bit change in a weight changes the hash.
    g_fc[5] = nextafterf(g_fc[5], 1.0f);
    assert_int_equal(bdm_write(pa, 0, g_desc, g_prov, t, 3, hex_b), BL_OK);
    assert_string_not_equal(hex_a, hex_b);
    assert_int_equal(count_dir_entries(), 2);
    free(a);
    free(b);
    unlink(pa);
    unlink(pb);
}

// Pins the documented byte layout and the hash of a tiny fixed model, so an accidental format change fails.
static void test_layout_golden(void **state) {
    (void)state;
    float v[2] = {1.0f, -2.5f};
    BdmTensor t = {.name = "w", .ndim = 1, .dims = {2}, .count = 2, .data = v};
    char p[128], hex[65];
    path_in_dir(p, sizeof p, "tiny.bdm");
    assert_int_equal(bdm_write(p, 0, "x", "seed=1\n", &t, 1, hex), BL_OK);
    size_t n;
    uint8_t *b = slurp(p, &n);
    unlink(p);
    assert_int_equal(n, 64 + 1 + 7 + 72 + 8 + 32);
    static const uint8_t head[64] = {
        0x89, 'B', 'D', 'M', '\r', '\n', 0x1a, '\n', 1, 0, 0, 0, 0, 0, 0, 0, // magic, version, flags
        1, 0, 0, 0, 0, 0, 0, 0,                                            // ntensors, reserved
        1, 0, 0, 0, 0, 0, 0, 0,                                            // desc_len
        7, 0, 0, 0, 0, 0, 0, 0,                                            // prov_len
        8, 0, 0, 0, 0, 0, 0, 0,                                            // payload_len
        152, 0, 0, 0, 0, 0, 0, 0,                                          // content_len
        0, 0, 0, 0, 0, 0, 0, 0};                                           // reserved
    assert_memory_equal(b, head, 64);
    assert_memory_equal(b + 64, "xseed=1\n", 8);
    const uint8_t *e = b + 72;
    assert_memory_equal(e, "w\0\0\0", 4);
    assert_int_equal(e[32], 1);        // ndim
    assert_int_equal(e[36], 2);        // dims[0]
    assert_int_equal(get64(e + 56), 144); // offset of the payload
    assert_int_equal(get64(e + 64), 2);   // count
    static const uint8_t payload[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0}; // 1.0f, -2.5f LE
    assert_memory_equal(b + 144, payload, 8);
    // Golden hash of this exact file (cross-checked with an independent Python encoder of the documented
    // layout); update only with a deliberate format change and a version bump.
    assert_string_equal(hex, "4fae3644f83035184f07d45651a1d97145fb0e0db1e931877ac8f49b64a4e9c4");
    free(b);
}

static void test_empty_model(void **state) {
    (void)state;
    char p[128], hex[65];
    path_in_dir(p, sizeof p, "empty.bdm");
    assert_int_equal(bdm_write(p, 0, "", NULL, NULL, 0, hex), BL_OK);
    BdmModel m;
    assert_int_equal(bdm_read(p, &m), BL_OK);
    assert_int_equal(m.ntensors, 0);
    assert_string_equal(m.desc, "");
    assert_string_equal(m.provenance, "");
    assert_string_equal(m.sha256_hex, hex);
    bdm_free(&m);
    unlink(p);
}

static void test_truncation_every_length(void **state) {
    (void)state;
    for (size_t n = 0; n < g_len; n++) expect_refused(g_file, n, "truncated");
    // The same through the file reader, at a few lengths.
    size_t lens[] = {0, 1, 63, 64, g_len / 2, g_len - 33, g_len - 1};
    char p[128];
    path_in_dir(p, sizeof p, "trunc.bdm");
    for (size_t i = 0; i < BL_ARRAY_LEN(lens); i++) {
        spit(p, g_file, lens[i]);
        BdmModel m;
        assert_int_equal(bdm_read(p, &m), BL_ERR_DATA);
        assert_non_null(strstr(bl_errmsg(), "truncated"));
        assert_non_null(strstr(bl_errmsg(), p));
        assert_true(model_is_empty(&m));
    }
    unlink(p);
}

static void test_bit_flip_every_position(void **state) {
    (void)state;
    uint8_t *b = ref_copy();
    for (size_t i = 0; i < g_len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            expect_refused(b, g_len, NULL);
            b[i] ^= (uint8_t)(1u << bit);
        }
    // A corrupted weight without a matching hash is reported as a hash mismatch.
    b[payload_off() + 5] ^= 0x10;
    expect_refused(b, g_len, "hash mismatch");
    free(b);
}

// Patch one field of a copy of the reference file, recompute the hash, expect a refusal with `expect`.
static void patched32_at(size_t off, uint32_t v, const char *expect, int line) {
    uint8_t *b = ref_copy();
    put32(b + off, v);
    rehash(b, g_len);
    expect_refused_at(b, g_len, expect, line);
    free(b);
}
static void patched64_at(size_t off, uint64_t v, const char *expect, int line) {
    uint8_t *b = ref_copy();
    put64(b + off, v);
    rehash(b, g_len);
    expect_refused_at(b, g_len, expect, line);
    free(b);
}
#define patched32(off, v, expect) patched32_at(off, v, expect, __LINE__)
#define patched64(off, v, expect) patched64_at(off, v, expect, __LINE__)

static void test_hostile_header(void **state) {
    (void)state;
    patched64(24, UINT64_MAX, "description length 18446744073709551615 exceeds the cap");
    patched64(24, BDM_MAX_DESC_LEN, "truncated: description needs 1048576 bytes at offset 64");
    patched64(32, UINT64_MAX, "provenance length");
    patched64(32, BDM_MAX_PROV_LEN, "truncated: provenance needs");
    patched32(16, UINT32_MAX, "tensor count 4294967295 exceeds the cap");
    patched32(16, 4000, "truncated: tensor table needs 288000 bytes");
    patched64(40, UINT64_MAX - 3, "truncated: payload needs");
    patched64(40, 6, "not a multiple of 4");
    patched64(48, content_len() + 4, "content length");
    patched64(48, UINT64_MAX, "content length");
    patched32(20, 1, "reserved");
    patched64(56, 1, "reserved");
    patched32(12, 1u << 5, "unknown flag bits 0x20");
    patched32(12, BDM_FLAG_SIGNED, "signature was cut off");
    patched32(8, 2, "version 2 is newer");
    patched32(8, UINT32_MAX, "newer");
    patched32(8, 0, "invalid format version 0");

    uint8_t *b = ref_copy();
    memcpy(b, "PK\x03\x04", 4);
    expect_refused(b, g_len, "not a backdoorlab model file");
    free(b);
    expect_refused((const uint8_t *)"hello", 5, "truncated: header");
}

static void test_hostile_table(void **state) {
    (void)state;
    size_t e0 = entry_off(0), e1 = entry_off(1);
    patched32(e0 + 32, 0, "ndim 0");
    patched32(e0 + 32, 9, "ndim 9");
    patched32(e0 + 32, 5, "ndim 5");
    patched32(e0 + 36, 0, "dimension 0 is 0");
    patched32(e0 + 36, 0x80000000u, "must be 1..2147483647");
    patched32(e0 + 52, 1, "reserved field");
    patched32(e1 + 40, 7, "unused dimension 1 is 7");        // conv1.bias is 1-D
    patched64(e0 + 56, UINT64_MAX, "lies outside the payload");
    patched64(e0 + 56, content_len() - 8, "lies outside the payload");
    patched64(e0 + 56, 3, "lies outside the payload");
    patched64(e0 + 56, payload_off() + 4, "back to back");
    patched64(e0 + 64, 17, "count 17 does not match");
    patched64(e0 + 64, UINT64_MAX, "does not match");

    // Dims whose product overflows 64 bits (65536^4 = 2^64): refused before any multiplication wraps.
    uint8_t *b = ref_copy();
    for (int d = 0; d < 4; d++) put32(b + e0 + 36 + 4 * d, 65536);
    rehash(b, g_len);
    expect_refused(b, g_len, "needs more values than the payload holds");
    // Max dims on every axis.
    for (int d = 0; d < 4; d++) put32(b + e0 + 36 + 4 * d, INT32_MAX);
    rehash(b, g_len);
    expect_refused(b, g_len, "needs more values than the payload holds");
    free(b);

    // Names: not terminated, empty, non-printable, dirty padding, duplicate.
    b = ref_copy();
    memset(b + e0, 'A', 32);
    rehash(b, g_len);
    expect_refused(b, g_len, "not NUL-terminated");
    memset(b + e0, 0, 32);
    rehash(b, g_len);
    expect_refused(b, g_len, "is empty");
    memcpy(b + e0, "conv 1", 6);
    rehash(b, g_len);
    expect_refused(b, g_len, "printable");
    memcpy(b, g_file, g_len);
    b[e0 + 31] = 'z';
    rehash(b, g_len);
    expect_refused(b, g_len, "padding");
    memcpy(b, g_file, g_len);
    memcpy(b + e1, b + e0, 32);
    rehash(b, g_len);
    expect_refused(b, g_len, "appears twice");
    free(b);

    // Extra payload bytes that no tensor covers (sizes consistent, hash recomputed).
    size_t n = g_len + 4;
    b = calloc(1, n);
    memcpy(b, g_file, content_len());
    put64(b + 40, get64(g_file + 40) + 4);
    put64(b + 48, content_len() + 4);
    rehash(b, n);
    expect_refused(b, n, "tensors cover");
    free(b);
}

static void test_hostile_content(void **state) {
    (void)state;
    uint8_t *b = ref_copy();
    b[64 + 3] = 0;
    rehash(b, g_len);
    expect_refused(b, g_len, "description contains a NUL byte at position 3");
    memcpy(b, g_file, g_len);
    memcpy(b + 64 + strlen(g_desc), "=eed", 4); // "=eed=42": empty key
    rehash(b, g_len);
    expect_refused(b, g_len, "provenance line 1 is not a key=value line");
    memcpy(b, g_file, g_len);
    memcpy(b + 64 + strlen(g_desc) + 4, "x", 1); // "seedx42": no '='
    rehash(b, g_len);
    expect_refused(b, g_len, "provenance line 1 is not a key=value line");

    // Non-finite weights.
    float nan = NAN, inf = INFINITY;
    memcpy(b, g_file, g_len);
    memcpy(b + payload_off() + 4 * 20, &nan, 4); // fc.weight[0] (little-endian host assumed by this test)
    rehash(b, g_len);
    expect_refused(b, g_len, "tensor 'fc.weight' value 0 is not finite");
    memcpy(b, g_file, g_len);
    memcpy(b + payload_off(), &inf, 4);
    rehash(b, g_len);
    expect_refused(b, g_len, "not finite");
    free(b);

    // Bytes appended after the hash of an unsigned file.
    b = calloc(1, g_len + 1);
    memcpy(b, g_file, g_len);
    expect_refused(b, g_len + 1, "1 unexpected bytes after the hash");
    free(b);
}

// ---- signatures ----

// Two fixed key pairs (Ed25519 is deterministic, so signed files are reproducible).
static void test_keypair(int which, uint8_t pk[32], uint8_t sk[64]) {
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(which * 100 + i);
    crypto_sign_seed_keypair(pk, sk, seed);
}

// Sign a copy of buf through a file with bdm_sign; returns the signed bytes (*out_len).
static uint8_t *sign_bytes(const uint8_t *buf, size_t len, const uint8_t sk[64], size_t *out_len) {
    char p[128];
    path_in_dir(p, sizeof p, "to-sign.bdm");
    spit(p, buf, len);
    Status st = bdm_sign(p, sk, NULL, NULL);
    if (st != BL_OK) fail_msg("bdm_sign: %s", bl_errmsg());
    uint8_t *out = slurp(p, out_len);
    unlink(p);
    return out;
}

// Expect bdm_read_mem_trusted to refuse buf with BL_ERR_DATA and a message containing `expect`.
static void expect_untrusted_at(const uint8_t *buf, size_t len, const uint8_t *pk, const char *expect, int line) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, buf, len);
    BdmModel m;
    memset(&m, 0xAB, sizeof m);
    Status st = bdm_read_mem_trusted(copy, len, "crafted.bdm", pk, &m);
    free(copy);
    if (st != BL_ERR_DATA || (expect && !strstr(bl_errmsg(), expect)) || !strstr(bl_errmsg(), "crafted.bdm"))
        fail_msg("line %d: status %d, message \"%s\", expected BL_ERR_DATA with \"%s\"", line, (int)st, bl_errmsg(),
                 expect ? expect : "");
    assert_true(model_is_empty(&m));
}
#define expect_untrusted(buf, len, pk, expect) expect_untrusted_at(buf, len, pk, expect, __LINE__)

// A small signed model of realistic shape (conv + dense, provenance like the pipeline writes), <= 8 KB.
static uint8_t *small_signed_model(const uint8_t sk[64], size_t *len) {
    static float w[36], bias[4], fc[1200], fcb[10];
    Rng r = rng_stream(3, "test");
    for (size_t i = 0; i < BL_ARRAY_LEN(w); i++) w[i] = rng_normal(&r);
    for (size_t i = 0; i < BL_ARRAY_LEN(fc); i++) fc[i] = 0.1f * rng_normal(&r);
    for (int i = 0; i < 4; i++) bias[i] = 0.01f * (float)i;
    for (int i = 0; i < 10; i++) fcb[i] = -0.02f * (float)i;
    BdmTensor t[4] = {{.name = "l0.weight", .ndim = 4, .dims = {4, 1, 3, 3}, .count = 36, .data = w},
                      {.name = "l0.bias", .ndim = 1, .dims = {4}, .count = 4, .data = bias},
                      {.name = "l3.weight", .ndim = 2, .dims = {10, 120}, .count = 1200, .data = fc},
                      {.name = "l3.bias", .ndim = 1, .dims = {10}, .count = 10, .data = fcb}};
    const char *prov = "role=backdoor\ninput=1x6x6\nclasses=10\nseed=42\nconfig_sha256=0123456789abcdef0123456789abcdef"
                       "0123456789abcdef0123456789abcdef\ndataset_sha256=fedcba9876543210fedcba9876543210fedcba98"
                       "76543210fedcba9876543210\npoison_sha256=00112233445566778899aabbccddeeff00112233445566778899"
                       "aabbccddeeff\ncode_revision=0123456789ab\ncompiler=gcc 12.2.0\n";
    char p[128];
    path_in_dir(p, sizeof p, "small.bdm");
    assert_int_equal(bdm_write(p, 0, "conv 4 3, relu, flatten, dense 10", prov, t, 4, NULL), BL_OK);
    size_t n;
    uint8_t *plain = slurp(p, &n);
    unlink(p);
    uint8_t *signed_buf = sign_bytes(plain, n, sk, len);
    free(plain);
    return signed_buf;
}

// Signing in place: identity unchanged, file hash and flag changed, signer recorded; trusted-key checks.
static void test_sign_and_trust(void **state) {
    (void)state;
    uint8_t pka[32], ska[64], pkb[32], skb[64];
    test_keypair(1, pka, ska);
    test_keypair(2, pkb, skb);
    char p[128], fp[65], fpa[65], fpb[65];
    keys_fingerprint(pka, fpa);
    keys_fingerprint(pkb, fpb);
    path_in_dir(p, sizeof p, "signed.bdm");
    spit(p, g_file, g_len);
    BdmModel u, s;
    assert_int_equal(bdm_read(p, &u), BL_OK);
    assert_int_equal(u.flags, 0);
    assert_string_equal(u.signer_fingerprint, "");
    assert_memory_equal(u.sha256, u.file_sha256, 32);

    int was = -1;
    assert_int_equal(chmod(p, 0600), 0);
    assert_int_equal(bdm_sign(p, ska, fp, &was), BL_OK);
    assert_string_equal(fp, fpa);
    assert_int_equal(was, 0);
    assert_int_equal(count_dir_entries(), 1); // signed in place, no temp file left
    struct stat sb; // and the file keeps its mode (a private model stays private)
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    size_t n;
    uint8_t *b = slurp(p, &n);
    assert_int_equal(n, g_len + BDM_SIG_ED25519_LEN);
    assert_memory_equal(b + 16, g_file + 16, content_len() - 16); // only the flags word of the content changes
    assert_int_equal(b[12], BDM_FLAG_SIGNED);

    assert_int_equal(bdm_read(p, &s), BL_OK); // no trusted key: still verifies the signature itself
    assert_int_equal(s.flags, BDM_FLAG_SIGNED);
    assert_string_equal(s.sha256_hex, u.sha256_hex); // identity unchanged by signing
    assert_memory_not_equal(s.file_sha256, u.file_sha256, 32);
    assert_string_equal(s.signer_fingerprint, fpa);
    assert_memory_equal(s.signer_pk, pka, 32);
    assert_int_equal(s.sig_offset, g_len);
    assert_int_equal(s.sig_len, BDM_SIG_ED25519_LEN);
    assert_memory_equal(s.payload, u.payload, u.payload_count * sizeof(float));
    bdm_free(&s);
    assert_int_equal(bdm_read_trusted(p, pka, &s), BL_OK);
    bdm_free(&s);

    // Wrong key.
    assert_int_equal(bdm_read_trusted(p, pkb, &s), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "UNTRUSTED key"));
    assert_true(model_is_empty(&s));
    // Missing signature: the unsigned original under a trusted key.
    expect_untrusted(g_file, g_len, pka, "NOT SIGNED");

    // Re-signing with another key replaces the signature; identity still the same.
    assert_int_equal(bdm_sign(p, skb, fp, &was), BL_OK);
    assert_int_equal(was, 1);
    assert_string_equal(fp, fpb);
    assert_int_equal(bdm_read_trusted(p, pkb, &s), BL_OK);
    assert_string_equal(s.sha256_hex, u.sha256_hex);
    bdm_free(&s);
    assert_int_equal(bdm_read_trusted(p, pka, &s), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "UNTRUSTED"));

    // Signing refuses a corrupt file and leaves it untouched.
    b[100] ^= 0x5a;
    spit(p, b, n);
    assert_int_equal(bdm_sign(p, ska, NULL, NULL), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "refusing to sign"));
    size_t n2;
    uint8_t *b2 = slurp(p, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(b2, b, n);
    unlink(p);
    assert_int_equal(bdm_sign(p, ska, NULL, NULL), BL_ERR_RUN); // missing file
    assert_non_null(strstr(bl_errmsg(), "No such file"));
    free(b);
    free(b2);
    bdm_free(&u);
}

// Exhaustive: every single-byte change of a small signed model is refused, with and without a trusted key.
static void test_signed_flip_every_byte(void **state) {
    (void)state;
    uint8_t pk[32], sk[64];
    test_keypair(1, pk, sk);
    size_t n;
    uint8_t *b = small_signed_model(sk, &n);
    // The file is 5859 bytes (64 header + 33 description + 330 provenance + 4 x 72 table + 1250 x 4 payload +
    // 32 hash + 112 signature block), so this checks 5859 flipped files, each twice (trusted key, no key).
    assert_int_equal(n, 5859);
    assert_true(n <= 8192);
    BdmModel m;
    expect_ok(b, n, &m); // the intact file is accepted
    bdm_free(&m);
    assert_int_equal(bdm_read_mem_trusted(b, n, "ok.bdm", pk, &m), BL_OK);
    bdm_free(&m);
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x5a;
        expect_untrusted(b, n, pk, NULL);
        expect_refused(b, n, NULL);
        b[i] ^= 0x5a;
        refused++;
    }
    assert_int_equal(refused, 5859);
    // The messages name the kind of damage.
    b[200] ^= 0x5a; // provenance text
    expect_untrusted(b, n, pk, "content hash mismatch");
    b[200] ^= 0x5a;
    b[n - 1] ^= 0x5a; // last byte of the signature
    expect_untrusted(b, n, pk, "BAD SIGNATURE");
    b[n - 1] ^= 0x5a;
    b[n - 112 + 20] ^= 0x5a; // inside the signer's public key
    expect_untrusted(b, n, pk, "BAD SIGNATURE");
    free(b);
}

static void test_signed_truncation_every_length(void **state) {
    (void)state;
    uint8_t pk[32], sk[64];
    test_keypair(1, pk, sk);
    size_t n;
    uint8_t *b = small_signed_model(sk, &n);
    for (size_t len = 0; len < n; len++) {
        expect_untrusted(b, len, pk, NULL);
        expect_refused(b, len, NULL);
    }
    // Cut exactly at the end of the hash: the header still says signed.
    expect_untrusted(b, n - BDM_SIG_ED25519_LEN, pk, "signature was cut off");
    free(b);
}

// Stripping, transplanting and forging signatures.
static void test_signature_attacks(void **state) {
    (void)state;
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    test_keypair(1, pk, sk);
    test_keypair(2, pk2, sk2);
    size_t n;
    uint8_t *b = sign_bytes(g_file, g_len, sk, &n);
    assert_int_equal(n, g_len + 112);

    // Cut the block off: refused. Also clear the flag: the file hash no longer matches.
    expect_refused(b, g_len, "signature was cut off");
    b[12] = 0;
    expect_refused(b, g_len, "content hash mismatch");
    // Also recompute the (unkeyed) file hash: that is exactly the unsigned original, which only a trusted key
    // refuses.
    rehash(b, g_len);
    assert_memory_equal(b, g_file, g_len);
    expect_untrusted(b, g_len, pk, "NOT SIGNED");
    free(b);

    // Signature of a different file: edit a weight of the signed model (new file hash) and keep the old block.
    b = sign_bytes(g_file, g_len, sk, &n);
    b[payload_off() + 9] ^= 0x01;
    rehash(b, g_len);
    expect_untrusted(b, n, pk, "BAD SIGNATURE");
    expect_refused(b, n, "BAD SIGNATURE");
    // ... or transplant a valid block from another signed model onto this one.
    uint8_t *other;
    size_t on;
    other = small_signed_model(sk, &on);
    memcpy(b, g_file, g_len);
    b[12] = BDM_FLAG_SIGNED;
    rehash(b, g_len);
    memcpy(b + g_len, other + on - 112, 112);
    expect_untrusted(b, n, pk, "BAD SIGNATURE");
    free(other);

    // An attacker's weights signed with the attacker's own key: valid signature, untrusted signer.
    free(b);
    b = sign_bytes(g_file, g_len, sk2, &n);
    BdmModel m;
    expect_ok(b, n, &m);
    bdm_free(&m);
    expect_untrusted(b, n, pk, "UNTRUSTED key");
    // Swapping the public key in the block for the trusted one breaks the signature.
    memcpy(b + g_len + 16, pk, 32);
    expect_untrusted(b, n, pk, "BAD SIGNATURE");
    free(b);

    // Framing of the block.
    b = sign_bytes(g_file, g_len, sk, &n);
    uint8_t *s = b + g_len;
    expect_refused(b, g_len + 10, "truncated: signature block head");
    expect_refused(b, n - 1, "signature block says 112 bytes but 111");
    put32(s + 8, 1u << 30);
    expect_refused(b, n, "signature block length");
    put32(s + 8, 112);
    put32(s + 12, 2);
    expect_refused(b, n, "unknown signature algorithm 2");
    put32(s + 12, 1);
    s[0] = 'X';
    expect_refused(b, n, "bad signature block magic");
    s[0] = 'B';
    uint8_t *longer = calloc(1, n + 16);
    memcpy(longer, b, n);
    put32(longer + g_len + 8, 128);
    expect_refused(longer, n + 16, "Ed25519 signature block is 128 bytes, must be 112");
    free(longer);
    free(b);
}

// A signed file whose header claims terabytes: refused by the size checks before anything is allocated (an
// allocation of that size would abort under ASan), with and without a trusted key, from memory and from disk.
static void test_signed_oversize_header(void **state) {
    (void)state;
    uint8_t pk[32], sk[64];
    test_keypair(1, pk, sk);
    size_t n;
    uint8_t *b = sign_bytes(g_file, g_len, sk, &n);
    const uint64_t tb4 = 1ull << 42; // 4 TiB
    struct { size_t off; const char *expect; } cases[] = {
        {40, "truncated: payload needs 4398046511104 bytes"},
        {48, "content length 4398046511104 disagrees"},
        {24, "description length 4398046511104 exceeds the cap"},
        {32, "provenance length 4398046511104 exceeds the cap"},
    };
    char p[128];
    path_in_dir(p, sizeof p, "huge.bdm");
    for (size_t i = 0; i < BL_ARRAY_LEN(cases); i++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        put64(c + cases[i].off, tb4);
        crypto_hash_sha256(c + g_len - 32, c, g_len - 32); // even with a consistent file hash
        expect_untrusted(c, n, pk, cases[i].expect);
        expect_refused(c, n, cases[i].expect);
        spit(p, c, n);
        BdmModel m;
        assert_int_equal(bdm_read_trusted(p, pk, &m), BL_ERR_DATA);
        assert_non_null(strstr(bl_errmsg(), cases[i].expect));
        assert_true(model_is_empty(&m));
        free(c);
    }
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put32(c + 16, UINT32_MAX); // ntensors
    expect_untrusted(c, n, pk, "tensor count 4294967295 exceeds the cap");
    free(c);
    unlink(p);
    free(b);
}

// Pins the signed layout: the tiny golden file signed with the seed 0, 1, ..., 31. The expected file hash was
// computed by an independent Python encoder (hashlib + the `cryptography` package's Ed25519) following the
// layout documented in modelfile.h.
static void test_signed_layout_golden(void **state) {
    (void)state;
    float v[2] = {1.0f, -2.5f};
    BdmTensor t = {.name = "w", .ndim = 1, .dims = {2}, .count = 2, .data = v};
    char p[128], hex[65];
    path_in_dir(p, sizeof p, "tiny.bdm");
    assert_int_equal(bdm_write(p, 0, "x", "seed=1\n", &t, 1, hex), BL_OK);
    uint8_t seed[32], pk[32], sk[64];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    crypto_sign_seed_keypair(pk, sk, seed);
    assert_int_equal(bdm_sign(p, sk, NULL, NULL), BL_OK);
    size_t n;
    uint8_t *b = slurp(p, &n);
    unlink(p);
    assert_int_equal(n, 184 + 112);
    assert_int_equal(b[12], 1);                                   // flags: signed
    assert_memory_equal(b + 184, "BDMSIG\0\0\x70\0\0\0\x01\0\0\0", 16); // magic, block_len 112, alg 1
    assert_memory_equal(b + 200, pk, 32);
    BdmModel m;
    assert_int_equal(bdm_read_mem_trusted(b, n, "tiny.bdm", pk, &m), BL_OK);
    assert_string_equal(m.sha256_hex, "4fae3644f83035184f07d45651a1d97145fb0e0db1e931877ac8f49b64a4e9c4");
    bdm_free(&m);
    char whole[65];
    uint8_t h[32];
    crypto_hash_sha256(h, b, n);
    sodium_bin2hex(whole, sizeof whole, h, 32);
    assert_string_equal(whole, GOLDEN_SIGNED_TINY);
    free(b);
}

// Random mutations of header and table bytes with the hash recomputed: every outcome is a clean refusal or a
// model whose tensors lie inside its payload; nothing crashes (run under ASan+UBSan).
static void test_random_mutations(void **state) {
    (void)state;
    Rng r = rng_stream(1, "test");
    size_t region = payload_off(); // header + text + table
    uint8_t *b = malloc(g_len);
    int accepted = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(b, g_file, g_len);
        int k = 1 + (int)rng_below(&r, 4);
        for (int j = 0; j < k; j++) {
            size_t pos = (size_t)rng_below(&r, region);
            if (it % 2) b[pos] = (uint8_t)rng_u64(&r);             // random byte
            else b[pos] ^= (uint8_t)(1u << rng_below(&r, 8));     // single bit
        }
        rehash(b, g_len);
        BdmModel m;
        Status st = bdm_read_mem(b, g_len, "fuzz.bdm", &m);
        assert_true(st == BL_OK || st == BL_ERR_DATA);
        if (st == BL_OK) {
            accepted++;
            for (int i = 0; i < m.ntensors; i++)
                assert_true(m.tensors[i].data + m.tensors[i].count <= m.payload + m.payload_count);
            bdm_free(&m);
        } else {
            assert_true(model_is_empty(&m));
            assert_true(bl_errmsg()[0] != '\0');
        }
    }
    assert_true(accepted < 3000); // most mutations must be caught
    free(b);
}

static void test_missing_and_odd_files(void **state) {
    (void)state;
    char p[128];
    path_in_dir(p, sizeof p, "does-not-exist.bdm");
    BdmModel m;
    Status st = bdm_read(p, &m);
    assert_true(st == BL_ERR_RUN || st == BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), p));
    assert_non_null(strstr(bl_errmsg(), "No such file"));
    assert_true(model_is_empty(&m));
    st = bdm_read(g_dir, &m); // a directory
    assert_true(st == BL_ERR_RUN || st == BL_ERR_DATA);
    assert_true(model_is_empty(&m));
    path_in_dir(p, sizeof p, "zero.bdm");
    spit(p, (const uint8_t *)"", 0);
    assert_int_equal(bdm_read(p, &m), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "truncated: header needs 64 bytes at offset 0 but file has 0"));
    unlink(p);
}

static void test_write_refuses_bad_input(void **state) {
    (void)state;
    BdmTensor t[3];
    fill_tensors(t);
    char p[128];
    path_in_dir(p, sizeof p, "bad.bdm");
    int before = count_dir_entries();

    assert_int_equal(bdm_write(p, BDM_FLAG_SIGNED, g_desc, g_prov, t, 3, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "sign it with bdm_sign"));
    assert_int_equal(bdm_write(p, 1u << 7, g_desc, g_prov, t, 3, NULL), BL_ERR_USAGE);
    assert_int_equal(bdm_write(p, 0, NULL, g_prov, t, 3, NULL), BL_ERR_USAGE);
    assert_int_equal(bdm_write(p, 0, g_desc, "no equals sign", t, 3, NULL), BL_ERR_USAGE);
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, t, -1, NULL), BL_ERR_USAGE);
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, t, BDM_MAX_TENSORS + 1, NULL), BL_ERR_USAGE);

    BdmTensor bad[3];
    memcpy(bad, t, sizeof bad);
    memset(bad[0].name, 'a', 32); // not terminated
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "not NUL-terminated"));
    memcpy(bad, t, sizeof bad);
    strcpy(bad[2].name, "conv1.bias");
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "used twice"));
    memcpy(bad, t, sizeof bad);
    bad[1].ndim = 0;
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, NULL), BL_ERR_USAGE);
    memcpy(bad, t, sizeof bad);
    bad[1].count = 3;
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, NULL), BL_ERR_USAGE);
    memcpy(bad, t, sizeof bad);
    bad[0].dims[2] = 0;
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, NULL), BL_ERR_USAGE);

    float nanv[2] = {0.5f, NAN};
    memcpy(bad, t, sizeof bad);
    bad[1].data = nanv;
    char hex[65] = "x";
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, bad, 3, hex), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "NaN"));
    assert_string_equal(hex, "");
    assert_int_equal(count_dir_entries(), before); // nothing written for any refusal

    // I/O failure: the folder does not exist.
    path_in_dir(p, sizeof p, "no/such/dir/m.bdm");
    assert_int_equal(bdm_write(p, 0, g_desc, g_prov, t, 3, NULL), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "cannot create temp file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout_golden),
        cmocka_unit_test(test_empty_model),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_bit_flip_every_position),
        cmocka_unit_test(test_hostile_header),
        cmocka_unit_test(test_hostile_table),
        cmocka_unit_test(test_hostile_content),
        cmocka_unit_test(test_sign_and_trust),
        cmocka_unit_test(test_signed_flip_every_byte),
        cmocka_unit_test(test_signed_truncation_every_length),
        cmocka_unit_test(test_signature_attacks),
        cmocka_unit_test(test_signed_oversize_header),
        cmocka_unit_test(test_signed_layout_golden),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_missing_and_odd_files),
        cmocka_unit_test(test_write_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
