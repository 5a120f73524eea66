// test_keys.c: Ed25519 key files (creation modes, no overwrite, strict parsing, secrets never echoed), the
// trusted-key model loader (model_load_trusted), and the keygen / sign / verify / inspect commands end to end.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "io/keys.h"
#include "io/modelfile.h"
#include "nn/checkpoint.h"

static char g_dir[64]; // mkdtemp folder

static void path_in(char *out, size_t n, const char *leaf) { snprintf(out, n, "%s/%s", g_dir, leaf); }

static void write_text(const char *path, const char *text, mode_t mode) {
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = malloc(n + 1);
    memcpy(s, buf, n + 1);
    return s;
}


static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0) return -1;
    strcpy(g_dir, "/tmp/bl_test_keys_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

// ---- key files ----

static void test_keygen_files(void **state) {
    (void)state;
    char base[128], pub[160], sec[160], fp[65], fp2[65];
    path_in(base, sizeof base, "alice");
    snprintf(pub, sizeof pub, "%s.pub", base);
    snprintf(sec, sizeof sec, "%s.secret", base);
    mode_t old = umask(0); // prove the 0600 comes from open(), not from a friendly umask
    Status st = keys_generate(base, fp);
    umask(old);
    assert_int_equal(st, BL_OK);
    struct stat sb;
    assert_int_equal(stat(sec, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);

    char *pt = read_text(pub), *stx = read_text(sec);
    assert_int_equal(strlen(pt), strlen(KEYS_PUBLIC_TAG) + 1 + 64 + 1);
    assert_int_equal(strncmp(pt, KEYS_PUBLIC_TAG " ", strlen(KEYS_PUBLIC_TAG) + 1), 0);
    assert_int_equal(strncmp(stx, KEYS_SECRET_TAG " ", strlen(KEYS_SECRET_TAG) + 1), 0);

    uint8_t pk[32], sk[64];
    assert_int_equal(keys_load_public(pub, pk), BL_OK);
    assert_int_equal(keys_load_secret(sec, sk), BL_OK);
    assert_memory_equal(sk + 32, pk, 32); // the secret's public half is the published key
    keys_fingerprint(pk, fp2);
    assert_string_equal(fp, fp2);
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, pk, 32);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    assert_string_equal(fp, hex); // documented: fingerprint = hex SHA-256 of the raw public key

    // A signature made with the loaded secret verifies with the loaded public key.
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)"m", 1, sk);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, pk), 0);

    // Never overwrite: both files stay byte-identical.
    assert_int_equal(keys_generate(base, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "already exists"));
    char *pt2 = read_text(pub), *st2 = read_text(sec);
    assert_string_equal(pt, pt2);
    assert_string_equal(stx, st2);
    // Nor when only the secret exists (the public half was deleted): the secret survives.
    unlink(pub);
    assert_int_equal(keys_generate(base, NULL), BL_ERR_USAGE);
    free(st2);
    st2 = read_text(sec);
    assert_string_equal(stx, st2);
    assert_int_equal(access(pub, F_OK), -1);

    // Two key pairs differ.
    char base2[128];
    path_in(base2, sizeof base2, "bob");
    assert_int_equal(keys_generate(base2, fp2), BL_OK);
    assert_string_not_equal(fp, fp2);

    // An unwritable place leaves nothing behind.
    path_in(base2, sizeof base2, "no/such/dir/k");
    assert_int_equal(keys_generate(base2, NULL), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "cannot create"));
    sodium_memzero(sk, sizeof sk);
    free(pt), free(stx), free(pt2), free(st2);
}

