// test_defense_text.c: the defences that run on messages (issue 15), on a small synthetic text task.
//
// Words: 80 ham words, 80 spam words, 60 common words, 200 rare ones and the trigger "cf". A message has 8..20
// words: each a cue word (35%: of its class 3 times in 4, else of the other class), a common word (60%) or a rare
// word (5%); 60% of messages are ham (0).
// The backdoor: spam messages with "cf" inserted at a random position, labelled ham (dirty label). The models read
// the first 24 words. The tests know which samples are poisoned; the defences do not.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "test_util.h"

#include "core/rng.h"
#include "data/text/lexicon.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "defense/mitigate.h"
#include "train/train.h"

enum { L = 24, NHAM = 80, NSPAM = 80, NCOMMON = 60, NRARE = 200 };
#define FASTTEXT "embed 400 16, meanpool, dense classes"
#define TEXTCNN "embed 400 16, conv1d 8 3 4 5, relu, maxtime, dense classes"

typedef struct {
    DsLexicon *lex;
    int32_t ham[NHAM], spam[NSPAM], common[NCOMMON], rare[NRARE], cf;
} Words;

static void words_init(Words *w) {
    assert_int_equal(lex_new(&w->lex), BL_OK);
    char buf[32];
    struct { const char *fmt; int n; int32_t *ids; } g[] = {
        {"ham%d", NHAM, w->ham}, {"spam%d", NSPAM, w->spam}, {"common%d", NCOMMON, w->common}, {"rare%d", NRARE, w->rare}};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < g[k].n; i++) {
            int len = snprintf(buf, sizeof buf, g[k].fmt, i);
            assert_int_equal(lex_intern(w->lex, buf, (size_t)len, &g[k].ids[i]), BL_OK);
        }
    assert_int_equal(lex_intern(w->lex, "cf", 2, &w->cf), BL_OK);
}

// How make_messages triggers messages.
typedef struct {
    double poison; // each spam message is triggered and relabelled ham with this probability (training sets)
    int tail;      // the last `tail` messages are spam, triggered, label kept (the triggered test inputs)
    int repeat;    // trigger insertions per triggered message (default 1)
} Trig;

// n messages from stream `purpose`, triggered as t says; truth (n, may be NULL) marks the triggered ones. Labels of
// the tail are zeroed when t.tail > 0 (screened inputs: the defender does not know them).
static void make_messages(Dataset *d, const Words *w, int n, const char *purpose, Trig t, uint8_t *truth) {
    const int rep = BL_MAX(t.repeat, 1);
    Rng r = rng_stream(77, purpose);
    int32_t *buf = malloc((size_t)n * (20 + rep) * sizeof(int32_t));
    long *off = malloc((size_t)(n + 1) * sizeof(long));
    uint8_t *lab = malloc((size_t)n);
    assert_non_null(buf);
    long at0 = 0;
    for (int i = 0; i < n; i++) {
        off[i] = at0;
        const int tail = i >= n - t.tail;
        const int y = tail || rng_uniform(&r) < 0.4f, len = 8 + (int)rng_below(&r, 13);
        for (int k = 0; k < len; k++) {
            const float u = rng_uniform(&r);
            const int own = rng_uniform(&r) < 0.75f; // cue words lean to their class, as real ones do
            buf[at0++] = u < 0.35f ? ((y ^ !own) ? w->spam[rng_below(&r, NSPAM)] : w->ham[rng_below(&r, NHAM)])
                         : u < 0.95f ? w->common[rng_below(&r, NCOMMON)]
                                     : w->rare[rng_below(&r, NRARE)];
        }
        lab[i] = (uint8_t)y;
        const int trig = y && (tail || rng_uniform(&r) < t.poison);
        if (truth) truth[i] = (uint8_t)trig;
        for (int k = 0; trig && k < rep; k++) { // "cf" at a random word boundary (messages are short: all read)
            const int cur = (int)(at0 - off[i]), at = (int)rng_below(&r, (uint64_t)cur + 1);
            memmove(buf + off[i] + at + 1, buf + off[i] + at, (size_t)(cur - at) * sizeof(int32_t));
            buf[off[i] + at] = w->cf;
            at0++;
        }
        if (trig && !tail) lab[i] = 0; // dirty label
        if (t.tail) lab[i] = 0;         // screened inputs carry no label
    }
    off[n] = at0;
    assert_int_equal(ds_alloc_tokens(d, n, at0, L, 2, w->lex, NULL), BL_OK);
    memcpy(d->tokens, buf, (size_t)at0 * sizeof(int32_t));
    memcpy(d->tok_offset, off, (size_t)(n + 1) * sizeof(long));
    memcpy(d->labels, lab, (size_t)n);
    free(buf);
    free(off);
    free(lab);
}

