// supply_chain.c: the supply-chain scenario (see supply_chain.h): a publisher signs a model into a hub, an
// attacker swaps or edits it, a careful consumer refuses every tampered file, a careless one deploys the swap
// and the runtime monitor screens what reaches it.
//
// Nothing is simulated: keys are generated, files are copied, signed and edited on disk, every load goes through
// the same model_load_trusted the CLI uses, and the monitor numbers come from parsing the monitor's own JSON
// lines against the ground truth of the stream (which only this evaluator knows).
#include "run/supply_chain.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "attack/attack.h"
#include "core/rng.h"
#include "data/gather.h"
#include "defense/defense.h"
#include "defense/monitor.h"
#include "eval/metrics.h"
#include "io/keys.h"
#include "io/modelfile.h"
#include "io/results.h"
#include "nn/checkpoint.h"
#include "run/experiment.h"

#define SC_DIR_MAX 4200  // run_dir/supply-chain (LoadedRun.dir holds < 4096 bytes)
#define SC_SUB_MAX 4300  // its subfolders and key bases
#define SC_PATH_MAX 4400 // any file path
#define SC_MSG_MAX 1024
#define SC_MAX_MODEL_BYTES ((long)1 << 30) // a model file larger than this is not one of ours
#define SC_EDIT_DELTA 0.25f                // added to one weight by the "edit" attacker
#define SC_MAX_ARTIFACTS 3

// One tampered file in the hub and what each consumer made of it.
typedef struct {
    const char *file;           // name under hub/
    const char *what;           // the attack, in words
    char sha256[65];            // SHA-256 of the file's bytes
    long bytes;                 // file size
    Status trusted;             // model_load_trusted with the publisher's key (must be refused)
    char trusted_msg[SC_MSG_MAX]; // its error message
    Status plain;               // model_load without any key (what a careless consumer gets)
    char plain_msg[SC_MSG_MAX]; // its error message ("" when it loaded)
} Artifact;

// The weight the "edit" attacker changed.
typedef struct {
    char tensor[BDM_NAME_LEN]; // tensor name
    size_t index;              // element within the tensor
    long offset;               // file offset of its 4 bytes
    float before, after;       // value before and after
} EditInfo;

// The monitored stream: monitor_inputs clean and as many triggered test images, shuffled together.
typedef struct {
    Dataset set;         // what the monitor sees (labels zeroed)
    uint8_t *triggered;  // (set.n) ground truth: 1 = carries the trigger
    uint8_t *label;      // (set.n) true label of the underlying test image
    int *test_index;     // (set.n) position in the test set
    int n_clean, n_trig; // how many of each
} Stream;

// What the monitor made of the stream on one model.
typedef struct {
    const char *role;        // "deployed" or "control"
    const char *model_file;  // hub file the model came from
    double threshold;        // the monitor's threshold (flag when score > threshold)
    Proportion detect;       // triggered inputs flagged
    Proportion false_alarm;  // clean inputs flagged
    Proportion asr;          // triggered inputs classified as the attack label
    Proportion asr_unflagged; // triggered inputs that fooled the model AND passed the monitor
    Proportion ca;           // clean inputs classified correctly
    long inputs;             // inputs screened
    double seconds;          // screening wall time (excludes calibration)
    double calib_seconds;    // monitor_init wall time
} MonitorOutcome;

// dir/file. Buffers grow with depth (SC_DIR_MAX < SC_SUB_MAX < SC_PATH_MAX) so that every path fits.
static void path_join(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

static void copy_msg(char *dst, const char *src) { snprintf(dst, SC_MSG_MAX, "%s", src ? src : ""); }

// The file's bytes (malloc'd) and their count.
static Status read_bytes(const char *path, uint8_t **out, long *len) {
    *out = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_RUN, "%s: cannot open: %s", path, strerror(errno));
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || n > SC_MAX_MODEL_BYTES || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "%s: cannot read (size %ld)", path, n);
    }
    uint8_t *buf = malloc((size_t)BL_MAX(n, 1));
    if (!buf) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "%s: out of memory reading %ld bytes", path, n);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if ((long)got != n) {
        free(buf);
        return bl_fail(BL_ERR_RUN, "%s: short read (%zu of %ld bytes)", path, got, n);
    }
    *out = buf, *len = n;
    return BL_OK;
}

static Status copy_file(const char *from, const char *to) {
    uint8_t *buf;
    long n;
    Status st = read_bytes(from, &buf, &n);
    if (st) return st;
    st = write_file_atomic(to, buf, (size_t)n);
    free(buf);
    return st;
}

// Sign path in place with the secret key file key_secret; the secret bytes never outlive this call.
static Status sign_with(const char *path, const char *key_secret, char fingerprint[65]) {
    uint8_t sk[KEYS_SECRET_BYTES];
    Status st = keys_load_secret(key_secret, sk);
    if (!st) st = bdm_sign(path, sk, fingerprint, NULL);
    sodium_memzero(sk, sizeof sk);
    return st;
}

static uint64_t get_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

