// test_plot.c: the gnuplot helper writes its script atomically, draws the PNG when gnuplot is installed, and
// turns a missing gnuplot into a note, never an error.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/plot.h"
#include "io/results.h"
#include "test_util.h"

static const char g_script[] = "set terminal png size 200,120\nset output 'line.png'\n"
                               "set datafile separator ','\nplot 'line.csv' using 1:2 with lines notitle\n";
static const char g_data[] = "x,y\n0,0\n1,1\n2,4\n";

// Is gnuplot on the test's own PATH? (Decides whether the PNG must exist.)
static int have_gnuplot(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

static size_t file_size(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static int count_entries(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static void make_dir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/bl_plot_XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void test_draws_png(void **state) {
    (void)state;
    char dir[64], path[128], note[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/line.csv", dir);
    assert_int_equal(write_file_atomic(path, g_data, strlen(g_data)), BL_OK);
    assert_int_equal(plot_script(dir, "line.gp", g_script, strlen(g_script), "line.png", note, sizeof note), BL_OK);
    assert_int_equal(file_size(dir, "line.gp"), strlen(g_script)); // the script is written whole
    assert_int_equal(count_entries(dir), have_gnuplot() ? 4 : 2);   // no temp files left behind
    if (have_gnuplot()) {
        assert_string_equal(note, "");
        assert_true(file_size(dir, "line.png") > 100);
        char *svg = test_read_file(strcat(strcpy(path, dir), "/line.svg")); // the SVG twin, whole
        assert_non_null(svg);
        assert_non_null(strstr(svg, "<svg"));
        assert_non_null(strstr(svg, "</svg>"));
        free(svg);
        FILE *f = fopen(strcat(strcpy(path, dir), "/line.png"), "rb");
        unsigned char sig[8] = {0};
        assert_non_null(f);
        assert_int_equal(fread(sig, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    } else {
        print_message("gnuplot is not on PATH: PNG assertions skipped\n");
    }
    rm_rf(dir);
}

// With PATH pointing at an empty folder gnuplot cannot start: still BL_OK, the script is written, a note says so.
static void test_missing_gnuplot(void **state) {
    (void)state;
    char dir[64], empty[64], note[256];
    make_dir(dir, sizeof dir);
    make_dir(empty, sizeof empty);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    assert_int_equal(setenv("PATH", empty, 1), 0);
    assert_int_equal(plot_run_gnuplot(dir, "line.gp"), 127);
    Status st = plot_script(dir, "line.gp", g_script, strlen(g_script), "line.png", note, sizeof note);
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    assert_int_equal(st, BL_OK);
    assert_non_null(strstr(note, "gnuplot not found"));
    assert_non_null(strstr(note, "line.png"));
    assert_int_equal(file_size(dir, "line.gp"), strlen(g_script));
    assert_int_equal(file_size(dir, "line.png"), 0);
    rm_rf(dir);
    rm_rf(empty);
}

// A folder that does not exist: the script cannot be written, which is an error (with the path in it).
static void test_unwritable(void **state) {
    (void)state;
    char note[256] = "x";
    Status st = plot_script("/nonexistent-bl-plot-dir", "a.gp", g_script, strlen(g_script), "a.png", note,
                            sizeof note);
    assert_int_equal(st, BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "/nonexistent-bl-plot-dir/a.gp"));
    // a script gnuplot rejects: BL_OK, with a note naming the exit status
    if (have_gnuplot()) {
        char dir[64];
        make_dir(dir, sizeof dir);
        const char bad[] = "this is not gnuplot\n";
        assert_int_equal(plot_script(dir, "bad.gp", bad, strlen(bad), "bad.png", note, sizeof note), BL_OK);
        assert_non_null(strstr(note, "exited with status"));
        rm_rf(dir);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draws_png),
        cmocka_unit_test(test_missing_gnuplot),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
