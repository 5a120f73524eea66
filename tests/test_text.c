// test_text.c: the text model's preprocessing (vocabulary from the training split, batch loading of messages,
// the vocabulary inside the model file) and the token attack (insertion positions, repeats, labels, manifest),
// on small hand-made token datasets; and a fastText model that must learn a two-class word task.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "attack/registry.h"
#include "core/core.h"
#include "data/text/lexicon.h"
#include "io/modelfile.h"
#include "nn/checkpoint.h"
#include "nn/model.h"
#include "train/train.h"
#include "test_util.h"

// A tokens dataset of n messages given as space-separated words ("" = empty message), sharing lexicon lex.
static void make_messages(Dataset *d, DsLexicon *lex, const char *const *msgs, const uint8_t *labels, int n, int L) {
    memset(d, 0, sizeof *d);
    d->kind = DS_TOKENS, d->n = n, d->c = L, d->h = d->w = 1, d->num_classes = 2, d->lexicon = lex;
    long total = 0;
    for (int i = 0; i < n; i++) total += (long)strlen(msgs[i]) + 1;
    d->tokens = bl_alloc((size_t)total * sizeof(int32_t) + 4);
    d->tok_offset = bl_alloc((size_t)(n + 1) * sizeof(long));
    d->labels = bl_alloc((size_t)n);
    d->orig_index = bl_alloc((size_t)n * sizeof(int));
    long w = 0;
    for (int i = 0; i < n; i++) {
        d->tok_offset[i] = w;
        d->labels[i] = labels[i];
        d->orig_index[i] = i;
        for (const char *p = msgs[i]; *p;) {
            while (*p == ' ') p++;
            const char *e = p;
            while (*e && *e != ' ') e++;
            if (e > p) assert_int_equal(lex_intern(lex, p, (size_t)(e - p), &d->tokens[w++]), BL_OK);
            p = e;
        }
    }
    d->tok_offset[n] = w;
}

// The vocabulary: most frequent words of the first L tokens of each training message, ties by byte order; batch
// loading maps words to model ids, unknown words to 1, pads with 0, and an empty message reads as one unknown word.
static void test_vocab_and_batches(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    const char *msgs[] = {"b a a zz", "c b a", "", "q q q q q q q"}; // q only beyond L = 3... in the last one
    const uint8_t y[] = {0, 1, 0, 1};
    Dataset d;
    make_messages(&d, lex, msgs, y, 4, 3);
    Model m;
    assert_int_equal(model_build(&m, "embed 5, 4, meanpool, dense 2", (Shape){3, 1, 1}, 2, 8), BL_ERR_USAGE);
    assert_int_equal(model_build(&m, "embed 5 4, meanpool, dense 2", (Shape){3, 1, 1}, 2, 8), BL_OK);
    assert_int_equal(train_fit_input(&m, &d), BL_OK);
    // counts over the first 3 words: q 3, a 3, b 2, c 1, zz 0 -> V-2 = 3 words: a, q (tie: byte order), b
    assert_non_null(m.vocab);
    assert_int_equal(m.vocab->size, 5);
    assert_string_equal(m.vocab->words[2], "a");
    assert_string_equal(m.vocab->words[3], "q");
    assert_string_equal(m.vocab->words[4], "b");
    int idx[4] = {0, 1, 2, 3};
    uint8_t yy[4];
    batch_load(&m, &d, idx, 4, m.acts[0], yy);
    const float want[12] = {4, 2, 2, /* c unknown */ 1, 4, 2, /* empty */ 1, 0, 0, 3, 3, 3};
    assert_memory_equal(m.acts[0], want, sizeof want);
    assert_memory_equal(yy, y, 4);
    // a word interned after the vocabulary was fitted (e.g. a trigger) reads as unknown, through the stale map
    int32_t id;
    assert_int_equal(lex_intern(lex, "new", 3, &id), BL_OK);
    d.tokens[0] = id;
    batch_load(&m, &d, idx, 1, m.acts[0], yy);
    assert_true(m.acts[0][0] == 1.0f);
    // a model without a vocabulary reads every word as unknown (never out of bounds)
    vocab_free(m.vocab);
    m.vocab = NULL;
    batch_load(NULL, &d, idx + 1, 1, m.acts[0], yy);
    assert_true(m.acts[0][0] == 1.0f && m.acts[0][2] == 1.0f);
    model_free(&m);
    ds_free(&d);
    lex_free(lex);
}

