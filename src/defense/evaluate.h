// evaluate.h: run a defence on an attack run and score it against the ground truth.
//
// This is the only code that knows which training samples were poisoned (it reads poison.csv) and which
// screened inputs carry the trigger. It hands a defence a DefenseContext without any of that, runs it on the
// backdoored model and again on the clean model (the control row), then computes:
//   sample-level  TP, FP, TN, FN, TPR, FPR (Wilson 95%), precision, F1, AUROC, per-label rows;
//   input-level   FAR and actual FRR at the thresholds the defence chose from its clean split, AUROC;
//   model-level   anomaly index per label, flagged labels, whether the true target was found, mask overlap;
//   mitigation    CA, ASR, RA before and after, DER.
// and writes <out_dir>/scores.csv, scores-clean.csv and summary.json.
#ifndef BL_EVALUATE_H
#define BL_EVALUATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"
#include "defense/defense.h"
#include "nn/model.h"
#include "train/train.h"

// Everything one attack run provides: what the defence may see, and the ground truth it may not.
typedef struct {
    // --- handed to the defence (through DefenseContext) ---
    Model *backdoor;              // the backdoored model, built for max_batch >= 128
    Model *clean;                 // the clean model (same seed and data order, no poison) for the control row;
                                  // NULL = no control row
    const Dataset *train;         // the poisoned training set the backdoored model was trained on
    const Dataset *train_clean;   // the same samples before poisoning (what the clean model was trained on)
    const Dataset *defender;      // the defender's clean held-out split
    const TrainOptions *train_opts; // how both models were trained (no epoch hook)
    const char *model_desc;       // network description
    uint64_t seed;                // experiment seed
    int progress;                 // progress on stderr
    // --- ground truth: evaluator only ---
    const Dataset *test;            // the clean test set
    const Dataset *triggered_test;  // the test set with the trigger stamped on every image
    const AttackSpec *attack;       // the attack (label rule, target, trigger geometry)
    const char *poison_csv;         // path of the run's poison.csv (the poisoned samples, by original index)
    int max_inputs;                 // input-level: screen up to this many clean and this many triggered test
                                    // inputs (0 = all); the paper's protocol uses 2000 + 2000
    const char *clean_sha256;       // model identities, copied into summary.json (may be NULL)
    const char *backdoor_sha256;
} DefenseRunData;

// Run defence `name` with `settings` ("key=value", NULL-terminated, may be NULL) on the backdoored model and
// (when rd->clean is set) on the clean model, evaluate, write out_dir/{scores.csv, scores-clean.csv,
// summary.json} (out_dir is created), and, when metrics_defenses is not NULL, add the summary under
// metrics_defenses[name]. *summary_out (may be NULL) receives the summary (caller frees with cJSON_Delete).
// This is the function the pipeline calls for a [defense.<name>] section, and `backdoorlab detect` calls.
Status defense_run_and_evaluate(const char *name, const char *const *settings, const DefenseRunData *rd,
                                const char *out_dir, cJSON *metrics_defenses, cJSON **summary_out);

// ---- The pieces, exposed for tests ----

// Area under the ROC curve of `score` (higher = predicted positive) against positive (n, 0/1): the
// Mann-Whitney statistic with ties counted one half. NaN scores rank lowest. NaN when there are no positives
// or no negatives.
double eval_auroc(const float *score, const uint8_t *positive, int n);

// Confusion counts of binary flags against the truth, and the rates derived from them.
typedef struct {
    long tp, fp, tn, fn; // counts
    double tpr, fpr;     // tp/(tp+fn), fp/(fp+tn); 0 when the denominator is 0
    double precision;    // tp/(tp+fp); 0 when nothing was flagged
    double f1;           // 2PR/(P+R); 0 when P+R = 0
    double tpr_lo, tpr_hi, fpr_lo, fpr_hi; // Wilson 95% intervals
} DetectionCounts;
DetectionCounts eval_detection(const uint8_t *flag, const uint8_t *truth, int n);

// Defence effectiveness rating (BackdoorBench): [max(0, ASR_before - ASR_after) - max(0, CA_before - CA_after)
// + 1] / 2, in [0, 1]; 0.5 = no change.
double eval_der(double ca_before, double ca_after, double asr_before, double asr_after);

// Read poison.csv (header `index,original_label,new_label`) and mark is_poison[i] = 1 for each sample i of
// train whose orig_index is listed (is_poison has train->n entries). *count receives the number of rows.
// BL_ERR_DATA on a malformed file or an index not in train.
Status eval_read_poison_csv(const char *path, const Dataset *train, uint8_t *is_poison, int *count);

// The inputs an input-level detector screens: up to rd->max_inputs clean test images and as many triggered ones
// (for all2one, of classes other than the target: those are the attack's inputs), picked with
// rng_stream(seed, "detect-inputs") and shuffled together. The defence sees only `set`, whose labels are all 0
// and whose orig_index is the position: nothing says where an input came from.
typedef struct {
    Dataset set;         // what the defence sees
    uint8_t *triggered;  // (set.n) ground truth: 1 = a triggered input
    int *test_index;     // (set.n) position in the test set
    int n_clean, n_trig; // how many of each
} EvalInputs;
Status eval_make_inputs(const DefenseRunData *rd, EvalInputs *out);
void eval_inputs_free(EvalInputs *s);

// Length of a trigger footprint mask on d: h*w pixels for images, c features for records.
int eval_mask_len(const Dataset *d);

// The trigger's footprint mask (eval_mask_len: (h, w) for images, (F) for records), learnt from the data so it
// works for any attack: 1 where the triggered copy differs from the clean sample (an image in any channel; a
// record in value or missing flag) for at least half of the test samples. Returns the number of pixels or
// features set (0 when the sets do not match in size, kind or shape).
int eval_trigger_mask(const Dataset *test, const Dataset *triggered, uint8_t *mask);

#endif