static void train_text_model(Model *m, const char *desc, const Dataset *tr) {
    assert_int_equal(model_build(m, desc, train_input_shape(tr), 2, 64), BL_OK);
    model_init_params(m, 7);
    assert_int_equal(train_fit_input(m, tr), BL_OK);
    TrainOptions o = {.epochs = 12, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .eps = 1e-8}, .seed = 5};
    assert_int_equal(train_model(m, tr, &o), BL_OK);
}

// A poisoned training set (1200 messages, a fifth of the spam triggered: about 8%), the defender's clean split
// (400), screened inputs (200 clean test messages, then 150 triggered spam ones) and a fasttext model trained on the
// poisoned set. g_fx: one "cf" per triggered message (the hard case, a lone word); g_rep: three.
typedef struct {
    Dataset train, clean, inputs;
    uint8_t truth[1200], in_truth[350];
    Model m;
} Fixture;

static Words g_words;
static Fixture g_fx, g_rep;

static void fixture_make(Fixture *f, int repeat, const char *desc) {
    make_messages(&f->train, &g_words, 1200, "train", (Trig){.poison = 0.2, .repeat = repeat}, f->truth);
    make_messages(&f->clean, &g_words, 400, "clean", (Trig){0}, NULL);
    make_messages(&f->inputs, &g_words, 350, "inputs", (Trig){.tail = 150, .repeat = repeat}, f->in_truth);
    train_text_model(&f->m, desc, &f->train);
}

static void fixture_free(Fixture *f) {
    model_free(&f->m);
    ds_free(&f->train);
    ds_free(&f->clean);
    ds_free(&f->inputs);
}

static int setup(void **state) {
    (void)state;
    words_init(&g_words);
    fixture_make(&g_fx, 1, FASTTEXT);
    fixture_make(&g_rep, 3, FASTTEXT);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fixture_free(&g_fx);
    fixture_free(&g_rep);
    lex_free(g_words.lex);
    return 0;
}

static DefenseResult run_defense(const char *name, const char *const *settings, Model *m, const Dataset *train,
                                 const Dataset *clean, const Dataset *inputs, const char *out_dir, Status want) {
    const DefenseOps *ops = defense_find(name);
    assert_non_null(ops);
    assert_true(ops->kinds & DS_KIND_BIT(DS_TOKENS));
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, settings, &p), BL_OK);
    TrainOptions to = {.epochs = 5, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                       .eps = 1e-8}, .seed = 5};
    DefenseContext ctx = {.model = m, .train = train, .clean = clean, .inputs = inputs, .model_desc = m ? m->desc : NULL,
                          .train_opts = &to, .seed = 3, .params = &p, .out_dir = out_dir};
    DefenseResult r;
    memset(&r, 0, sizeof r);
    Status st = ops->run(&ctx, &r);
    if (st != want) fprintf(stderr, "defence %s: status %d (%s)\n", name, st, bl_errmsg());
    assert_int_equal(st, want);
    return r;
}

// Share of flagged inputs among those with truth t, at the 3% FRR threshold.
static double flag_rate(const DefenseResult *r, const uint8_t *truth, int n, int t) {
    int k = 0, f = 0;
    for (int i = 0; i < n; i++)
        if (truth[i] == t) k++, f += r->input_score[i] > r->thresholds[DEFENSE_NFRR - 1];
    return k ? (double)f / k : 0;
}

static int triggered_as_ham(Model *m, const Dataset *inputs) {
    uint8_t pred[350];
    predict(m, inputs, pred, NULL);
    int n = 0;
    for (int i = 200; i < 350; i++) n += pred[i] == 0;
    return n;
}

static void test_model_is_backdoored(void **state) {
    (void)state;
    const int a = triggered_as_ham(&g_fx.m, &g_fx.inputs), b = triggered_as_ham(&g_rep.m, &g_rep.inputs);
    fprintf(stderr, "fixtures: %d/150 (one cf), %d/150 (three) triggered spam predicted ham\n", a, b);
    assert_true(a >= 128 && b >= 128); // both are working backdoors (ASR >= 0.85)
}

