// results.c: atomic writes, hashes, provenance and the run manifest.
#include "io/results.h"
#include "io/atomic.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tensor/sgemm.h"

Status write_file_atomic(const char *path, const void *data, size_t len) {
    if (!path || !*path) return bl_fail(BL_ERR_RUN, "write_file_atomic: empty path");
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    errno = 0;
    return atomic_commit(&af, len == 0 || fwrite(data, 1, len, af.f) == len);
}

char *read_text_file(const char *path, long max_bytes) { return read_file_bytes(path, max_bytes, NULL); }

char *read_file_bytes(const char *path, long max_bytes, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && len <= max_bytes && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = 0;
            if (len_out) *len_out = (size_t)len;
        }
    }
    fclose(f);
    return buf;
}

cJSON *json_read_file(const char *path) {
    char *text = read_text_file(path, 1L << 26);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

Status json_write_atomic(const char *path, const cJSON *json) {
    char *text = json ? cJSON_Print(json) : NULL;
    if (!text) return bl_fail(BL_ERR_RUN, "cannot format JSON for '%s' (out of memory?)", path);
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    if (!buf) {
        cJSON_free(text);
        return bl_fail(BL_ERR_RUN, "out of memory writing '%s'", path);
    }
    memcpy(buf, text, n);
    buf[n] = '\n';
    buf[n + 1] = 0;
    cJSON_free(text);
    Status st = write_file_atomic(path, buf, n + 1);
    free(buf);
    return st;
}

// mkdir one level; an existing folder is fine.
static Status mkdir_one(const char *p) {
    if (mkdir(p, 0777) == 0) return BL_OK;
    int err = errno;
    struct stat sb;
    if (err == EEXIST && stat(p, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return BL_OK;
        return bl_fail(BL_ERR_RUN, "cannot create folder '%s': a file of that name is in the way", p);
    }
    return bl_fail(BL_ERR_RUN, "cannot create folder '%s': %s", p, strerror(err));
}

Status ensure_dir(const char *path) {
    if (!path || !*path) return bl_fail(BL_ERR_RUN, "ensure_dir: empty path");
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return bl_fail(BL_ERR_RUN, "out of memory creating '%s'", path);
    memcpy(p, path, n + 1);
    Status st = BL_OK;
    // Create each prefix that ends just before a '/', then the whole path.
    for (size_t i = 1; i < n && st == BL_OK; i++) {
        if (p[i] != '/' || p[i - 1] == '/') continue;
        p[i] = 0;
        st = mkdir_one(p);
        p[i] = '/';
    }
    if (st == BL_OK) st = mkdir_one(p);
    free(p);
    return st;
}

// libsodium asks for sodium_init() before use. SHA-256 is plain code that works regardless, so a failure
// (no entropy source) is not reported here.
static void sodium_ready(void) {
    if (sodium_init() < 0) return;
}

static void bin_to_hex(const unsigned char hash[crypto_hash_sha256_BYTES], char out[65]) {
    sodium_bin2hex(out, 65, hash, crypto_hash_sha256_BYTES);
}

void sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char hash[crypto_hash_sha256_BYTES];
    sodium_ready();
    crypto_hash_sha256(hash, data, len);
    bin_to_hex(hash, out);
}

Status sha256_file_hex(const char *path, char out[65]) {
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_RUN, "cannot open '%s' to hash it: %s", path, strerror(errno));
    sodium_ready();
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
    int err = ferror(f);
    fclose(f);
    if (err) return bl_fail(BL_ERR_RUN, "cannot read '%s' to hash it (is it a folder?)", path);
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, hash);
    bin_to_hex(hash, out);
    return BL_OK;
}

// Run a shell command, keep the first line of its output (trimmed) in out. Returns 1 if it exited 0.
static int run_first_line(const char *cmd, char *out, size_t n) {
    out[0] = 0;
    fflush(NULL); // the child must not inherit unflushed stdio buffers
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[256];
    int got = fgets(line, sizeof line, p) != NULL;
    // drain, so the child never blocks on a full pipe
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {}
    int rc = pclose(p);
    if (got) {
        size_t k = strcspn(line, "\r\n");
        line[k] = 0;
        snprintf(out, n, "%s", line);
    }
    return rc == 0;
}