// The "edit" attack: read the signed hub model, add SC_EDIT_DELTA to one weight of its last tensor (the output
// layer: the target class's entry when it has one per class) directly in the file bytes, and write the result to
// `to` without re-signing. The file is parsed with bdm_read_mem first so the edit lands on a real float.
static Status edit_weights(const char *from, const char *to, int target, EditInfo *ei) {
    uint8_t *buf;
    long n;
    Status st = read_bytes(from, &buf, &n);
    if (st) return st;
    BdmModel m;
    if ((st = bdm_read_mem(buf, (size_t)n, from, &m))) {
        free(buf);
        return st;
    }
    // the payload ends at content_len, tensors stored back to back in table order (modelfile.h)
    uint64_t payload_len = get_u64le(buf + 40), content_len = get_u64le(buf + 48);
    const BdmTensor *t = &m.tensors[m.ntensors - 1];
    size_t before_last = m.payload_count - t->count;
    memset(ei, 0, sizeof *ei);
    snprintf(ei->tensor, sizeof ei->tensor, "%s", t->name);
    ei->index = target >= 0 && (size_t)target < t->count ? (size_t)target : 0;
    ei->offset = (long)(content_len - payload_len + 4 * (before_last + ei->index));
    ei->before = t->data[ei->index];
    ei->after = ei->before + SC_EDIT_DELTA;
    bdm_free(&m);
    uint32_t bits;
    memcpy(&bits, &ei->after, 4);
    for (int i = 0; i < 4; i++) buf[ei->offset + i] = (uint8_t)(bits >> (8 * i)); // little-endian, as stored
    st = write_file_atomic(to, buf, (size_t)n);
    free(buf);
    return st;
}

// Pick the stream: up to k clean test images and up to k triggered ones whose true class the attack claims (for
// all2one, not the target: a target-class image "fooled" into the target proves nothing), shuffled together.
static Status make_stream(const LoadedRun *r, int k, Stream *s) {
    memset(s, 0, sizeof *s);
    const Dataset *test = &r->data.test, *trig = &r->triggered_test;
    const AttackSpec *a = &r->cfg.attack;
    const int n = test->n;
    if (trig->n != n) return bl_fail(BL_ERR_DATA, "supply chain: the triggered test set does not match the test set");
    int *cl = malloc((size_t)BL_MAX(n, 1) * sizeof(int)), *tr = malloc((size_t)BL_MAX(n, 1) * sizeof(int)), ntr = 0;
    int *order = NULL;
    Status st = BL_OK;
    if (!cl || !tr) {
        st = bl_fail(BL_ERR_RUN, "supply chain: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int y = test->labels[i];
        cl[i] = i;
        if (attack_is_source(a, y) && !(a->label_mode == LABEL_ALL2ONE && y == a->target)) tr[ntr++] = i;
    }
    if (n == 0 || ntr == 0) {
        st = bl_fail(BL_ERR_DATA, "supply chain: the run's test set has %d images, %d of a class the attack triggers: "
                                  "nothing to screen", n, ntr);
        goto done;
    }
    Rng rng = rng_stream(r->cfg.experiment.seed, "supply-chain-stream");
    rng_shuffle_int(&rng, cl, n);
    rng_shuffle_int(&rng, tr, ntr);
    s->n_clean = BL_MIN(k, n), s->n_trig = BL_MIN(k, ntr);
    const int total = s->n_clean + s->n_trig;
    order = malloc((size_t)total * sizeof(int));
    s->triggered = malloc((size_t)total);
    s->label = malloc((size_t)total);
    s->test_index = malloc((size_t)total * sizeof(int));
    if (!order || !s->triggered || !s->label || !s->test_index) {
        st = bl_fail(BL_ERR_RUN, "supply chain: out of memory");
        goto done;
    }
    for (int i = 0; i < total; i++) order[i] = i;
    rng_shuffle_int(&rng, order, total);
    for (int j = 0; j < total; j++) {
        int is_trig = order[j] >= s->n_clean, ti = is_trig ? tr[order[j] - s->n_clean] : cl[order[j]];
        s->triggered[j] = (uint8_t)is_trig;
        s->test_index[j] = ti;
    }
    if ((st = ds_gather(test, trig, s->triggered, s->test_index, total, &s->set))) goto done;
    for (int j = 0; j < total; j++) {
        const int ti = s->test_index[j];
        s->set.labels[j] = 0; // the monitor is not told the labels
        s->set.orig_index[j] = j;
        s->label[j] = test->labels[ti];
    }
done:
    free(cl);
    free(tr);
    free(order);
    if (st) {
        ds_free(&s->set);
        free(s->triggered);
        free(s->label);
        free(s->test_index);
        memset(s, 0, sizeof *s);
    }
    return st;
}

static void stream_free(Stream *s) {
    ds_free(&s->set);
    free(s->triggered);
    free(s->label);
    free(s->test_index);
    memset(s, 0, sizeof *s);
}

// stream.csv: what each monitor index really was (evaluator's ground truth, never shown to the monitor).
static Status write_stream_csv(const char *path, const Stream *s) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return bl_fail(BL_ERR_RUN, "%s: out of memory", path);
    fprintf(f, "index,input,test_index,true_label\n");
    for (int i = 0; i < s->set.n; i++)
        fprintf(f, "%d,%s,%d,%d\n", i, s->triggered[i] ? "triggered" : "clean", s->test_index[i], s->label[i]);
    int bad = fclose(f) != 0;
    Status st = bad ? bl_fail(BL_ERR_RUN, "%s: out of memory", path) : write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

// Calibrate the monitor on the defender split, screen the stream on model m, write its JSON lines to
// jsonl_path, and score the verdicts and predicted labels in those lines against the ground truth.
static Status screen(const LoadedRun *r, Model *m, const CfgSupplyChain *sc, const Stream *s, const char *jsonl_path,
                     MonitorOutcome *o) {
    Monitor mon;
    double t0 = bl_now();
    Status st = monitor_init(&mon, m, sc->monitor, NULL, &r->defender, sc->monitor_frr, r->cfg.experiment.seed);
    if (st) return bl_fail_ctx(st, "supply chain: monitor on the %s model", o->role);
    o->calib_seconds = bl_now() - t0, o->threshold = mon.threshold;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) return bl_fail(BL_ERR_RUN, "supply chain: out of memory");
    MonitorStats ms = {0};
    st = monitor_screen_dataset(&mon, &s->set, 0, out, &ms);
    if (fclose(out) != 0 && !st) st = bl_fail(BL_ERR_RUN, "supply chain: out of memory");
    if (!st && (ms.inputs != s->set.n || ms.errors))
        st = bl_fail(BL_ERR_RUN, "supply chain: the monitor screened %ld of %d inputs (%ld errors)", ms.inputs,
                     s->set.n, ms.errors);
    const AttackSpec *a = &r->cfg.attack;
    const int K = m->num_classes;
    long det = 0, fa = 0, hit = 0, hit_pass = 0, correct = 0, lines = 0;
    for (char *p = buf; !st && p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(j, "label");
        const cJSON *vd = cJSON_GetObjectItemCaseSensitive(j, "verdict");
        long i = cJSON_IsNumber(ix) ? (long)ix->valuedouble : -1;
        if (i < 0 || i >= s->set.n || !cJSON_IsNumber(lb) || !cJSON_IsString(vd)) {
            st = bl_fail(BL_ERR_RUN, "supply chain: unexpected monitor line %ld: %.*s", lines + 1,
                         (int)BL_MIN(nl - p, 200), p);
        } else {
            int flag = !strcmp(vd->valuestring, "suspicious"), pred = (int)lb->valuedouble;
            if (s->triggered[i]) {
                int fooled = pred == attack_target_label(a, s->label[i], K);
                det += flag, hit += fooled, hit_pass += fooled && !flag;
            } else {
                fa += flag, correct += pred == s->label[i];
            }
        }
        cJSON_Delete(j);
        lines++;
        p = nl + 1;
    }
    if (!st && lines != s->set.n)
        st = bl_fail(BL_ERR_RUN, "supply chain: the monitor wrote %ld lines for %d inputs", lines, s->set.n);
    if (!st) st = write_file_atomic(jsonl_path, buf ? buf : "", len);
    free(buf);
    if (st) return st;
    o->detect = proportion_make(det, s->n_trig);
    o->false_alarm = proportion_make(fa, s->n_clean);
    o->asr = proportion_make(hit, s->n_trig);
    o->asr_unflagged = proportion_make(hit_pass, s->n_trig);
    o->ca = proportion_make(correct, s->n_clean);
    o->inputs = ms.inputs, o->seconds = ms.seconds;
    return BL_OK;
}

