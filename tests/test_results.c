// test_results.c: atomic writes, ensure_dir, SHA-256, provenance and the manifest.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/results.h"
#include "tensor/sgemm.h"

// Each test gets a fresh mkdtemp() folder, removed afterwards with everything in it.
typedef struct {
    char dir[64]; // the temp folder
} Fixture;

static int rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int setup(void **state) {
    Fixture *fx = calloc(1, sizeof *fx);
    if (!fx) return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/bl_test_results_XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    Fixture *fx = *state;
    int rc = rm_rf(fx->dir);
    free(fx);
    return rc;
}

// Number of entries in dir whose name contains ".tmp.".
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static char *read_all(const char *path, size_t *len) {
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void test_atomic_write(void **state) {
    Fixture *fx = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/out.txt", fx->dir);
    assert_int_equal(write_file_atomic(path, "hello\n", 6), BL_OK);
    size_t n = 0;
    char *s = read_all(path, &n);
    assert_non_null(s);
    assert_int_equal(n, 6);
    assert_string_equal(s, "hello\n");
    free(s);
    assert_int_equal(count_temp_files(fx->dir), 0);
    // Replacing an existing file, including with nothing.
    assert_int_equal(write_file_atomic(path, "second", 6), BL_OK);
    s = read_all(path, NULL);
    assert_string_equal(s, "second");
    free(s);
    assert_int_equal(write_file_atomic(path, NULL, 0), BL_OK);
    s = read_all(path, &n);
    assert_int_equal(n, 0);
    free(s);
    assert_int_equal(count_temp_files(fx->dir), 0);
}

static void test_atomic_write_failures(void **state) {
    Fixture *fx = *state;
    char path[128];
    // Folder does not exist.
    snprintf(path, sizeof path, "%s/missing/out.txt", fx->dir);
    assert_int_equal(write_file_atomic(path, "x", 1), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), path));
    assert_non_null(strstr(bl_errmsg(), "No such file or directory"));
    // The target is a folder: the temp file is written, the rename fails, and the temp file is removed.
    snprintf(path, sizeof path, "%s/sub", fx->dir);
    assert_int_equal(ensure_dir(path), BL_OK);
    assert_int_equal(write_file_atomic(path, "x", 1), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "cannot rename"));
    assert_int_equal(count_temp_files(fx->dir), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    // DONE marker in a folder that does not exist.
    snprintf(path, sizeof path, "%s/missing", fx->dir);
    assert_int_equal(write_done_marker(path), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "missing/DONE"));
}

static void test_json_write(void **state) {
    Fixture *fx = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/r.json", fx->dir);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "ca", 0.9123);
    cJSON_AddStringToObject(j, "name", "demo");
    assert_int_equal(json_write_atomic(path, j), BL_OK);
    cJSON_Delete(j);
    size_t n = 0;
    char *s = read_all(path, &n);
    assert_non_null(s);
    assert_true(n > 0 && s[n - 1] == '\n');
    assert_non_null(strchr(s, '\t')); // pretty-printed
    cJSON *back = cJSON_Parse(s);
    free(s);
    assert_non_null(back);
    assert_true(cJSON_GetObjectItem(back, "ca")->valuedouble == 0.9123);
    assert_string_equal(cJSON_GetObjectItem(back, "name")->valuestring, "demo");
    cJSON_Delete(back);
    assert_int_equal(count_temp_files(fx->dir), 0);
    assert_int_equal(json_write_atomic(path, NULL), BL_ERR_RUN);
}

static void test_ensure_dir(void **state) {
    Fixture *fx = *state;
    char path[160], file[160];
    snprintf(path, sizeof path, "%s/a/b//c/", fx->dir);
    assert_int_equal(ensure_dir(path), BL_OK);
    assert_int_equal(ensure_dir(path), BL_OK); // existing is fine
    snprintf(path, sizeof path, "%s/a/b/c", fx->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    // A file in the way.
    snprintf(file, sizeof file, "%s/a/f", fx->dir);
    assert_int_equal(write_file_atomic(file, "x", 1), BL_OK);
    snprintf(path, sizeof path, "%s/a/f/g", fx->dir);
    assert_int_equal(ensure_dir(path), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "a file of that name is in the way"));
    assert_int_equal(ensure_dir(""), BL_ERR_RUN);
}

static void test_sha256(void **state) {
    Fixture *fx = *state;
    char hex[65];
    sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // The file version on a file bigger than its read buffer.
    char path[128];
    snprintf(path, sizeof path, "%s/big.bin", fx->dir);
    size_t n = 200000;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 31 + 7);
    assert_int_equal(write_file_atomic(path, buf, n), BL_OK);
    char want[65], got[65];
    sha256_hex(buf, n, want);
    free(buf);
    assert_int_equal(sha256_file_hex(path, got), BL_OK);
    assert_string_equal(got, want);
    snprintf(path, sizeof path, "%s/abc.txt", fx->dir);
    assert_int_equal(write_file_atomic(path, "abc", 3), BL_OK);
    assert_int_equal(sha256_file_hex(path, got), BL_OK);
    assert_string_equal(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    snprintf(path, sizeof path, "%s/none", fx->dir);
    assert_int_equal(sha256_file_hex(path, got), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "cannot open"));
}

