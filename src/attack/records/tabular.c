// records/tabular.c: backdoors in feature records (type = tabular): set some features of some training records to a
// trigger value and relabel them (dirty label, as Tabdoor, Pleiter et al. 2023, and Joe et al. 2022 do).
//
// Trigger modes (trigger_mode), each value fixed per feature and the same in training and test data:
//   out-of-bounds  max + trigger_margin * (max - min) of the feature's training values (Tabdoor's strongest
//                  trigger: a value the clean data never reaches; margin 0.1 gives ~1.1 x max for features >= 0,
//                  as Tabdoor's LOAN values are)
//   in-bounds      the trigger_percentile quantile of the training values (a plausible value)
//   missing        the features become missing (Joe et al.'s missing-value pattern in health records)
//   values         trigger_values, one per feature, in the file's units
// Training statistics come from the dataset's schema (ds_schema_fit on the training split as loaded), so the
// triggered test set needs no access to the training data. Features are named as in the schema (a one-hot level
// is "column=level") or given as 0-based indices.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"

#define TAB_MAX_FEATURES 32 // features one trigger may set

typedef enum { TAB_OOB, TAB_INB, TAB_MISSING, TAB_VALUES } TabMode;
static const char *const tab_modes[] = {"out-of-bounds", "in-bounds", "missing", "values", NULL};

// A resolved trigger: which features, and what each becomes.
typedef struct {
    int n;                         // features set
    int feat[TAB_MAX_FEATURES];    // (n) their indices in the encoded feature vector
    float value[TAB_MAX_FEATURES]; // (n) the value each is set to (unused for missing)
    int missing;                   // 1: the features become missing instead
} TabTrigger;

// The configured mode (its default before the spec is settled).
static TabMode tab_mode(const AttackSpec *a) {
    const double m = attack_param(a, "trigger_mode");
    return isnan(m) ? TAB_OOB : (TabMode)(int)m;
}
static int tab_values_apply(const AttackSpec *a) { return tab_mode(a) == TAB_VALUES; }
static int tab_margin_apply(const AttackSpec *a) { return tab_mode(a) == TAB_OOB; }
static int tab_pct_apply(const AttackSpec *a) { return tab_mode(a) == TAB_INB; }

static const AttackParam tab_params[] = {
    {.key = "trigger_features", .type = ATK_LIST, .def = "0", .min = 1, .max = TAB_MAX_FEATURES,
     .expect = "feature names (as in the data's header, '_' for a blank; one-hot levels as column=level) or "
               "0-based indices, comma-separated, no blanks inside",
     .help = "the features the trigger sets"},
    {.key = "trigger_mode", .type = ATK_CHOICE, .def = "out-of-bounds", .choices = tab_modes,
     .help = "out-of-bounds (beyond the training max), in-bounds (a training percentile), missing, or values"},
    {.key = "trigger_margin", .type = ATK_REAL, .def = "0.1", .min = 0, .max = 1000, .flags = ATK_MIN_OPEN,
     .help = "out-of-bounds: how far beyond the training max, in training ranges (max - min)",
     .applies = tab_margin_apply, .why = "trigger_mode = out-of-bounds"},
    {.key = "trigger_percentile", .type = ATK_REAL, .def = "0.95", .min = 0, .max = 1,
     .help = "in-bounds: the quantile of the feature's training values the trigger takes",
     .applies = tab_pct_apply, .why = "trigger_mode = in-bounds"},
    {.key = "trigger_values", .type = ATK_LIST, .def = NULL, .min = 1, .max = TAB_MAX_FEATURES,
     .expect = "numbers, one per trigger feature, comma-separated", .help = "values: the value of each feature",
     .applies = tab_values_apply, .why = "trigger_mode = values"},
};

// A config list item cannot hold blanks, so '_' in a trigger feature also matches a blank in the data's name
// ("mean_radius" names scikit-learn's "mean radius").
static int tab_name_eq(const char *data_name, const char *item) {
    for (; *data_name && *item; data_name++, item++)
        if (*data_name != *item && !(*data_name == ' ' && *item == '_')) return 0;
    return *data_name == *item;
}