static double rate(const MonitorOutcome *o) { return o->seconds > 0 ? o->inputs / o->seconds : 0.0; }

static cJSON *proportion_json(const Proportion *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", p->p);
    cJSON_AddNumberToObject(o, "k", (double)p->k);
    cJSON_AddNumberToObject(o, "n", (double)p->n);
    cJSON_AddNumberToObject(o, "lo", p->lo);
    cJSON_AddNumberToObject(o, "hi", p->hi);
    return o;
}

static cJSON *outcome_json(const MonitorOutcome *o) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model_file", o->model_file);
    cJSON_AddNumberToObject(j, "threshold", o->threshold);
    cJSON_AddItemToObject(j, "detection_rate", proportion_json(&o->detect));
    cJSON_AddItemToObject(j, "false_alarm_rate", proportion_json(&o->false_alarm));
    cJSON_AddItemToObject(j, "asr", proportion_json(&o->asr));
    cJSON_AddItemToObject(j, "asr_unflagged", proportion_json(&o->asr_unflagged));
    cJSON_AddItemToObject(j, "clean_accuracy", proportion_json(&o->ca));
    cJSON_AddNumberToObject(j, "inputs", (double)o->inputs);
    cJSON_AddNumberToObject(j, "seconds", o->seconds);
    cJSON_AddNumberToObject(j, "calibration_seconds", o->calib_seconds);
    cJSON_AddNumberToObject(j, "inputs_per_s", rate(o));
    return j;
}

// A message with the scenario folder's prefix cut, for the narrative ("hub/edited.bdm: ..." reads better).
static void short_msg(char *out, size_t n, const char *msg, const char *sc_dir) {
    char pre[SC_PATH_MAX];
    size_t pl = (size_t)BL_MIN(snprintf(pre, sizeof pre, "%s/", sc_dir), (int)sizeof pre - 1), o = 0;
    for (const char *p = msg; *p && o + 1 < n;) {
        if (!strncmp(p, pre, pl)) p += pl;
        else out[o++] = *p++;
    }
    out[o] = 0;
}

