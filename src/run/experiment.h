// experiment.h: from a config to results on disk: load and split the data, poison it, train the clean and
// the backdoored model with the same seed and data order, evaluate both, and write the run folder.
#ifndef BL_EXPERIMENT_H
#define BL_EXPERIMENT_H

#include "core/core.h"
#include "io/config.h"

typedef enum {
    EXP_RUN,   // `backdoorlab run`: clean model + backdoored model (when the config has an [attack])
    EXP_TRAIN, // `backdoorlab train`: one model, backdoored if the config has an [attack]
} ExperimentMode;

typedef struct {
    ExperimentMode mode; // what to produce
    const char *config_path; // the config file as given
    const char *out_dir;     // results folder; NULL = results/<name>
    int threads;             // > 0 overrides [experiment] threads
    int progress;            // progress bars on stderr (the CLI sets it when stderr is a TTY)
    int quiet;               // no summary table on stdout
} ExperimentOptions;

// Run it. Writes every file atomically and a DONE marker last; on failure no DONE and no metrics.json.
Status experiment_run(const ExperimentOptions *opt);

// `backdoorlab eval`: CA (and ASR when the config has an [attack]) of a saved model on the config's test set.
Status experiment_eval(const char *model_path, const char *config_path, int threads);

#endif
