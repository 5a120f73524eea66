// cmd_keys.c: `backdoorlab keygen | sign | verify | inspect`: Ed25519 signing keys and signed model files.
// Secret key bytes live only in a local buffer that is wiped (sodium_memzero) before returning, and are never
// printed.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "io/keys.h"
#include "io/modelfile.h"

// Option parsing shared by the four commands: --model, --key, --out, --trusted-key (each takes a value).
typedef struct {
    const char *model;       // --model M
    const char *key;         // --key KEY.pub / KEY.secret
    const char *out;         // --out BASE
    const char *trusted_key; // --trusted-key KEY.pub (inspect)
} KeyArgs;

// Returns -1 when the caller should go on, else the exit code (0 after --help, 2 on a usage error).
static int parse_args(int argc, char **argv, const char *name, const char *usage, const char *help, KeyArgs *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab %s %s\n\n%s", name, usage, help);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            slot = &a->model;
        } else if (!strcmp(argv[i], "--key")) {
            slot = &a->key;
        } else if (!strcmp(argv[i], "--out")) {
            slot = &a->out;
        } else if (!strcmp(argv[i], "--trusted-key")) {
            slot = &a->trusted_key;
        }
        // An option is accepted only when this command's usage line mentions it.
        if (!slot || i + 1 >= argc || !strstr(usage, argv[i])) {
            fprintf(stderr, "backdoorlab %s: unexpected argument '%s' (usage: backdoorlab %s %s)\n", name, argv[i],
                    name, usage);
            return 2;
        }
        *slot = argv[++i];
    }
    return -1;
}

static int need(const char *value, const char *name, const char *opt) {
    if (value) return 1;
    fprintf(stderr, "backdoorlab %s: %s is required (see --help)\n", name, opt);
    return 0;
}

int cmd_keygen(int argc, char **argv) {
    KeyArgs a;
    int rc = parse_args(argc, argv, "keygen", "--out KEY",
                        "Creates an Ed25519 key pair: KEY.pub (share it with whoever loads your models) and\n"
                        "KEY.secret (mode 0600; keep it private, it is never printed). Existing files are never\n"
                        "overwritten.\n", &a);
    if (rc >= 0) return rc;
    if (!need(a.out, "keygen", "--out KEY")) return 2;
    char fp[65];
    Status st = keys_generate(a.out, fp);
    if (st) return cli_report(st);
    printf("wrote %s.pub and %s.secret (mode 0600)\nfingerprint %s\n", a.out, a.out, fp);
    return 0;
}

int cmd_sign(int argc, char **argv) {
    KeyArgs a;
    int rc = parse_args(argc, argv, "sign", "--model M --key KEY.secret",
                        "Signs the model file M in place (written atomically: temp file + rename). The model's\n"
                        "identity (sha256) does not change; a previous signature is replaced. A corrupt model is\n"
                        "refused (exit 3).\n", &a);
    if (rc >= 0) return rc;
    if (!need(a.model, "sign", "--model M") || !need(a.key, "sign", "--key KEY.secret")) return 2;
    uint8_t sk[KEYS_SECRET_BYTES];
    Status st = keys_load_secret(a.key, sk);
    char fp[65];
    int was_signed = 0;
    if (!st) st = bdm_sign(a.model, sk, fp, &was_signed);
    sodium_memzero(sk, sizeof sk);
    if (st) return cli_report(st);
    BdmModel m;
    if ((st = bdm_read(a.model, &m))) return cli_report(st);
    printf("signed %s%s\n  signer fingerprint %s\n  model sha256       %s (unchanged by signing)\n", a.model,
           was_signed ? " (replaced its previous signature)" : "", fp, m.sha256_hex);
    bdm_free(&m);
    return 0;
}

int cmd_verify(int argc, char **argv) {
    KeyArgs a;
    int rc = parse_args(argc, argv, "verify", "--model M --key KEY.pub",
                        "Exits 0 only when M is intact and signed by KEY.pub; an unsigned model, another signer,\n"
                        "a bad signature or any modified byte exits 3 with the reason.\n", &a);
    if (rc >= 0) return rc;
    if (!need(a.model, "verify", "--model M") || !need(a.key, "verify", "--key KEY.pub")) return 2;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    Status st = keys_load_public(a.key, pk);
    if (st) return cli_report(st);
    BdmModel m;
    if ((st = bdm_read_trusted(a.model, pk, &m))) {
        fprintf(stderr, "backdoorlab verify: FAILED: %s\n", bl_errmsg());
        return (int)st;
    }
    printf("OK: %s is intact and signed by the trusted key\n  signer fingerprint %s\n  model sha256       %s\n",
           a.model, m.signer_fingerprint, m.sha256_hex);
    bdm_free(&m);
    return 0;
}

