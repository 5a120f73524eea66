// experiment.c: the pipeline behind `backdoorlab run`, `train` and `eval`.
//
// Data flow: dataset -> defender split (carved first, never poisoned) -> rest -> poisoned copy of rest.
// The clean model trains on rest, the backdoored one on the poisoned copy, with the same init and shuffle
// streams, so the only difference between them is the poison. The evaluator alone sees the triggered test set.
#include "run/experiment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attack/export.h"
#include "attack/registry.h"
#include "data/dataset.h"
#include "data/manifest.h"
#include "defense/evaluate.h"
#include "run/defenses.h"
#include "run/run_report.h"
#include "data/load.h"
#include "data/pngdir.h"
#include "attack/text/export.h"
#include "attack/text/samples.h"
#include "data/records/samples.h"
#include "data/split.h"
#include "eval/metrics.h"
#include "io/png.h"
#include "io/results.h"
#include "nn/checkpoint.h"
#include "nn/model.h"
#include "train/train.h"

// Below this clean accuracy something is wrong with the setup, whatever the dataset; the run says so loudly.
#define CA_SANITY_FLOOR 0.5

// Everything one run holds in memory.
typedef struct {
    ExperimentConfig cfg;    // the parsed config
    int threads;             // threads actually used
    char dir[4096];          // results folder
    DatasetPair data;        // train/test as loaded
    Dataset defender, rest;  // defender's clean split, and the remaining training images
    Dataset poisoned;        // rest with the poison applied (attack only)
    PoisonManifest manifest; // which samples were poisoned (evaluator only)
    Dataset triggered_test;  // the test set with the trigger on every image (attack only)
    char *epochs_csv;        // accumulated epochs.csv text
    size_t epochs_len, epochs_cap;
    double eval_seconds;     // evaluation time of the epoch just finished
    int progress;            // progress bars on stderr (also for an attack's surrogate model)
} Run;

// Per-model state the epoch hook needs.
typedef struct {
    Run *run;
    Model *model;
    const char *label; // "clean", "backdoor" or "model"
} HookCtx;

static Status csv_append(Run *r, const char *line) {
    size_t n = strlen(line);
    if (r->epochs_len + n + 1 > r->epochs_cap) {
        size_t cap = (r->epochs_cap + n + 1) * 2;
        char *p = realloc(r->epochs_csv, cap);
        if (!p) return bl_fail(BL_ERR_RUN, "out of memory");
        r->epochs_csv = p, r->epochs_cap = cap;
    }
    memcpy(r->epochs_csv + r->epochs_len, line, n + 1);
    r->epochs_len += n;
    return BL_OK;
}

static OptConfig opt_from_config(const CfgTrain *t) {
    OptConfig o = {0};
    o.kind = t->optimizer == CFG_OPT_ADAM ? OPT_ADAM : OPT_SGD;
    o.lr = t->lr;
    o.momentum = t->momentum;
    o.nesterov = t->nesterov;
    o.weight_decay = t->weight_decay;
    o.beta1 = t->beta1;
    o.beta2 = t->beta2;
    o.eps = t->eps;
    o.schedule = t->schedule == CFG_SCHED_STEP ? SCHED_STEP : t->schedule == CFG_SCHED_COSINE ? SCHED_COSINE
                                                                                            : SCHED_CONSTANT;
    o.step_size = t->step_size;
    o.gamma = t->gamma;
    o.epochs = t->epochs;
    return o;
}

// Clean and triggered predictions of a model on the test set, and the metrics they give.
static Status evaluate(Run *r, Model *m, Metrics *out) {
    const Dataset *test = &r->data.test;
    uint8_t *pred = malloc((size_t)test->n), *tpred = NULL;
    if (!pred) return bl_fail(BL_ERR_RUN, "out of memory");
    predict(m, test, pred, NULL);
    if (r->cfg.attack.enabled) {
        tpred = malloc((size_t)test->n);
        if (!tpred) {
            free(pred);
            return bl_fail(BL_ERR_RUN, "out of memory");
        }
        predict(m, &r->triggered_test, tpred, NULL);
    }
    Status st = metrics_compute(test->labels, pred, tpred, test->n, test->num_classes,
                                r->cfg.attack.enabled ? &r->cfg.attack : NULL, out);
    free(pred);
    free(tpred);
    return st;
}

static Status epoch_hook(void *vctx, const EpochStats *es) {
    HookCtx *h = vctx;
    Metrics mt;
    double t0 = bl_now();
    Status st = evaluate(h->run, h->model, &mt);
    if (st) return st;
    h->run->eval_seconds = bl_now() - t0;
    char line[512];
    if (mt.has_attack)
        snprintf(line, sizeof line, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.3f\n", h->label, es->epoch + 1, es->loss,
                 es->train_acc, mt.ca.p, mt.asr.p, es->lr, es->train_seconds, h->run->eval_seconds);
    else
        snprintf(line, sizeof line, "%s,%d,%.6f,%.6f,%.6f,,%.6g,%.3f,%.3f\n", h->label, es->epoch + 1, es->loss,
                 es->train_acc, mt.ca.p, es->lr, es->train_seconds, h->run->eval_seconds);
    metrics_free(&mt);
    return csv_append(h->run, line);
}

