// test_attack_lc.c: the label-consistent attack on a tiny task: PGD stays in its eps-ball and raises the
// surrogate's loss, the patch is stamped, labels never change, only target-class samples are touched, and the
// in-process surrogate gives the same poison on every run. Trains two ~1 s models.
#include <math.h>
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

#include "attack/registry.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "nn/model.h"
#include "train/train.h"

#define NET "conv 4 3, relu, flatten, dense 3"

// 240 8x8 images, 3 classes: class k is bright in band k (rows 2k..2k+2) plus noise.
static Dataset make_task(void) {
    Dataset d;
    assert_int_equal(ds_alloc(&d, 240, 1, 8, 8, 3), BL_OK);
    Rng r = rng_stream(3, "test");
    for (int i = 0; i < 240; i++) {
        int y = i % 3;
        d.labels[i] = (uint8_t)y;
        for (int p = 0; p < 64; p++) {
            int row = p / 8, band = row >= 2 * y && row < 2 * y + 3;
            d.images[i * 64 + p] = (uint8_t)((band ? 150 : 40) + rng_below(&r, 60));
        }
    }
    return d;
}

static TrainOptions train_opts(void) {
    TrainOptions o = {.epochs = 2, .batch = 32, .seed = 1};
    o.opt.kind = OPT_SGD;
    o.opt.lr = 0.05;
    o.opt.momentum = 0.9;
    o.opt.epochs = 2;
    return o;
}

// Mean cross-entropy of model m on the samples at positions pos (n of them).
static double mean_loss(Model *m, const Dataset *d, const int *pos, int n) {
    Dataset s;
    assert_int_equal(ds_select(d, pos, n, &s), BL_OK);
    float *probs = malloc((size_t)n * 3 * sizeof(float));
    uint8_t *pred = malloc((size_t)n);
    predict(m, &s, pred, probs);
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum -= log(fmax(probs[i * 3 + s.labels[i]], 1e-12));
    free(probs), free(pred);
    ds_free(&s);
    return sum / n;
}

static void test_label_consistent(void **state) {
    (void)state;
    Dataset d = make_task();
    Model m;
    assert_int_equal(model_build(&m, NET, (Shape){1, 8, 8}, 3, 32), BL_OK);
    model_init_params(&m, 1);
    TrainOptions o = train_opts();
    assert_int_equal(train_model(&m, &d, &o), BL_OK);
    char path[] = "/tmp/bl_test_lc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(model_save(&m, path, NULL, NULL), BL_OK);

    AttackSpec a;
    attack_spec_defaults(&a, "label-consistent");
    a.enabled = 1;
    a.target = 1;
    a.poison_rate = 0.5f; // of the 80 target-class samples
    a.eps = 0.1f;
    a.steps = 5;
    a.trigger_size = 2;
    snprintf(a.surrogate, sizeof a.surrogate, "%s", path);
    Dataset p;
    PoisonManifest man;
    assert_int_equal(attack_poison(&a, &d, 7, NULL, &p, &man), BL_OK);
    assert_int_equal(man.count, 40);
    assert_memory_equal(p.labels, d.labels, 240);
    char *chosen = calloc(240, 1);
    int moved = 0;
    for (int i = 0; i < man.count; i++) {
        int pos = man.positions[i];
        chosen[pos] = 1;
        assert_int_equal(man.records[i].orig_label, 1);
        assert_int_equal(man.records[i].new_label, 1);
        for (int q = 0; q < 64; q++) {
            int y = q / 8, x = q % 8, diff = (int)p.images[pos * 64 + q] - (int)d.images[pos * 64 + q];
            if (y >= 6 && x >= 6) assert_int_equal(p.images[pos * 64 + q], 255); // the patch
            else assert_true(abs(diff) <= 26);                                  // eps 0.1 = 25.5 levels
            moved += diff != 0;
        }
    }
    assert_true(moved > 40 * 40); // PGD moved most pixels
    for (int i = 0; i < 240; i++)
        if (!chosen[i]) assert_memory_equal(p.images + i * 64, d.images + i * 64, 64);
    // PGD pushed the poisoned images away from their (correct) label on the surrogate.
    double before = mean_loss(&m, &d, man.positions, man.count), after = mean_loss(&m, &p, man.positions, man.count);
    print_message("surrogate loss before %.4f after %.4f\n", before, after);
    assert_true(after > 4 * before && after > before + 0.2);
    free(chosen);
    ds_free(&p);
    poison_manifest_free(&man);

    // In-process surrogate: same poison on every run; none without a way to get a surrogate.
    a.surrogate[0] = 0;
    AttackContext ctx = {.model_desc = NET, .train = train_opts()};
    Dataset p2;
    PoisonManifest m2;
    assert_int_equal(attack_poison(&a, &d, 7, &ctx, &p, &man), BL_OK);
    assert_int_equal(attack_poison(&a, &d, 7, &ctx, &p2, &m2), BL_OK);
    assert_memory_equal(p.images, p2.images, 240 * 64);
    assert_memory_not_equal(p.images, d.images, 240 * 64);
    ds_free(&p), ds_free(&p2);
    poison_manifest_free(&man), poison_manifest_free(&m2);
    assert_int_equal(attack_poison(&a, &d, 7, NULL, &p, &man), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "needs a surrogate model"));
    // A surrogate file that is not a model.
    snprintf(a.surrogate, sizeof a.surrogate, "/nonexistent/model.bdm");
    assert_int_not_equal(attack_poison(&a, &d, 7, NULL, &p, &man), BL_OK);
    assert_non_null(strstr(bl_errmsg(), "surrogate"));
    model_free(&m);
    unlink(path);
    ds_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