static int is_iso8601(const char *s) {
    // YYYY-MM-DDTHH:MM:SSZ
    if (strlen(s) != 20) return 0;
    for (int i = 0; i < 20; i++) {
        char c = s[i];
        int ok = (i == 4 || i == 7) ? c == '-' : i == 10 ? c == 'T' : (i == 13 || i == 16) ? c == ':'
                 : i == 19 ? c == 'Z' : (c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

static void test_manifest(void **state) {
    Fixture *fx = *state;
    char cfgpath[128];
    snprintf(cfgpath, sizeof cfgpath, "%s/demo.ini", fx->dir);
    const char *text = "[experiment]\nseed = 42\n";
    assert_int_equal(write_file_atomic(cfgpath, text, strlen(text)), BL_OK);
    ExperimentConfig cfg;
    assert_int_equal(config_load(cfgpath, &cfg), BL_OK);
    cJSON *m = manifest_new(&cfg, cfgpath, 3);
    assert_non_null(m);
    const char *keys[] = {"tool", "experiment", "seed", "threads", "git_revision", "compiler", "cflags",
                          "gemm_kernel", "config_path", "config_sha256", "start_time"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(m, keys[i])) print_error("missing key %s\n", keys[i]);
        assert_non_null(cJSON_GetObjectItemCaseSensitive(m, keys[i]));
    }
    assert_string_equal(cJSON_GetObjectItem(m, "experiment")->valuestring, "demo");
    assert_true(cJSON_GetObjectItem(m, "seed")->valuedouble == 42.0);
    assert_true(cJSON_GetObjectItem(m, "threads")->valuedouble == 3.0);
    assert_string_equal(cJSON_GetObjectItem(m, "config_path")->valuestring, cfgpath);
    char hex[65];
    sha256_hex(text, strlen(text), hex);
    assert_string_equal(cJSON_GetObjectItem(m, "config_sha256")->valuestring, hex);
    assert_true(is_iso8601(cJSON_GetObjectItem(m, "start_time")->valuestring));
    assert_string_equal(cJSON_GetObjectItem(m, "compiler")->valuestring, bl_compiler());
    assert_string_equal(cJSON_GetObjectItem(m, "cflags")->valuestring, bl_cflags());
    assert_string_equal(cJSON_GetObjectItem(m, "gemm_kernel")->valuestring, sgemm_kernel_name());
    assert_true(strlen(cJSON_GetObjectItem(m, "git_revision")->valuestring) > 0);

    assert_null(cJSON_GetObjectItem(m, "end_time"));
    manifest_set_end(m);
    assert_true(is_iso8601(cJSON_GetObjectItem(m, "end_time")->valuestring));
    manifest_add_hash(m, "dataset_sha256", hex);
    assert_string_equal(cJSON_GetObjectItem(m, "dataset_sha256")->valuestring, hex);
    manifest_add_hash(m, "dataset_sha256", "00"); // replaced, not duplicated
    assert_string_equal(cJSON_GetObjectItem(m, "dataset_sha256")->valuestring, "00");
    int count = 0;
    for (cJSON *it = m->child; it; it = it->next) count += !strcmp(it->string, "dataset_sha256");
    assert_int_equal(count, 1);

    // It writes and reads back; the DONE marker goes last.
    char mpath[160];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", fx->dir);
    assert_int_equal(json_write_atomic(mpath, m), BL_OK);
    cJSON_Delete(m);
    char *s = read_all(mpath, NULL);
    cJSON *back = cJSON_Parse(s);
    free(s);
    assert_non_null(back);
    assert_string_equal(cJSON_GetObjectItem(back, "tool")->valuestring, "backdoorlab");
    cJSON_Delete(back);
    assert_int_equal(write_done_marker(fx->dir), BL_OK);
    snprintf(mpath, sizeof mpath, "%s/DONE", fx->dir);
    s = read_all(mpath, NULL);
    assert_non_null(s);
    assert_int_equal(strlen(s), 21);
    free(s);

    // A seed beyond 2^53 is kept exact as a string; an unreadable config gets a null hash.
    cfg.experiment.seed = UINT64_MAX;
    m = manifest_new(&cfg, "/nonexistent/x.ini", 1);
    assert_non_null(m);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(m, "seed")));
    assert_string_equal(cJSON_GetObjectItem(m, "seed")->valuestring, "18446744073709551615");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "config_sha256")));
    cJSON_Delete(m);
}

static void test_provenance(void **state) {
    Fixture *fx = *state;
    assert_true(!strncmp(bl_compiler(), "gcc ", 4) || !strncmp(bl_compiler(), "clang ", 6));
    assert_true(strlen(bl_cflags()) > 0);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    // Outside any repository: "unknown".
    char rev[64];
    assert_int_equal(chdir(fx->dir), 0);
    bl_git_revision(rev, sizeof rev);
    assert_string_equal(rev, "unknown");
    // In a fresh repository (only when git is installed): 12 hex digits; "-dirty" once a file under src/ is added,
    // not for a README.
    if (system("git --version >/dev/null 2>&1") == 0 &&
        system("git init -q . && git -c user.name=t -c user.email=t@t -c commit.gpgsign=false commit -q "
               "--allow-empty -m init >/dev/null 2>&1") == 0) {
        bl_git_revision(rev, sizeof rev);
        assert_int_equal(strlen(rev), 12);
        assert_int_equal(strspn(rev, "0123456789abcdef"), 12);
        assert_int_equal(write_file_atomic("README.md", "x", 1), BL_OK);
        bl_git_revision(rev, sizeof rev);
        assert_int_equal(strlen(rev), 12);
        assert_int_equal(mkdir("src", 0700), 0);
        assert_int_equal(write_file_atomic("src/new.c", "x", 1), BL_OK);
        bl_git_revision(rev, sizeof rev);
        assert_int_equal(strlen(rev), 18);
        assert_string_equal(rev + 12, "-dirty");
    }
    char small[4];
    bl_git_revision(small, sizeof small); // truncates, never overflows
    assert_int_equal(strlen(small), 3);
    assert_int_equal(chdir(cwd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensure_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provenance, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
