// modelfile.c: write and read .bdm model files (layout documented in modelfile.h).
// Encoding is explicit little-endian byte by byte (never fwrite of a struct), so files are identical across
// compilers and hosts. The reader validates in this order, each step only trusting what the previous one
// checked: header fields against caps -> every section against the file length -> file hash -> signature
// and trusted key -> text and tensor table -> payload values. Nothing is allocated until all sizes are known to
// fit in the file, and nothing from the content is interpreted before the hash and signature checks pass.
#include "io/modelfile.h"
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "io/keys.h"

// ---- little-endian encoding ----

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_f32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}

static float get_f32(const uint8_t *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- checks shared by the writer and the reader ----

// Why a tensor name of n bytes (no NUL) is unacceptable, or NULL when it is fine.
static const char *name_problem(const char *s, size_t n) {
    if (n == 0) return "is empty";
    if (n >= BDM_NAME_LEN) return "is not NUL-terminated within 32 bytes";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e) return "has a byte that is not printable ASCII (or is a space)";
    }
    return NULL;
}

// Check a text section: no NUL bytes; for provenance, every non-empty line is key=value with a non-empty key.
// On a problem, writes a description into why and returns 0.
static int text_ok(const char *s, size_t n, int is_provenance, char *why, size_t why_len) {
    size_t line_start = 0;
    int line_no = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '\0') {
            snprintf(why, why_len, "contains a NUL byte at position %zu", i);
            return 0;
        }
        if (!is_provenance || (i < n && s[i] != '\n')) continue;
        size_t line_len = i - line_start;
        if (line_len > 0) {
            const char *eq = memchr(s + line_start, '=', line_len);
            if (!eq || eq == s + line_start) {
                snprintf(why, why_len, "line %d is not a key=value line", line_no);
                return 0;
            }
        }
        line_start = i + 1;
        line_no++;
    }
    return 1;
}

// ---- writer ----

// Write buf to a fresh temp file next to path, then rename it over path (io/atomic.h; keeps the mode of a
// replaced model).
static Status write_atomic(const char *path, const uint8_t *buf, size_t len) {
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    return atomic_commit(&af, fwrite(buf, 1, len, af.f) == len);
}

