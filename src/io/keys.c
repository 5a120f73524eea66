// keys.c: Ed25519 key files (format in keys.h). Every buffer that ever holds secret bytes is wiped before it
// is released, on success and on every error path.
#include "io/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define KEY_FILE_MAX 256 // a key file is one short line; anything longer is not a key file

void keys_fingerprint(const uint8_t pk[KEYS_PUBLIC_BYTES], char out[65]) {
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, KEYS_PUBLIC_BYTES);
    sodium_bin2hex(out, 65, h, sizeof h);
}

// Write all of buf to a file created exclusively with `mode`. On failure nothing is left at path.
static Status write_new_file(const char *path, const char *buf, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return bl_fail(BL_ERR_USAGE, "%s already exists; refusing to overwrite a key (choose another --out "
                           "or remove the old key pair first)", path);
        return bl_fail(BL_ERR_RUN, "cannot create %s: %s (does the folder exist and is it writable?)", path,
                       strerror(errno));
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            break;
        }
        done += (size_t)w;
    }
    int ok = done == len, err = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) ok = 0, err = errno;
    if (close(fd) != 0 && ok) ok = 0, err = errno;
    if (!ok) {
        unlink(path);
        return bl_fail(BL_ERR_RUN, "writing %s failed: %s (disk full?)", path, strerror(err));
    }
    return BL_OK;
}

Status keys_generate(const char *base, char fingerprint_out[65]) {
    if (fingerprint_out) fingerprint_out[0] = '\0';
    if (!base || !*base) return bl_fail(BL_ERR_USAGE, "keygen: no output name given");
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "libsodium failed to initialise");
    size_t n = strlen(base) + 8;
    char *pub_path = malloc(n), *sec_path = malloc(n);
    if (!pub_path || !sec_path) {
        free(pub_path), free(sec_path);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    snprintf(pub_path, n, "%s.pub", base);
    snprintf(sec_path, n, "%s.secret", base);

    uint8_t pk[KEYS_PUBLIC_BYTES], sk[KEYS_SECRET_BYTES];
    char line[128]; // holds the secret line first, then the public one
    crypto_sign_keypair(pk, sk);
    Status st = BL_OK;
    struct stat sb;
    if (stat(pub_path, &sb) == 0) // checked up front so a clash leaves no half pair behind
        st = bl_fail(BL_ERR_USAGE, "%s already exists; refusing to overwrite a key (choose another --out or "
                     "remove the old key pair first)", pub_path);
    if (!st) {
        // The seed (first 32 bytes of sk) is the whole secret; the public key is derived from it on load.
        memcpy(line, KEYS_SECRET_TAG " ", sizeof KEYS_SECRET_TAG);
        sodium_bin2hex(line + sizeof KEYS_SECRET_TAG, sizeof line - sizeof KEYS_SECRET_TAG, sk, 32);
        strcat(line, "\n");
        st = write_new_file(sec_path, line, strlen(line), 0600);
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(line, sizeof line);
    if (!st) {
        memcpy(line, KEYS_PUBLIC_TAG " ", sizeof KEYS_PUBLIC_TAG);
        sodium_bin2hex(line + sizeof KEYS_PUBLIC_TAG, sizeof line - sizeof KEYS_PUBLIC_TAG, pk, KEYS_PUBLIC_BYTES);
        strcat(line, "\n");
        st = write_new_file(pub_path, line, strlen(line), 0644);
        if (st) unlink(sec_path); // no secret without its public half
    }
    if (!st && fingerprint_out) keys_fingerprint(pk, fingerprint_out);
    free(pub_path);
    free(sec_path);
    return st;
}

// Read a key file (at most KEY_FILE_MAX bytes) into buf, NUL-terminated. *mode receives the permission bits.
static Status read_key_file(const char *path, char buf[KEY_FILE_MAX + 1], mode_t *mode) {
    if (!path || !*path) return bl_fail(BL_ERR_USAGE, "no key file given");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return bl_fail(BL_ERR_USAGE, "cannot open key file %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return bl_fail(BL_ERR_USAGE, "key file %s is not a regular file", path);
    }
    *mode = sb.st_mode & 0777;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            sodium_memzero(buf, KEY_FILE_MAX + 1);
            return bl_fail(BL_ERR_RUN, "reading key file %s: %s", path, strerror(err));
        }
        if (r == 0) break;
        got += (size_t)r;
        if (got > KEY_FILE_MAX) break;
    }
    close(fd);
    if (got > KEY_FILE_MAX) {
        sodium_memzero(buf, KEY_FILE_MAX + 1);
        return bl_fail(BL_ERR_DATA, "%s is not a backdoorlab key file (longer than %d bytes)", path, KEY_FILE_MAX);
    }
    buf[got] = '\0';
    return BL_OK;
}

