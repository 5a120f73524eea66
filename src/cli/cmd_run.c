// cmd_run.c: `backdoorlab run CONFIG` and `backdoorlab train CONFIG` (same options, different products).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/interop.h"
#include "run/multirun.h"

int cli_report(Status st) {
    if (st) fprintf(stderr, "backdoorlab: %s\n", bl_errmsg());
    return (int)st;
}

int cli_parse_threads(const char *s) {
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < 1 || v > 1024) {
        fprintf(stderr, "backdoorlab: --threads needs an integer in [1, 1024], got '%s'\n", s ? s : "");
        return -1;
    }
    return (int)v;
}

static int run_or_train(int argc, char **argv, ExperimentMode mode) {
    const char *name = mode == EXP_RUN ? "run" : "train";
    ExperimentOptions o = {.mode = mode, .progress = isatty(2)};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab %s CONFIG [--out DIR] [--threads N] [--quiet]%s\n\n", name,
                   mode == EXP_RUN ? " [--reuse-clean DIR]" : "");
            if (mode == EXP_RUN)
                printf("Trains a clean and (with an [attack] section) a backdoored model with the same seed and data\n"
                       "order, evaluates both (CA, ASR, RA with 95%% Wilson intervals) and writes results/<name>/\n"
                       "(or DIR): config.resolved.ini, manifest.json, metrics.json, epochs.csv, model-clean.bdm,\n"
                       "model-backdoor.bdm, poison.csv, samples.png, and DONE last.\n"
                       "A config with `[experiment] seeds = 1,2,3` and/or a [sweep] section runs once per seed and\n"
                       "sweep value (DIR/[KEY-VALUE/]seed-N/, each a full run folder) and writes DIR/summary.json and\n"
                       "summary.md (mean ± sd over the seeds) and, for a numeric sweep, DIR/sweep.png.\n"
                       "A [supply_chain] section then plays the supply-chain scenario in DIR/supply-chain/.\n");
            else
                printf("Trains one model (backdoored if the config has an [attack]) and writes model.bdm,\n"
                       "epochs.csv, metrics.json {\"model\": {...}}, manifest.json and DONE to results/<name>/ or DIR.\n");
            if (mode == EXP_RUN)
                printf("\n  --reuse-clean DIR  take DIR's clean model when DIR is a finished run whose clean model was\n"
                       "                 trained exactly as this one's would be (same data, model, training keys, seed\n"
                       "                 and code revision); otherwise train it (make docs uses this)");
            printf("\n  --out DIR      results folder (default results/<experiment name>)\n"
                   "  --threads N    OpenMP threads (results are bit-identical for any N)\n"
                   "  --quiet        no summary table\n");
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            o.out_dir = argv[++i];
        } else if (mode == EXP_RUN && !strcmp(argv[i], "--reuse-clean") && i + 1 < argc) {
            o.reuse_clean_from = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((o.threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if (argv[i][0] == '-' || o.config_path) {
            fprintf(stderr, "backdoorlab %s: unexpected argument '%s' (see --help)\n", name, argv[i]);
            return 2;
        } else {
            o.config_path = argv[i];
        }
    }
    if (!o.config_path) {
        fprintf(stderr, "backdoorlab %s: missing CONFIG (see --help)\n", name);
        return 2;
    }
    return cli_report(experiment_run_any(&o));
}

int cmd_run(int argc, char **argv) { return run_or_train(argc, argv, EXP_RUN); }
int cmd_train(int argc, char **argv) { return run_or_train(argc, argv, EXP_TRAIN); }

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *trusted_key = NULL, *inputs = NULL, *logits = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab eval --model FILE.bdm --config CONFIG [--threads N] [--trusted-key KEY.pub]\n"
                   "       backdoorlab eval --model FILE.bdm --inputs X.npy --logits OUT.npy [--trusted-key KEY.pub]\n\n"
                   "Clean accuracy (and, when CONFIG has an [attack], attack success rate and robust accuracy) of a\n"
                   "saved model on the config's test set. A model whose network differs from the config is refused\n"
                   "(exit 3). With --trusted-key, a model not signed by that key (unsigned, other signer, bad\n"
                   "signature, any modified byte) is refused (exit 3) before any weight is used.\n"
                   "With --inputs/--logits: the model's logits (float32 (N,K)) on model inputs from a .npy file (as\n"
                   "`export --what data` writes them), to check an exported model elsewhere (scripts/export_check.py).\n");
            return 0;
        } else if (!strcmp(argv[i], "--inputs") && i + 1 < argc) {
            inputs = argv[++i];
        } else if (!strcmp(argv[i], "--logits") && i + 1 < argc) {
            logits = argv[++i];
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--trusted-key") && i + 1 < argc) {
            trusted_key = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else {
            fprintf(stderr, "backdoorlab eval: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (model && inputs && logits && !config) {
        bl_set_threads(threads);
        return cli_report(interop_logits(model, trusted_key, inputs, logits));
    }
    if (!model || !config || inputs || logits) {
        fprintf(stderr, "backdoorlab eval: needs --model FILE and --config CONFIG, or --model, --inputs and --logits "
                        "(see --help)\n");
        return 2;
    }
    return cli_report(experiment_eval(model, config, threads, trusted_key));
}