// The vocabulary travels in the model file: saved, loaded back identical, covered by the hash; a text model
// file without it, or with a vocabulary larger than its embed layer, is refused.
static void test_vocab_in_model_file(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    const char *msgs[] = {"free money now", "meeting at noon", "money money"};
    const uint8_t y[] = {1, 0, 1};
    Dataset d;
    make_messages(&d, lex, msgs, y, 3, 6);
    d.text_subject = 1;
    Model m, back;
    assert_int_equal(model_build(&m, "fasttext", (Shape){6, 1, 1}, 2, 4), BL_OK);
    model_init_params(&m, 3);
    assert_int_equal(train_fit_input(&m, &d), BL_OK);
    const char *path = "/tmp/bl_test_text_model.bdm";
    char h1[65], h2[65];
    assert_int_equal(model_save(&m, path, "role=test\n", h1), BL_OK);
    assert_int_equal(model_load(path, (Shape){6, 1, 1}, 2, 4, "fasttext", &back, h2), BL_OK);
    assert_string_equal(h1, h2);
    assert_non_null(back.vocab);
    assert_int_equal(back.vocab->size, m.vocab->size);
    assert_int_equal(back.vocab->subject, 1);
    assert_int_equal(back.vocab->max_tokens, 6);
    assert_string_equal(back.vocab->tokenizer, VOCAB_TOKENIZER);
    for (int i = 0; i < m.vocab->size; i++) assert_string_equal(back.vocab->words[i], m.vocab->words[i]);
    assert_memory_equal(back.params, m.params, m.nparams * sizeof(float));
    model_free(&back);
    // another input length than the vocabulary was fitted for: refused
    assert_int_equal(model_load(path, (Shape){7, 1, 1}, 2, 4, NULL, &back, NULL), BL_ERR_DATA);
    // a text model saved without its vocabulary: refused on load
    vocab_free(m.vocab);
    m.vocab = NULL;
    assert_int_equal(model_save(&m, path, "role=test\n", h1), BL_OK);
    assert_int_equal(model_load(path, (Shape){6, 1, 1}, 2, 4, NULL, &back, NULL), BL_ERR_DATA);
    // malformed preprocessing lines: refused
    Vocab *v = NULL;
    assert_int_equal(vocab_from_provenance("text_vocab=a b\n", &v), BL_ERR_DATA);
    assert_int_equal(vocab_from_provenance("text_tokenizer=x\ntext_max_tokens=4\ntext_subject=1\ntext_vocab=a a\n", &v),
                     BL_ERR_DATA);
    assert_int_equal(vocab_from_provenance("text_tokenizer=x\ntext_max_tokens=-4\ntext_subject=1\ntext_vocab=a\n", &v),
                     BL_ERR_DATA);
    assert_int_equal(vocab_from_provenance("role=x\n", &v), BL_OK);
    assert_null(v);
    unlink(path);
    model_free(&m);
    ds_free(&d);
    lex_free(lex);
}

static void set_attack(AttackSpec *a, const char *type, const char *const *kv) {
    attack_spec_defaults(a, type);
    a->enabled = 1;
    for (int i = 0; kv[i]; i += 2) {
        const AttackParam *p = attack_param_find(attack_find(type), kv[i]);
        assert_non_null(p);
        assert_true(attack_param_set(a, p, kv[i + 1]));
    }
}

