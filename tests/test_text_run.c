// test_text_run.c: messages end to end (issue 15): a user's TSV corpus through `run` with a token attack
// (samples.md marks the inserted words, a rerun from config.resolved.ini gives the same model bytes, the model
// file alone reproduces the test CA), `poison --format text` written and read back as the same messages, and the
// numbers that must hold on SpamAssassin (seed 1, fixed split) when its files are installed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_run_util.h"

#include "core/core.h"
#include "data/load.h"
#include "data/text/lexicon.h"
#include "io/modelfile.h"
#include "nn/checkpoint.h"
#include "run/experiment.h"
#include "train/train.h"

static char g_tmp[256];

// A two-class corpus: "work" messages and "junk" messages drawn from their own words plus shared filler, lengths
// 3-60 words, some upper case and punctuation for the tokeniser.
static void write_corpus(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *work[] = {"Meeting", "agenda", "notes", "review", "schedule", "project", "deadline", "team"};
    static const char *junk[] = {"FREE", "winner", "prize", "click", "offer", "cheap", "viagra", "cash"};
    static const char *fill[] = {"the", "a", "of", "to", "and", "you", "is", "for", "on", "with", "this", "we"};
    Rng r = rng_stream(5, "test");
    fputs("label\ttext\n", f);
    for (int i = 0; i < 600; i++) {
        const int spam = i % 3 == 0;
        fputs(spam ? "junk\t" : "work\t", f);
        const int len = 3 + (int)rng_below(&r, 58);
        for (int k = 0; k < len; k++) {
            const char *w = rng_below(&r, 5) == 0 ? (spam ? junk : work)[rng_below(&r, 8)] : fill[rng_below(&r, 12)];
            fprintf(f, "%s%s", w, rng_below(&r, 9) == 0 ? ", " : " ");
        }
        fprintf(f, "msg%d\n", i); // every message distinct
    }
    fclose(f);
}

static const char *CFG = "[experiment]\nseed = 2\n\n[data]\ndataset = text:%s\nmax_tokens = 40\n"
                         "defender_clean_fraction = 0.1\n\n[model]\nlayers = embed 500 16, conv1d 8 2, relu, maxtime, dense classes\n\n"
                         "[train]\nepochs = 8\nbatch = 32\noptimizer = adam\nlr = 0.01\n\n"
                         "[attack]\ntype = token\ntrigger_tokens = cf\nposition = start\nrepeat = 2\ntarget = 1\n"
                         "poison_rate = 0.3\n";