// Validate the writer's arguments; on success *n_values is the total number of floats.
static Status check_write_args(const char *path, uint32_t flags, const char *desc, const char *prov,
                               const BdmTensor *tensors, int ntensors, size_t *n_values) {
    char why[128];
    if (!path || !path[0]) return bl_fail(BL_ERR_USAGE, "bdm_write: empty output path");
    if (flags & ~BDM_FLAGS_KNOWN)
        return bl_fail(BL_ERR_USAGE, "%s: unknown flag bits 0x%x", path, (unsigned)(flags & ~BDM_FLAGS_KNOWN));
    if (flags & BDM_FLAG_SIGNED)
        return bl_fail(BL_ERR_USAGE, "%s: BDM_FLAG_SIGNED cannot be written directly; write the model unsigned, "
                       "then sign it with bdm_sign (backdoorlab sign)", path);
    if (!desc) return bl_fail(BL_ERR_USAGE, "%s: no network description given", path);
    size_t desc_len = strlen(desc), prov_len = strlen(prov);
    if (desc_len > BDM_MAX_DESC_LEN)
        return bl_fail(BL_ERR_USAGE, "%s: network description is %zu bytes, cap is %u", path, desc_len,
                       BDM_MAX_DESC_LEN);
    if (prov_len > BDM_MAX_PROV_LEN)
        return bl_fail(BL_ERR_USAGE, "%s: provenance is %zu bytes, cap is %u", path, prov_len, BDM_MAX_PROV_LEN);
    if (!text_ok(prov, prov_len, 1, why, sizeof why))
        return bl_fail(BL_ERR_USAGE, "%s: provenance %s (expected key=value lines)", path, why);
    if (ntensors < 0 || ntensors > BDM_MAX_TENSORS)
        return bl_fail(BL_ERR_USAGE, "%s: %d tensors, must be 0..%d", path, ntensors, BDM_MAX_TENSORS);
    if (ntensors > 0 && !tensors) return bl_fail(BL_ERR_USAGE, "%s: tensors is NULL", path);

    size_t total = 0;
    for (int i = 0; i < ntensors; i++) {
        const BdmTensor *t = &tensors[i];
        size_t nlen = strnlen(t->name, BDM_NAME_LEN);
        const char *np = name_problem(t->name, nlen);
        if (np) return bl_fail(BL_ERR_USAGE, "%s: tensor %d name %s", path, i, np);
        for (int j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return bl_fail(BL_ERR_USAGE, "%s: tensor name '%s' used twice (tensors %d and %d)", path, t->name,
                               j, i);
        if (t->ndim < 1 || t->ndim > BDM_MAX_NDIM)
            return bl_fail(BL_ERR_USAGE, "%s: tensor '%s' has ndim %d, must be 1..4", path, t->name, t->ndim);
        size_t prod = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] < 1)
                return bl_fail(BL_ERR_USAGE, "%s: tensor '%s' dimension %d is %d, must be >= 1", path, t->name, d,
                               t->dims[d]);
            if (prod > SIZE_MAX / 4 / (size_t)t->dims[d])
                return bl_fail(BL_ERR_USAGE, "%s: tensor '%s' is too large", path, t->name);
            prod *= (size_t)t->dims[d];
        }
        if (t->count != prod)
            return bl_fail(BL_ERR_USAGE, "%s: tensor '%s' count %zu does not match its shape (%zu values)", path,
                           t->name, t->count, prod);
        if (!t->data) return bl_fail(BL_ERR_USAGE, "%s: tensor '%s' has no data", path, t->name);
        if (total > SIZE_MAX / 4 - prod) return bl_fail(BL_ERR_USAGE, "%s: model is too large", path);
        total += prod;
        for (size_t k = 0; k < prod; k++)
            if (!isfinite(t->data[k]))
                return bl_fail(BL_ERR_RUN, "%s: tensor '%s' value %zu is %s; refusing to save a diverged model",
                               path, t->name, k, isnan(t->data[k]) ? "NaN" : "infinite");
    }
    *n_values = total;
    return BL_OK;
}

Status bdm_write(const char *path, uint32_t flags, const char *desc, const char *provenance,
                 const BdmTensor *tensors, int ntensors, char sha256_hex_out[65]) {
    if (sha256_hex_out) sha256_hex_out[0] = '\0';
    const char *prov = provenance ? provenance : "";
    size_t n_values = 0;
    Status st = check_write_args(path, flags, desc, prov, tensors, ntensors, &n_values);
    if (st != BL_OK) return st;
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "%s: libsodium failed to initialise", path);

    size_t desc_len = strlen(desc), prov_len = strlen(prov);
    size_t table_off = BDM_HEADER_SIZE + desc_len + prov_len; // small: both lengths are capped
    size_t payload_off = table_off + (size_t)ntensors * BDM_TENSOR_ENTRY_SIZE;
    size_t payload_len = n_values * 4;                         // checked against SIZE_MAX / 4 above
    if (payload_len > SIZE_MAX - payload_off - BDM_HASH_SIZE)
        return bl_fail(BL_ERR_USAGE, "%s: model is too large", path);
    size_t content_len = payload_off + payload_len;
    size_t file_len = content_len + BDM_HASH_SIZE;
    uint8_t *buf = calloc(1, file_len); // zeroed: padding and reserved fields are 0
    if (!buf) return bl_fail(BL_ERR_RUN, "%s: out of memory building a %zu-byte model file", path, file_len);

    memcpy(buf, BDM_MAGIC, 8);
    put_u32(buf + 8, BDM_VERSION);
    put_u32(buf + 12, flags);
    put_u32(buf + 16, (uint32_t)ntensors);
    put_u64(buf + 24, desc_len);
    put_u64(buf + 32, prov_len);
    put_u64(buf + 40, payload_len);
    put_u64(buf + 48, content_len);
    memcpy(buf + BDM_HEADER_SIZE, desc, desc_len);
    memcpy(buf + BDM_HEADER_SIZE + desc_len, prov, prov_len);
    size_t data_off = payload_off;
    for (int i = 0; i < ntensors; i++) {
        const BdmTensor *t = &tensors[i];
        uint8_t *e = buf + table_off + (size_t)i * BDM_TENSOR_ENTRY_SIZE;
        memcpy(e, t->name, strlen(t->name)); // checked < 32 bytes; rest stays zero
        put_u32(e + 32, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) put_u32(e + 36 + 4 * d, (uint32_t)t->dims[d]);
        put_u64(e + 56, data_off);
        put_u64(e + 64, t->count);
        for (size_t k = 0; k < t->count; k++) put_f32(buf + data_off + 4 * k, t->data[k]);
        data_off += 4 * t->count;
    }
    crypto_hash_sha256(buf + content_len, buf, content_len);
    st = write_atomic(path, buf, file_len);
    if (st == BL_OK && sha256_hex_out) sodium_bin2hex(sha256_hex_out, 65, buf + content_len, BDM_HASH_SIZE);
    free(buf);
    return st;
}

