// modelfile.h: the backdoorlab model file (.bdm): a network description string, a provenance text blob and a
// table of named float32 tensors, protected by a SHA-256 of the content.
//
// The model's identity is the SHA-256 of the content region. Loading checks every size and offset against the
// file length, then the hash, then the tensor table, and only then decodes weights; a truncated, corrupt or
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
//   Hash          32 bytes at content_len: SHA-256 (libsodium crypto_hash_sha256) of bytes [0, content_len)
//   Signature     only when BDM_FLAG_SIGNED is set, at content_len + 32 to the end of the file. Reserved for a
//                 later version; not written by this code. Outside the hashed content, so appending it does
//                 not change the model's identity, while the SIGNED flag is inside it, so cutting the block
//                 off is detected. Layout:
//     0   8  magic        "BDMSIG\0\0"
//     8   4  block_len    bytes of the whole block including this 16-byte head, 16..BDM_MAX_SIG_BLOCK
//     12  4  alg          1 = Ed25519
//     16  ..  body        for Ed25519: public key (32) then signature (64) over the 32-byte content hash
//   When BDM_FLAG_SIGNED is clear the file ends right after the hash; trailing bytes are refused.
//   This version checks the signature block's framing but does NOT verify the signature.
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
#define BDM_MAX_PROV_LEN (1u << 16)            // 64 KiB of provenance text
#define BDM_MAX_TENSORS 4096
#define BDM_MAX_SIG_BLOCK 4096

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
    size_t sig_offset;       // file offset of the signature block (0 when unsigned); framing checked only,
                             // the signature itself is NOT verified by this version
    size_t sig_len;          // signature block bytes (0 when unsigned)
} BdmModel;

// Write a model atomically: the file is built in memory, written to a temp file in the same folder, then
// renamed over `path`, so `path` never holds a half-written model. `provenance` may be NULL (= none). Refuses
// (BL_ERR_USAGE) bad arguments: names, shapes, caps, unknown flags, or BDM_FLAG_SIGNED (signing is not
// implemented yet); refuses (BL_ERR_RUN) non-finite weights and I/O failures. When sha256_hex_out is not NULL
// it receives the content hash in hex.
Status bdm_write(const char *path, uint32_t flags, const char *desc, const char *provenance,
                 const BdmTensor *tensors, int ntensors, char sha256_hex_out[65] /* may be NULL */);

// Read and fully validate a model file. All-or-nothing: on error *out is left empty (zeroed) and the message
// names the file and the problem. Open/read failures return BL_ERR_RUN; bad content returns BL_ERR_DATA.
Status bdm_read(const char *path, BdmModel *out);

// Same as bdm_read over bytes in memory; name_for_errors (may be NULL) prefixes error messages.
Status bdm_read_mem(const uint8_t *buf, size_t len, const char *name_for_errors, BdmModel *out);

// Release everything a successful read allocated and zero *m. Safe on a zeroed model and when called twice.
void bdm_free(BdmModel *m);

// The tensor named `name`, or NULL.
const BdmTensor *bdm_find(const BdmModel *m, const char *name);

#endif
