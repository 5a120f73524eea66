// test_eval.c: Wilson intervals against published values; CA/ASR/RA counting rules.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eval/metrics.h"

static void test_wilson(void **state) {
    (void)state;
    Proportion p = proportion_make(5, 10); // Wilson (1927); e.g. Newcombe 1998 Table I: 0.2366-0.7634
    assert_true(fabs(p.lo - 0.2366) < 1e-4 && fabs(p.hi - 0.7634) < 1e-4);
    p = proportion_make(0, 10); // 0 - 0.2775
    assert_true(fabs(p.lo) < 1e-12 && fabs(p.hi - 0.2775) < 1e-4);
    p = proportion_make(10, 10);
    assert_true(fabs(p.hi - 1.0) < 1e-12 && fabs(p.lo - 0.7225) < 1e-4);
    p = proportion_make(0, 0);
    assert_true(p.p == 0.0 && p.n == 0);
}

static void test_asr_all2one(void **state) {
    (void)state;
    //                  true labels, clean predictions, triggered predictions
    uint8_t y[8] = {0, 0, 1, 1, 2, 2, 2, 1};
    uint8_t pred[8] = {0, 1, 1, 1, 2, 0, 2, 1};
    uint8_t trig[8] = {0, 0, 0, 1, 0, 0, 2, 0};
    AttackSpec a = {.enabled = 1, .target = 0, .label_mode = LABEL_ALL2ONE};
    Metrics m;
    assert_int_equal(metrics_compute(y, pred, trig, 8, 3, &a, &m), BL_OK);
    assert_int_equal(m.ca.k, 6);
    assert_int_equal(m.ca.n, 8);
    assert_int_equal(m.asr.n, 6);  // the two target-class images do not count
    assert_int_equal(m.asr.k, 4);  // indices 2, 4, 5, 7
    assert_int_equal(m.ra.k, 2);   // indices 3, 6
    assert_int_equal(m.asr_all.k, 6);
    assert_int_equal(m.asr_class[0].n, 0);
    assert_int_equal(m.asr_class[2].k, 2);
    assert_int_equal(m.confusion[2 * 3 + 0], 1);
    assert_int_equal(m.ca_class[0].k, 1);
    metrics_free(&m);
}

static void test_asr_all2all(void **state) {
    (void)state;
    uint8_t y[4] = {0, 1, 2, 2}, pred[4] = {0, 1, 2, 2}, trig[4] = {1, 2, 0, 2};
    AttackSpec a = {.enabled = 1, .target = 0, .label_mode = LABEL_ALL2ALL};
    Metrics m;
    assert_int_equal(metrics_compute(y, pred, trig, 4, 3, &a, &m), BL_OK);
    assert_int_equal(m.asr.n, 4);
    assert_int_equal(m.asr.k, 3);
    assert_int_equal(m.ra.k, 1);
    metrics_free(&m);
}

static void test_no_attack(void **state) {
    (void)state;
    uint8_t y[2] = {0, 1}, pred[2] = {1, 1};
    Metrics m;
    assert_int_equal(metrics_compute(y, pred, NULL, 2, 2, NULL, &m), BL_OK);
    assert_int_equal(m.has_attack, 0);
    assert_true(m.ca.p == 0.5);
    metrics_free(&m);
    assert_int_equal(metrics_compute(y, pred, NULL, 2, 1, NULL, &m), BL_ERR_USAGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_asr_all2one),
        cmocka_unit_test(test_asr_all2all),
        cmocka_unit_test(test_no_attack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