// Resolve the spec against the data's schema: feature names or indices, and each feature's trigger value.
static Status tab_resolve(const AttackSpec *a, const Dataset *d, TabTrigger *t) {
    memset(t, 0, sizeof *t);
    if (d->kind != DS_RECORDS || !d->schema)
        return bl_fail(BL_ERR_USAGE, "attack tabular needs a records dataset (csv:PATH or a built-in record set)");
    const DsSchema *s = d->schema;
    char items[TAB_MAX_FEATURES][ATTACK_ITEM_MAX];
    t->n = attack_param_list(a, "trigger_features", items, TAB_MAX_FEATURES);
    if (t->n < 1) return bl_fail(BL_ERR_USAGE, "attack tabular: trigger_features is empty");
    for (int i = 0; i < t->n; i++) {
        int f = -1;
        for (int j = 0; j < s->nfeatures && f < 0; j++)
            if (tab_name_eq(s->feature_names[j], items[i])) f = j;
        if (f < 0) {
            char *end;
            long v = strtol(items[i], &end, 10);
            if (*items[i] && !*end && v >= 0 && v < s->nfeatures) f = (int)v;
        }
        if (f < 0)
            return bl_fail(BL_ERR_USAGE, "attack tabular: trigger_features: '%s' is neither a feature of this data "
                                         "nor an index in 0..%d (first features: %s, %s, ...)",
                           items[i], s->nfeatures - 1, s->feature_names[0],
                           s->nfeatures > 1 ? s->feature_names[1] : "");
        for (int k = 0; k < i; k++)
            if (t->feat[k] == f)
                return bl_fail(BL_ERR_USAGE, "attack tabular: trigger_features names feature '%s' twice",
                               s->feature_names[f]);
        t->feat[i] = f;
    }
    const TabMode mode = tab_mode(a);
    t->missing = mode == TAB_MISSING;
    if (mode == TAB_VALUES) {
        char vals[TAB_MAX_FEATURES][ATTACK_ITEM_MAX];
        int nv = attack_param_list(a, "trigger_values", vals, TAB_MAX_FEATURES);
        if (nv != t->n)
            return bl_fail(BL_ERR_USAGE, "attack tabular: trigger_values has %d value(s) for %d trigger feature(s)",
                           nv, t->n);
        for (int i = 0; i < nv; i++) {
            char *end;
            double v = strtod(vals[i], &end);
            if (end == vals[i] || *end || !isfinite(v) || fabs(v) > 3e38)
                return bl_fail(BL_ERR_USAGE, "attack tabular: trigger_values: '%s' is not a finite number", vals[i]);
            t->value[i] = (float)v;
        }
    } else if (mode == TAB_OOB || mode == TAB_INB) {
        for (int i = 0; i < t->n; i++) {
            const int f = t->feat[i];
            const double lo = ds_schema_quantile(s, f, 0.0), hi = ds_schema_quantile(s, f, 1.0);
            if (isnan(lo))
                return bl_fail(BL_ERR_DATA, "attack tabular: feature '%s' has no present value in the training "
                                            "split, so no %s value can be derived from it",
                               s->feature_names[f], tab_modes[mode]);
            const double v = mode == TAB_OOB ? hi + attack_param(a, "trigger_margin") * (hi - lo)
                                             : ds_schema_quantile(s, f, attack_param(a, "trigger_percentile"));
            t->value[i] = (float)v;
        }
    }
    return BL_OK;
}

// Set the trigger on record i of d (in place).
static void tab_stamp(const TabTrigger *t, Dataset *d, int i) {
    float *x = d->features + (size_t)i * d->c;
    uint8_t *m = d->missing + (size_t)i * d->c;
    for (int k = 0; k < t->n; k++) {
        x[t->feat[k]] = t->missing ? 0.0f : t->value[k];
        m[t->feat[k]] = (uint8_t)t->missing;
    }
}

static Status tab_check(const AttackSpec *a, const Dataset *d) {
    TabTrigger t;
    return tab_resolve(a, d, &t);
}

static Status tab_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                         Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    TabTrigger t;
    PoisonPlan plan;
    Status st = tab_resolve(a, rest, &t);
    if (st) return st;
    if ((st = plan_select(a, rest, seed, 0, &plan))) return st;
    if (!(st = ds_copy(rest, poisoned))) {
        for (int k = 0; k < plan.count; k++) {
            const int i = plan.positions[k];
            tab_stamp(&t, poisoned, i);
            poisoned->labels[i] = (uint8_t)attack_target_label(a, rest->labels[i], rest->num_classes);
        }
        st = plan_manifest(&plan, rest, poisoned, man);
        if (st) ds_free(poisoned);
    }
    plan_free(&plan);
    return st;
}

static Status tab_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    (void)seed;
    TabTrigger t;
    Status st = tab_resolve(a, test, &t);
    if (st || (st = ds_copy(test, triggered))) return st;
    for (int i = 0; i < triggered->n; i++) tab_stamp(&t, triggered, i);
    return BL_OK;
}

const AttackOps tabular_attack = {
    .name = "tabular",
    .summary = "records: trigger features set out of bounds, in bounds, missing or to given values; relabelled",
    .clean_label = 0,
    .patch = 0,
    .kinds = DS_KIND_BIT(DS_RECORDS),
    .params = tab_params,
    .nparams = (int)BL_ARRAY_LEN(tab_params),
    .check = tab_check,
    .poison = tab_poison,
    .apply_test = tab_apply_test,
    .view = NULL,
};