static cJSON *proportion_json(const Proportion *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", p->p);
    cJSON_AddNumberToObject(o, "k", (double)p->k);
    cJSON_AddNumberToObject(o, "n", (double)p->n);
    cJSON *ci = cJSON_AddArrayToObject(o, "wilson95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(p->lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(p->hi));
    return o;
}

// {"ca", "asr", "ra", "asr_all" (numbers), "intervals": {...}, "per_class": [...], "confusion": [[...]]}
static cJSON *metrics_json(const Metrics *m, const char *model_hash) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ca", m->ca.p);
    if (m->has_attack) {
        cJSON_AddNumberToObject(o, "asr", m->asr.p);
        cJSON_AddNumberToObject(o, "ra", m->ra.p);
        cJSON_AddNumberToObject(o, "asr_all", m->asr_all.p);
    }
    cJSON *iv = cJSON_AddObjectToObject(o, "intervals");
    cJSON_AddItemToObject(iv, "ca", proportion_json(&m->ca));
    if (m->has_attack) {
        cJSON_AddItemToObject(iv, "asr", proportion_json(&m->asr));
        cJSON_AddItemToObject(iv, "ra", proportion_json(&m->ra));
        cJSON_AddItemToObject(iv, "asr_all", proportion_json(&m->asr_all));
    }
    cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
    for (int c = 0; c < m->num_classes; c++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "class", c);
        cJSON_AddNumberToObject(e, "ca", m->ca_class[c].p);
        cJSON_AddNumberToObject(e, "n", (double)m->ca_class[c].n);
        if (m->has_attack) {
            if (m->asr_class[c].n) cJSON_AddNumberToObject(e, "asr", m->asr_class[c].p);
            else cJSON_AddNullToObject(e, "asr");
        }
        cJSON_AddItemToArray(pc, e);
    }
    cJSON *cm = cJSON_AddArrayToObject(o, "confusion");
    for (int i = 0; i < m->num_classes; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int j = 0; j < m->num_classes; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[i * m->num_classes + j]));
        cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddBoolToObject(o, "below_sanity_floor", m->ca.p < CA_SANITY_FLOOR);
    if (model_hash) cJSON_AddStringToObject(o, "model_sha256", model_hash);
    return o;
}