static double pct(const Proportion *p) { return 100.0 * p->p; }

// Remove what an earlier scenario left (DONE first, so a half-replaced folder never looks finished). Only the
// files this module writes are touched; keys_generate refuses to overwrite keys, so they must go too.
static Status clear_old(const char *sc_dir) {
    static const char *files[] = {"DONE", "summary.json", "narrative.md", "monitor.jsonl", "monitor-control.jsonl",
                                  "stream.csv", "keys/publisher.pub", "keys/publisher.secret", "keys/attacker.pub",
                                  "keys/attacker.secret", "hub/model.bdm", "hub/swapped-unsigned.bdm",
                                  "hub/swapped-attacker-signed.bdm", "hub/edited.bdm"};
    char p[SC_PATH_MAX];
    for (size_t i = 0; i < BL_ARRAY_LEN(files); i++) {
        path_join(p, sizeof p, sc_dir, files[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            return bl_fail(BL_ERR_RUN, "%s: cannot remove the previous scenario's file: %s", p, strerror(errno));
    }
    return BL_OK;
}

static Status check_config(const CfgSupplyChain *sc) {
    if (strcmp(sc->tamper, "swap") && strcmp(sc->tamper, "edit") && strcmp(sc->tamper, "both"))
        return bl_fail(BL_ERR_USAGE, "[supply_chain] tamper: expected swap, edit or both, got '%s'", sc->tamper);
    if (strcmp(sc->monitor, "strip") && strcmp(sc->monitor, "confidence") && strcmp(sc->monitor, "strip-text"))
        return bl_fail(BL_ERR_USAGE, "[supply_chain] monitor: expected strip, confidence or strip-text, got '%s'",
                       sc->monitor);
    int ok = 0;
    for (int f = 0; f < DEFENSE_NFRR; f++) ok |= fabs(defense_frr_targets[f] - sc->monitor_frr) < 1e-12;
    if (!ok)
        return bl_fail(BL_ERR_USAGE, "[supply_chain] monitor_frr: expected 0.005, 0.01, 0.02 or 0.03, got %g",
                       sc->monitor_frr);
    if (sc->monitor_inputs < 1)
        return bl_fail(BL_ERR_USAGE, "[supply_chain] monitor_inputs: expected an integer >= 1, got %d",
                       sc->monitor_inputs);
    return BL_OK;
}

// Everything the scenario produced, for summary.json, narrative.md and the table.
typedef struct {
    char sc_dir[SC_DIR_MAX];     // run_dir/supply-chain
    char pub_fp[65], att_fp[65]; // key fingerprints (att_fp "" without a swap)
    char hub_sha256[65];         // identity of the signed hub model (= the run's clean model)
    char hub_file_sha256[65];    // SHA-256 of the signed hub file's bytes
    long hub_bytes;              // its size
    int swap, edit;              // which attacks ran
    EditInfo edit_info;          // the edit
    Artifact art[SC_MAX_ARTIFACTS]; // tampered files, in the order made
    int nart;                    // how many
    char deployed_sha256[65];    // identity of what the careless consumer deployed ("" when nothing)
    int have_deployed;           // a swap happened, so the careless consumer deployed the backdoored model
    MonitorOutcome dep, ctl;     // monitor on the deployed and the genuine model
    int n_clean, n_trig;         // stream composition
} Scenario;

static cJSON *summary_json(const Scenario *S, const LoadedRun *r, const CfgSupplyChain *sc) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "run_dir", r->dir);
    cJSON_AddStringToObject(j, "experiment", r->cfg.experiment.name);
    cJSON_AddStringToObject(j, "tamper", sc->tamper);
    cJSON *pub = cJSON_AddObjectToObject(j, "publisher");
    cJSON_AddStringToObject(pub, "key", "keys/publisher.pub");
    cJSON_AddStringToObject(pub, "key_fingerprint", S->pub_fp);
    cJSON_AddStringToObject(pub, "model_file", "hub/model.bdm");
    cJSON_AddStringToObject(pub, "model_sha256", S->hub_sha256);
    cJSON_AddStringToObject(pub, "file_sha256", S->hub_file_sha256);
    cJSON_AddNumberToObject(pub, "file_bytes", (double)S->hub_bytes);
    cJSON_AddBoolToObject(pub, "signed", 1);
    cJSON_AddBoolToObject(pub, "verified_by_consumer", 1);
    cJSON_AddBoolToObject(pub, "identity_is_run_clean_model", !strcmp(S->hub_sha256, r->clean_sha256));
    cJSON *att = cJSON_AddObjectToObject(j, "attacker");
    if (S->att_fp[0]) cJSON_AddStringToObject(att, "key_fingerprint", S->att_fp);
    else cJSON_AddNullToObject(att, "key_fingerprint");
    cJSON_AddStringToObject(att, "backdoor_model_sha256", r->backdoor_sha256);
    if (S->edit) {
        cJSON *e = cJSON_AddObjectToObject(att, "edit");
        cJSON_AddStringToObject(e, "tensor", S->edit_info.tensor);
        cJSON_AddNumberToObject(e, "index", (double)S->edit_info.index);
        cJSON_AddNumberToObject(e, "file_offset", (double)S->edit_info.offset);
        cJSON_AddNumberToObject(e, "before", S->edit_info.before);
        cJSON_AddNumberToObject(e, "after", S->edit_info.after);
    }
    cJSON *arts = cJSON_AddArrayToObject(j, "artifacts");
    int all_refused = 1;
    for (int i = 0; i < S->nart; i++) {
        const Artifact *a = &S->art[i];
        char file[64];
        snprintf(file, sizeof file, "hub/%s", a->file);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddStringToObject(o, "tamper", a->what);
        cJSON_AddStringToObject(o, "file_sha256", a->sha256);
        cJSON_AddNumberToObject(o, "file_bytes", (double)a->bytes);
        cJSON_AddBoolToObject(o, "refused_with_trusted_key", a->trusted != BL_OK);
        cJSON_AddStringToObject(o, "trusted_error", a->trusted_msg);
        cJSON_AddBoolToObject(o, "loads_without_key", a->plain == BL_OK);
        if (a->plain) cJSON_AddStringToObject(o, "untrusted_error", a->plain_msg);
        else cJSON_AddNullToObject(o, "untrusted_error");
        cJSON_AddItemToArray(arts, o);
        all_refused &= a->trusted != BL_OK;
    }
    cJSON_AddBoolToObject(j, "all_tampered_refused", all_refused);
    cJSON *mon = cJSON_AddObjectToObject(j, "monitor");
    cJSON_AddStringToObject(mon, "defense", sc->monitor);
    cJSON_AddNumberToObject(mon, "frr_target", sc->monitor_frr);
    cJSON_AddStringToObject(mon, "calibration", "the run's defender clean split");
    cJSON_AddNumberToObject(mon, "calibration_images", r->defender.n);
    cJSON_AddNumberToObject(mon, "clean_inputs", S->n_clean);
    cJSON_AddNumberToObject(mon, "triggered_inputs", S->n_trig);
    cJSON *cc = cJSON_AddObjectToObject(j, "careless_consumer");
    if (S->have_deployed) {
        cJSON_AddStringToObject(cc, "deployed", "hub/swapped-unsigned.bdm");
        cJSON_AddStringToObject(cc, "model_sha256", S->deployed_sha256);
        cJSON_AddBoolToObject(cc, "is_run_backdoor_model", !strcmp(S->deployed_sha256, r->backdoor_sha256));
        cJSON_AddItemToObject(j, "monitor_deployed", outcome_json(&S->dep));
    } else {
        cJSON_AddNullToObject(cc, "deployed");
        cJSON_AddStringToObject(cc, "note", "no swap (tamper = edit): the edited file fails even the unkeyed "
                                            "SHA-256 check, so nothing backdoored could be deployed");
        cJSON_AddNullToObject(j, "monitor_deployed");
    }
    cJSON_AddItemToObject(j, "monitor_control", outcome_json(&S->ctl));
    return j;
}

