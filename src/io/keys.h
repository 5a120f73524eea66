// keys.h: Ed25519 signing keys on disk (libsodium crypto_sign_*), for signing and verifying model files.
//
// `keys_generate(BASE)` writes two one-line text files:
//   BASE.pub     "bdl-ed25519-public-v1 <64 hex digits: the 32-byte public key>\n"       mode 0644
//   BASE.secret  "bdl-ed25519-secret-v1 <64 hex digits: the 32-byte Ed25519 seed>\n"      mode 0600
// The secret file is created with open(O_CREAT | O_EXCL, 0600), so it is never readable by others, even for a
// moment, and an existing key is never overwritten. Loading a secret key refuses a file that group or others
// can read (like ssh does). Secret bytes are wiped (sodium_memzero) from every buffer this module uses, and no
// function here prints or returns them in a message.
//
// A key's fingerprint is the SHA-256 of its 32 raw public-key bytes, as 64 lowercase hex digits. It names the
// signer in `inspect` and in error messages; it is not secret.
#ifndef BL_KEYS_H
#define BL_KEYS_H

#include <stdint.h>

#include "core/core.h"

#define KEYS_PUBLIC_BYTES 32   // crypto_sign_PUBLICKEYBYTES
#define KEYS_SECRET_BYTES 64   // crypto_sign_SECRETKEYBYTES (seed followed by the public key)
#define KEYS_PUBLIC_TAG "bdl-ed25519-public-v1"
#define KEYS_SECRET_TAG "bdl-ed25519-secret-v1"

// Create a fresh key pair: writes base.pub and base.secret. Refuses (BL_ERR_USAGE) when either file exists;
// on any failure neither file is left behind. fingerprint_out (may be NULL) receives the public fingerprint.
Status keys_generate(const char *base, char fingerprint_out[65]);

// Read a public key file. BL_ERR_USAGE when it cannot be opened (a wrong path on the command line),
// BL_ERR_DATA when its content is not a public key (including a secret key file given by mistake).
Status keys_load_public(const char *path, uint8_t pk[KEYS_PUBLIC_BYTES]);

// Read a secret key file into sk (libsodium layout: seed, then public key). Same statuses as
// keys_load_public, plus BL_ERR_USAGE for a file readable by group or others. The caller must wipe sk with
// sodium_memzero when done.
Status keys_load_secret(const char *path, uint8_t sk[KEYS_SECRET_BYTES]);

// Hex SHA-256 of the public key.
void keys_fingerprint(const uint8_t pk[KEYS_PUBLIC_BYTES], char out[65]);

#endif