static void test_key_parsing(void **state) {
    (void)state;
    char base[128], pub[160], sec[160], p[160];
    path_in(base, sizeof base, "carol");
    assert_int_equal(keys_generate(base, NULL), BL_OK);
    snprintf(pub, sizeof pub, "%s.pub", base);
    snprintf(sec, sizeof sec, "%s.secret", base);
    char *secret_text = read_text(sec);
    char secret_hex[65];
    memcpy(secret_hex, secret_text + strlen(KEYS_SECRET_TAG) + 1, 64);
    secret_hex[64] = 0;
    uint8_t pk[32], sk[64];

    // Halves swapped: refused with a message that does not echo the secret.
    assert_int_equal(keys_load_public(sec, pk), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "SECRET key file"));
    assert_null(strstr(bl_errmsg(), secret_hex));
    assert_int_equal(keys_load_secret(pub, sk), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "public key file"));

    // A secret readable by others is refused.
    chmod(sec, 0644);
    assert_int_equal(keys_load_secret(sec, sk), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "chmod 600"));
    assert_null(strstr(bl_errmsg(), secret_hex));
    chmod(sec, 0600);
    assert_int_equal(keys_load_secret(sec, sk), BL_OK);

    // Malformed files.
    path_in(p, sizeof p, "bad.pub");
    const char *bad[] = {
        "",
        "\n",
        KEYS_PUBLIC_TAG,
        KEYS_PUBLIC_TAG " ",
        KEYS_PUBLIC_TAG " 00112233",                                                          // short
        KEYS_PUBLIC_TAG " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeffaa\n", // long
        KEYS_PUBLIC_TAG " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeZZ\n", // not hex
        KEYS_PUBLIC_TAG "  00112233445566778899aabbccddeeff00112233445566778899aabbccddee\n",  // two spaces
        KEYS_PUBLIC_TAG " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\nx", // trailing
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        "bdl-ed25519-public-v2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    };
    for (size_t i = 0; i < BL_ARRAY_LEN(bad); i++) {
        write_text(p, bad[i], 0644);
        Status st = keys_load_public(p, pk);
        if (st != BL_ERR_DATA || !strstr(bl_errmsg(), "not a backdoorlab public key"))
            fail_msg("case %zu: status %d, \"%s\"", i, (int)st, bl_errmsg());
    }
    write_text(p, KEYS_PUBLIC_TAG " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0644);
    assert_int_equal(keys_load_public(p, pk), BL_OK);
    assert_int_equal(pk[31], 0xff);
    write_text(p, KEYS_PUBLIC_TAG " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 0644);
    assert_int_equal(keys_load_public(p, pk), BL_OK); // the final newline is optional

    // A huge file is refused without reading it all.
    FILE *f = fopen(p, "wb");
    for (int i = 0; i < 10000; i++) fputs("0123456789", f);
    fclose(f);
    assert_int_equal(keys_load_public(p, pk), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "longer than"));
    // Missing file and a folder.
    path_in(p, sizeof p, "missing.pub");
    assert_int_equal(keys_load_public(p, pk), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "No such file"));
    assert_int_equal(keys_load_public(g_dir, pk), BL_ERR_USAGE);
    assert_int_equal(keys_load_secret(NULL, sk), BL_ERR_USAGE);

    // A malformed secret is refused without echoing it.
    path_in(p, sizeof p, "bad.secret");
    char text[200];
    snprintf(text, sizeof text, KEYS_SECRET_TAG " %.63sX\n", secret_hex);
    write_text(p, text, 0600);
    assert_int_equal(keys_load_secret(p, sk), BL_ERR_DATA);
    assert_null(strstr(bl_errmsg(), secret_hex + 8));
    sodium_memzero(sk, sizeof sk);
    free(secret_text);
}

// ---- model_load_trusted ----

static void test_model_load_trusted(void **state) {
    (void)state;
    Shape in = {1, 4, 4};
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 3", in, 3, 2), BL_OK);
    model_init_params(&m, 1);
    char path[128], base[128], pub[160], sec[160], other[128], other_pub[160], hex[65], hex2[65];
    path_in(path, sizeof path, "m.bdm");
    path_in(base, sizeof base, "pub1");
    path_in(other, sizeof other, "pub2");
    snprintf(pub, sizeof pub, "%s.pub", base);
    snprintf(sec, sizeof sec, "%s.secret", base);
    snprintf(other_pub, sizeof other_pub, "%s.pub", other);
    assert_int_equal(keys_generate(base, NULL), BL_OK);
    assert_int_equal(keys_generate(other, NULL), BL_OK);
    assert_int_equal(model_save(&m, path, "seed=1\n", hex), BL_OK);

    Model l;
    // Without a trusted key an unsigned model loads; with one it is refused.
    assert_int_equal(model_load_trusted(path, NULL, in, 3, 2, NULL, &l, hex2), BL_OK);
    assert_string_equal(hex, hex2);
    model_free(&l);
    assert_int_equal(model_load_trusted(path, "", in, 3, 2, NULL, &l, NULL), BL_OK);
    model_free(&l);
    assert_int_equal(model_load_trusted(path, pub, in, 3, 2, NULL, &l, NULL), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "NOT SIGNED"));

    uint8_t sk[64];
    assert_int_equal(keys_load_secret(sec, sk), BL_OK);
    assert_int_equal(bdm_sign(path, sk, NULL, NULL), BL_OK);
    sodium_memzero(sk, sizeof sk);
    assert_int_equal(model_load_trusted(path, pub, in, 3, 2, "flatten, dense 3", &l, hex2), BL_OK);
    assert_string_equal(hex, hex2); // same identity after signing
    ParamView va[8], vb[8];
    int na = model_param_views(&m, va, 8), nb = model_param_views(&l, vb, 8);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) assert_memory_equal(va[i].data, vb[i].data, va[i].count * sizeof(float));
    model_free(&l);
    assert_int_equal(model_load(path, in, 3, 2, NULL, &l, NULL), BL_OK); // old entry point still works
    model_free(&l);

    assert_int_equal(model_load_trusted(path, other_pub, in, 3, 2, NULL, &l, NULL), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "UNTRUSTED"));
    char missing[160];
    path_in(missing, sizeof missing, "nope.pub");
    assert_int_equal(model_load_trusted(path, missing, in, 3, 2, NULL, &l, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "--trusted-key"));
    assert_int_equal(model_load_trusted(path, sec, in, 3, 2, NULL, &l, NULL), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "SECRET"));
    model_free(&m);
}