// ---- reader ----

// Refuse unless `need` bytes at offset `off` fit in a file of `len` bytes (off <= len is given).
static Status need_bytes(const char *name, const char *what, uint64_t need, uint64_t off, size_t len) {
    if (need > (uint64_t)len - off)
        return bl_fail(BL_ERR_DATA, "%s: truncated: %s needs %llu bytes at offset %llu but file has %zu", name, what,
                       (unsigned long long)need, (unsigned long long)off, len);
    return BL_OK;
}

// Check one tensor table entry against the payload [payload_off, content_len); expected_off is where this
// tensor must start (tensors are back to back). On success fills t (without data) and *data_off.
static Status check_entry(const char *name, const uint8_t *e, int i, uint64_t payload_off, uint64_t content_len,
                          uint64_t expected_off, BdmTensor *t, uint64_t *data_off) {
    size_t nlen = strnlen((const char *)e, BDM_NAME_LEN);
    const char *np = name_problem((const char *)e, nlen);
    if (np) return bl_fail(BL_ERR_DATA, "%s: tensor %d name %s", name, i, np);
    for (size_t k = nlen; k < BDM_NAME_LEN; k++)
        if (e[k] != 0) return bl_fail(BL_ERR_DATA, "%s: tensor %d name has non-zero padding", name, i);
    memcpy(t->name, e, nlen + 1);

    uint32_t ndim = get_u32(e + 32);
    if (ndim < 1 || ndim > BDM_MAX_NDIM)
        return bl_fail(BL_ERR_DATA, "%s: tensor '%s' has ndim %u, must be 1..4", name, t->name, ndim);
    if (get_u32(e + 52) != 0) return bl_fail(BL_ERR_DATA, "%s: tensor '%s' reserved field is not 0", name, t->name);
    uint64_t max_values = (content_len - payload_off) / 4, prod = 1;
    for (uint32_t d = 0; d < BDM_MAX_NDIM; d++) {
        uint32_t v = get_u32(e + 36 + 4 * d);
        if (d >= ndim) {
            if (v != 0)
                return bl_fail(BL_ERR_DATA, "%s: tensor '%s' unused dimension %u is %u, must be 0", name, t->name,
                               d, v);
            continue;
        }
        if (v < 1 || v > INT32_MAX)
            return bl_fail(BL_ERR_DATA, "%s: tensor '%s' dimension %u is %u, must be 1..%d", name, t->name, d, v,
                           INT32_MAX);
        if (prod > max_values / v) // also rules out overflow of the product
            return bl_fail(BL_ERR_DATA, "%s: tensor '%s' shape (dimension %u = %u) needs more values than the "
                           "payload holds (%llu)", name, t->name, d, v, (unsigned long long)max_values);
        prod *= v;
        t->dims[d] = (int)v;
    }
    t->ndim = (int)ndim;
    uint64_t off = get_u64(e + 56), count = get_u64(e + 64);
    if (count != prod)
        return bl_fail(BL_ERR_DATA, "%s: tensor '%s' count %llu does not match its shape (%llu values)", name,
                       t->name, (unsigned long long)count, (unsigned long long)prod);
    if (off < payload_off || off > content_len || count * 4 > content_len - off)
        return bl_fail(BL_ERR_DATA, "%s: tensor '%s' data (%llu bytes at offset %llu) lies outside the payload "
                       "[%llu, %llu)", name, t->name, (unsigned long long)(count * 4), (unsigned long long)off,
                       (unsigned long long)payload_off, (unsigned long long)content_len);
    if (off != expected_off)
        return bl_fail(BL_ERR_DATA, "%s: tensor '%s' data at offset %llu, expected %llu (tensors must be stored "
                       "back to back in table order)", name, t->name, (unsigned long long)off,
                       (unsigned long long)expected_off);
    t->count = (size_t)count;
    *data_off = off;
    return BL_OK;
}

