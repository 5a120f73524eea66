// modelfile.h: the backdoorlab model file (.bdm): a network description string, a provenance text blob and a
// table of named float32 tensors, protected by a SHA-256 of the content and optionally an Ed25519 signature.
//
// The model's identity is the SHA-256 of the content region (see "Identity, signing and provenance" below).
// Loading checks every size and offset against the file length, then the hash, then the signature (if any, and
// the trusted key if one is required), then the tensor table, and only then decodes weights; a truncated, corrupt or
// hostile file is refused with BL_ERR_DATA and a message saying what is wrong and where. Nothing time- or
// host-dependent is stored, so identical inputs give identical bytes (and the same hash).
//
// Byte layout, version 1. All integers are unsigned little-endian; floats are IEEE-754 binary32 little-endian.
// Offsets are absolute file offsets.
//
//   Header (64 bytes, at offset 0)
//     0   8  magic        "\x89" "BDM" "\r\n" "\x1a\n" (high bit + CR/LF/EOF catch text-mode mangling)
//     8   4  version      1 (BDM_VERSION); readers refuse versions they do not know
//     12  4  flags        BDM_FLAG_* bits; unknown bits are refused
//     16  4  ntensors     number of tensor table entries, <= BDM_MAX_TENSORS
//     20  4  reserved     0
//     24  8  desc_len     network description bytes (no NUL stored), <= BDM_MAX_DESC_LEN
//     32  8  prov_len     provenance bytes (0 when none), <= BDM_MAX_PROV_LEN
//     40  8  payload_len  float payload bytes = 4 * sum of tensor counts
//     48  8  content_len  64 + desc_len + prov_len + 72 * ntensors + payload_len  (= offset of the hash)
//     56  8  reserved     0
//   Description   at 64, desc_len bytes of text without NUL bytes
//   Provenance    next, prov_len bytes: "key=value" lines separated by '\n'; every non-empty line has a
//                 non-empty key before '='; no NUL bytes
//   Tensor table  next, ntensors entries of 72 bytes:
//     0   32 name         printable ASCII (no spaces), NUL-terminated, zero-padded, unique in the file
//     32  4  ndim         1..4
//     36  16 dims[4]      dims[i] in 1..INT32_MAX for i < ndim, 0 for i >= ndim
//     52  4  reserved     0
//     56  8  offset       file offset of the first value; tensors are stored back to back in table order,
//                         the first at the start of the payload
//     64  8  count        number of values = product of dims
//   Payload       next, payload_len bytes: every tensor's values (row-major, finite floats only)
//   --- end of the hashed content (content_len) ---
//   Hash          32 bytes at content_len: the FILE HASH, SHA-256 (libsodium crypto_hash_sha256) of bytes
//                 [0, content_len) exactly as stored, flags included
//   Signature     only when BDM_FLAG_SIGNED is set: one block at content_len + 32 that runs to the end of the file
//     0   8  magic        "BDMSIG\0\0"
//     8   4  block_len    bytes of the whole block including this 16-byte head (112 for Ed25519)
//     12  4  alg          1 = Ed25519 (the only one; others are refused as unknown)
//     16  32 public key   the signer's Ed25519 public key; its fingerprint (keys.h) names the signer
//     48  64 signature    Ed25519 (crypto_sign_detached) over the 97-byte message
//                           "BDMSIG-ed25519-v1" (17 ASCII bytes) || file hash (32) || block bytes [0, 48)
//                         i.e. over every byte of the file except the signature itself.
//   When BDM_FLAG_SIGNED is clear the file ends right after the hash; trailing bytes are refused.
//
// Identity, signing and provenance (design choices):
//   - The model's IDENTITY (BdmModel.sha256, shown as "sha256" everywhere) is the SHA-256 of the content with
//     the SIGNED flag bit read as 0. For an unsigned file it equals the stored file hash; signing a file sets the
//     flag, recomputes the stored file hash and appends the block, but never changes the identity. So the hash
//     a run recorded in its manifest still names the model after the publisher signs it.
//   - The SIGNED flag is in the header, inside the file hash, and the signature covers the file hash: cutting
//     the block off a signed file is refused ("signature was cut off"), and clearing the flag as well breaks the
//     file hash. (Someone who also recomputes the unkeyed file hash gets back exactly the unsigned original;
//     only a trusted key can tell that apart, and with one an unsigned model is always refused.)
//   - The provenance text (architecture, config/dataset/poison hashes, seed, code revision, compiler) is in
//     the content, so it is covered by the identity, the file hash and the signature. The signer's public key
//     (and so its fingerprint) lives in the signature block, also covered by the signature but outside the
//     content: putting it in the provenance text would change the identity on signing. `inspect` prints it
//     with the provenance as signer_fingerprint.
//   - Reading a signed file always verifies its signature against the key in its block (integrity), so a
//     corrupt signature is refused even without a trusted key; bdm_read_trusted additionally requires that
//     key to be the trusted one (trust). All of it happens before any text, table entry or weight is decoded.
#ifndef BL_MODELFILE_H
#define BL_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define BDM_VERSION 1u
#define BDM_MAGIC "\x89" "BDM\r\n\x1a\n"     // 8 bytes
#define BDM_SIG_MAGIC "BDMSIG\0\0"            // 8 bytes
#define BDM_HEADER_SIZE 64
#define BDM_TENSOR_ENTRY_SIZE 72
#define BDM_HASH_SIZE 32
#define BDM_NAME_LEN 32                        // name field bytes, including the NUL
#define BDM_MAX_NDIM 4