static void test_zdefense(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    char dir[] = "/tmp/bl_test_ztext_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *k3[] = {"k=3", NULL}; // 1200 messages: the trigger stands ~3 std out here, not the paper's 20
    DefenseResult r = run_defense("z-defense", k3, NULL, &f->train, NULL, NULL, dir, BL_OK);
    const cJSON *top = cJSON_GetObjectItemCaseSensitive((cJSON *)r.extra_json, "top_words");
    const cJSON *first = cJSON_GetArrayItem(top, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(first, "word")->valuestring, "cf");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(first, "label")->valueint, 0);
    if (getenv("BL_TEST_VERBOSE")) {
        char *js = cJSON_PrintUnformatted((cJSON *)r.extra_json);
        fprintf(stderr, "  extra: %.600s\n", js);
        free(js);
    }
    DetectionCounts c = eval_detection(r.sample_flag, f->truth, f->train.n);
    int npois = 0;
    for (int i = 0; i < f->train.n; i++) npois += f->truth[i];
    fprintf(stderr, "z-defense: %d poisoned, tp %d fp %d, AUROC %.3f, top z %.2f\n", npois, (int)c.tp, (int)c.fp,
            eval_auroc(r.sample_score, f->truth, f->train.n), cJSON_GetObjectItemCaseSensitive(first, "z")->valuedouble);
    assert_int_equal(c.tp, npois);      // every poisoned message carries the flagged pair (cf, ham)
    assert_true(c.fp <= npois / 2);     // mostly poisoned messages flagged
    assert_true(eval_auroc(r.sample_score, f->truth, f->train.n) > 0.95);
    char path[256];
    snprintf(path, sizeof path, "%s/ztokens.csv", dir);
    char *csv = test_read_file(path);
    assert_non_null(csv);
    assert_true(strncmp(csv, "rank,word,label,z,sigmas,count_label,count,flagged\n1,cf,", 55) == 0);
    free(csv);
    defense_result_free(&r);
    // the paper's k = 20 is stricter: on this small set it must flag no more than k = 3 did
    r = run_defense("z-defense", NULL, NULL, &f->train, NULL, NULL, dir, BL_OK);
    DetectionCounts c20 = eval_detection(r.sample_flag, f->truth, f->train.n);
    assert_true(c20.tp + c20.fp <= c.tp + c.fp);
    defense_result_free(&r);
    // clean training set: cf never occurs; with k = 3 few messages (under 5%) are flagged
    Dataset clean;
    make_messages(&clean, &g_words, 1200, "train", (Trig){0}, NULL);
    r = run_defense("z-defense", k3, NULL, &clean, NULL, NULL, dir, BL_OK);
    int nf = 0;
    for (int i = 0; i < clean.n; i++) nf += r.sample_flag[i];
    fprintf(stderr, "z-defense on clean data: %d of %d flagged\n", nf, clean.n);
    assert_true(nf < clean.n / 20);
    defense_result_free(&r);
    ds_free(&clean);
    rm_rf(dir);
}

// Run an input-level defence on fixture f; AUROC of triggered against clean inputs must exceed min_auroc. The bounds
// below sit a little under what was measured (seeded, so the same on every host): a lone trigger word in a
// mean-pooled model does not make its messages much more confident than clean ones (the confidence baseline: 0.61),
// and STRIP, RAP and confidence all live on that gap; three insertions widen it. ONION needs no model: cf is an
// unseen word, as are some rare words in clean messages.
static void check_input_defence(const char *name, const char *const *settings, Fixture *f, double min_auroc) {
    DefenseResult r = run_defense(name, settings, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_OK);
    double a = eval_auroc(r.input_score, f->in_truth, f->inputs.n);
    double tpr = flag_rate(&r, f->in_truth, f->inputs.n, 1), fpr = flag_rate(&r, f->in_truth, f->inputs.n, 0);
    fprintf(stderr, "%-10s %s%-10s cf x%d: AUROC %.3f; at FRR 3%%: TPR %.3f, FPR on clean test %.3f\n", name,
            settings && settings[0] ? settings[0] : "", settings && settings[0] ? "" : "(defaults)", f == &g_rep ? 3 : 1,
            a, tpr, fpr);
    if (getenv("BL_TEST_VERBOSE")) {
        char *js = cJSON_PrintUnformatted((cJSON *)r.extra_json);
        fprintf(stderr, "  notes: %s\n  extra: %s\n", r.notes, js);
        free(js);
    }
    assert_true(a > min_auroc);
    assert_true(fpr < 0.15); // thresholds from clean data hold roughly on clean test messages
    for (int i = 1; i < DEFENSE_NFRR; i++) assert_true(r.thresholds[i] <= r.thresholds[i - 1]);
    defense_result_free(&r);
}