// Check the bytes after the hash: nothing when unsigned, exactly one framed signature block when signed.
static Status check_trailer(const char *name, const uint8_t *buf, size_t len, uint64_t at, uint32_t flags,
                            BdmModel *out) {
    size_t rest = len - (size_t)at;
    if (!(flags & BDM_FLAG_SIGNED)) {
        if (rest)
            return bl_fail(BL_ERR_DATA, "%s: %zu unexpected bytes after the hash at offset %llu (file should end "
                           "there; appended data or a signature without BDM_FLAG_SIGNED)", name, rest,
                           (unsigned long long)at);
        return BL_OK;
    }
    if (rest == 0)
        return bl_fail(BL_ERR_DATA, "%s: flags say signed but no signature block follows the hash at offset %llu "
                       "(the signature was cut off)", name, (unsigned long long)at);
    Status st = need_bytes(name, "signature block head", 16, at, len);
    if (st != BL_OK) return st;
    const uint8_t *s = buf + at;
    if (memcmp(s, BDM_SIG_MAGIC, 8) != 0)
        return bl_fail(BL_ERR_DATA, "%s: bad signature block magic at offset %llu", name, (unsigned long long)at);
    uint32_t block_len = get_u32(s + 8);
    if (block_len < 16 || block_len > BDM_MAX_SIG_BLOCK)
        return bl_fail(BL_ERR_DATA, "%s: signature block length %u must be 16..%d", name, block_len,
                       BDM_MAX_SIG_BLOCK);
    if (block_len != rest)
        return bl_fail(BL_ERR_DATA, "%s: signature block says %u bytes but %zu bytes follow the hash", name,
                       block_len, rest);
    uint32_t alg = get_u32(s + 12);
    if (alg != BDM_SIG_ALG_ED25519)
        return bl_fail(BL_ERR_DATA, "%s: unknown signature algorithm %u (written by a newer backdoorlab?)", name,
                       alg);
    if (block_len != BDM_SIG_ED25519_LEN)
        return bl_fail(BL_ERR_DATA, "%s: Ed25519 signature block is %u bytes, must be %d", name, block_len,
                       BDM_SIG_ED25519_LEN);
    out->sig_offset = (size_t)at;
    out->sig_len = rest;
    return BL_OK;
}

// ---- signatures ----

#define SIG_CONTEXT "BDMSIG-ed25519-v1"     // 17 bytes, domain separation for the signed message
#define SIG_CONTEXT_LEN 17
#define SIG_MSG_LEN (SIG_CONTEXT_LEN + BDM_HASH_SIZE + 48)

// The message an Ed25519 block signs: context || file hash || block bytes [0, 48) (head and public key).
static void sig_message(uint8_t msg[SIG_MSG_LEN], const uint8_t file_hash[BDM_HASH_SIZE], const uint8_t *block) {
    memcpy(msg, SIG_CONTEXT, SIG_CONTEXT_LEN);
    memcpy(msg + SIG_CONTEXT_LEN, file_hash, BDM_HASH_SIZE);
    memcpy(msg + SIG_CONTEXT_LEN + BDM_HASH_SIZE, block, 48);
}