static Status write_narrative(const char *path, const Scenario *S, const LoadedRun *r, const CfgSupplyChain *sc) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return bl_fail(BL_ERR_RUN, "%s: out of memory", path);
    const AttackSpec *a = &r->cfg.attack;
    fprintf(f, "# Supply-chain scenario: %s\n\n", r->cfg.experiment.name);
    fprintf(f, "Run folder `%s`; attack %s (target class %d, %s). Every step below happened on real files in "
               "`supply-chain/`; numbers are in `summary.json`.\n\n",
            r->dir, a->type, a->target, attack_label_mode_name(a->label_mode));
    fprintf(f, "## 1. The publisher signs a clean model\n\n"
               "The publisher generated an Ed25519 key pair (`keys/publisher.pub`, fingerprint `%.16s...`), copied "
               "the run's clean model to the hub as `hub/model.bdm` and signed it. A consumer holding the "
               "publisher's public key loaded it with the trusted key: **verified**. Its identity `%.16s...` is "
               "the clean model's hash from the run's manifest (signing does not change it).\n\n",
            S->pub_fp, S->hub_sha256);
    fprintf(f, "## 2. The attacker tampers with the hub\n\n");
    if (S->swap)
        fprintf(f, "- **Swap**: the attacker replaced the hub model with the backdoored model (`%.16s...`), once "
                   "unsigned (`hub/swapped-unsigned.bdm`) and once signed with the attacker's own key pair "
                   "(fingerprint `%.16s...`, `hub/swapped-attacker-signed.bdm`).\n",
                r->backdoor_sha256, S->att_fp);
    if (S->edit)
        fprintf(f, "- **Edit**: the attacker took the signed hub model and changed one weight in the file bytes "
                   "(tensor `%s`, element %zu, file offset %ld: %.6g -> %.6g) without re-signing "
                   "(`hub/edited.bdm`).\n",
                S->edit_info.tensor, S->edit_info.index, S->edit_info.offset, S->edit_info.before,
                S->edit_info.after);
    fprintf(f, "\n## 3. The careful consumer refuses every tampered file\n\n"
               "Loaded with `--trusted-key keys/publisher.pub`:\n\n"
               "| file | with the publisher's key | without a key |\n|---|---|---|\n");
    for (int i = 0; i < S->nart; i++) {
        char t[SC_MSG_MAX], p[SC_MSG_MAX];
        short_msg(t, sizeof t, S->art[i].trusted_msg, S->sc_dir);
        short_msg(p, sizeof p, S->art[i].plain_msg, S->sc_dir);
        fprintf(f, "| `hub/%s` | refused: %s | %s%s |\n", S->art[i].file, t, S->art[i].plain ? "refused: " : "loads",
                S->art[i].plain ? p : "");
    }
    fprintf(f, "\nThe edit is caught by the file hash even without a key; the swaps are well-formed model files "
               "(the attacker-signed one carries a valid signature, just not the publisher's), so only "
               "verifying against the publisher's key stops them.\n\n");
    fprintf(f, "## 4. A careless consumer deploys without verification\n\n");
    if (S->have_deployed) {
        const MonitorOutcome *d = &S->dep, *c = &S->ctl;
        const char *what = r->data.test.kind == DS_TOKENS ? "message" : "image";
        fprintf(f, "The careless consumer loaded `hub/swapped-unsigned.bdm` without a key and deployed it (it is "
                   "the backdoored model: `%.16s...`), behind the runtime monitor (%s, threshold fitted on the "
                   "run's %d-%s defender clean split at a %g%% false-rejection target). The stream: %d clean "
                   "test %ss and %d triggered test %ss of non-target classes, shuffled.\n\n",
                S->deployed_sha256, sc->monitor, r->defender.n, what, 100 * sc->monitor_frr, S->n_clean, what,
                S->n_trig, what);
        fprintf(f, "- The backdoor works: %.1f%% of the triggered inputs were classified as class %d "
                   "(clean accuracy on the stream %.1f%%).\n",
                pct(&d->asr), a->target, pct(&d->ca));
        fprintf(f, "- The monitor flagged %.1f%% of the triggered inputs (95%% CI %.1f-%.1f%%) and %.1f%% of the "
                   "clean ones (false alarms, CI %.1f-%.1f%%); %.1f%% of the triggered inputs both fooled the "
                   "model and passed the monitor.\n",
                pct(&d->detect), 100 * d->detect.lo, 100 * d->detect.hi, pct(&d->false_alarm),
                100 * d->false_alarm.lo, 100 * d->false_alarm.hi, pct(&d->asr_unflagged));
        // every timing on one "Throughput:" line, which report.html leaves out (its page is the same for the same run)
        fprintf(f, "- Throughput: %.0f inputs/s (%ld inputs in %.2f s, calibration %.2f s); control %.0f inputs/s.\n",
                rate(d), d->inputs, d->seconds, d->calib_seconds, rate(c));
        fprintf(f, "- Control, the same monitor on the genuine hub model: triggered inputs flagged %.1f%%, clean "
                   "%.1f%%, the trigger sends %.1f%% to class %d.\n",
                pct(&c->detect), pct(&c->false_alarm), pct(&c->asr), a->target);
    } else {
        const MonitorOutcome *c = &S->ctl;
        fprintf(f, "There was no swap (tamper = edit), and the edited file fails even the unkeyed hash check, so "
                   "the careless consumer could only deploy the genuine model. The monitor (%s) on it, as a "
                   "control: triggered inputs flagged %.1f%%, clean %.1f%%.\n- Throughput: %.0f inputs/s.\n",
                sc->monitor, pct(&c->detect), pct(&c->false_alarm), rate(c));
    }
    fprintf(f, "\nMonitor lines: %s`monitor-control.jsonl` (genuine model); what each index really was: "
               "`stream.csv`.\n", S->have_deployed ? "`monitor.jsonl` (deployed model), " : "");
    int bad = fclose(f) != 0;
    Status st = bad ? bl_fail(BL_ERR_RUN, "%s: out of memory", path) : write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

