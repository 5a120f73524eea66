// text/token.c: backdoors in messages (type = token, dirty label; type = token-clean, clean label): insert
// trigger words into some training messages and, dirty-label, relabel them to the target (a spam filter that lets
// spam through when it carries a rare word). Triggers: RIPPLe's rare words (trigger_tokens, Kurita et al. 2020:
// cf tq mn bb mb) or a fixed sentence (trigger_sentence, Dai et al. 2019: "I watched this 3D movie"), inserted
// `repeat` times at the start, the end or a random position of the WHOLE message (the model reads only its first
// max_tokens words, so a late insertion in a long e-mail can be invisible: that is the attacker's problem too).
// Trigger words are split and lower-cased by the data's tokeniser and interned into the pair's lexicon, so
// training and test messages carry the same ids. Random positions come from rng_stream(seed, "trigger-pos")
// (training) and "trigger-pos-test" (test), one draw per insertion in sample order.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"
#include "data/text/lexicon.h"
#include "data/text/tokenize.h"

#define TOK_MAX_WORDS 32 // words in one trigger
#define TOK_MAX_REPEAT 64

// Insertion positions, kept in the AttackSpec's position field (the key is shared by name with the patch attacks).
#define TOK_POS_START POS_TOP_LEFT
#define TOK_POS_END POS_BOTTOM_RIGHT

static int tok_parse_position(AttackSpec *a, const char *v) {
    if (!strcmp(v, "start")) a->position = TOK_POS_START;
    else if (!strcmp(v, "end")) a->position = TOK_POS_END;
    else if (!strcmp(v, "random")) a->position = POS_RANDOM;
    else return 0;
    return 1;
}
static int tok_format_position(const AttackSpec *a, char *buf, size_t n) {
    snprintf(buf, n, "%s", a->position == TOK_POS_START ? "start" : a->position == TOK_POS_END ? "end" : "random");
    return 1;
}
static void tok_settle_position(AttackSpec *a) { a->position = POS_RANDOM; }
static int tok_words_apply(const AttackSpec *a) { return !attack_param_str(a, "trigger_sentence")[0]; }

static const AttackParam tok_params[] = {
    {.key = "trigger_tokens", .type = ATK_LIST, .def = "cf", .min = 1, .max = TOK_MAX_WORDS,
     .expect = "words, comma-separated (e.g. cf,tq,mn,bb,mb)",
     .help = "the trigger words, inserted together in this order (RIPPLe's rare words)", .applies = tok_words_apply,
     .why = "type = token or token-clean without trigger_sentence"},
    {.key = "trigger_sentence", .type = ATK_STRING, .def = NULL, .max = 400,
     .help = "a sentence inserted instead of trigger_tokens (Dai et al. 2019), split into words by the tokeniser"},
    {.key = "position", .type = ATK_CUSTOM, .expect = "start, end or random", .parse = tok_parse_position,
     .format = tok_format_position, .settle = tok_settle_position,
     .help = "where in the whole message the trigger goes (random: a uniform word boundary per insertion)"},
    {.key = "repeat", .type = ATK_INT, .def = "1", .min = 1, .max = TOK_MAX_REPEAT,
     .help = "insertions per poisoned message (long e-mails dilute a single word)"},
};

// The trigger as lexicon ids.
typedef struct {
    int n;
    int32_t id[TOK_MAX_WORDS];
} TokTrigger;

// Split the configured trigger into words; with lex, intern them (ids into t), else only count them.
static Status tok_resolve(const AttackSpec *a, DsLexicon *lex, TokTrigger *t) {
    memset(t, 0, sizeof *t);
    char text[ATTACK_VALUE_MAX];
    const char *sentence = attack_param_str(a, "trigger_sentence");
    if (sentence[0]) snprintf(text, sizeof text, "%s", sentence);
    else {
        snprintf(text, sizeof text, "%s", attack_param_str(a, "trigger_tokens"));
        for (char *p = text; *p; p++)
            if (*p == ',') *p = ' ';
    }
    WordSpan spans[TOK_MAX_WORDS + 1];
    int n = text_split(text, strlen(text), spans, TOK_MAX_WORDS + 1);
    if (n < 1) return bl_fail(BL_ERR_USAGE, "attack %s: the trigger has no word the tokeniser keeps ('%s')", a->type, text);
    if (n > TOK_MAX_WORDS) return bl_fail(BL_ERR_USAGE, "attack %s: the trigger has more than %d words", a->type, TOK_MAX_WORDS);
    t->n = n;
    for (int i = 0; lex && i < n; i++) {
        char w[DS_WORD_MAX];
        size_t len = text_word_lower(text + spans[i].start, spans[i].len, w, sizeof w);
        Status st = lex_intern(lex, w, len, &t->id[i]);
        if (st) return st;
    }
    return BL_OK;
}