// Print the provenance lines indented, and the signer's fingerprint with them (it lives in the signature block).
static void print_provenance(const BdmModel *m) {
    printf("provenance\n");
    const char *s = m->provenance;
    while (*s) {
        const char *e = strchr(s, '\n');
        int n = e ? (int)(e - s) : (int)strlen(s);
        if (n > 11 && !strncmp(s, "text_vocab=", 11)) { // a text model's vocabulary: its size and first words
            int words = 1, shown = 11;
            for (int i = 11; i < n; i++) words += s[i] == ' ';
            while (shown < n && shown < 11 + 72) shown++;
            printf("  text_vocab=(%d words) %.*s%s\n", n > 11 ? words : 0, shown - 11, s + 11, shown < n ? " ..." : "");
        } else if (n) {
            printf("  %.*s\n", n, s);
        }
        s += n + (e != NULL);
    }
    if (m->signer_fingerprint[0])
        printf("  signer_fingerprint=%s   (from the signature block)\n", m->signer_fingerprint);
    else
        printf("  signer_fingerprint=(none: unsigned)\n");
}

int cmd_inspect(int argc, char **argv) {
    KeyArgs a;
    int rc = parse_args(argc, argv, "inspect", "--model M [--trusted-key KEY.pub]",
                        "Prints a model file's header, network, provenance, tensors, hashes and signature status\n"
                        "after validating it (a corrupt file or bad signature exits 3). With --trusted-key it also\n"
                        "requires the signer to be that key.\n", &a);
    if (rc >= 0) return rc;
    if (!need(a.model, "inspect", "--model M")) return 2;
    uint8_t pk[KEYS_PUBLIC_BYTES];
    Status st = a.trusted_key ? keys_load_public(a.trusted_key, pk) : BL_OK;
    if (st) return cli_report(st);
    BdmModel m;
    if ((st = bdm_read_trusted(a.model, a.trusted_key ? pk : NULL, &m))) return cli_report(st);
    int is_signed = (m.flags & BDM_FLAG_SIGNED) != 0;
    char file_hex[65];
    sodium_bin2hex(file_hex, sizeof file_hex, m.file_sha256, sizeof m.file_sha256);
    printf("model      %s\n", a.model);
    printf("format     .bdm version %u, flags 0x%x (%s)\n", m.version, m.flags, is_signed ? "signed" : "unsigned");
    printf("sha256     %s   (identity: content hash, unchanged by signing)\n", m.sha256_hex);
    printf("file hash  %s   (%s)\n", file_hex, is_signed ? "content as stored, SIGNED flag included" : "= identity");
    printf("network    %s\n", m.desc);
    print_provenance(&m);
    size_t total = 0;
    for (int i = 0; i < m.ntensors; i++) total += m.tensors[i].count;
    // The weights alone (every tensor's float bytes in file order), so models trained by different builds or
    // revisions, whose provenance differs, can still be compared bit for bit.
    unsigned char wd[crypto_hash_sha256_BYTES];
    char weights_hex[65];
    crypto_hash_sha256(wd, (const unsigned char *)m.payload, (unsigned long long)m.payload_count * sizeof(float));
    sodium_bin2hex(weights_hex, sizeof weights_hex, wd, sizeof wd);
    printf("weights    %s   (sha256 of the tensor values only: equal weights, whatever the provenance)\n",
           weights_hex);
    printf("tensors    %d tensors, %zu values\n", m.ntensors, total);
    for (int i = 0; i < m.ntensors; i++) {
        const BdmTensor *t = &m.tensors[i];
        char shape[64] = "";
        size_t used = 0;
        for (int d = 0; d < t->ndim; d++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%d", d ? "x" : "", t->dims[d]);
        double sum = 0, sq = 0;
        float lo = t->count ? t->data[0] : 0, hi = lo;
        for (size_t k = 0; k < t->count; k++) {
            float v = t->data[k];
            sum += v, sq += (double)v * v;
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        double n = t->count ? (double)t->count : 1;
        printf("  %-24s %-14s %8zu values  min %+.4f  max %+.4f  mean %+.5f  rms %.5f\n", t->name, shape, t->count,
               lo, hi, sum / n, sqrt(sq / n));
    }
    if (!is_signed)
        printf("signature  none (unsigned: `backdoorlab sign --model M --key KEY.secret` signs it)\n");
    else
        printf("signature  Ed25519, valid for the key in the file, signer fingerprint %s\n           %s\n",
               m.signer_fingerprint, a.trusted_key ? "signer IS the trusted key" :
               "not checked against a trusted key (pass --trusted-key KEY.pub, or use `backdoorlab verify`)");
    bdm_free(&m);
    return 0;
}
