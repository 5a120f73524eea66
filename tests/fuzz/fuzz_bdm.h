// fuzz_bdm.h: make a mutated .bdm file's integrity checks pass, so the fuzzer reaches the code behind them.
//
// A model file ends its content with a SHA-256 and may carry an Ed25519 signature over it (io/modelfile.h); a
// random mutation almost never keeps either valid, and the fuzzer would spend its time on the hash check. Like
// fuzzing PNG with fixed-up CRCs, the harnesses run each input twice: as is (the checks themselves are fuzzed),
// and "fixed up": the stored hash recomputed over the content the header points at and, when a signature
// block follows, the block re-signed with the fixed fuzzing key (seed 0x00..0x1f; make-seeds.sh signs with it).
#ifndef BL_FUZZ_BDM_H
#define BL_FUZZ_BDM_H

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t fz_bdm_pk[32], fz_bdm_sk[64]; // the fuzzing key pair (fz_bdm_init)

static void fz_bdm_init(void) {
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    if (sodium_init() < 0 || crypto_sign_seed_keypair(fz_bdm_pk, fz_bdm_sk, seed)) abort();
}

static uint64_t fz_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

// A malloc'd copy of data with the hash (and signature) fixed up, or NULL when the header's content_len does
// not leave room for them (then there is nothing to fix).
static uint8_t *fz_bdm_fixup(const uint8_t *data, size_t len) {
    if (len < 64 + 32) return NULL;
    uint64_t content_len = fz_le64(data + 48);
    if (content_len < 64 || content_len > len - 32) return NULL;
    uint8_t *b = malloc(len);
    if (!b) abort();
    memcpy(b, data, len);
    uint8_t *hash = b + content_len;
    crypto_hash_sha256(hash, b, content_len);
    size_t blk = (size_t)content_len + 32;
    if ((b[12] & 1) && len - blk >= 112) { // SIGNED flag and room for an Ed25519 block
        uint8_t msg[17 + 32 + 48];
        memcpy(b + blk + 16, fz_bdm_pk, 32);
        memcpy(msg, "BDMSIG-ed25519-v1", 17);
        memcpy(msg + 17, hash, 32);
        memcpy(msg + 49, b + blk, 48);
        crypto_sign_detached(b + blk + 48, NULL, msg, sizeof msg, fz_bdm_sk);
    }
    return b;
}

#endif