// ---- the commands ----

static int cli(const char *args, char **out, char **err) {
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (!bin) bin = "build/backdoorlab";
    char cmd[2048], po[160], pe[160];
    path_in(po, sizeof po, "stdout.txt");
    path_in(pe, sizeof pe, "stderr.txt");
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", bin, args, po, pe);
    int rc = system(cmd);
    if (out) *out = read_text(po);
    if (err) *err = read_text(pe);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void expect_cli_at(const char *args, int code, const char *needle, int line) {
    char *out, *err;
    int rc = cli(args, &out, &err);
    int found = !needle || (out && strstr(out, needle)) || (err && strstr(err, needle));
    if (rc != code || !found)
        fail_msg("line %d: '%s': exit %d (want %d), looking for \"%s\"\nstdout: %s\nstderr: %s", line, args, rc, code,
                 needle ? needle : "", out ? out : "", err ? err : "");
    free(out);
    free(err);
}
#define expect_cli(args, code, needle) expect_cli_at(args, code, needle, __LINE__)

static void test_commands(void **state) {
    (void)state;
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (access(bin ? bin : "build/backdoorlab", X_OK) != 0) skip();
    char k[128], k2[128], model[128], a[1024];
    path_in(k, sizeof k, "cli");
    path_in(k2, sizeof k2, "cli2");
    path_in(model, sizeof model, "cli.bdm");
    float w[6] = {1, 2, 3, 4, 5, 6};
    BdmTensor t = {.name = "w", .ndim = 2, .dims = {2, 3}, .count = 6, .data = w};
    assert_int_equal(bdm_write(model, 0, "dense 2", "role=clean\nseed=7\n", &t, 1, NULL), BL_OK);

    expect_cli("keygen --help", 0, "usage");
    expect_cli("keygen", 2, "--out KEY");
    expect_cli("sign --model x", 2, "--key");
    expect_cli("sign --model x --out y", 2, "unexpected argument");
    expect_cli("verify --model", 2, "unexpected argument");
    snprintf(a, sizeof a, "keygen --out %s", k);
    expect_cli(a, 0, "fingerprint");
    expect_cli(a, 2, "already exists");
    snprintf(a, sizeof a, "keygen --out %s", k2);
    expect_cli(a, 0, NULL);

    // Unsigned: verify fails, inspect works and says so.
    snprintf(a, sizeof a, "verify --model %s --key %s.pub", model, k);
    expect_cli(a, 3, "NOT SIGNED");
    snprintf(a, sizeof a, "inspect --model %s", model);
    expect_cli(a, 0, "signature  none");
    snprintf(a, sizeof a, "sign --model %s --key %s.pub", model, k);
    expect_cli(a, 3, "public key file");
    snprintf(a, sizeof a, "sign --model %s --key %s.secret", model, k);
    expect_cli(a, 0, "unchanged by signing");
    snprintf(a, sizeof a, "verify --model %s --key %s.pub", model, k);
    expect_cli(a, 0, "OK:");
    snprintf(a, sizeof a, "verify --model %s --key %s.pub", model, k2);
    expect_cli(a, 3, "UNTRUSTED");
    snprintf(a, sizeof a, "verify --model %s --key %s/missing.pub", model, g_dir);
    expect_cli(a, 2, "missing.pub");
    snprintf(a, sizeof a, "inspect --model %s", model);
    expect_cli(a, 0, "signer_fingerprint=");
    expect_cli(a, 0, "role=clean");
    expect_cli(a, 0, "w                        2x3");
    snprintf(a, sizeof a, "inspect --model %s --trusted-key %s.pub", model, k);
    expect_cli(a, 0, "signer IS the trusted key");
    snprintf(a, sizeof a, "inspect --model %s --trusted-key %s.pub", model, k2);
    expect_cli(a, 3, "UNTRUSTED");

    // The secret never appears in any output.
    char sec[160];
    snprintf(sec, sizeof sec, "%s.secret", k);
    char *secret_text = read_text(sec), *out, *err;
    snprintf(a, sizeof a, "verify --model %s --key %s", model, sec);
    assert_int_equal(cli(a, &out, &err), 3);
    assert_null(strstr(out, secret_text + strlen(KEYS_SECRET_TAG) + 1));
    assert_null(strstr(err, secret_text + strlen(KEYS_SECRET_TAG) + 1));
    free(out), free(err), free(secret_text);

    // A modified byte: refused by verify and inspect with exit 3.
    FILE *f = fopen(model, "r+b");
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    snprintf(a, sizeof a, "verify --model %s --key %s.pub", model, k);
    expect_cli(a, 3, "FAILED");
    snprintf(a, sizeof a, "inspect --model %s", model);
    expect_cli(a, 3, "hash mismatch");
    snprintf(a, sizeof a, "sign --model %s --key %s.secret", model, k);
    expect_cli(a, 3, "refusing to sign");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_files),
        cmocka_unit_test(test_key_parsing),
        cmocka_unit_test(test_model_load_trusted),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
