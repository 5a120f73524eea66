// fuzz_keys: key files (io/keys.c): the same bytes read as a public key and as a secret key (mode 0600, so the
// permission check passes and the content is parsed).
#include <sodium.h>

#include "fuzz_util.h"
#include "io/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.key", data, len, 0600);
    uint8_t pk[KEYS_PUBLIC_BYTES], sk[KEYS_SECRET_BYTES];
    (void)keys_load_public(path, pk);
    (void)keys_load_secret(path, sk);
    sodium_memzero(sk, sizeof sk);
    return 0;
}
