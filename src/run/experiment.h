// experiment.h: from a config to results on disk: load and split the data, poison it, train the clean and
// the backdoored model with the same seed and data order, evaluate both, and write the run folder.
#ifndef BL_EXPERIMENT_H
#define BL_EXPERIMENT_H

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"
#include "defense/evaluate.h"
#include "io/config.h"
#include "nn/model.h"
#include "train/train.h"

typedef enum {
    EXP_RUN,   // `backdoorlab run`: clean model + backdoored model (when the config has an [attack])
    EXP_TRAIN, // `backdoorlab train`: one model, backdoored if the config has an [attack]
} ExperimentMode;

typedef struct {
    ExperimentMode mode; // what to produce
    const char *config_path; // the config file as given (for messages and the manifest)
    const ExperimentConfig *cfg; // the config already loaded (one run of a multi-run config); NULL = load config_path
    const char *out_dir;     // results folder; NULL = results/<name>
    int threads;             // > 0 overrides [experiment] threads
    int progress;            // progress bars on stderr (the CLI sets it when stderr is a TTY)
    int quiet;               // no summary table on stdout
    // A finished run folder whose clean model this run may take instead of training its own (multirun sets it
    // for the later points of a [sweep]). Taken only when both runs' clean_training_sha256 (the [data], [model]
    // and [train] sections, the seed and the dataset hash) and code revision match; the model is then evaluated
    // against this run's attack and saved with this run's provenance, so its bytes equal a fresh training's.
    // NULL, or no match: train as usual.
    const char *reuse_clean_from;
    // Optional: called once a `run` with a backdoored model has written DONE, with the finished folder (multirun
    // plays the supply-chain scenario here, so this file need not know about scenarios). Its status is the run's.
    Status (*after_done)(void *ctx, const char *run_dir, const ExperimentConfig *cfg, int threads, int quiet);
    void *after_ctx; // passed to after_done
} ExperimentOptions;

// Run it. Writes every file atomically and a DONE marker last; on failure no DONE and no metrics.json.
Status experiment_run(const ExperimentOptions *opt);

// The training_config_sha256 a run of cfg (one run: seed set, no [sweep]) records in its manifest.json: the
// resolved config and [defense.*] sections without the threads line. Equal identities, equal results: `sweep`
// skips a finished run whose manifest has it.
Status experiment_config_identity(const ExperimentConfig *cfg, char hex[65]);

// `backdoorlab eval`: CA (and ASR when the config has an [attack]) of a saved model on the config's test set.
// trusted_key (a KEY.pub path; NULL or "" = none) requires the model to be signed by that key
// (model_load_trusted).
Status experiment_eval(const char *model_path, const char *config_path, int threads, const char *trusted_key);

// ---- Reloading a finished attack run (issue 6: `backdoorlab detect`) ----

// An attack run rebuilt from its results folder: the data, split and poison reconstructed deterministically
// from config.resolved.ini, and both models loaded and checked against manifest.json.
typedef struct {
    ExperimentConfig cfg;     // the run's resolved config
    char dir[4096];           // the run folder
    int threads;              // threads in use
    DatasetPair data;         // train/test as loaded
    Dataset defender, rest;   // the defender's clean split and the rest of the training set
    Dataset poisoned;         // rest with the poison applied
    PoisonManifest manifest;  // the rebuilt poison manifest (checked against poison.csv)
    Dataset triggered_test;   // the test set with the trigger on every image
    Model clean, backdoor;    // the two models, built for max_batch 256
    char clean_sha256[65];    // content hashes, equal to manifest.json's
    char backdoor_sha256[65];
    TrainOptions train_opts;  // how the models were trained (no hook, no progress)
    char poison_csv[4200];    // path of the run's poison.csv
} LoadedRun;

// Reload run_dir. Errors: no DONE marker (an unfinished run, BL_ERR_DATA), not an attack run (BL_ERR_USAGE),
// a model whose content hash differs from manifest.json, a poison.csv that differs from its recorded hash or
// from the poison rebuilt from the config (BL_ERR_DATA). threads > 0 overrides the config's threads.
// trusted_key (KEY.pub; NULL or "" = the run config's [model] trusted_key, if any) requires both models to be
// signed by that key (model_load_trusted): an unsigned, re-signed or modified model is refused (BL_ERR_DATA).
Status experiment_load_run(const char *run_dir, int threads, const char *trusted_key, LoadedRun *out);
void experiment_loaded_free(LoadedRun *r);
// Point a DefenseRunData at r's pieces (max_inputs 2000, progress off: the caller may change them).
void experiment_defense_data(LoadedRun *r, DefenseRunData *rd);

// `backdoorlab poison`: load and split the data and poison it exactly as `run` would, then write the poisoned
// training set, the clean and triggered test sets, poison.csv, trigger.png, gallery.png and config.resolved.ini to
// out_dir (attack/export.h); png_format selects PNG trees instead of IDX files. No training (except a
// label-consistent attack's surrogate).
// `png_format`: 0 IDX, 1 PNG (images), POISON_FORMAT_TEXT (messages: TSV, attack/text/export.h).
#define POISON_FORMAT_TEXT 2
Status experiment_poison(const char *config_path, const char *out_dir, int png_format, int threads, int progress,
                         int quiet);

#endif
