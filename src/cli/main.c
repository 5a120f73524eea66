// main.c: `backdoorlab <command> ...`. Dispatch only; each command lives in its own file.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 bad or corrupt input data or model, 4 policy
// violation (`scan` only: a required check failed).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tensor/sgemm.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} g_commands[] = {
    {"run", cmd_run, "run an experiment: clean + backdoored model, metrics, results folder"},
    {"train", cmd_train, "train one model from a config (backdoored if it has an [attack])"},
    {"eval", cmd_eval, "clean accuracy and attack success rate of a saved model"},
    {"poison", cmd_poison, "write a config's poisoned training set and triggered test set as files"},
    {"bench", cmd_bench, "training-step throughput and GEMM GFLOP/s (not a test)"},
    {"keygen", cmd_keygen, "create an Ed25519 key pair for signing models (KEY.pub, KEY.secret)"},
    {"sign", cmd_sign, "sign a model file in place with KEY.secret"},
    {"verify", cmd_verify, "check that a model is intact and signed by KEY.pub (exit 0 only then)"},
    {"inspect", cmd_inspect, "print a model's header, provenance, tensors, hashes and signature status"},
    {"data", cmd_data, "dataset manifests: `data manifest` records samples, `data verify` lists changes"},
    {"detect", cmd_detect, "run a defence on a finished attack run (and on its clean model as control)"},
    {"reproduce", cmd_reproduce, "run paper configs and put our numbers beside the papers' (results/reproduce)"},
    {"report", cmd_report, "leaderboard of attacks x defences from results/*/defense/*/summary.json"},
    {"monitor", cmd_monitor, "screen a deployed model's inputs with strip/confidence: one JSON verdict line each"},
    {"export", cmd_export, "a model as safetensors, a run's data as .npy (for PyTorch, NumPy, external defences)"},
    {"docs", cmd_docs, "regenerate the README's measured tables from runs (make docs); --check compares (make docs-check)"},
    {"sweep", cmd_sweep, "many configs' seeds x sweep points as tasks, here or as Slurm job arrays (--slurm)"},
    {"sweep-task", cmd_sweep_task, "run one task of a planned sweep (what each Slurm array task runs)"},
    {"scan", cmd_scan, "check a model against a policy (signature ... Neural Cleanse) for CI: exit 0 pass, 4 fail"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: backdoorlab <command> [options]   (backdoorlab <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(f, "  %-9s %s\n", g_commands[i].name, g_commands[i].help);
    fprintf(f, "\nexit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 bad or corrupt data or model,\n"
                  "            4 policy violation (scan: a required check failed)\n");
}

// libgomp reads how idle threads wait from the environment before main() runs. Its default (spin up to 300,000
// times before sleeping) is fastest for a job alone on the cores and ruinous for jobs sharing them: two 2-thread
// trainings on 2 cores took over 90 s instead of 15. When the user chose neither OMP_WAIT_POLICY nor
// GOMP_SPINCOUNT, restart once with GOMP_SPINCOUNT=1000, which costs ~4% alone (README, Performance). Speed only:
// results are bit-identical under any policy.
static void limit_openmp_spinning(char **argv) {
#ifdef _OPENMP
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT"); // exec failed (no /proc?): carry on, and do not claim a setting not in force
#else
    (void)argv;
#endif
}

int main(int argc, char **argv) {
    limit_openmp_spinning(argv);
    // BACKDOORLAB_KERNEL forces a GEMM kernel (speed only: every kernel gives the same bits). sgemm.c applied a
    // valid choice before main; a name this CPU cannot run is an error here rather than a silent fallback.
    const char *kernel = getenv("BACKDOORLAB_KERNEL");
    if (kernel && *kernel && sgemm_use_kernel(kernel)) {
        fprintf(stderr, "backdoorlab: BACKDOORLAB_KERNEL: %s\n", bl_errmsg());
        return 2;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (!strcmp(argv[1], g_commands[i].name)) return g_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "backdoorlab: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