// The identity: SHA-256 of content [0, content_len) with the SIGNED flag bit read as 0, so signing a file
// does not change it.
static void identity_hash(const uint8_t *buf, uint64_t content_len, uint8_t out[BDM_HASH_SIZE]) {
    uint8_t head[BDM_HEADER_SIZE];
    memcpy(head, buf, BDM_HEADER_SIZE);
    put_u32(head + 12, get_u32(head + 12) & ~BDM_FLAG_SIGNED);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, head, BDM_HEADER_SIZE);
    crypto_hash_sha256_update(&st, buf + BDM_HEADER_SIZE, (unsigned long long)(content_len - BDM_HEADER_SIZE));
    crypto_hash_sha256_final(&st, out);
}

// Verify a framed signature block (the file hash is already checked) and, when trusted_pk is given, that the
// signer is that key. Fills out->signer_*.
static Status check_signature(const char *name, const uint8_t *buf, const BdmModel *framed,
                              const uint8_t file_hash[BDM_HASH_SIZE], const uint8_t *trusted_pk, BdmModel *out) {
    char want_fp[65];
    if (trusted_pk) keys_fingerprint(trusted_pk, want_fp);
    if (!framed->sig_len) {
        if (!trusted_pk) return BL_OK;
        return bl_fail(BL_ERR_DATA, "%s: the model is NOT SIGNED, but a trusted key (fingerprint %.16s...) is "
                       "required: refusing to use it. Get a copy signed by the publisher, or sign it yourself with "
                       "`backdoorlab sign` if you vouch for it", name, want_fp);
    }
    const uint8_t *block = buf + framed->sig_offset;
    uint8_t msg[SIG_MSG_LEN];
    sig_message(msg, file_hash, block);
    if (crypto_sign_verify_detached(block + 48, msg, SIG_MSG_LEN, block + 16) != 0)
        return bl_fail(BL_ERR_DATA, "%s: BAD SIGNATURE: the signature block does not verify (the file was "
                       "modified after signing, or the signature is forged or corrupt); do not use this model",
                       name);
    memcpy(out->signer_pk, block + 16, KEYS_PUBLIC_BYTES);
    keys_fingerprint(out->signer_pk, out->signer_fingerprint);
    if (trusted_pk && sodium_memcmp(out->signer_pk, trusted_pk, KEYS_PUBLIC_BYTES) != 0)
        return bl_fail(BL_ERR_DATA, "%s: signed by an UNTRUSTED key (fingerprint %.16s...), not by the trusted key "
                       "(fingerprint %.16s...): refusing to use it", name, out->signer_fingerprint, want_fp);
    return BL_OK;
}