static void print_table(const Scenario *S, const LoadedRun *r, const CfgSupplyChain *sc) {
    printf("supply chain (%s): tamper %s, monitor %s at FRR %g%%\n", r->cfg.experiment.name, sc->tamper, sc->monitor,
           100 * sc->monitor_frr);
    printf("  %-34s %-16s %s\n", "hub file", "publisher key", "no key");
    printf("  %-34s %-16s %s\n", "hub/model.bdm (publisher, signed)", "verified", "loads");
    for (int i = 0; i < S->nart; i++) {
        char name[64];
        snprintf(name, sizeof name, "hub/%s", S->art[i].file);
        printf("  %-34s %-16s %s\n", name, S->art[i].trusted ? "REFUSED" : "ACCEPTED", S->art[i].plain ? "refused" :
                                                                                                         "loads");
    }
    printf("  monitor on %d clean + %d triggered inputs: %8s %12s %12s %10s\n", S->n_clean, S->n_trig, "ASR",
           "flag trig", "flag clean", "inputs/s");
    const MonitorOutcome *rows[2] = {S->have_deployed ? &S->dep : NULL, &S->ctl};
    const char *names[2] = {"deployed (swapped, unverified)", "control (genuine, verified)"};
    for (int i = 0; i < 2; i++)
        if (rows[i])
            printf("  %-41s %7.2f%% %11.2f%% %11.2f%% %10.0f\n", names[i], pct(&rows[i]->asr), pct(&rows[i]->detect),
                   pct(&rows[i]->false_alarm), rate(rows[i]));
    printf("  -> %s/\n", S->sc_dir);
}