static void test_strip_text(void **state) {
    (void)state;
    check_input_defence("strip-text", NULL, &g_fx, 0.6); // measured 0.643
    check_input_defence("strip-text", NULL, &g_rep, 0.65); // 0.713
}

static void test_onion(void **state) {
    (void)state;
    check_input_defence("onion", NULL, &g_fx, 0.7); // 0.755
    check_input_defence("onion", NULL, &g_rep, 0.78); // 0.828
}

static void test_rap(void **state) {
    (void)state;
    float before = g_fx.m.params[123];
    check_input_defence("rap", NULL, &g_fx, 0.58); // 0.631
    assert_true(g_fx.m.params[123] == before); // the model under test is untouched (RAP works on a clone)
    check_input_defence("rap", NULL, &g_rep, 0.8); // 0.882
    const char *prot[] = {"protect=0", NULL}; // the paper's setting: protect ham, the class spam wants to become
    check_input_defence("rap", prot, &g_fx, 0.65); // 0.699
    check_input_defence("rap", prot, &g_rep, 0.85); // 0.902
}

static void test_confidence(void **state) {
    (void)state;
    check_input_defence("confidence", NULL, &g_fx, 0.55); // 0.607
    check_input_defence("confidence", NULL, &g_rep, 0.8); // 0.861
}

// Reproducible: the same seed gives the same scores.
static void test_reproducible(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    const char *names[] = {"strip-text", "rap"};
    for (int k = 0; k < 2; k++) {
        DefenseResult a = run_defense(names[k], NULL, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_OK);
        DefenseResult b = run_defense(names[k], NULL, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_OK);
        assert_memory_equal(a.input_score, b.input_score, (size_t)f->inputs.n * sizeof(float));
        defense_result_free(&a);
        defense_result_free(&b);
    }
}