// Everything bdm_read_mem does after clearing *out; may leave partial allocations in *out for the caller to
// free on error.
static Status read_mem(const uint8_t *buf, size_t len, const char *name, const uint8_t *trusted_pk,
                       BdmModel *out) {
    char why[128];
    Status st = need_bytes(name, "header", BDM_HEADER_SIZE, 0, len);
    if (st != BL_OK) return st;
    if (memcmp(buf, BDM_MAGIC, 8) != 0)
        return bl_fail(BL_ERR_DATA, "%s: not a backdoorlab model file (wrong magic bytes at offset 0; expected a "
                       ".bdm written by bdm_write)", name);
    uint32_t version = get_u32(buf + 8), flags = get_u32(buf + 12), ntensors = get_u32(buf + 16);
    if (version > BDM_VERSION)
        return bl_fail(BL_ERR_DATA, "%s: format version %u is newer than this build reads (%u); upgrade "
                       "backdoorlab", name, version, BDM_VERSION);
    if (version != BDM_VERSION) return bl_fail(BL_ERR_DATA, "%s: invalid format version %u", name, version);
    if (flags & ~BDM_FLAGS_KNOWN)
        return bl_fail(BL_ERR_DATA, "%s: unknown flag bits 0x%x (written by a newer backdoorlab?)", name,
                       (unsigned)(flags & ~BDM_FLAGS_KNOWN));
    if (get_u32(buf + 20) != 0 || get_u64(buf + 56) != 0)
        return bl_fail(BL_ERR_DATA, "%s: reserved header fields (offsets 20, 56) must be 0", name);
    uint64_t desc_len = get_u64(buf + 24), prov_len = get_u64(buf + 32);
    uint64_t payload_len = get_u64(buf + 40), content_len = get_u64(buf + 48);
    if (desc_len > BDM_MAX_DESC_LEN)
        return bl_fail(BL_ERR_DATA, "%s: description length %llu exceeds the cap of %u bytes", name,
                       (unsigned long long)desc_len, BDM_MAX_DESC_LEN);
    if (prov_len > BDM_MAX_PROV_LEN)
        return bl_fail(BL_ERR_DATA, "%s: provenance length %llu exceeds the cap of %u bytes", name,
                       (unsigned long long)prov_len, BDM_MAX_PROV_LEN);
    if (ntensors > BDM_MAX_TENSORS)
        return bl_fail(BL_ERR_DATA, "%s: tensor count %u exceeds the cap of %d", name, ntensors, BDM_MAX_TENSORS);
    if (payload_len % 4 != 0)
        return bl_fail(BL_ERR_DATA, "%s: payload length %llu is not a multiple of 4", name,
                       (unsigned long long)payload_len);

    // Every section must fit in the file; the offsets stay <= len, so the sums below cannot overflow.
    uint64_t desc_off = BDM_HEADER_SIZE;
    if ((st = need_bytes(name, "description", desc_len, desc_off, len)) != BL_OK) return st;
    uint64_t prov_off = desc_off + desc_len;
    if ((st = need_bytes(name, "provenance", prov_len, prov_off, len)) != BL_OK) return st;
    uint64_t table_off = prov_off + prov_len, table_len = (uint64_t)ntensors * BDM_TENSOR_ENTRY_SIZE;
    if ((st = need_bytes(name, "tensor table", table_len, table_off, len)) != BL_OK) return st;
    uint64_t payload_off = table_off + table_len;
    if ((st = need_bytes(name, "payload", payload_len, payload_off, len)) != BL_OK) return st;
    uint64_t end = payload_off + payload_len;
    if (content_len != end)
        return bl_fail(BL_ERR_DATA, "%s: header content length %llu disagrees with the section sizes (%llu)", name,
                       (unsigned long long)content_len, (unsigned long long)end);
    if ((st = need_bytes(name, "content hash", BDM_HASH_SIZE, content_len, len)) != BL_OK) return st;
    if ((st = check_trailer(name, buf, len, content_len + BDM_HASH_SIZE, flags, out)) != BL_OK) return st;

    // The hash, before any content is interpreted.
    uint8_t h[BDM_HASH_SIZE];
    crypto_hash_sha256(h, buf, (unsigned long long)content_len);
    if (memcmp(h, buf + content_len, BDM_HASH_SIZE) != 0) {
        char want[65], got[65];
        sodium_bin2hex(want, sizeof want, buf + content_len, BDM_HASH_SIZE);
        sodium_bin2hex(got, sizeof got, h, BDM_HASH_SIZE);
        return bl_fail(BL_ERR_DATA, "%s: content hash mismatch (stored %.16s..., computed %.16s...): the file is "
                       "corrupt or was modified; re-copy or re-train it", name, want, got);
    }
    if ((st = check_signature(name, buf, out, h, trusted_pk, out)) != BL_OK) return st;
    memcpy(out->file_sha256, h, BDM_HASH_SIZE);
    if (flags & BDM_FLAG_SIGNED) identity_hash(buf, content_len, h);

    if (!text_ok((const char *)buf + desc_off, (size_t)desc_len, 0, why, sizeof why))
        return bl_fail(BL_ERR_DATA, "%s: description %s", name, why);
    if (!text_ok((const char *)buf + prov_off, (size_t)prov_len, 1, why, sizeof why))
        return bl_fail(BL_ERR_DATA, "%s: provenance %s", name, why);

    // The table, into a temporary array; offsets are relative to the payload afterwards.
    BdmTensor *ts = ntensors ? calloc(ntensors, sizeof *ts) : NULL;
    uint64_t *offs = ntensors ? calloc(ntensors, sizeof *offs) : NULL;
    if (ntensors && (!ts || !offs)) {
        free(ts), free(offs);
        return bl_fail(BL_ERR_RUN, "%s: out of memory", name);
    }
    out->tensors = ts; // owned by *out from here, so the caller's cleanup frees it
    uint64_t expected = payload_off;
    for (uint32_t i = 0; i < ntensors && st == BL_OK; i++) {
        st = check_entry(name, buf + table_off + (uint64_t)i * BDM_TENSOR_ENTRY_SIZE, (int)i, payload_off,
                         content_len, expected, &ts[i], &offs[i]);
        if (st == BL_OK) expected += 4 * (uint64_t)ts[i].count;
        for (uint32_t j = 0; j < i && st == BL_OK; j++)
            if (strcmp(ts[j].name, ts[i].name) == 0)
                st = bl_fail(BL_ERR_DATA, "%s: tensor name '%s' appears twice (entries %u and %u)", name, ts[i].name,
                             j, i);
    }
    if (st == BL_OK && expected != content_len)
        st = bl_fail(BL_ERR_DATA, "%s: tensors cover %llu payload bytes but the payload is %llu bytes", name,
                     (unsigned long long)(expected - payload_off), (unsigned long long)payload_len);

    // Sizes are all proven to fit in the file: allocate and decode.
    if (st == BL_OK) {
        out->desc = calloc(1, (size_t)desc_len + 1);
        out->provenance = calloc(1, (size_t)prov_len + 1);
        out->payload_count = (size_t)(payload_len / 4);
        out->payload = bl_alloc((size_t)payload_len);
        if (!out->desc || !out->provenance || !out->payload) st = bl_fail(BL_ERR_RUN, "%s: out of memory", name);
    }
    if (st == BL_OK) {
        memcpy(out->desc, buf + desc_off, (size_t)desc_len);
        memcpy(out->provenance, buf + prov_off, (size_t)prov_len);
        const uint8_t *p = buf + payload_off;
        for (size_t k = 0; k < out->payload_count; k++) out->payload[k] = get_f32(p + 4 * k);
        for (uint32_t i = 0; i < ntensors && st == BL_OK; i++) {
            ts[i].data = out->payload + (offs[i] - payload_off) / 4;
            for (size_t k = 0; k < ts[i].count; k++)
                if (!isfinite(ts[i].data[k])) {
                    st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' value %zu is not finite (NaN or Inf)", name,
                                 ts[i].name, k);
                    break;
                }
        }
    }
    free(offs);
    if (st != BL_OK) return st;
    out->version = version;
    out->flags = flags;
    out->ntensors = (int)ntensors;
    memcpy(out->sha256, h, BDM_HASH_SIZE);
    sodium_bin2hex(out->sha256_hex, sizeof out->sha256_hex, h, BDM_HASH_SIZE);
    return BL_OK;
}