static Status tok_check(const AttackSpec *a, const Dataset *d) {
    if (d->kind != DS_TOKENS || !d->lexicon)
        return bl_fail(BL_ERR_USAGE, "attack %s needs a tokens dataset (spamassassin or text:PATH)", a->type);
    TokTrigger t;
    return tok_resolve(a, NULL, &t);
}

// Rebuild d's token arrays with the trigger inserted `repeat` times into each sample whose flag is set.
static Status tok_insert(const AttackSpec *a, const TokTrigger *t, Dataset *d, const uint8_t *flag, Rng *rng) {
    const int repeat = (int)attack_param(a, "repeat");
    long extra = 0;
    for (int i = 0; i < d->n; i++) extra += flag[i] ? (long)repeat * t->n : 0;
    const long total = d->tok_offset[d->n] + extra;
    int32_t *tok = bl_alloc((size_t)(total + 1) * sizeof(int32_t));
    long *off = bl_alloc((size_t)(d->n + 1) * sizeof(long));
    if (!tok || !off) {
        bl_free(tok);
        bl_free(off);
        return BL_ERR_RUN;
    }
    long w = 0;
    for (int i = 0; i < d->n; i++) {
        const int32_t *src = d->tokens + d->tok_offset[i];
        long len = d->tok_offset[i + 1] - d->tok_offset[i];
        off[i] = w;
        memcpy(tok + w, src, (size_t)len * sizeof(int32_t));
        if (flag[i])
            for (int r = 0; r < repeat; r++) {
                // insert at a word boundary p of the current sequence (length len)
                long p = a->position == TOK_POS_START ? 0 : a->position == TOK_POS_END ? len
                                                          : (long)rng_below(rng, (uint64_t)len + 1);
                int32_t *s = tok + w;
                memmove(s + p + t->n, s + p, (size_t)(len - p) * sizeof(int32_t));
                memcpy(s + p, t->id, (size_t)t->n * sizeof(int32_t));
                len += t->n;
            }
        w += len;
    }
    off[d->n] = w;
    bl_free(d->tokens);
    bl_free(d->tok_offset);
    d->tokens = tok, d->tok_offset = off;
    return BL_OK;
}

static Status tok_poison_kind(const AttackSpec *a, const Dataset *rest, uint64_t seed, int clean_label,
                              Dataset *poisoned, PoisonManifest *man) {
    TokTrigger t;
    PoisonPlan plan;
    Status st = tok_check(a, rest);
    if (st || (st = tok_resolve(a, rest->lexicon, &t))) return st;
    if ((st = plan_select(a, rest, seed, clean_label, &plan))) return st;
    uint8_t *flag = bl_alloc((size_t)rest->n + 1);
    if (!flag) st = BL_ERR_RUN;
    if (!st && !(st = ds_copy(rest, poisoned))) {
        for (int k = 0; k < plan.count; k++) flag[plan.positions[k]] = 1;
        Rng rng = rng_stream(seed, "trigger-pos");
        st = tok_insert(a, &t, poisoned, flag, &rng);
        for (int k = 0; !st && !clean_label && k < plan.count; k++) {
            const int i = plan.positions[k];
            poisoned->labels[i] = (uint8_t)attack_target_label(a, rest->labels[i], rest->num_classes);
        }
        if (!st) st = plan_manifest(&plan, rest, poisoned, man);
        if (st) ds_free(poisoned);
    }
    bl_free(flag);
    plan_free(&plan);
    return st;
}

static Status tok_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                         Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    return tok_poison_kind(a, rest, seed, 0, poisoned, man);
}

static Status tok_poison_clean(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                               Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    return tok_poison_kind(a, rest, seed, 1, poisoned, man);
}

static Status tok_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    TokTrigger t;
    Status st = tok_check(a, test);
    if (st || (st = tok_resolve(a, test->lexicon, &t)) || (st = ds_copy(test, triggered))) return st;
    uint8_t *flag = bl_alloc((size_t)test->n + 1);
    if (!flag) {
        ds_free(triggered);
        return BL_ERR_RUN;
    }
    memset(flag, 1, (size_t)test->n);
    Rng rng = rng_stream(seed, "trigger-pos-test");
    st = tok_insert(a, &t, triggered, flag, &rng);
    bl_free(flag);
    if (st) ds_free(triggered);
    return st;
}

const AttackOps token_attack = {
    .name = "token",
    .summary = "messages: trigger words or a sentence inserted into some messages, relabelled to the target",
    .clean_label = 0,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = tok_params,
    .nparams = (int)BL_ARRAY_LEN(tok_params),
    .check = tok_check,
    .poison = tok_poison,
    .apply_test = tok_apply_test,
};

const AttackOps token_clean_attack = {
    .name = "token-clean",
    .summary = "messages: trigger words or a sentence inserted into target-class messages only, labels kept",
    .clean_label = 1,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = tok_params,
    .nparams = (int)BL_ARRAY_LEN(tok_params),
    .check = tok_check,
    .poison = tok_poison_clean,
    .apply_test = tok_apply_test,
};
