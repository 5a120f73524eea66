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

// n messages from stream `purpose`. poison_rate: each spam message is triggered and relabelled ham with this
// probability (truth[i] = 1); trigger_spam = 1 triggers every spam message but keeps its label (the triggered test
// inputs; truth = 1 for them). truth may be NULL.
static void make_messages(Dataset *d, const Words *w, int n, const char *purpose, double poison_rate, int trigger_spam,
                          uint8_t *truth) {
    Rng r = rng_stream(77, purpose);
    int32_t *buf = malloc((size_t)n * 21 * sizeof(int32_t));
    long *off = malloc((size_t)(n + 1) * sizeof(long));
    uint8_t *lab = malloc((size_t)n);
    assert_non_null(buf);
    long t = 0;
    for (int i = 0; i < n; i++) {
        off[i] = t;
        const int y = rng_uniform(&r) < 0.4f, len = 8 + (int)rng_below(&r, 13);
        for (int k = 0; k < len; k++) {
            const float u = rng_uniform(&r);
            const int own = rng_uniform(&r) < 0.75f; // class words lean to their class, as real cue words do
            buf[t++] = u < 0.35f ? ((y ^ !own) ? w->spam[rng_below(&r, NSPAM)] : w->ham[rng_below(&r, NHAM)])
                       : u < 0.95f ? w->common[rng_below(&r, NCOMMON)]
                                   : w->rare[rng_below(&r, NRARE)];
        }
        lab[i] = (uint8_t)y;
        const int trig = y && (trigger_spam || rng_uniform(&r) < poison_rate);
        if (truth) truth[i] = (uint8_t)trig;
        if (trig) { // insert "cf" at a random word boundary of the first L - 1 positions (the model reads it)
            const int at = (int)rng_below(&r, (uint64_t)len + 1);
            memmove(buf + off[i] + at + 1, buf + off[i] + at, (size_t)(len - at) * sizeof(int32_t));
            buf[off[i] + at] = w->cf;
            t++;
            if (!trigger_spam) lab[i] = 0;
        }
    }
    off[n] = t;
    assert_int_equal(ds_alloc_tokens(d, n, t, L, 2, w->lex, NULL), BL_OK);
    memcpy(d->tokens, buf, (size_t)t * sizeof(int32_t));
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

// The shared fixture: a poisoned training set (about 8% poisoned), a clean defender split, screened inputs (200
// clean test messages then 150 triggered spam ones) and a fasttext model trained on the poisoned set.
typedef struct {
    Words w;
    Dataset train, clean, inputs;
    uint8_t truth[1200], in_truth[350];
    Model m;
} Fixture;

static Fixture g_fx;

static int setup(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    words_init(&f->w);
    make_messages(&f->train, &f->w, 1200, "train", 0.2, 0, f->truth);
    make_messages(&f->clean, &f->w, 400, "clean", 0, 0, NULL);
    Dataset a, b;
    make_messages(&a, &f->w, 200, "test-clean", 0, 0, NULL);
    Rng r = rng_stream(78, "spam-only"); // 150 spam messages, triggered: draw until enough
    (void)r;
    make_messages(&b, &f->w, 400, "test-spam", 0, 1, f->in_truth); // in_truth marks the triggered (spam) ones
    int idx[350], k = 0;
    for (int i = 0; i < 200; i++) idx[k++] = i;
    // concatenate: the clean part's 200, then the first 150 triggered spam messages of b
    Dataset both;
    int tot = (int)(a.tok_offset[200]);
    int nb = 0, bi[400];
    for (int i = 0; i < b.n && nb < 150; i++)
        if (f->in_truth[i]) bi[nb++] = i;
    assert_int_equal(nb, 150);
    long tb = 0;
    for (int i = 0; i < nb; i++) tb += b.tok_offset[bi[i] + 1] - b.tok_offset[bi[i]];
    assert_int_equal(ds_alloc_tokens(&both, 350, tot + tb, L, 2, f->w.lex, NULL), BL_OK);
    long t = 0;
    for (int i = 0; i < 350; i++) {
        const Dataset *s = i < 200 ? &a : &b;
        const int j = i < 200 ? i : bi[i - 200];
        const long len = s->tok_offset[j + 1] - s->tok_offset[j];
        both.tok_offset[i] = t;
        memcpy(both.tokens + t, s->tokens + s->tok_offset[j], (size_t)len * sizeof(int32_t));
        t += len;
        both.labels[i] = 0; // the defender does not know them
    }
    both.tok_offset[350] = t;
    (void)idx;
    for (int i = 0; i < 350; i++) f->in_truth[i] = i >= 200;
    f->inputs = both;
    ds_free(&a);
    ds_free(&b);
    train_text_model(&f->m, getenv("XDESC") ? TEXTCNN : FASTTEXT, &f->train);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    model_free(&g_fx.m);
    ds_free(&g_fx.train);
    ds_free(&g_fx.clean);
    ds_free(&g_fx.inputs);
    lex_free(g_fx.w.lex);
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

static void test_model_is_backdoored(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    uint8_t pred[350];
    predict(&f->m, &f->inputs, pred, NULL);
    int asr = 0;
    for (int i = 200; i < 350; i++) asr += pred[i] == 0;
    fprintf(stderr, "fixture: %d/150 triggered spam predicted ham\n", asr);
    assert_true(asr >= 135); // the fixture is a working backdoor
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
    make_messages(&clean, &f->w, 1200, "train", 0, 0, NULL);
    r = run_defense("z-defense", k3, NULL, &clean, NULL, NULL, dir, BL_OK);
    int nf = 0;
    for (int i = 0; i < clean.n; i++) nf += r.sample_flag[i];
    fprintf(stderr, "z-defense on clean data: %d of %d flagged\n", nf, clean.n);
    assert_true(nf < clean.n / 20);
    defense_result_free(&r);
    ds_free(&clean);
    rm_rf(dir);
}

static void check_input_defence(const char *name, const char *const *settings, double min_auroc) {
    Fixture *f = &g_fx;
    const char *over[8] = {0}; // SCRATCH
    char obuf[256];
    if (getenv("XSET") && getenv("XNAME") && !strcmp(getenv("XNAME"), name)) {
        snprintf(obuf, sizeof obuf, "%s", getenv("XSET"));
        int k = 0;
        for (char *tok = strtok(obuf, " "); tok && k < 7; tok = strtok(NULL, " ")) over[k++] = tok;
        settings = over;
    }
    DefenseResult r = run_defense(name, settings, &f->m, &f->train, &f->clean, &f->inputs, "/tmp", BL_OK);
    double a = eval_auroc(r.input_score, f->in_truth, f->inputs.n);
    double tpr = flag_rate(&r, f->in_truth, f->inputs.n, 1), fpr = flag_rate(&r, f->in_truth, f->inputs.n, 0);
    fprintf(stderr, "%s: AUROC %.3f; at FRR 3%%: TPR %.3f, FPR on clean test %.3f%s%s\n", name, a, tpr, fpr,
            r.notes[0] ? "; notes: " : "", r.notes);
    if (getenv("BL_TEST_VERBOSE")) {
        char *js = cJSON_PrintUnformatted((cJSON *)r.extra_json);
        fprintf(stderr, "  extra: %s\n", js);
        free(js);
    }
    assert_true(a > min_auroc);
    assert_true(fpr < 0.15); // thresholds from clean data hold roughly on clean test messages
    for (int i = 1; i < DEFENSE_NFRR; i++) assert_true(r.thresholds[i] <= r.thresholds[i - 1]);
    defense_result_free(&r);
}

static void test_strip_text(void **state) {
    (void)state;
    check_input_defence("strip-text", NULL, 0.8);
}

static void test_onion(void **state) {
    (void)state;
    check_input_defence("onion", NULL, 0.8);
}

static void test_rap(void **state) {
    (void)state;
    Fixture *f = &g_fx;
    float before = f->m.params[123];
    check_input_defence("rap", NULL, 0.8);
    assert_true(f->m.params[123] == before); // the model under test is untouched (RAP works on a clone)
    const char *prot[] = {"protect=0", NULL}; // the paper's setting: protect ham, the class spam wants to become
    check_input_defence("rap", prot, 0.8);
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
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_bad_params_and_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