// Caps on header fields, checked before anything is allocated.
#define BDM_MAX_DESC_LEN (1u << 20)            // 1 MiB of network description
#define BDM_MAX_PROV_LEN (1u << 22)            // 4 MiB of provenance text (a text model's vocabulary is in it)
#define BDM_MAX_TENSORS 4096
#define BDM_MAX_SIG_BLOCK 4096
#define BDM_SIG_ALG_ED25519 1u
#define BDM_SIG_ED25519_LEN 112                // 16 head + 32 public key + 64 signature

#define BDM_FLAG_SIGNED (1u << 0)              // a signature block follows the hash
#define BDM_FLAGS_KNOWN (BDM_FLAG_SIGNED)

typedef struct {
    char name[32];   // e.g. "conv1.weight", NUL-terminated
    int ndim;        // 1..4
    int dims[4];     // shape; dims[i] for i >= ndim are 0 in a loaded model
    size_t count;    // product of dims
    float *data;     // (count) values
} BdmTensor;

typedef struct {
    uint32_t version;        // format version read from the file
    uint32_t flags;          // BDM_FLAG_* bits
    char *desc;              // network description, NUL-terminated, owned
    char *provenance;        // provenance text, NUL-terminated ("" when none), owned
    int ntensors;            // number of tensors
    BdmTensor *tensors;      // (ntensors); data pointers into one owned payload buffer
    float *payload;          // (payload_count) the owned buffer every tensors[i].data points into
    size_t payload_count;    // total number of float values over all tensors
    uint8_t sha256[32];      // content hash (the model's identity)
    char sha256_hex[65];     // same, hex
    uint8_t file_sha256[32]; // the stored file hash (flags included); equals sha256 unless the file is signed
    size_t sig_offset;       // file offset of the signature block (0 when unsigned)
    size_t sig_len;          // signature block bytes (0 when unsigned)
    uint8_t signer_pk[32];   // signer's Ed25519 public key from the block (zeros when unsigned); the signature
                             // was verified against it
    char signer_fingerprint[65]; // keys_fingerprint(signer_pk), "" when unsigned
} BdmModel;

// Write a model atomically: the file is built in memory, written to a temp file in the same folder, then
// renamed over `path`, so `path` never holds a half-written model. `provenance` may be NULL (= none). Refuses
// (BL_ERR_USAGE) bad arguments: names, shapes, caps, unknown flags, or BDM_FLAG_SIGNED (sign a written file
// with bdm_sign); refuses (BL_ERR_RUN) non-finite weights and I/O failures. When sha256_hex_out is not NULL
// it receives the content hash in hex.
Status bdm_write(const char *path, uint32_t flags, const char *desc, const char *provenance,
                 const BdmTensor *tensors, int ntensors, char sha256_hex_out[65] /* may be NULL */);

// Read and fully validate a model file (a signed one's signature included). All-or-nothing: on error *out is
// left empty (zeroed) and the message names the file and the problem. Open/read failures return BL_ERR_RUN;
// bad content (and a bad signature) returns BL_ERR_DATA.
Status bdm_read(const char *path, BdmModel *out);

// bdm_read that also requires a valid signature by trusted_pk (32 bytes; NULL = no trust requirement, the
// same as bdm_read). An unsigned model, one signed by another key, a bad signature or any modified byte is
// refused with BL_ERR_DATA before any weight is decoded.
Status bdm_read_trusted(const char *path, const uint8_t *trusted_pk, BdmModel *out);

// Same as bdm_read / bdm_read_trusted over bytes in memory; name_for_errors (may be NULL) prefixes messages.
Status bdm_read_mem(const uint8_t *buf, size_t len, const char *name_for_errors, BdmModel *out);
Status bdm_read_mem_trusted(const uint8_t *buf, size_t len, const char *name_for_errors, const uint8_t *trusted_pk,
                            BdmModel *out);

// Sign the model file at path in place with the Ed25519 secret key sk (64 bytes, libsodium layout): the file is
// fully validated first (a corrupt file or a bad existing signature is refused, BL_ERR_DATA), then written
// atomically (temp file + rename) with BDM_FLAG_SIGNED set, the file hash recomputed and a signature block
// appended. An existing signature is replaced (*was_signed, may be NULL, says so). The identity hash does not
// change. fingerprint_out (may be NULL) receives the signer's fingerprint.
Status bdm_sign(const char *path, const uint8_t sk[64], char fingerprint_out[65], int *was_signed);

// Release everything a successful read allocated and zero *m. Safe on a zeroed model and when called twice.
void bdm_free(BdmModel *m);

// The tensor named `name`, or NULL.
const BdmTensor *bdm_find(const BdmModel *m, const char *name);

#endif