void bl_git_revision(char *out, size_t n) {
    if (!out || n == 0) return;
    char rev[64], status[256];
    int ok = run_first_line("git rev-parse --short=12 HEAD 2>/dev/null", rev, sizeof rev);
    ok = ok && strlen(rev) >= 7 && strspn(rev, "0123456789abcdef") == strlen(rev);
    if (!ok) {
        snprintf(out, n, "unknown");
        return;
    }
    // --no-optional-locks: do not refresh the index, so this read-only query never takes .git/index.lock.
    // "-dirty" means the code differs from the commit: changes under src/ (and the Makefile and scripts/, which
    // build it and fetch its data), not an edited README or a new config (configs carry their own hashes).
    int st_ok = run_first_line("git --no-optional-locks status --porcelain -- src Makefile scripts 2>/dev/null",
                               status, sizeof status);
    snprintf(out, n, "%s%s", rev, st_ok && status[0] ? "-dirty" : "");
}

const char *bl_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

const char *bl_cflags(void) {
#ifdef BL_CFLAGS
    return BL_CFLAGS;
#else
    return "unknown";
#endif
}

void bl_iso8601_utc(char out[32]) {
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "unknown");
}

// Set obj[key] to item, replacing an existing entry. Returns 0 (and frees item) on failure.
static int json_set(cJSON *obj, const char *key, cJSON *item) {
    if (!obj || !item) {
        cJSON_Delete(item);
        return 0;
    }
    int ok = cJSON_GetObjectItemCaseSensitive(obj, key) ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)
                                                        : cJSON_AddItemToObject(obj, key, item);
    if (!ok) cJSON_Delete(item);
    return ok;
}

// How OpenMP threads wait (speed only, never results): {"OMP_WAIT_POLICY": ..., "GOMP_SPINCOUNT": ...}, null when
// unset. main() sets GOMP_SPINCOUNT when the user set neither.
static cJSON *omp_wait_json(void) {
    cJSON *o = cJSON_CreateObject();
    const char *names[2] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"};
    for (int i = 0; o && i < 2; i++) {
        const char *v = getenv(names[i]);
        if (!json_set(o, names[i], v ? cJSON_CreateString(v) : cJSON_CreateNull())) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

cJSON *manifest_new(const ExperimentConfig *cfg, const char *config_path, int threads) {
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    char rev[96], hex[65], now[32];
    bl_git_revision(rev, sizeof rev);
    bl_iso8601_utc(now);
    uint64_t seed = cfg->experiment.seed;
    cJSON *seed_item;
    if (seed <= (UINT64_C(1) << 53)) {
        seed_item = cJSON_CreateNumber((double)seed);
    } else {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        seed_item = cJSON_CreateString(s);
    }
    int ok = json_set(m, "tool", cJSON_CreateString("backdoorlab")) &&
             json_set(m, "experiment", cJSON_CreateString(cfg->experiment.name)) && json_set(m, "seed", seed_item) &&
             json_set(m, "threads", cJSON_CreateNumber(threads)) &&
             json_set(m, "omp_wait", omp_wait_json()) && json_set(m, "git_revision", cJSON_CreateString(rev)) &&
             json_set(m, "compiler", cJSON_CreateString(bl_compiler())) &&
             json_set(m, "cflags", cJSON_CreateString(bl_cflags())) &&
             json_set(m, "gemm_kernel", cJSON_CreateString(sgemm_kernel_name())) &&
             json_set(m, "config_path", config_path ? cJSON_CreateString(config_path) : cJSON_CreateNull());
    if (ok) {
        int hashed = config_path && sha256_file_hex(config_path, hex) == BL_OK;
        ok = json_set(m, "config_sha256", hashed ? cJSON_CreateString(hex) : cJSON_CreateNull()) &&
             json_set(m, "start_time", cJSON_CreateString(now));
    }
    if (!ok) {
        cJSON_Delete(m);
        bl_fail(BL_ERR_RUN, "out of memory building the manifest");
        return NULL;
    }
    return m;
}

void manifest_set_end(cJSON *m) {
    char now[32];
    bl_iso8601_utc(now);
    json_set(m, "end_time", cJSON_CreateString(now));
}

void manifest_add_hash(cJSON *m, const char *key, const char *hex) {
    if (!key) return;
    json_set(m, key, hex ? cJSON_CreateString(hex) : cJSON_CreateNull());
}

Status write_done_marker(const char *dir) {
    size_t cap = strlen(dir) + 8;
    char *path = malloc(cap);
    if (!path) return bl_fail(BL_ERR_RUN, "out of memory writing the DONE marker in '%s'", dir);
    snprintf(path, cap, "%s/DONE", dir);
    char now[40];
    bl_iso8601_utc(now);
    strcat(now, "\n");
    Status st = write_file_atomic(path, now, strlen(now));
    free(path);
    return st;
}