// Parse "<tag> <64 hex>" with an optional final '\n' into 32 bytes. Returns 0 on a malformed line. The
// message never quotes the line (it may be a secret).
static int parse_line(const char *s, const char *tag, uint8_t out[32]) {
    size_t tl = strlen(tag), n = strlen(s);
    if (n > 0 && s[n - 1] == '\n') n--;
    if (n != tl + 1 + 64 || memcmp(s, tag, tl) != 0 || s[tl] != ' ') return 0;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, 32, s + tl + 1, 64, NULL, &bin_len, &end) != 0 || bin_len != 32 || end != s + n)
        return 0;
    return 1;
}

Status keys_load_public(const char *path, uint8_t pk[KEYS_PUBLIC_BYTES]) {
    char buf[KEY_FILE_MAX + 1];
    mode_t mode;
    Status st = read_key_file(path, buf, &mode);
    if (st) return st;
    int is_secret = strncmp(buf, KEYS_SECRET_TAG, strlen(KEYS_SECRET_TAG)) == 0;
    int ok = !is_secret && parse_line(buf, KEYS_PUBLIC_TAG, pk);
    sodium_memzero(buf, sizeof buf);
    if (is_secret)
        return bl_fail(BL_ERR_DATA, "%s is a SECRET key file; give the public half (KEY.pub) here, and keep the "
                       "secret one private", path);
    if (!ok)
        return bl_fail(BL_ERR_DATA, "%s is not a backdoorlab public key (expected one line \"%s <64 hex "
                       "digits>\", as written by `backdoorlab keygen`)", path, KEYS_PUBLIC_TAG);
    return BL_OK;
}

Status keys_load_secret(const char *path, uint8_t sk[KEYS_SECRET_BYTES]) {
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "libsodium failed to initialise");
    char buf[KEY_FILE_MAX + 1];
    mode_t mode;
    Status st = read_key_file(path, buf, &mode);
    if (st) return st;
    if (strncmp(buf, KEYS_PUBLIC_TAG, strlen(KEYS_PUBLIC_TAG)) == 0) {
        sodium_memzero(buf, sizeof buf);
        return bl_fail(BL_ERR_DATA, "%s is a public key file; signing needs the secret half (KEY.secret)", path);
    }
    uint8_t seed[32];
    int ok = parse_line(buf, KEYS_SECRET_TAG, seed);
    sodium_memzero(buf, sizeof buf);
    if (!ok) {
        sodium_memzero(seed, sizeof seed);
        return bl_fail(BL_ERR_DATA, "%s is not a backdoorlab secret key (expected one line \"%s <64 hex "
                       "digits>\", as written by `backdoorlab keygen`)", path, KEYS_SECRET_TAG);
    }
    if (mode & 077) {
        sodium_memzero(seed, sizeof seed);
        return bl_fail(BL_ERR_USAGE, "secret key %s is accessible by group or others (mode %03o); run `chmod 600 "
                       "%s` (and consider the key compromised if others could read it)", path, (unsigned)mode, path);
    }
    uint8_t pk[KEYS_PUBLIC_BYTES];
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    return BL_OK;
}