static void path_join(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

// The hash of the resolved config without its `threads` line: the identity of the training setup stored in
// model files. Threads cannot change a result, so they must not change the model's bytes either.
static void training_config_hash(const char *resolved, char hex[65]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (const char *line = resolved; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        if (strncmp(line, "threads", 7) != 0) crypto_hash_sha256_update(&st, (const unsigned char *)line, len);
        line += len;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

// What the clean model's weights depend on: the [data], [model] and [train] sections of the resolved config, the
// seed and the dataset's hash. Runs that agree on it train bit-identical clean models (a [sweep] over an attack
// key), so a later one may reuse an earlier one's (experiment_run's reuse_clean_from).
static void clean_training_hash(const char *resolved, uint64_t seed, const char *dataset_sha, char hex[65]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    int keep = 0;
    for (const char *line = resolved; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        if (line[0] == '[')
            keep = !strncmp(line, "[data]", 6) || !strncmp(line, "[model]", 7) || !strncmp(line, "[train]", 7);
        if (keep) crypto_hash_sha256_update(&st, (const unsigned char *)line, len);
        line += len;
    }
    char tail[160];
    snprintf(tail, sizeof tail, "seed=%llu\ndataset_sha256=%s\n", (unsigned long long)seed, dataset_sha);
    crypto_hash_sha256_update(&st, (const unsigned char *)tail, strlen(tail));
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

// Provenance stored inside each model file: what made it (no wall-clock time: identical runs, identical bytes).
static void make_provenance(const Run *r, const char *config_hash, const char *role, char *buf, size_t n) {
    char rev[64];
    bl_git_revision(rev, sizeof rev);
    snprintf(buf, n,
             "role=%s\ninput=%dx%dx%d\nclasses=%d\nseed=%llu\nconfig_sha256=%s\ndataset_sha256=%s\n"
             "code_revision=%s\ncompiler=%s\n",
             role, r->data.train.c, r->data.train.h, r->data.train.w, r->data.train.num_classes,
             (unsigned long long)r->cfg.experiment.seed, config_hash, r->data.sha256_hex, rev, bl_compiler());
}

// Train one model on `train_set` with the experiment's seed; save it; evaluate it.
static Status train_one(Run *r, const Dataset *train_set, const char *label, const char *file,
                        const char *config_hash, int progress, Metrics *mt, char hash[65], double *seconds) {
    Model m;
    Status st = model_build(&m, r->cfg.model.layers, train_input_shape(&r->data.train), r->data.train.num_classes,
                            r->cfg.train.batch);
    if (st) return bl_fail_ctx(st, "%s: [model] layers", r->cfg.experiment.name);
    model_init_params(&m, r->cfg.experiment.seed);
    // Input statistics from the set this model trains on (as its trainer would have them; for records only).
    if ((st = train_fit_input(&m, train_set))) {
        model_free(&m);
        return st;
    }
    HookCtx h = {r, &m, label};
    TrainOptions o = {.epochs = r->cfg.train.epochs, .batch = r->cfg.train.batch,
                      .opt = opt_from_config(&r->cfg.train), .seed = r->cfg.experiment.seed,
                      .progress = progress, .label = label, .on_epoch = epoch_hook, .hook_ctx = &h};
    double t0 = bl_now();
    st = train_model(&m, train_set, &o);
    *seconds = bl_now() - t0;
    if (!st) st = evaluate(r, &m, mt);
    if (!st) {
        char prov[2048], path[4200];
        make_provenance(r, config_hash, label, prov, sizeof prov);
        path_join(path, sizeof path, r->dir, file);
        st = model_save(&m, path, prov, hash);
        if (st) metrics_free(mt);
    }
    model_free(&m);
    return st;
}

// The string value of key in manifest m into out ("" when missing).
static void json_string(const cJSON *m, const char *key, char *out, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    snprintf(out, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

// Take src's clean model when it was trained exactly as this run's would be (see ExperimentOptions): evaluate it
// against this run's attack, save it with this run's provenance, copy its epochs.csv rows (the per-epoch
// test_asr left empty: it was measured against src's attack). Returns 1 when reused, 0 to train instead.
static int reuse_clean_model(Run *r, const char *src, const char *identity, const char *config_hash, Metrics *mt,
                             char hash[65]) {
    char path[4200], want[65], have[128], rev[96];
    path_join(path, sizeof path, src, "DONE");
    if (access(path, F_OK) != 0) return 0;
    path_join(path, sizeof path, src, "manifest.json");
    cJSON *man = json_read_file(path);
    char trained_as[128];
    json_string(man, "clean_training_sha256", trained_as, sizeof trained_as);
    json_string(man, "git_revision", have, sizeof have);
    json_string(man, "model_clean_sha256", want, sizeof want);
    cJSON_Delete(man);
    bl_git_revision(rev, sizeof rev);
    if (strcmp(trained_as, identity) != 0 || strcmp(have, rev) != 0) return 0;
    path_join(path, sizeof path, src, "epochs.csv");
    char *csv = read_text_file(path, 1L << 26);
    if (!csv) return 0;
    Model m;
    path_join(path, sizeof path, src, "model-clean.bdm");
    Shape in = train_input_shape(&r->data.train);
    int ok = model_load(path, in, r->data.train.num_classes, r->cfg.train.batch, r->cfg.model.layers, &m, hash) ==
             BL_OK;
    if (ok && strcmp(hash, want) != 0) ok = 0, model_free(&m);
    if (ok && evaluate(r, &m, mt) != BL_OK) ok = 0, model_free(&m);
    if (ok) {
        char prov[2048];
        make_provenance(r, config_hash, "clean", prov, sizeof prov);
        path_join(path, sizeof path, r->dir, "model-clean.bdm");
        if (model_save(&m, path, prov, hash) != BL_OK) ok = 0, metrics_free(mt);
        model_free(&m);
    }
    // keep the "clean," rows (model,epoch,loss,train_acc,test_ca,test_asr,lr,train_seconds,eval_seconds) with
    // test_asr's value dropped, compacting in place, then append them in one go
    char *w = csv;
    for (const char *line = csv; ok && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        if (!strncmp(line, "clean,", 6)) {
            int comma = 0;
            for (const char *f = line; f < line + len; f++) {
                comma += *f == ',';
                if (comma != 5 || *f == ',') *w++ = *f; // the value after the 5th comma is test_asr
            }
        }
        line += len;
    }
    *w = 0;
    if (ok && csv_append(r, csv) != BL_OK) ok = 0, metrics_free(mt);
    free(csv);
    bl_clear_error();
    return ok;
}

static void print_prop(const Proportion *p) {
    printf("  %6.2f%% [%6.2f, %6.2f]", 100 * p->p, 100 * p->lo, 100 * p->hi);
}

static void print_summary(const Run *r, const Metrics *clean, const Metrics *bd, double seconds) {
    printf("\n== %s: %s on %s (%d train, %d defender, %d test), %d epochs, seed %llu, %d threads ==\n",
           r->cfg.experiment.name, r->cfg.model.layers, r->cfg.data.dataset, r->rest.n, r->defender.n,
           r->data.test.n, r->cfg.train.epochs, (unsigned long long)r->cfg.experiment.seed, r->threads);
    char what[256];
    if (r->cfg.attack.enabled) {
        attack_describe(&r->cfg.attack, what, sizeof what);
        printf("attack: %s, %d poisoned = %.2f%% of the %s base\n", what, r->manifest.count, 100 * r->manifest.rate,
               attack_base_name(r->cfg.attack.poison_base));
    }
    printf("\n%-12s  %-24s", "model", "CA      (95% Wilson)");
    if (r->cfg.attack.enabled) printf("  %-24s  %-24s", "ASR     (95% Wilson)", "RA      (95% Wilson)");
    printf("\n");
    const Metrics *rows[2] = {clean, bd};
    const char *names[2] = {r->cfg.attack.enabled && clean ? "clean" : "model", "backdoored"};
    for (int i = 0; i < 2; i++) {
        if (!rows[i]) continue;
        printf("%-12s", names[i]);
        print_prop(&rows[i]->ca);
        if (rows[i]->has_attack) {
            print_prop(&rows[i]->asr);
            print_prop(&rows[i]->ra);
        }
        printf("\n");
    }
    for (int i = 0; i < 2; i++)
        if (rows[i] && rows[i]->ca.p < CA_SANITY_FLOOR)
            printf("!! WARNING: the %s model's clean accuracy %.2f%% is below the sanity floor of %.0f%%: "
                   "these numbers do not describe a working classifier.\n",
                   names[i], 100 * rows[i]->ca.p, 100 * CA_SANITY_FLOOR);
    printf("time: %.1f s. Results in %s/\n", seconds, r->dir);
}

static void run_free(Run *r) {
    ds_pair_free(&r->data);
    ds_free(&r->defender);
    ds_free(&r->rest);
    ds_free(&r->poisoned);
    ds_free(&r->triggered_test);
    poison_manifest_free(&r->manifest);
    free(r->epochs_csv);
}

// An attack error found once the data is loaded: point at the config line of the key the message names
// ("[attack] <key> ..."), or at the file alone when that key took its default.
static Status attack_error_ctx(Status st, const Run *r, const char *config_path) {
    char key[32] = "";
    const char *m = bl_errmsg();
    if (!strncmp(m, "[attack] ", 9)) sscanf(m + 9, "%31[a-z_]", key);
    int line = key[0] ? config_key_line(&r->cfg, "attack", key) : 0;
    return line ? bl_fail_ctx(st, "%s:%d", config_path, line) : bl_fail_ctx(st, "%s", config_path);
}

// Split a comma-separated list in place into items (at most max); their number.
static int split_list(char *text, const char **items, int max) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(text, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

// The configured dataset: a named one, or csv:PATH with the [data] csv keys turned into the reader's options.
static Status load_configured_data(const CfgData *d, DatasetPair *out) {
    if (dataset_kind_of(d->dataset) == DS_TOKENS) {
        TextOptions o = {.max_tokens = d->max_tokens, .subject = d->subject, .test_fraction = d->test_fraction,
                         .split_seed = d->split_seed};
        return dataset_load_text(d->dataset, d->path, &o, d->train_subset, d->test_subset, out, NULL);
    }
    if (strcmp(d->dataset, "csv") != 0)
        return dataset_load(d->dataset, d->path, d->train_subset, d->test_subset, out);
    if (!d->label_column[0])
        return bl_fail(BL_ERR_USAGE, "dataset = csv:%s needs [data] label_column = NAME (or a 0-based index)",
                       d->path);
    enum { MAX_ITEMS = 256 };
    char feat[1024], miss[256], cat[1024];
    const char *fi[MAX_ITEMS], *mi[MAX_ITEMS], *ci[MAX_ITEMS];
    snprintf(feat, sizeof feat, "%s", d->feature_columns);
    snprintf(miss, sizeof miss, "%s", d->missing_values);
    snprintf(cat, sizeof cat, "%s", d->categorical_columns);
    CsvOptions o = {.label_column = d->label_column, .test_fraction = d->test_fraction, .seed = d->split_seed};
    if ((o.nfeature_columns = split_list(feat, fi, MAX_ITEMS))) o.feature_columns = fi;
    if ((o.ncategorical_columns = split_list(cat, ci, MAX_ITEMS))) o.categorical_columns = ci;
    if (d->missing_values_set) { // "none": no marker at all; otherwise the listed ones
        o.missing_values = mi;
        o.nmissing_values = strcmp(miss, "none") ? split_list(miss, mi, MAX_ITEMS) : 0;
    }
    return dataset_load_csv(d->path, &o, d->train_subset, d->test_subset, out);
}

// Load the config, the data, the split and the poison; shared by run/train/eval.
static Status prepare(Run *r, const char *config_path, const ExperimentConfig *loaded, int threads_override,
                      int need_train) {
    Status st = BL_OK;
    if (loaded) memcpy(&r->cfg, loaded, sizeof r->cfg);
    else if ((st = config_load(config_path, &r->cfg))) return st;
    // eval and poison of a multi-run config (seeds, [sweep]) use its first run; `run` hands us single runs.
    if (r->cfg.experiment.nseeds > 0 || r->cfg.sweep.enabled) config_single_run(&r->cfg, r->cfg.experiment.seed);
    if ((st = run_defenses_check(&r->cfg, config_path))) return st; // before anything trains
    if (threads_override > 0) r->cfg.experiment.threads = threads_override;
    if (r->cfg.experiment.threads > 0) bl_set_threads(r->cfg.experiment.threads);
    r->threads = bl_max_threads();
    r->cfg.experiment.threads = r->threads;
    if (r->cfg.data.manifest[0]) { // governed data: refuse to go on unless it matches the manifest exactly
        if (!strcmp(r->cfg.data.dataset, "png"))
            return bl_fail(BL_ERR_USAGE, "%s: dataset_manifest works with IDX and mnist10k datasets, not png",
                           config_path);
        const char *dir = r->cfg.data.path[0] ? r->cfg.data.path : dataset_default_dir(r->cfg.data.dataset);
        // The kind the run will load (not what the folder looks like), so the check covers exactly that data.
        DsmKind kind = !strcmp(r->cfg.data.dataset, "mnist10k") ? DSM_KIND_MNIST10K : DSM_KIND_IDX;
        if ((st = dsm_require(dir, kind, r->cfg.data.manifest))) return st;
    }
    st = load_configured_data(&r->cfg.data, &r->data);
    if (st) return st;
    const AttackSpec *a = &r->cfg.attack;
    uint64_t seed = r->cfg.experiment.seed;
    if (a->enabled) {
        if ((st = attack_check(a, &r->data.test))) return attack_error_ctx(st, r, config_path);
        if ((st = attack_apply_test(a, &r->data.test, seed, &r->triggered_test))) return st;
    }
    if (!need_train) return BL_OK;
    st = split_defender(&r->data.train, r->cfg.data.defender_clean_fraction, seed, &r->defender, &r->rest);
    if (st) return st;
    if (a->enabled) {
        // Only attacks with a surrogate model use the context: the experiment's own network and training.
        AttackContext ctx = {.model_desc = r->cfg.model.layers,
                             .train = {.epochs = r->cfg.train.epochs, .batch = r->cfg.train.batch,
                                       .opt = opt_from_config(&r->cfg.train), .seed = seed, .progress = r->progress}};
        st = attack_poison(a, &r->rest, seed, &ctx, &r->poisoned, &r->manifest);
        if (st) return attack_error_ctx(st, r, config_path);
    }
    return st;
}

// Up to two samples per class from the test set: clean above triggered.
static Status write_samples_png(const Run *r, const char *path) {
    int idx[20], k = 0, per_class[METRICS_MAX_CLASSES] = {0};
    for (int i = 0; i < r->data.test.n && k < 20; i++) {
        int y = r->data.test.labels[i];
        if (per_class[y] < 2 && k < 2 * r->data.test.num_classes) per_class[y]++, idx[k++] = i;
    }
    if (r->data.test.c != 1) return attack_write_gallery(path, &r->data.test, &r->triggered_test, 2); // colour
    return png_write_samples(path, &r->data.test, &r->triggered_test, idx, k, 3);
}

// The config's [defense.<name>] sections, applied to the models this run just wrote (reloaded from their files,
// so a defence sees exactly the bytes a later `detect` would). Results go to <dir>/defense/<name>/ and into
// *out (the "defenses" object of metrics.json).
static Status apply_defenses(Run *r, const char *hclean, const char *hbd, cJSON **out) {
    Shape in = train_input_shape(&r->data.train);
    int K = r->data.train.num_classes;
    Model clean, bd;
    char path[4200], h1[65], h2[65];
    path_join(path, sizeof path, r->dir, "model-clean.bdm");
    Status st = model_load(path, in, K, 256, r->cfg.model.layers, &clean, h1);
    if (st) return st;
    path_join(path, sizeof path, r->dir, "model-backdoor.bdm");
    if ((st = model_load(path, in, K, 256, r->cfg.model.layers, &bd, h2))) {
        model_free(&clean);
        return st;
    }
    TrainOptions topt = {.epochs = r->cfg.train.epochs, .batch = r->cfg.train.batch,
                         .opt = opt_from_config(&r->cfg.train), .seed = r->cfg.experiment.seed};
    char poison_csv[4200];
    path_join(poison_csv, sizeof poison_csv, r->dir, "poison.csv");
    DefenseRunData rd = {.backdoor = &bd, .clean = &clean, .train = &r->poisoned, .train_clean = &r->rest,
                         .defender = &r->defender, .train_opts = &topt, .model_desc = r->cfg.model.layers,
                         .seed = r->cfg.experiment.seed, .progress = r->progress, .test = &r->data.test,
                         .triggered_test = &r->triggered_test, .attack = &r->cfg.attack, .poison_csv = poison_csv,
                         .max_inputs = 2000, .clean_sha256 = hclean, .backdoor_sha256 = hbd};
    (void)h1;
    (void)h2;
    *out = cJSON_CreateObject();
    for (int i = 0; i < r->cfg.ndefenses && !st; i++) {
        const CfgDefense *d = &r->cfg.defenses[i];
        const DefenseOps *ops = run_defense_ops(d);
        DefenseSettings s;
        run_defense_settings(d, &s);
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/defense/%s", r->dir, d->name);
        cJSON *sum = NULL; // stored under the section's name (an external defence's own name)
        st = defense_run_and_evaluate(ops ? ops->name : d->name, s.ptr, &rd, dir, NULL, &sum);
        if (!st) cJSON_AddItemToObject(*out, d->name, sum);
    }
    if (st) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    model_free(&clean);
    model_free(&bd);
    return st;
}

// The resolved config with the [defense.*] sections, every parameter resolved, after the rest (malloc'd; NULL
// when out of memory).
static char *resolved_with_defenses(const ExperimentConfig *cfg) {
    char *resolved = config_resolved_string(cfg), *defs = run_defenses_resolved(cfg);
    if (resolved && defs && *defs) {
        char *both = malloc(strlen(resolved) + strlen(defs) + 1);
        if (both) strcat(strcpy(both, resolved), defs);
        free(resolved);
        resolved = both;
    }
    free(defs);
    return resolved;
}

Status experiment_config_identity(const ExperimentConfig *cfg, char hex[65]) {
    char *resolved = resolved_with_defenses(cfg);
    if (!resolved) return bl_fail(BL_ERR_RUN, "out of memory resolving the config");
    training_config_hash(resolved, hex);
    free(resolved);
    return BL_OK;
}

Status experiment_run(const ExperimentOptions *opt) {
    Run r;
    memset(&r, 0, sizeof r);
    double t_start = bl_now();
    r.progress = opt->progress;
    Status st = prepare(&r, opt->config_path, opt->cfg, opt->threads, 1);
    if (st) goto done;
    if (opt->out_dir) snprintf(r.dir, sizeof r.dir, "%s", opt->out_dir);
    else snprintf(r.dir, sizeof r.dir, "results/%s", r.cfg.experiment.name);
    if ((st = ensure_dir(r.dir))) goto done;
    char path[4200];
    path_join(path, sizeof path, r.dir, "DONE");
    if (unlink(path) != 0 && errno != ENOENT) {
        st = bl_fail(BL_ERR_RUN, "%s: cannot remove the old DONE marker", path);
        goto done;
    }
    path_join(path, sizeof path, r.dir, "metrics.json");
    unlink(path); // a failed re-run must not leave the previous run's metrics looking current

    cJSON *manifest = manifest_new(&r.cfg, opt->config_path, r.threads);
    char config_hash[65] = "", *resolved = resolved_with_defenses(&r.cfg);
    if (!manifest || !resolved) {
        free(resolved);
        cJSON_Delete(manifest);
        st = bl_fail(BL_ERR_RUN, "cannot build the manifest or resolved config: %s", bl_errmsg());
        goto done;
    }
    char resolved_hash[65];
    sha256_hex(resolved, strlen(resolved), resolved_hash);
    manifest_add_hash(manifest, "resolved_config_sha256", resolved_hash);
    training_config_hash(resolved, config_hash);
    manifest_add_hash(manifest, "training_config_sha256", config_hash);
    manifest_add_hash(manifest, "dataset_sha256", r.data.sha256_hex);
    path_join(path, sizeof path, r.dir, "config.resolved.ini");
    st = write_file_atomic(path, resolved, strlen(resolved));
    char clean_identity[65];
    clean_training_hash(resolved, r.cfg.experiment.seed, r.data.sha256_hex, clean_identity);
    free(resolved);
    if (st) goto done_manifest;
    csv_append(&r, "model,epoch,loss,train_acc,test_ca,test_asr,lr,train_seconds,eval_seconds\n");

    int attack = r.cfg.attack.enabled;
    int want_clean = opt->mode == EXP_RUN || !attack, want_bd = attack;
    Metrics mclean, mbd;
    char hclean[65] = "", hbd[65] = "";
    double sec_clean = 0, sec_bd = 0;
    int have_clean = 0, have_bd = 0;
    const char *clean_file = opt->mode == EXP_TRAIN ? "model.bdm" : "model-clean.bdm";
    if (want_clean) {
        manifest_add_hash(manifest, "clean_training_sha256", clean_identity);
        if (opt->reuse_clean_from && opt->mode == EXP_RUN && attack &&
            reuse_clean_model(&r, opt->reuse_clean_from, clean_identity, config_hash, &mclean, hclean)) {
            cJSON_AddStringToObject(manifest, "clean_model_reused_from", opt->reuse_clean_from);
        } else {
            st = train_one(&r, &r.rest, attack ? "clean" : "model", clean_file, config_hash, opt->progress, &mclean,
                           hclean, &sec_clean);
            if (st) goto done_manifest;
        }
        have_clean = 1;
        manifest_add_hash(manifest, opt->mode == EXP_TRAIN ? "model_sha256" : "model_clean_sha256", hclean);
    }
    if (want_bd) {
        st = train_one(&r, &r.poisoned, "backdoor", opt->mode == EXP_TRAIN ? "model.bdm" : "model-backdoor.bdm",
                       config_hash, opt->progress, &mbd, hbd, &sec_bd);
        if (st) goto done_metrics;
        have_bd = 1;
        manifest_add_hash(manifest, opt->mode == EXP_TRAIN ? "model_sha256" : "model_backdoor_sha256", hbd);
    }
    if (attack) {
        path_join(path, sizeof path, r.dir, "poison.csv");
        if ((st = poison_manifest_write_csv(&r.manifest, path))) goto done_metrics;
        char phash[65];
        if (sha256_file_hex(path, phash) == BL_OK) manifest_add_hash(manifest, "poison_manifest_sha256", phash);
        if (r.data.test.kind == DS_TOKENS) { // messages: triggered messages with the inserted words marked
            path_join(path, sizeof path, r.dir, "samples.md");
            if ((st = text_write_samples(path, &r.data.test, &r.triggered_test, r.data.test.c))) goto done_metrics;
        } else if (r.data.test.kind == DS_RECORDS) { // records: a table of clean and triggered records
            char md[4200];
            path_join(path, sizeof path, r.dir, "samples.csv");
            path_join(md, sizeof md, r.dir, "samples.md");
            if ((st = records_write_samples(path, md, &r.data.test, &r.triggered_test))) goto done_metrics;
        } else {
            path_join(path, sizeof path, r.dir, "samples.png");
            if ((st = write_samples_png(&r, path))) goto done_metrics;
        }
    }
    path_join(path, sizeof path, r.dir, "epochs.csv");
    if ((st = write_file_atomic(path, r.epochs_csv, r.epochs_len))) goto done_metrics;

    cJSON *defenses = NULL;
    if (r.cfg.ndefenses && have_clean && have_bd && (st = apply_defenses(&r, hclean, hbd, &defenses)))
        goto done_metrics;
    cJSON *mj = cJSON_CreateObject();
    if (defenses) cJSON_AddItemToObject(mj, "defenses", defenses);
    if (opt->mode == EXP_TRAIN) {
        cJSON_AddItemToObject(mj, "model", metrics_json(have_bd ? &mbd : &mclean, have_bd ? hbd : hclean));
    } else {
        if (have_clean) cJSON_AddItemToObject(mj, "clean_model", metrics_json(&mclean, hclean));
        if (have_bd) cJSON_AddItemToObject(mj, "backdoored_model", metrics_json(&mbd, hbd));
    }
    if (attack) {
        cJSON *p = cJSON_AddObjectToObject(mj, "poison");
        cJSON_AddNumberToObject(p, "count", r.manifest.count);
        cJSON_AddNumberToObject(p, "rate", r.manifest.rate);
    }
    cJSON *split = cJSON_AddObjectToObject(mj, "data");
    cJSON_AddNumberToObject(split, "train", r.rest.n);
    cJSON_AddNumberToObject(split, "defender_clean", r.defender.n);
    cJSON_AddNumberToObject(split, "test", r.data.test.n);
    cJSON_AddNumberToObject(mj, "sanity_floor_ca", CA_SANITY_FLOOR);
    cJSON *timing = cJSON_AddObjectToObject(mj, "timing"); // the only part that varies between identical runs
    if (have_clean) cJSON_AddNumberToObject(timing, "clean_seconds", sec_clean);
    if (have_bd) cJSON_AddNumberToObject(timing, "backdoor_seconds", sec_bd);
    cJSON_AddNumberToObject(timing, "total_seconds", bl_now() - t_start);
    path_join(path, sizeof path, r.dir, "metrics.json");
    st = json_write_atomic(path, mj);
    cJSON_Delete(mj);
    if (st) goto done_metrics;

    manifest_set_end(manifest);
    path_join(path, sizeof path, r.dir, "manifest.json");
    if ((st = json_write_atomic(path, manifest))) goto done_metrics;
    if ((st = run_report_write(r.dir))) goto done_metrics; // report.html is part of the run: before DONE
    if ((st = write_done_marker(r.dir))) goto done_metrics;
    if (!opt->quiet)
        print_summary(&r, have_clean ? &mclean : NULL, have_bd ? &mbd : NULL, bl_now() - t_start);
    // What follows a finished run (the supply-chain scenario) reloads it, so it needs DONE written first.
    if (opt->mode == EXP_RUN && have_bd && opt->after_done &&
        !(st = opt->after_done(opt->after_ctx, r.dir, &r.cfg, r.threads, opt->quiet)))
        st = run_report_write(r.dir); // again, now with what after_done added (supply-chain/)

done_metrics:
    if (have_clean) metrics_free(&mclean);
    if (have_bd) metrics_free(&mbd);
done_manifest:
    cJSON_Delete(manifest);
done:
    run_free(&r);
    return st;
}

Status experiment_eval(const char *model_path, const char *config_path, int threads, const char *trusted_key) {
    Run r;
    memset(&r, 0, sizeof r);
    Status st = prepare(&r, config_path, NULL, threads, 0);
    Model m;
    char hash[65];
    if (st) goto done;
    if (!trusted_key && r.cfg.model.trusted_key[0]) trusted_key = r.cfg.model.trusted_key; // the flag wins
    st = model_load_trusted(model_path, trusted_key, train_input_shape(&r.data.test),
                            r.data.test.num_classes, r.cfg.train.batch, r.cfg.model.layers, &m, hash);
    if (st) goto done;
    Metrics mt;
    st = evaluate(&r, &m, &mt);
    model_free(&m);
    if (st) goto done;
    printf("model %s (sha256 %.16s...) on %s test set (%d images)\n", model_path, hash, r.cfg.data.dataset,
           r.data.test.n);
    printf("CA ");
    print_prop(&mt.ca);
    if (mt.has_attack) {
        printf("\nASR");
        print_prop(&mt.asr);
        printf("\nRA ");
        print_prop(&mt.ra);
    }
    printf("\n");
    metrics_free(&mt);
done:
    run_free(&r);
    return st;
}


// ---------------------------------------------------------------------------------------------------------
// Reloading a finished attack run (issue 6). Kept apart from the pipeline above; it reuses prepare() so the
// data, split and poison are rebuilt by exactly the code that made them.

// manifest[key] as a string, or NULL.
static const char *manifest_str(const cJSON *m, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static Status load_checked_model(LoadedRun *r, const cJSON *man, const char *file, const char *key,
                                 const char *trusted_key, Model *m, char hash[65]) {
    char path[4200];
    path_join(path, sizeof path, r->dir, file);
    const char *want = manifest_str(man, key);
    if (!want) return bl_fail(BL_ERR_DATA, "%s/manifest.json has no %s (not a `backdoorlab run` attack run?)", r->dir, key);
    Status st = model_load_trusted(path, trusted_key, train_input_shape(&r->data.train),
                                   r->data.train.num_classes, BL_MAX(256, r->cfg.train.batch), r->cfg.model.layers, m,
                                   hash);
    if (st) return st;
    if (strcmp(hash, want) != 0) {
        model_free(m);
        return bl_fail(BL_ERR_DATA,
                       "%s: content hash %.16s... does not match manifest.json's %s %.16s...: the model was replaced "
                       "or the folder mixed up; re-run `backdoorlab run` for this experiment",
                       path, hash, key, want);
    }
    return BL_OK;
}

Status experiment_load_run(const char *run_dir, int threads, const char *trusted_key, LoadedRun *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", run_dir);
    size_t dl = strlen(out->dir);
    while (dl > 1 && out->dir[dl - 1] == '/') out->dir[--dl] = 0;
    char path[4200];
    path_join(path, sizeof path, out->dir, "DONE");
    if (access(path, F_OK) != 0)
        return bl_fail(BL_ERR_DATA, "%s: no DONE marker: not a finished run (run `backdoorlab run CONFIG` to "
                                     "completion first)", out->dir);
    path_join(path, sizeof path, out->dir, "manifest.json");
    char *text = read_text_file(path, 1L << 24);
    cJSON *man = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!man) return bl_fail(BL_ERR_DATA, "%s: missing or not valid JSON", path);
    Status st = BL_OK;
    if (!manifest_str(man, "model_backdoor_sha256")) {
        st = bl_fail(BL_ERR_USAGE, "%s: the run has no backdoored model (its config has no [attack], or it was made "
                                   "by `backdoorlab train`); defences need an attack run", out->dir);
        goto done;
    }
    Run r;
    memset(&r, 0, sizeof r);
    path_join(path, sizeof path, out->dir, "config.resolved.ini");
    st = prepare(&r, path, NULL, threads, 1);
    // hand the pieces over to *out (r's pointers now belong to out; r is not freed)
    out->cfg = r.cfg, out->threads = r.threads, out->data = r.data, out->defender = r.defender, out->rest = r.rest;
    out->poisoned = r.poisoned, out->manifest = r.manifest, out->triggered_test = r.triggered_test;
    free(r.epochs_csv);
    if (st) goto done;
    if (!r.cfg.attack.enabled) {
        st = bl_fail(BL_ERR_USAGE, "%s: config.resolved.ini has no [attack]; defences need an attack run", out->dir);
        goto done;
    }
    const char *dh = manifest_str(man, "dataset_sha256");
    if (dh && strcmp(dh, out->data.sha256_hex) != 0) {
        st = bl_fail(BL_ERR_DATA, "%s: the dataset now hashes to %.16s..., the run used %.16s...: the data changed "
                                  "since the run", out->dir, out->data.sha256_hex, dh);
        goto done;
    }
    // --trusted-key wins over the run config's [model] trusted_key; either way an unsigned model is refused.
    const char *key = trusted_key && *trusted_key ? trusted_key : out->cfg.model.trusted_key[0] ? out->cfg.model.trusted_key : NULL;
    if ((st = load_checked_model(out, man, "model-clean.bdm", "model_clean_sha256", key, &out->clean,
                                 out->clean_sha256)))
        goto done;
    if ((st = load_checked_model(out, man, "model-backdoor.bdm", "model_backdoor_sha256", key, &out->backdoor,
                                 out->backdoor_sha256))) {
        model_free(&out->clean);
        memset(&out->clean, 0, sizeof out->clean);
        goto done;
    }
    path_join(out->poison_csv, sizeof out->poison_csv, out->dir, "poison.csv");
    const char *ph = manifest_str(man, "poison_manifest_sha256");
    char phash[65];
    if ((st = sha256_file_hex(out->poison_csv, phash))) goto done;
    if (ph && strcmp(ph, phash) != 0) {
        st = bl_fail(BL_ERR_DATA, "%s: hash %.16s... differs from manifest.json's %.16s...", out->poison_csv, phash, ph);
        goto done;
    }
    // the poison rebuilt from the config must be the poison the run recorded
    uint8_t *flag = malloc((size_t)BL_MAX(1, out->poisoned.n));
    int count = 0;
    if (!flag) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    st = eval_read_poison_csv(out->poison_csv, &out->poisoned, flag, &count);
    int same = !st && count == out->manifest.count;
    for (int i = 0; same && i < out->manifest.count; i++) same = flag[out->manifest.positions[i]];
    free(flag);
    if (!st && !same)
        st = bl_fail(BL_ERR_DATA, "%s: the poison rebuilt from config.resolved.ini (%d samples) differs from "
                                  "poison.csv (%d rows): the code changed since the run; re-run it",
                     out->dir, out->manifest.count, count);
    if (st) goto done;
    TrainOptions o = {.epochs = out->cfg.train.epochs, .batch = out->cfg.train.batch,
                      .opt = opt_from_config(&out->cfg.train), .seed = out->cfg.experiment.seed};
    out->train_opts = o;
done:
    cJSON_Delete(man);
    if (st) experiment_loaded_free(out);
    return st;
}

void experiment_loaded_free(LoadedRun *r) {
    ds_pair_free(&r->data);
    ds_free(&r->defender);
    ds_free(&r->rest);
    ds_free(&r->poisoned);
    ds_free(&r->triggered_test);
    poison_manifest_free(&r->manifest);
    if (r->clean.params) model_free(&r->clean);
    if (r->backdoor.params) model_free(&r->backdoor);
    memset(&r->clean, 0, sizeof r->clean);
    memset(&r->backdoor, 0, sizeof r->backdoor);
}

void experiment_defense_data(LoadedRun *r, DefenseRunData *rd) {
    memset(rd, 0, sizeof *rd);
    rd->backdoor = &r->backdoor;
    rd->clean = &r->clean;
    rd->train = &r->poisoned;
    rd->train_clean = &r->rest;
    rd->defender = &r->defender;
    rd->train_opts = &r->train_opts;
    rd->model_desc = r->cfg.model.layers;
    rd->seed = r->cfg.experiment.seed;
    rd->test = &r->data.test;
    rd->triggered_test = &r->triggered_test;
    rd->attack = &r->cfg.attack;
    rd->poison_csv = r->poison_csv;
    rd->max_inputs = 2000;
    rd->clean_sha256 = r->clean_sha256;
    rd->backdoor_sha256 = r->backdoor_sha256;
}

// Messages: put each poisoned message (r.poisoned, a subset of the training file) into its row of full, whose token
// arrays are rebuilt (poisoned messages are longer).
static Status text_put_poisoned(Dataset *full, const Dataset *poisoned, const int *row_of, int max_orig) {
    int *src = bl_alloc((size_t)full->n * sizeof(int)); // row -> index in poisoned, or -1
    if (!src) return bl_fail(BL_ERR_RUN, "out of memory");
    for (int i = 0; i < full->n; i++) src[i] = -1;
    for (int i = 0; i < poisoned->n; i++) {
        int o = poisoned->orig_index[i];
        if (o >= 0 && o <= max_orig && row_of[o] >= 0) src[row_of[o]] = i;
    }
    long total = 0;
    for (int i = 0; i < full->n; i++) {
        const Dataset *d = src[i] < 0 ? full : poisoned;
        const int j = src[i] < 0 ? i : src[i];
        total += d->tok_offset[j + 1] - d->tok_offset[j];
    }
    int32_t *tok = bl_alloc((size_t)(total + 1) * sizeof(int32_t));
    long *off = bl_alloc((size_t)(full->n + 1) * sizeof(long));
    if (!tok || !off) {
        bl_free(src), bl_free(tok), bl_free(off);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    long w = 0;
    for (int i = 0; i < full->n; i++) {
        const Dataset *d = src[i] < 0 ? full : poisoned;
        const int j = src[i] < 0 ? i : src[i];
        const long n = d->tok_offset[j + 1] - d->tok_offset[j];
        off[i] = w;
        memcpy(tok + w, d->tokens + d->tok_offset[j], (size_t)n * sizeof(int32_t));
        w += n;
    }
    off[full->n] = w;
    bl_free(full->tokens), bl_free(full->tok_offset), bl_free(src);
    full->tokens = tok, full->tok_offset = off;
    return BL_OK;
}

Status experiment_poison(const char *config_path, const char *out_dir, int png_format, int threads, int progress,
                         int quiet) {
    Run r;
    memset(&r, 0, sizeof r);
    r.progress = progress;
    Dataset full;
    memset(&full, 0, sizeof full);
    int *row_of = NULL; // orig_index -> row of the written training file
    Status st = prepare(&r, config_path, NULL, threads, 1);
    if (st) goto done;
    if (!r.cfg.attack.enabled) {
        st = bl_fail(BL_ERR_USAGE, "%s has no [attack] section: there is nothing to poison", config_path);
        goto done;
    }
    if ((r.data.train.kind == DS_TOKENS) != (png_format == POISON_FORMAT_TEXT) || r.data.train.kind == DS_RECORDS) {
        st = bl_fail(BL_ERR_USAGE,
                     "%s: dataset %s holds %s; `poison` writes images as idx or png and messages as text "
                     "(`run` writes poison.csv and samples.csv/samples.md for records)",
                     config_path, r.cfg.data.dataset, ds_kind_name(r.data.train.kind));
        goto done;
    }
    // The whole training file with the poisoned samples in their original rows (the defender's split is never
    // poisoned), so poison.csv's indices are rows of the written file.
    if ((st = ds_copy(&r.data.train, &full))) goto done;
    // orig_index is a row of the source file for IDX data but, e.g. for mnist10k, a position across all its files
    // (train and test): map it to the row of the written training file, and write poison.csv in those rows.
    int max_orig = 0;
    for (int i = 0; i < full.n; i++) max_orig = BL_MAX(max_orig, full.orig_index[i]);
    row_of = bl_alloc((size_t)(max_orig + 1) * sizeof(int));
    if (!row_of) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    for (int i = 0; i <= max_orig; i++) row_of[i] = -1;
    for (int i = 0; i < full.n; i++) row_of[full.orig_index[i]] = i;
    size_t ss = (size_t)ds_sample_size(&full);
    for (int i = 0; i < r.poisoned.n; i++) {
        int o = r.poisoned.orig_index[i], row = o >= 0 && o <= max_orig ? row_of[o] : -1;
        if (row < 0) {
            st = bl_fail(BL_ERR_RUN, "internal: poisoned sample %d has index %d outside the training set", i, o);
            goto done;
        }
        if (full.kind == DS_IMAGES) memcpy(full.images + (size_t)row * ss, r.poisoned.images + (size_t)i * ss, ss);
        full.labels[row] = r.poisoned.labels[i];
    }
    for (int i = 0; i < r.manifest.count; i++) {
        int o = r.manifest.records[i].orig_index;
        r.manifest.records[i].orig_index = o >= 0 && o <= max_orig ? row_of[o] : -1;
    }
    for (int i = 0; i < r.manifest.noise_count; i++) {
        int o = r.manifest.noise_orig_index[i];
        r.manifest.noise_orig_index[i] = o >= 0 && o <= max_orig ? row_of[o] : -1;
    }
    for (int i = 0; i < full.n; i++) full.orig_index[i] = i;
    if ((st = ensure_dir(out_dir))) goto done;
    if (full.kind == DS_TOKENS) {
        if (!(st = text_put_poisoned(&full, &r.poisoned, row_of, max_orig)))
            st = text_export(out_dir, &full, &r.data.test, &r.triggered_test, &r.manifest);
    } else {
        st = attack_export(out_dir, png_format ? EXPORT_PNG : EXPORT_IDX, &r.cfg.attack, r.cfg.experiment.seed,
                           &full, &r.data.test, &r.triggered_test, &r.manifest);
    }
    if (st) goto done;
    char path[4200];
    path_join(path, sizeof path, out_dir, "config.resolved.ini");
    if ((st = config_write_resolved(&r.cfg, path))) goto done;
    if (!quiet) {
        char what[256];
        attack_describe(&r.cfg.attack, what, sizeof what);
        printf("%s: %s\n%d of %d training samples poisoned (%.2f%% of the %s base), %d noise-mode; %d test samples triggered.\n"
               "Wrote %s/ (%s, config.resolved.ini)\n",
               r.cfg.experiment.name, what, r.manifest.count, full.n, 100 * r.manifest.rate,
               attack_base_name(r.cfg.attack.poison_base), r.manifest.noise_count, r.triggered_test.n, out_dir,
               full.kind == DS_TOKENS ? "train.tsv test.tsv triggered.tsv poison.csv"
               : png_format ? "train/ test/ triggered/ PNG trees, poison.csv, trigger.png, gallery.png"
                            : "IDX files, poison.csv, trigger.png, gallery.png");
    }
done:
    bl_free(row_of);
    ds_free(&full);
    run_free(&r);
    return st;
}