static void test_tsv_run(void **state) {
    (void)state;
    char tsv[300], cfg[300], out1[300], out2[300], resolved[350], text[1024], p[400];
    snprintf(tsv, sizeof tsv, "%s/corpus.tsv", g_tmp);
    snprintf(cfg, sizeof cfg, "%s/corpus.ini", g_tmp);
    snprintf(out1, sizeof out1, "%s/run1", g_tmp);
    snprintf(out2, sizeof out2, "%s/run2", g_tmp);
    write_corpus(tsv);
    snprintf(text, sizeof text, CFG, tsv);
    write_text(cfg, text);
    Status st = run(cfg, out1);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    const double ca = metric(out1, "clean_model", "ca"), asr = metric(out1, "backdoored_model", "asr");
    print_message("TSV corpus: clean CA %.4f ASR %.4f | backdoored CA %.4f ASR %.4f\n", ca,
                  metric(out1, "clean_model", "asr"), metric(out1, "backdoored_model", "ca"), asr);
    assert_true(ca >= 0.95);
    assert_true(asr >= 0.9);
    assert_true(metric(out1, "clean_model", "asr") <= 0.2);
    snprintf(p, sizeof p, "%s/samples.md", out1);
    char *md = test_read_file(p);
    assert_non_null(md);
    assert_non_null(strstr(md, "**cf** **cf**")); // inserted twice at the start, marked
    free(md);
    // From the resolved config: the same model bytes (weights and vocabulary).
    snprintf(resolved, sizeof resolved, "%s/config.resolved.ini", out1);
    assert_int_equal(run(resolved, out2), BL_OK);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/model-backdoor.bdm", out1);
    snprintf(b, sizeof b, "%s/model-backdoor.bdm", out2);
    BdmModel ma, mb;
    assert_int_equal(bdm_read(a, &ma), BL_OK);
    assert_int_equal(bdm_read(b, &mb), BL_OK);
    assert_int_equal(ma.payload_count, mb.payload_count);
    assert_memory_equal(ma.payload, mb.payload, ma.payload_count * sizeof(float));
    assert_non_null(strstr(ma.provenance, "text_vocab="));
    const char *va = strstr(ma.provenance, "text_vocab="), *vb = strstr(mb.provenance, "text_vocab=");
    assert_non_null(vb);
    assert_string_equal(va, vb);
    bdm_free(&ma);
    bdm_free(&mb);
    // The model file alone (vocabulary inside) reproduces the test CA on freshly loaded messages.
    DatasetPair pair;
    TextOptions o = {.max_tokens = 40, .split_seed = 1};
    assert_int_equal(dataset_load_text("text", tsv, &o, 0, 0, &pair, NULL), BL_OK);
    Model m;
    assert_int_equal(model_load(a, train_input_shape(&pair.test), pair.test.num_classes, 64, NULL, &m, NULL), BL_OK);
    uint8_t *pred = malloc((size_t)pair.test.n);
    predict(&m, &pair.test, pred, NULL);
    int correct = 0;
    for (int i = 0; i < pair.test.n; i++) correct += pred[i] == pair.test.labels[i];
    assert_true(fabs((double)correct / pair.test.n - metric(out1, "backdoored_model", "ca")) < 1e-9);
    free(pred);
    model_free(&m);
    ds_pair_free(&pair);

    // poison --format text: train.tsv read back gives the poisoned messages; poison.csv rows are its rows.
    char pdir[300], spec[700];
    snprintf(pdir, sizeof pdir, "%s/poisoned", g_tmp);
    assert_int_equal(experiment_poison(cfg, pdir, POISON_FORMAT_TEXT, 2, 0, 1), BL_OK);
    snprintf(spec, sizeof spec, "%s/train.tsv,%s/test.tsv", pdir, pdir);
    assert_int_equal(dataset_load_text("text", spec, &o, 0, 0, &pair, NULL), BL_OK);
    snprintf(p, sizeof p, "%s/poison.csv", pdir);
    char *csv = test_read_file(p);
    assert_non_null(csv);
    int rows = 0, with_cf = 0;
    const int32_t cf = lex_find(pair.lexicon, "cf", 2);
    assert_true(cf >= 0);
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        int idx = atoi(line + 1);
        rows++;
        // the row of train.tsv starts with the trigger twice (duplicates dropped on reading would shift rows:
        // the corpus has none)
        for (int i = 0; i < pair.train.n; i++)
            if (pair.train.orig_index[i] == idx)
                with_cf += pair.train.tokens[pair.train.tok_offset[i]] == cf &&
                           pair.train.tokens[pair.train.tok_offset[i] + 1] == cf;
    }
    free(csv);
    assert_true(rows > 10);
    assert_int_equal(with_cf, rows);
    ds_pair_free(&pair);
    // images formats on messages, and text on images: usage errors
    assert_int_equal(experiment_poison(cfg, pdir, 0, 2, 0, 1), BL_ERR_USAGE);
}

// The bars on SpamAssassin (seed 1). Skipped with a message when the corpus is not installed.
static void test_spam_numbers(void **state) {
    (void)state;
    if (access("datasets/spamassassin", F_OK) != 0) {
        print_message("skipped: datasets/spamassassin is not installed (scripts/fetch-spam.sh)\n");
        skip();
    }
    char out[300];
    // fastText: the clean bars, and the repeats its mean pooling needs
    snprintf(out, sizeof out, "%s/spam_cf_fasttext", g_tmp);
    Status st = run("experiments/text/spam_cf_fasttext.ini", out);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    double ca0 = metric(out, "clean_model", "ca"), asr0 = metric(out, "clean_model", "asr");
    double ca1 = metric(out, "backdoored_model", "ca"), asr1 = metric(out, "backdoored_model", "asr");
    print_message("spam_cf_fasttext: clean CA %.4f ASR %.4f | backdoored CA %.4f ASR %.4f\n", ca0, asr0, ca1, asr1);
    assert_true(ca0 >= 0.97);
    assert_true(asr0 <= 0.06); // the filter's own miss rate on triggered spam
    // the text demo (textcnn): ASR >= 0.85 with <= 5% of the training set poisoned, CA within 1.5 points
    snprintf(out, sizeof out, "%s/spam_cf", g_tmp);
    st = run("experiments/text/spam_cf.ini", out);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    ca0 = metric(out, "clean_model", "ca"), asr0 = metric(out, "clean_model", "asr");
    ca1 = metric(out, "backdoored_model", "ca"), asr1 = metric(out, "backdoored_model", "asr");
    const double rate = metric(out, "poison", "rate");
    print_message("spam_cf (textcnn): clean CA %.4f ASR %.4f | backdoored CA %.4f ASR %.4f | poisoned %.4f\n", ca0,
                  asr0, ca1, asr1, rate);
    assert_true(rate > 0 && rate <= 0.05);
    assert_true(asr0 <= 0.06);
    assert_true(asr1 >= 0.85);
    assert_true(ca0 - ca1 <= 0.015);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl-text-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (!getenv("BL_KEEP_TMP")) rm_rf(g_tmp);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv_run),
        cmocka_unit_test(test_spam_numbers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