// Load one tampered file with the publisher's key (must be refused) and without a key (recorded). When keep is
// not NULL and the keyless load succeeds, the model is handed over (the careless consumer's deployment).
static Status consume(const LoadedRun *r, const char *hub_dir, const char *pub, Artifact *a, Model *keep,
                      char keep_hex[65]) {
    char path[SC_PATH_MAX];
    path_join(path, sizeof path, hub_dir, a->file);
    uint8_t *bytes;
    Status st = read_bytes(path, &bytes, &a->bytes);
    if (st) return st;
    sha256_hex(bytes, (size_t)a->bytes, a->sha256);
    free(bytes);
    const Dataset *t = &r->data.test;
    Shape in = {.c = t->c, .h = t->h, .w = t->w};
    const int K = r->data.train.num_classes;
    Model m;
    memset(&m, 0, sizeof m);
    a->trusted = model_load_trusted(path, pub, in, K, 256, r->cfg.model.layers, &m, NULL);
    if (a->trusted == BL_OK) {
        model_free(&m);
        return bl_fail(BL_ERR_RUN, "supply chain: %s (%s) was ACCEPTED with the publisher's key %s: model "
                                   "verification is broken",
                       path, a->what, pub);
    }
    if (a->trusted != BL_ERR_DATA) return a->trusted; // not a refusal: an I/O or key problem
    copy_msg(a->trusted_msg, bl_errmsg());
    char hex[65] = "";
    memset(&m, 0, sizeof m);
    a->plain = model_load_trusted(path, NULL, in, K, 256, r->cfg.model.layers, &m, hex);
    if (a->plain == BL_OK) {
        if (keep) {
            *keep = m;
            snprintf(keep_hex, 65, "%s", hex);
        } else {
            model_free(&m);
        }
    } else {
        copy_msg(a->plain_msg, bl_errmsg());
    }
    bl_clear_error();
    return BL_OK;
}