Status bdm_read_mem_trusted(const uint8_t *buf, size_t len, const char *name_for_errors, const uint8_t *trusted_pk,
                            BdmModel *out) {
    const char *name = name_for_errors ? name_for_errors : "<memory>";
    if (!out) return bl_fail(BL_ERR_USAGE, "%s: bdm_read_mem: no output model", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return bl_fail(BL_ERR_USAGE, "%s: bdm_read_mem: NULL buffer", name);
    if (!buf) buf = (const uint8_t *)""; // len == 0: the header check refuses it
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "%s: libsodium failed to initialise", name);
    Status st = read_mem(buf, len, name, trusted_pk, out);
    if (st != BL_OK) bdm_free(out);
    return st;
}

Status bdm_read_mem(const uint8_t *buf, size_t len, const char *name_for_errors, BdmModel *out) {
    return bdm_read_mem_trusted(buf, len, name_for_errors, NULL, out);
}

// Read a whole regular file into a malloc'ed buffer (*buf, *len).
static Status slurp_file(const char *path, uint8_t **out_buf, size_t *out_len) {
    *out_buf = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return bl_fail(BL_ERR_RUN, "%s: cannot open model file: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return bl_fail(BL_ERR_RUN, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return bl_fail(BL_ERR_RUN, "%s: file too large", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return bl_fail(BL_ERR_RUN, "%s: out of memory reading %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = 0; // end of file: the file shrank while we read it
            break;
        }
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got != len) {
        free(buf);
        return bl_fail(BL_ERR_RUN, "%s: read only %zu of %zu bytes: %s", path, got, len,
                       err ? strerror(err) : "file changed while reading");
    }
    *out_buf = buf;
    *out_len = len;
    return BL_OK;
}