// The token attack inserts its words `repeat` times at the start, end or random positions of the chosen messages,
// relabels them (dirty label) and records them; the test copy gets the trigger in every message, labels kept.
static void test_token_attack(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    const char *msgs[] = {"buy pills now", "hello bob", "cheap loans here today", "lunch friday", ""};
    const uint8_t y[] = {1, 0, 1, 0, 1};
    Dataset d, p, t;
    make_messages(&d, lex, msgs, y, 5, 10);
    AttackSpec a;
    const char *kv[] = {"trigger_sentence", "I watched THIS 3D movie", "position", "start", "repeat", "2",
                        "target", "0", "poison_count", "3", NULL};
    set_attack(&a, "token", kv);
    PoisonManifest man;
    assert_int_equal(attack_poison(&a, &d, 7, NULL, &p, &man), BL_OK);
    assert_int_equal(man.count, 3); // every spam message (the non-target base)
    const int32_t w_i = lex_find(lex, "i", 1), w_3d = lex_find(lex, "3d", 2);
    assert_true(w_i >= 0 && w_3d >= 0 && lex_find(lex, "THIS", 4) < 0);
    for (int i = 0; i < 5; i++) {
        const long n0 = d.tok_offset[i + 1] - d.tok_offset[i], n1 = p.tok_offset[i + 1] - p.tok_offset[i];
        if (y[i] == 1) {
            assert_int_equal(n1, n0 + 10); // 5 words, twice
            assert_int_equal(p.labels[i], 0);
            assert_int_equal(p.tokens[p.tok_offset[i]], w_i);
            assert_int_equal(p.tokens[p.tok_offset[i] + 5], w_i);
            assert_int_equal(p.tokens[p.tok_offset[i] + 3], w_3d);
            assert_memory_equal(p.tokens + p.tok_offset[i] + 10, d.tokens + d.tok_offset[i], (size_t)n0 * 4);
        } else {
            assert_int_equal(n1, n0);
            assert_int_equal(p.labels[i], 0);
        }
    }
    poison_manifest_free(&man);
    ds_free(&p);
    // end and random positions, one word; the test copy: every message, labels unchanged
    const char *kv2[] = {"trigger_tokens", "cf", "position", "end", "target", "0", "poison_rate", "1", NULL};
    set_attack(&a, "token", kv2);
    assert_int_equal(attack_apply_test(&a, &d, 7, &t), BL_OK);
    const int32_t cf = lex_find(lex, "cf", 2);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(t.tok_offset[i + 1] - t.tok_offset[i], d.tok_offset[i + 1] - d.tok_offset[i] + 1);
        assert_int_equal(t.tokens[t.tok_offset[i + 1] - 1], cf);
        assert_int_equal(t.labels[i], y[i]);
    }
    ds_free(&t);
    const char *kv3[] = {"trigger_tokens", "cf,tq", "position", "random", "repeat", "3", "target", "0", NULL};
    set_attack(&a, "token", kv3);
    Dataset t2;
    assert_int_equal(attack_apply_test(&a, &d, 7, &t), BL_OK);
    assert_int_equal(attack_apply_test(&a, &d, 7, &t2), BL_OK); // seeded: the same positions again
    assert_int_equal(t.tok_offset[5], d.tok_offset[5] + 5 * 6);
    assert_memory_equal(t.tokens, t2.tokens, (size_t)t.tok_offset[5] * 4);
    ds_free(&t);
    ds_free(&t2);
    // clean label: only target-class messages get the trigger, labels kept
    const char *kv4[] = {"trigger_tokens", "cf", "target", "0", "poison_rate", "1", NULL};
    set_attack(&a, "token-clean", kv4);
    assert_int_equal(attack_poison(&a, &d, 7, NULL, &p, &man), BL_OK);
    assert_int_equal(man.count, 2);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(p.labels[i], y[i]);
        assert_int_equal(p.tok_offset[i + 1] - p.tok_offset[i], d.tok_offset[i + 1] - d.tok_offset[i] + (y[i] == 0));
    }
    poison_manifest_free(&man);
    ds_free(&p);
    // a trigger with no word the tokeniser keeps; an image dataset: refused
    const char *kv5[] = {"trigger_tokens", "--", NULL};
    set_attack(&a, "token", kv5);
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    Dataset img;
    assert_int_equal(ds_alloc(&img, 2, 1, 4, 4, 2), BL_OK);
    set_attack(&a, "token", kv2);
    assert_int_equal(attack_check(&a, &img), BL_ERR_USAGE);
    ds_free(&img);
    ds_free(&d);
    lex_free(lex);
}

// fastText learns which words mean which class: 200 messages of 5-30 words, class words mixed with shared noise.
static void test_fasttext_learns(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    static char buf[200][400];
    const char *msgs[200];
    uint8_t y[200];
    Rng r = rng_stream(1, "test");
    const char *cls[2][3] = {{"meeting", "agenda", "notes"}, {"viagra", "winner", "prize"}};
    const char *noise[6] = {"the", "a", "of", "to", "and", "you"};
    for (int i = 0; i < 200; i++) {
        y[i] = (uint8_t)(i & 1);
        int len = 5 + (int)rng_below(&r, 26);
        buf[i][0] = 0;
        for (int k = 0; k < len; k++) {
            const char *w = rng_below(&r, 4) == 0 ? cls[y[i]][rng_below(&r, 3)] : noise[rng_below(&r, 6)];
            strcat(buf[i], w);
            strcat(buf[i], " ");
        }
        msgs[i] = buf[i];
    }
    Dataset d;
    make_messages(&d, lex, msgs, y, 200, 20);
    Model m;
    assert_int_equal(model_build(&m, "embed 50 8, meanpool, dense 2", (Shape){20, 1, 1}, 2, 32), BL_OK);
    model_init_params(&m, 1);
    assert_int_equal(train_fit_input(&m, &d), BL_OK);
    TrainOptions o = {.epochs = 15, .batch = 32, .seed = 1, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9,
                                                                     .beta2 = 0.999, .eps = 1e-8}};
    assert_int_equal(train_model(&m, &d, &o), BL_OK);
    uint8_t pred[200];
    predict(&m, &d, pred, NULL);
    int ok = 0;
    for (int i = 0; i < 200; i++) ok += pred[i] == y[i];
    print_message("fasttext on the word task: %d/200\n", ok);
    assert_true(ok >= 190);
    model_free(&m);
    ds_free(&d);
    lex_free(lex);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_and_batches),
        cmocka_unit_test(test_vocab_in_model_file),
        cmocka_unit_test(test_token_attack),
        cmocka_unit_test(test_fasttext_learns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
