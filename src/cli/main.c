// main.c: `backdoorlab <command> ...`. Dispatch only; each command lives in its own file.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 bad or corrupt input data or model.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

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
};

static void usage(FILE *f) {
    fprintf(f, "usage: backdoorlab <command> [options]   (backdoorlab <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(f, "  %-9s %s\n", g_commands[i].name, g_commands[i].help);
    fprintf(f, "\nexit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 bad or corrupt data or model\n");
}

int main(int argc, char **argv) {
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
