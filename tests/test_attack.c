// test_attack.c: BadNets trigger placement, spec checks, poisoning plan, manifest and triggered test set.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
// cmocka needs the above first.
#include <cmocka.h>

#include "attack/attack.h"
#include "attack/badnets.h"
#include "core/core.h"
#include "data/dataset.h"
#include "data/split.h"

static AttackSpec default_spec(void) {
    AttackSpec a;
    memset(&a, 0, sizeof a);
    a.enabled = 1;
    strcpy(a.type, "badnets");
    strcpy(a.trigger, "square");
    a.trigger_size = 3;
    a.position = POS_BOTTOM_RIGHT;
    a.trigger_value = 1.0f;
    a.target = 0;
    a.label_mode = LABEL_ALL2ONE;
    a.poison_rate = 0.1f;
    a.poison_base = BASE_NONTARGET;
    return a;
}

// n samples (c,h,w), pixel values in 1..100 (never 255, so the patch is recognisable), labels i % classes.
static Dataset make_ds(int n, int c, int h, int w, int classes) {
    Dataset d;
    assert_int_equal(ds_alloc(&d, n, c, h, w, classes), BL_OK);
    size_t ss = (size_t)ds_sample_size(&d);
    for (size_t i = 0; i < (size_t)n * ss; i++) d.images[i] = (uint8_t)(1 + (i * 7 + i / ss) % 100);
    for (int i = 0; i < n; i++) d.labels[i] = (uint8_t)(i % classes);
    return d;
}

static void assert_msg_has(const char *needle) {
    if (!strstr(bl_errmsg(), needle)) fail_msg("error message '%s' lacks '%s'", bl_errmsg(), needle);
}

// Stamp a zero image and check that exactly the s x s square with top-left (x0,y0) is `val` in every channel.
static void check_patch(const AttackSpec *a, int c, int h, int w, int x0, int y0, uint8_t val) {
    uint8_t *img = calloc((size_t)c * h * w, 1);
    badnets_stamp(a, img, c, h, w);
    int s = a->trigger_size;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int in = x >= x0 && x < x0 + s && y >= y0 && y < y0 + s;
                uint8_t got = img[((size_t)ch * h + y) * w + x];
                if (got != (in ? val : 0))
                    fail_msg("position %d: pixel (ch=%d, x=%d, y=%d) is %d, expected %d", (int)a->position, ch, x,
                             y, got, in ? val : 0);
            }
    free(img);
}

static void test_stamp_positions(void **state) {
    (void)state;
    AttackSpec a = default_spec();
    const int h = 10, w = 13; // not square, so x/y mix-ups show
    for (int c = 1; c <= 3; c += 2) {
        for (int s = 1; s <= 4; s += 3) {
            a.trigger_size = s;
            a.position = POS_BOTTOM_RIGHT;
            check_patch(&a, c, h, w, w - s, h - s, 255);
            a.position = POS_BOTTOM_LEFT;
            check_patch(&a, c, h, w, 0, h - s, 255);
            a.position = POS_TOP_LEFT;
            check_patch(&a, c, h, w, 0, 0, 255);
            a.position = POS_TOP_RIGHT;
            check_patch(&a, c, h, w, w - s, 0, 255);
            a.position = POS_CENTER;
            check_patch(&a, c, h, w, (w - s) / 2, (h - s) / 2, 255);
            a.position = POS_XY;
            a.pos_x = 7;
            a.pos_y = 2;
            check_patch(&a, c, h, w, 7, 2, 255);
        }
    }
    // Exact corner of the default on 28x28: rows/cols 25..27.
    a = default_spec();
    check_patch(&a, 1, 28, 28, 25, 25, 255);
    // trigger_value is scaled and rounded: 0.5 -> 128, 0.3 -> 77, 0 -> 0 (a black patch on a zero image).
    a.trigger_value = 0.5f;
    check_patch(&a, 1, 5, 5, 2, 2, 128);
    a.trigger_value = 0.3f;
    check_patch(&a, 1, 5, 5, 2, 2, 77);
}