Status bdm_read_trusted(const char *path, const uint8_t *trusted_pk, BdmModel *out) {
    if (!out) return bl_fail(BL_ERR_USAGE, "bdm_read: no output model");
    memset(out, 0, sizeof *out);
    if (!path) return bl_fail(BL_ERR_USAGE, "bdm_read: no path");
    uint8_t *buf;
    size_t len;
    Status st = slurp_file(path, &buf, &len);
    if (st) return st;
    st = bdm_read_mem_trusted(buf, len, path, trusted_pk, out);
    free(buf);
    return st;
}

Status bdm_read(const char *path, BdmModel *out) { return bdm_read_trusted(path, NULL, out); }

Status bdm_sign(const char *path, const uint8_t sk[64], char fingerprint_out[65], int *was_signed) {
    if (fingerprint_out) fingerprint_out[0] = '\0';
    if (was_signed) *was_signed = 0;
    if (!path || !sk) return bl_fail(BL_ERR_USAGE, "bdm_sign: no model path or key");
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "%s: libsodium failed to initialise", path);
    uint8_t *buf;
    size_t len;
    Status st = slurp_file(path, &buf, &len);
    if (st) return st;
    BdmModel m, check;
    st = bdm_read_mem(buf, len, path, &m); // never sign a file that does not verify as it is
    if (st) {
        free(buf);
        return bl_fail_ctx(st, "refusing to sign");
    }
    const uint8_t *pk = sk + 32; // libsodium's secret key is seed || public key
    uint64_t content_len = get_u64(buf + 48);   // validated by the read above
    size_t new_len = (size_t)content_len + BDM_HASH_SIZE + BDM_SIG_ED25519_LEN;
    uint8_t *nb = malloc(new_len);
    if (!nb) {
        bdm_free(&m);
        free(buf);
        return bl_fail(BL_ERR_RUN, "%s: out of memory", path);
    }
    memcpy(nb, buf, (size_t)content_len);
    put_u32(nb + 12, get_u32(nb + 12) | BDM_FLAG_SIGNED);
    uint8_t *hash = nb + content_len, *block = hash + BDM_HASH_SIZE, msg[SIG_MSG_LEN];
    crypto_hash_sha256(hash, nb, (unsigned long long)content_len);
    memcpy(block, BDM_SIG_MAGIC, 8);
    put_u32(block + 8, BDM_SIG_ED25519_LEN);
    put_u32(block + 12, BDM_SIG_ALG_ED25519);
    memcpy(block + 16, pk, 32);
    sig_message(msg, hash, block);
    crypto_sign_detached(block + 48, NULL, msg, SIG_MSG_LEN, sk);

    // Self-check before replacing the file: the result must verify with this key and keep the identity. A key
    // whose public half does not match its seed fails here.
    st = bdm_read_mem_trusted(nb, new_len, path, pk, &check);
    if (!st && memcmp(check.sha256, m.sha256, BDM_HASH_SIZE) != 0)
        st = bl_fail(BL_ERR_RUN, "%s: internal error: signing changed the model identity", path);
    if (st) st = bl_fail_ctx(BL_ERR_RUN, "%s: the freshly signed file does not verify (bad secret key?)", path);
    if (!st) st = write_atomic(path, nb, new_len);
    if (!st && fingerprint_out) keys_fingerprint(pk, fingerprint_out);
    if (!st && was_signed) *was_signed = (m.flags & BDM_FLAG_SIGNED) != 0;
    bdm_free(&check);
    bdm_free(&m);
    free(nb);
    free(buf);
    return st;
}

void bdm_free(BdmModel *m) {
    if (!m) return;
    free(m->desc);
    free(m->provenance);
    free(m->tensors);
    bl_free(m->payload);
    memset(m, 0, sizeof *m);
}

const BdmTensor *bdm_find(const BdmModel *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}
