// cmd_export.c: `backdoorlab export`: a model as safetensors, or a run's data (and models) as .npy/safetensors,
// for PyTorch, NumPy and defences written outside the testbed (run/interop.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "defense/evaluate.h"
#include "io/npy.h"
#include "io/results.h"
#include "run/experiment.h"
#include "run/interop.h"

static void export_usage(void) {
    printf("usage: backdoorlab export --model M.bdm --out M.safetensors [--trusted-key KEY.pub]\n"
           "       backdoorlab export --run results/<exp> --what data|models --out DIR/ [--trusted-key KEY.pub]\n"
           "                          [--threads N]\n\n"
           "--model: the weights as safetensors, named and laid out as PyTorch's nn.Sequential of the same network\n"
           "  (item i: i.weight, i.bias; conv (OUT,C,K,K), dense (OUT,IN)), with metadata (architecture, layers,\n"
           "  classes, input shape and kind, preprocessing, source_sha256, signer). scripts/export_check.py loads\n"
           "  it into PyTorch and compares logits with `backdoorlab eval --inputs X.npy --logits L.npy`.\n"
           "--run --what data: NumPy .npy files (format 1.0) of the model inputs and int64 labels:\n"
           "  train_x/train_y (the training set as trained on, poisoned labels included), clean_x/clean_y (the\n"
           "  defender's clean split), test_x/test_y, triggered_x/triggered_y (true labels), and, apart,\n"
           "  ground_truth/train_poisoned.npy (uint8, 1 = poisoned: evaluation only, never given to a defence).\n"
           "  Text runs: token ids of the backdoored model's vocabulary.\n"
           "--run --what models: model-backdoor.safetensors and model-clean.safetensors.\n"
           "The run is refused unless it is finished and its models match its manifest (exit 3).\n");
}

static Status export_run_data(LoadedRun *lr, const char *out) {
    Status st = ensure_dir(out);
    const Model *m = &lr->backdoor; // text: the backdoored model's vocabulary maps every set
    if (!st) st = interop_dataset_write(m, &lr->poisoned, out, "train", 1);
    if (!st) st = interop_dataset_write(m, &lr->defender, out, "clean", 1);
    if (!st) st = interop_dataset_write(m, &lr->data.test, out, "test", 1);
    if (!st) st = interop_dataset_write(m, &lr->triggered_test, out, "triggered", 1);
    if (st) return st;
    char dir[4400], path[4500];
    snprintf(dir, sizeof dir, "%s/ground_truth", out);
    if ((st = ensure_dir(dir))) return st;
    uint8_t *is_poison = calloc((size_t)lr->poisoned.n + 1, 1);
    int npois = 0;
    if (!is_poison) return bl_fail(BL_ERR_RUN, "out of memory");
    st = eval_read_poison_csv(lr->poison_csv, &lr->poisoned, is_poison, &npois);
    int64_t n = lr->poisoned.n;
    snprintf(path, sizeof path, "%s/train_poisoned.npy", dir);
    if (!st) st = npy_write(path, NPY_U8, 1, &n, is_poison);
    free(is_poison);
    if (!st)
        printf("wrote %s/{train,clean,test,triggered}_{x,y}.npy (%d, %d, %d, %d samples) and "
               "ground_truth/train_poisoned.npy (%d poisoned)\n",
               out, lr->poisoned.n, lr->defender.n, lr->data.test.n, lr->triggered_test.n, npois);
    return st;
}

static Status export_run_models(LoadedRun *lr, const char *out) {
    Status st = ensure_dir(out);
    char path[4400];
    snprintf(path, sizeof path, "%s/model-backdoor.safetensors", out);
    if (!st) st = interop_model_write(&lr->backdoor, lr->backdoor_sha256, NULL, path);
    snprintf(path, sizeof path, "%s/model-clean.safetensors", out);
    if (!st) st = interop_model_write(&lr->clean, lr->clean_sha256, NULL, path);
    if (!st) printf("wrote %s/model-backdoor.safetensors and model-clean.safetensors\n", out);
    return st;
}

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *run = NULL, *what = NULL, *out = NULL, *trusted_key = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            export_usage();
            return 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
            run = argv[++i];
        } else if (!strcmp(argv[i], "--what") && i + 1 < argc) {
            what = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--trusted-key") && i + 1 < argc) {
            trusted_key = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else {
            fprintf(stderr, "backdoorlab export: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out || !model == !run || (run && (!what || (strcmp(what, "data") && strcmp(what, "models")))) ||
        (model && what)) {
        fprintf(stderr, "backdoorlab export: needs --model M.bdm --out F, or --run DIR --what data|models --out DIR "
                        "(see --help)\n");
        return 2;
    }
    if (model) {
        Status st = interop_export_model_file(model, trusted_key, out);
        if (!st) printf("wrote %s\n", out);
        return cli_report(st);
    }
    LoadedRun *lr = calloc(1, sizeof *lr);
    if (!lr) return cli_report(bl_fail(BL_ERR_RUN, "out of memory"));
    Status st = experiment_load_run(run, threads, trusted_key, lr);
    if (!st) { // (a failed load has freed what it loaded)
        st = !strcmp(what, "data") ? export_run_data(lr, out) : export_run_models(lr, out);
        experiment_loaded_free(lr);
    }
    free(lr);
    return cli_report(st);
}