static void test_check_errors(void **state) {
    (void)state;
    Dataset d = make_ds(4, 1, 10, 12, 10); // h=10, w=12
    AttackSpec a = default_spec();
    assert_int_equal(badnets_check(&a, &d), BL_OK);
    a.position = POS_XY;
    a.pos_x = 9, a.pos_y = 7; // exactly fits: 9+3 = 12, 7+3 = 10
    assert_int_equal(badnets_check(&a, &d), BL_OK);
    a.pos_x = 10;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("outside");
    a.pos_x = 0, a.pos_y = 8;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a.pos_x = -1, a.pos_y = 0;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a = default_spec();
    a.trigger_size = 11; // taller than the image
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("trigger_size");
    a.trigger_size = 0;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a = default_spec();
    a.target = 10;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("target 10");
    a.target = -1;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a = default_spec();
    a.trigger_value = 1.5f;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a = default_spec();
    a.poison_rate = 1.01f;
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    a = default_spec();
    strcpy(a.type, "blend");
    assert_int_equal(badnets_check(&a, &d), BL_ERR_USAGE);
    // badnets_poison and badnets_triggered_test refuse the same specs and leave outputs empty.
    a = default_spec();
    a.target = 12;
    Dataset p, t;
    PoisonManifest m;
    assert_int_equal(badnets_poison(&a, &d, 1, &p, &m), BL_ERR_USAGE);
    assert_null(p.images);
    assert_null(m.records);
    assert_int_equal(badnets_triggered_test(&a, &d, &t), BL_ERR_USAGE);
    assert_null(t.images);
    ds_free(&d);
}

static void test_target_label(void **state) {
    (void)state;
    AttackSpec a = default_spec();
    a.target = 3;
    assert_int_equal(badnets_target_label(&a, 7, 10), 3);
    assert_int_equal(badnets_target_label(&a, 3, 10), 3);
    a.label_mode = LABEL_ALL2ALL;
    assert_int_equal(badnets_target_label(&a, 7, 10), 8);
    assert_int_equal(badnets_target_label(&a, 9, 10), 0);
}

// Full consistency check of a poisoning result against its input.
static void check_poison(const AttackSpec *a, const Dataset *rest, const Dataset *p, const PoisonManifest *m) {
    assert_int_equal(p->n, rest->n);
    size_t ss = (size_t)ds_sample_size(rest);
    char *chosen = calloc((size_t)rest->n, 1);
    uint8_t *stamped = malloc(ss);
    for (int i = 0; i < m->count; i++) {
        int pos = m->positions[i];
        assert_in_range(pos, 0, rest->n - 1);
        assert_int_equal(chosen[pos], 0);
        chosen[pos] = 1;
        if (i > 0) assert_true(m->records[i - 1].orig_index < m->records[i].orig_index);
        assert_int_equal(m->records[i].orig_index, rest->orig_index[pos]);
        assert_int_equal(p->orig_index[pos], rest->orig_index[pos]);
        assert_int_equal(m->records[i].orig_label, rest->labels[pos]);
        int want = a->label_mode == LABEL_ALL2ONE ? a->target : (rest->labels[pos] + 1) % rest->num_classes;
        assert_int_equal(m->records[i].new_label, want);
        assert_int_equal(p->labels[pos], want);
        if (a->poison_base == BASE_NONTARGET) assert_int_not_equal(rest->labels[pos], a->target);
        // The poisoned image is the original with the patch, nothing else.
        memcpy(stamped, rest->images + (size_t)pos * ss, ss);
        badnets_stamp(a, stamped, rest->c, rest->h, rest->w);
        assert_memory_equal(p->images + (size_t)pos * ss, stamped, ss);
        assert_memory_not_equal(p->images + (size_t)pos * ss, rest->images + (size_t)pos * ss, ss);
    }
    for (int i = 0; i < rest->n; i++)
        if (!chosen[i]) {
            assert_memory_equal(p->images + (size_t)i * ss, rest->images + (size_t)i * ss, ss);
            assert_int_equal(p->labels[i], rest->labels[i]);
        }
    free(chosen);
    free(stamped);
}