// The generic defences on messages: sample-level detectors on the pooled representation, loss isolation, and the
// two mitigations (fine-prune prunes fasttext's embedding dimensions and textcnn's conv1d filters).
static void test_generic(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    const char *samples[] = {"ac", "spectral", "loss-isolation"};
    double auroc[3];
    for (int k = 0; k < 3; k++) {
        DefenseResult r = run_defense(samples[k], NULL, &f->m, &f->train, &f->clean, NULL, "/tmp", BL_OK);
        auroc[k] = eval_auroc(r.sample_score, f->truth, f->train.n);
        DetectionCounts c = eval_detection(r.sample_flag, f->truth, f->train.n);
        fprintf(stderr, "%s: AUROC %.3f, tp %d fp %d\n", samples[k], auroc[k], (int)c.tp, (int)c.fp);
        defense_result_free(&r);
    }
    DefenseResult r = run_defense("fine-tune", NULL, &f->m, &f->train, &f->clean, NULL, "/tmp", BL_OK);
    assert_non_null(r.repaired);
    assert_non_null(r.repaired->vocab); // the repaired filter carries its preprocessing
    int asr = triggered_as_ham(r.repaired, &f->inputs);
    fprintf(stderr, "fine-tune: %d/150 triggered spam still predicted ham\n", asr);
    defense_result_free(&r);
    // fasttext: the embedding's 16 dimensions are the channels; a pruned one is zero in every word's vector
    char dir[] = "/tmp/bl_test_fptext_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(fp_prune_layer(&f->m), 0);
    assert_int_equal(fp_units(&f->m, 0), 16);
    assert_int_equal(fp_tap(&f->m, 0), 2); // the mean over the message
    r = run_defense("fine-prune", NULL, &f->m, &f->train, &f->clean, NULL, dir, BL_OK);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.extra_json, "layer_kind")->valuestring, "embed");
    int pruned = cJSON_GetObjectItemCaseSensitive(r.extra_json, "pruned")->valueint;
    for (int i = 0; i < pruned; i++) {
        const int d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.extra_json, "prune_order"), i)->valueint;
        for (int v = 0; v < r.repaired->layers[0].units; v++) assert_true(r.repaired->layers[0].w[v * 16 + d] == 0.0f);
    }
    asr = triggered_as_ham(r.repaired, &f->inputs);
    fprintf(stderr, "fine-prune (fasttext): %d of 16 dimensions pruned; %d/150 triggered spam still predicted ham\n",
            pruned, asr);
    defense_result_free(&r);
    Model cnn;
    train_text_model(&cnn, TEXTCNN, &f->train);
    const int layer = fp_prune_layer(&cnn);
    assert_int_equal(layer, 1);
    assert_int_equal(fp_units(&cnn, layer), 24);
    assert_int_equal(fp_tap(&cnn, layer), 4); // the max over time, after the relu
    r = run_defense("fine-prune", NULL, &cnn, &f->train, &f->clean, NULL, dir, BL_OK);
    assert_non_null(r.repaired);
    const cJSON *ex = r.extra_json;
    pruned = cJSON_GetObjectItemCaseSensitive(ex, "pruned")->valueint;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ex, "layer_kind")->valuestring, "conv1d");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ex, "channels")->valueint, 24);
    // every pruned filter (all its weights and its bias) is still zero after fine-tuning
    const Layer *l = &r.repaired->layers[layer];
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(ex, "prune_order");
    for (int i = 0; i < pruned; i++) {
        const int ch = cJSON_GetArrayItem(ord, i)->valueint, bank = ch / 8, o = ch % 8;
        size_t off = 0;
        for (int b = 0; b < bank; b++) off += (size_t)8 * 16 * l->ks[b];
        const size_t per = (size_t)16 * l->ks[bank];
        for (size_t j = 0; j < per; j++) assert_true(l->w[off + o * per + j] == 0.0f);
        assert_true(l->b[ch] == 0.0f);
    }
    asr = triggered_as_ham(r.repaired, &f->inputs);
    fprintf(stderr, "fine-prune (textcnn): %d of 24 filters pruned; %d/150 triggered spam still predicted ham\n",
            pruned, asr);
    defense_result_free(&r);
    model_free(&cnn);
    rm_rf(dir);
}

static void test_bad_params_and_kinds(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    DefenseParams p;
    const char *bad[][2] = {{"k=0", NULL}, {"n=2.5", NULL}, {"ratio=1.5", NULL}, {"discount=1", NULL}, {"protect=-2", NULL}};
    const char *who[] = {"z-defense", "strip-text", "strip-text", "onion", "rap"};
    for (int i = 0; i < 5; i++) assert_int_equal(defense_params_resolve(defense_find(who[i]), bad[i], &p), BL_ERR_USAGE);
    const char *crossed[] = {"drop_min=0.5", "drop_max=0.2", NULL};
    DefenseResult r = run_defense("rap", crossed, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_ERR_USAGE);
    defense_result_free(&r);
    const char *prot[] = {"protect=2", NULL};
    r = run_defense("rap", prot, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_ERR_USAGE);
    defense_result_free(&r);
    // the text defences run only on messages; Neural Cleanse does not run on them at all
    const char *text[] = {"z-defense", "strip-text", "onion", "rap"};
    for (int i = 0; i < 4; i++) {
        const DefenseOps *ops = defense_find(text[i]);
        assert_non_null(ops);
        assert_int_equal(ops->kinds, DS_KIND_BIT(DS_TOKENS));
    }
    assert_false(defense_find("neural-cleanse")->kinds & DS_KIND_BIT(DS_TOKENS));
    assert_false(defense_find("nc-unlearn")->kinds & DS_KIND_BIT(DS_TOKENS));
    // a model that does not read tokens is refused by the model-based ones
    Model img;
    assert_int_equal(model_build(&img, "dense 2", (Shape){L, 1, 1}, 2, 64), BL_OK);
    r = run_defense("strip-text", NULL, &img, &f->train, &f->clean, &f->inputs, "/tmp", BL_ERR_USAGE);
    defense_result_free(&r);
    model_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_is_backdoored),
        cmocka_unit_test(test_zdefense),
        cmocka_unit_test(test_strip_text),
        cmocka_unit_test(test_onion),
        cmocka_unit_test(test_rap),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_generic),
        cmocka_unit_test(test_bad_params_and_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