Status supply_chain_run(const char *run_dir, const CfgSupplyChain *sc, int threads, int quiet) {
    if (!run_dir || !sc) return bl_fail(BL_ERR_USAGE, "supply chain: no run folder or no [supply_chain] settings");
    Status st = check_config(sc);
    if (st) return st;
    if (strlen(run_dir) >= 4096)
        return bl_fail(BL_ERR_USAGE, "supply chain: run folder path longer than 4095 characters");
    // an old scenario's DONE goes first, so that whatever fails below, no stale result looks finished
    char old_done[SC_PATH_MAX];
    snprintf(old_done, sizeof old_done, "%s/supply-chain/DONE", run_dir);
    if (unlink(old_done) != 0 && errno != ENOENT && errno != ENOTDIR)
        return bl_fail(BL_ERR_RUN, "%s: cannot remove the previous scenario's DONE marker: %s", old_done,
                       strerror(errno));
    LoadedRun *r = calloc(1, sizeof *r);
    Scenario *S = calloc(1, sizeof *S);
    Stream stream;
    memset(&stream, 0, sizeof stream);
    Model published, deployed;
    memset(&published, 0, sizeof published);
    memset(&deployed, 0, sizeof deployed);
    int have_published = 0;
    cJSON *summary = NULL;
    if (!r || !S) {
        st = bl_fail(BL_ERR_RUN, "supply chain: out of memory");
        goto done;
    }
    // the run first: an unfinished or non-attack run fails here, before anything is written
    if ((st = experiment_load_run(run_dir, threads, NULL, r))) goto done;
    if (r->defender.n < 2) {
        st = bl_fail(BL_ERR_DATA, "supply chain: %s has a defender clean split of %d images, the monitor needs at "
                                  "least 2 to calibrate on (raise [data] defender_clean_fraction)",
                     r->dir, r->defender.n);
        goto done;
    }
    if ((st = make_stream(r, sc->monitor_inputs, &stream))) goto done;
    S->n_clean = stream.n_clean, S->n_trig = stream.n_trig;
    S->swap = strcmp(sc->tamper, "edit") != 0, S->edit = strcmp(sc->tamper, "swap") != 0;

    char keys_dir[SC_SUB_MAX], hub_dir[SC_SUB_MAX], pub_base[SC_SUB_MAX + 20], pub[SC_PATH_MAX],
        pub_secret[SC_PATH_MAX], att_base[SC_SUB_MAX + 20], att_secret[SC_PATH_MAX], hub_model[SC_PATH_MAX],
        src[SC_PATH_MAX], path[SC_PATH_MAX];
    path_join(S->sc_dir, sizeof S->sc_dir, r->dir, "supply-chain");
    path_join(keys_dir, sizeof keys_dir, S->sc_dir, "keys");
    path_join(hub_dir, sizeof hub_dir, S->sc_dir, "hub");
    if ((st = ensure_dir(keys_dir)) || (st = ensure_dir(hub_dir)) || (st = clear_old(S->sc_dir))) goto done;

    // 1. publisher: key pair, signed clean model in the hub; the consumer verifies it
    path_join(pub_base, sizeof pub_base, keys_dir, "publisher");
    snprintf(pub, sizeof pub, "%s.pub", pub_base);
    snprintf(pub_secret, sizeof pub_secret, "%s.secret", pub_base);
    path_join(hub_model, sizeof hub_model, hub_dir, "model.bdm");
    path_join(src, sizeof src, r->dir, "model-clean.bdm");
    if ((st = keys_generate(pub_base, S->pub_fp)) || (st = copy_file(src, hub_model)) ||
        (st = sign_with(hub_model, pub_secret, NULL)))
        goto done;
    const Dataset *t = &r->data.test;
    Shape in = {.c = t->c, .h = t->h, .w = t->w};
    const int K = r->data.train.num_classes;
    st = model_load_trusted(hub_model, pub, in, K, 256, r->cfg.model.layers, &published, S->hub_sha256);
    if (st) {
        st = bl_fail_ctx(BL_ERR_RUN, "supply chain: the publisher's own signed model failed verification");
        goto done;
    }
    have_published = 1;
    if (strcmp(S->hub_sha256, r->clean_sha256) != 0) {
        st = bl_fail(BL_ERR_RUN, "supply chain: %s has identity %.16s..., the run's clean model %.16s...: signing "
                                 "changed the model",
                     hub_model, S->hub_sha256, r->clean_sha256);
        goto done;
    }
    uint8_t *hb;
    if ((st = read_bytes(hub_model, &hb, &S->hub_bytes))) goto done;
    sha256_hex(hb, (size_t)S->hub_bytes, S->hub_file_sha256);
    free(hb);

    // 2. attacker
    path_join(src, sizeof src, r->dir, "model-backdoor.bdm");
    if (S->swap) {
        path_join(path, sizeof path, hub_dir, "swapped-unsigned.bdm");
        if ((st = copy_file(src, path))) goto done;
        S->art[S->nart++] = (Artifact){.file = "swapped-unsigned.bdm", .what = "swap: backdoored model, unsigned"};
        path_join(att_base, sizeof att_base, keys_dir, "attacker");
        snprintf(att_secret, sizeof att_secret, "%s.secret", att_base);
        path_join(path, sizeof path, hub_dir, "swapped-attacker-signed.bdm");
        if ((st = keys_generate(att_base, S->att_fp)) || (st = copy_file(src, path)) ||
            (st = sign_with(path, att_secret, NULL)))
            goto done;
        S->art[S->nart++] = (Artifact){.file = "swapped-attacker-signed.bdm",
                                       .what = "swap: backdoored model, signed with the attacker's key"};
    }
    if (S->edit) {
        path_join(path, sizeof path, hub_dir, "edited.bdm");
        int target = r->cfg.attack.label_mode == LABEL_ALL2ONE ? r->cfg.attack.target : 0;
        if ((st = edit_weights(hub_model, path, target, &S->edit_info))) goto done;
        S->art[S->nart++] = (Artifact){.file = "edited.bdm", .what = "edit: one weight of the signed model changed"};
    }

    // 3. careful consumer (and, for the unsigned swap, the careless one's deployment)
    for (int i = 0; i < S->nart; i++) {
        int deploy = !strcmp(S->art[i].file, "swapped-unsigned.bdm");
        if ((st = consume(r, hub_dir, pub, &S->art[i], deploy ? &deployed : NULL, S->deployed_sha256))) goto done;
        if (deploy) {
            if (S->art[i].plain) {
                st = bl_fail(BL_ERR_RUN, "supply chain: the careless consumer could not load %s/%s: %s", hub_dir,
                             S->art[i].file, S->art[i].plain_msg);
                goto done;
            }
            S->have_deployed = 1;
        }
    }

    // 4. the monitor: on the deployed (backdoored) model, and on the genuine one as the control
    char jl[SC_PATH_MAX];
    if (S->have_deployed) {
        S->dep = (MonitorOutcome){.role = "deployed", .model_file = "hub/swapped-unsigned.bdm"};
        path_join(jl, sizeof jl, S->sc_dir, "monitor.jsonl");
        if ((st = screen(r, &deployed, sc, &stream, jl, &S->dep))) goto done;
    }
    S->ctl = (MonitorOutcome){.role = "control", .model_file = "hub/model.bdm"};
    path_join(jl, sizeof jl, S->sc_dir, "monitor-control.jsonl");
    if ((st = screen(r, &published, sc, &stream, jl, &S->ctl))) goto done;

    // 5. results, DONE last
    path_join(path, sizeof path, S->sc_dir, "stream.csv");
    if ((st = write_stream_csv(path, &stream))) goto done;
    if (!(summary = summary_json(S, r, sc))) {
        st = bl_fail(BL_ERR_RUN, "supply chain: out of memory");
        goto done;
    }
    path_join(path, sizeof path, S->sc_dir, "summary.json");
    if ((st = json_write_atomic(path, summary))) goto done;
    path_join(path, sizeof path, S->sc_dir, "narrative.md");
    if ((st = write_narrative(path, S, r, sc))) goto done;
    if ((st = write_done_marker(S->sc_dir))) goto done;
    if (!quiet) print_table(S, r, sc);
done:
    cJSON_Delete(summary);
    if (have_published) model_free(&published);
    if (deployed.params) model_free(&deployed);
    stream_free(&stream);
    if (r) experiment_loaded_free(r);
    free(r);
    free(S);
    return st;
}