static void test_poison_counts_and_bases(void **state) {
    (void)state;
    Dataset d = make_ds(200, 1, 8, 8, 10); // 20 per class
    AttackSpec a = default_spec();
    a.target = 2;
    Dataset p;
    PoisonManifest m;
    // nontarget base = 180 samples
    const float rates[] = {0.0f, 0.1f, 0.25f, 0.33f, 1.0f};
    const int want_nt[] = {0, 18, 45, 59, 180}; // round(0.33*180 = 59.4) = 59
    const int want_all[] = {0, 20, 50, 66, 200};
    for (size_t i = 0; i < BL_ARRAY_LEN(rates); i++) {
        a.poison_rate = rates[i];
        a.poison_base = BASE_NONTARGET;
        assert_int_equal(badnets_poison(&a, &d, 5, &p, &m), BL_OK);
        assert_int_equal(m.count, want_nt[i]);
        assert_true(m.rate > (double)want_nt[i] / 180 - 1e-12 && m.rate < (double)want_nt[i] / 180 + 1e-12);
        check_poison(&a, &d, &p, &m);
        ds_free(&p);
        poison_manifest_free(&m);
        a.poison_base = BASE_ALL;
        assert_int_equal(badnets_poison(&a, &d, 5, &p, &m), BL_OK);
        assert_int_equal(m.count, want_all[i]);
        check_poison(&a, &d, &p, &m);
        ds_free(&p);
        poison_manifest_free(&m);
    }
    // With base=all and rate 1, target-class samples are poisoned too (their label stays the target).
    a.poison_rate = 1.0f;
    a.poison_base = BASE_ALL;
    assert_int_equal(badnets_poison(&a, &d, 5, &p, &m), BL_OK);
    int target_class_hits = 0;
    for (int i = 0; i < m.count; i++) target_class_hits += m.records[i].orig_label == a.target;
    assert_int_equal(target_class_hits, 20);
    ds_free(&p);
    poison_manifest_free(&m);
    ds_free(&d);
}

static void test_poison_all2all(void **state) {
    (void)state;
    Dataset d = make_ds(100, 3, 6, 6, 5);
    AttackSpec a = default_spec();
    a.label_mode = LABEL_ALL2ALL;
    a.target = 1;
    a.poison_rate = 0.5f;
    a.position = POS_TOP_LEFT;
    Dataset p;
    PoisonManifest m;
    assert_int_equal(badnets_poison(&a, &d, 9, &p, &m), BL_OK);
    assert_int_equal(m.count, 40); // nontarget base: 80 samples with label != 1
    check_poison(&a, &d, &p, &m);
    for (int i = 0; i < m.count; i++) {
        assert_int_not_equal(m.records[i].orig_label, 1);
        assert_int_equal(m.records[i].new_label, (m.records[i].orig_label + 1) % 5);
    }
    ds_free(&p);
    poison_manifest_free(&m);
    ds_free(&d);
}

static void test_poison_determinism_and_split_indices(void **state) {
    (void)state;
    Dataset full = make_ds(300, 1, 5, 5, 3), def, rest;
    assert_int_equal(split_defender(&full, 0.2, 11, &def, &rest), BL_OK);
    AttackSpec a = default_spec();
    a.poison_rate = 0.2f;
    Dataset p1, p2, p3;
    PoisonManifest m1, m2, m3;
    assert_int_equal(badnets_poison(&a, &rest, 77, &p1, &m1), BL_OK);
    assert_int_equal(badnets_poison(&a, &rest, 77, &p2, &m2), BL_OK);
    assert_int_equal(badnets_poison(&a, &rest, 78, &p3, &m3), BL_OK);
    check_poison(&a, &rest, &p1, &m1);
    assert_int_equal(m1.count, m2.count);
    assert_memory_equal(m1.records, m2.records, (size_t)m1.count * sizeof *m1.records);
    assert_memory_equal(p1.images, p2.images, (size_t)p1.n * 25);
    assert_memory_equal(p1.labels, p2.labels, (size_t)p1.n);
    assert_int_equal(m1.count, m3.count);
    assert_memory_not_equal(m1.positions, m3.positions, (size_t)m1.count * sizeof(int));
    // orig_index in the manifest refers to the original file, not to positions in `rest`.
    int differs = 0;
    for (int i = 0; i < m1.count; i++) differs |= m1.records[i].orig_index != m1.positions[i];
    assert_true(differs);
    // The defender split shares no sample with the poisoned set.
    for (int i = 0; i < m1.count; i++)
        for (int j = 0; j < def.n; j++) assert_int_not_equal(def.orig_index[j], m1.records[i].orig_index);
    ds_free(&p1), ds_free(&p2), ds_free(&p3);
    poison_manifest_free(&m1), poison_manifest_free(&m2), poison_manifest_free(&m3);
    ds_free(&def), ds_free(&rest), ds_free(&full);
}

static void test_manifest_csv(void **state) {
    (void)state;
    char dir[] = "/tmp/bl_test_attack_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/poison.csv", dir);
    PoisonRecord recs[3] = {{4, 1, 0}, {17, 9, 0}, {1203, 2, 0}};
    int pos[3] = {0, 1, 2};
    PoisonManifest m = {3, recs, pos, 0.5};
    assert_int_equal(poison_manifest_write_csv(&m, path), BL_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[256] = {0};
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_int_equal(len, strlen(buf));
    assert_string_equal(buf, "index,original_label,new_label\n4,1,0\n17,9,0\n1203,2,0\n");
    // Only the CSV is left in the folder (no temp file).
    DIR *dd = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(dd));) files += e->d_name[0] != '.';
    closedir(dd);
    assert_int_equal(files, 1);
    // Empty manifest: header only. Unwritable folder: error, not a crash.
    PoisonManifest e = {0};
    assert_int_equal(poison_manifest_write_csv(&e, path), BL_OK);
    f = fopen(path, "r");
    memset(buf, 0, sizeof buf);
    assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, "index,original_label,new_label\n");
    assert_int_equal(poison_manifest_write_csv(&m, "/nonexistent-bl-dir/poison.csv"), BL_ERR_RUN);
    unlink(path);
    rmdir(dir);
}

static void test_triggered_test(void **state) {
    (void)state;
    Dataset t = make_ds(30, 1, 7, 7, 3), tr;
    AttackSpec a = default_spec();
    a.position = POS_CENTER;
    assert_int_equal(badnets_triggered_test(&a, &t, &tr), BL_OK);
    assert_int_equal(tr.n, 30);
    assert_memory_equal(tr.labels, t.labels, 30);
    assert_memory_equal(tr.orig_index, t.orig_index, 30 * sizeof(int));
    uint8_t img[49];
    for (int i = 0; i < 30; i++) {
        memcpy(img, t.images + i * 49, 49);
        badnets_stamp(&a, img, 1, 7, 7);
        assert_memory_equal(tr.images + i * 49, img, 49);
        assert_int_equal(tr.images[i * 49 + 3 * 7 + 3], 255); // the centre pixel is in the patch
    }
    // The input is untouched.
    Dataset again = make_ds(30, 1, 7, 7, 3);
    assert_memory_equal(again.images, t.images, 30 * 49);
    ds_free(&again), ds_free(&tr), ds_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_positions),
        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_target_label),
        cmocka_unit_test(test_poison_counts_and_bases),
        cmocka_unit_test(test_poison_all2all),
        cmocka_unit_test(test_poison_determinism_and_split_indices),
        cmocka_unit_test(test_manifest_csv),
        cmocka_unit_test(test_triggered_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
