// cmd_poison.c: `backdoorlab poison CONFIG --out DIR [--format idx|png|text]`: poisoned data as files, no training.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/experiment.h"

int cmd_poison(int argc, char **argv) {
    const char *config = NULL, *out = NULL;
    int png = 0, threads = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab poison CONFIG --out DIR [--format idx|png|text] [--threads N] [--quiet]\n\n"
                   "Poisons the training set exactly as `backdoorlab run CONFIG` would (same split, same seed) and\n"
                   "writes it without training:\n"
                   "  idx (default): train-images-idx3-ubyte, train-labels-idx1-ubyte (poisoned, original order),\n"
                   "                 t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (clean test set),\n"
                   "                 triggered-images-idx3-ubyte, triggered-labels-idx1-ubyte (test set with the\n"
                   "                 trigger, true labels); `[data] path = DIR` reads the first four back\n"
                   "  png:           train/<class>/<index>.png, test/..., triggered/... (`dataset = png:DIR`)\n"
                   "and poison.csv (index,original_label,new_label), noise.csv (wanet noise mode), trigger.png\n"
                   "(mask | pattern), gallery.png (clean / triggered / difference per class), config.resolved.ini.\n"
                   "  text:          messages (spamassassin, text:PATH): train.tsv (poisoned, file order),\n"
                   "                 test.tsv, triggered.tsv (rows `label<TAB>words`, the tokeniser's words), poison.csv;\n"
                   "                 `dataset = text:DIR/train.tsv,DIR/test.tsv` reads them back\n"
                   "A label-consistent attack without `surrogate = FILE` trains its surrogate model first.\n");
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "png")) png = 1;
            else if (!strcmp(f, "idx")) png = 0;
            else if (!strcmp(f, "text")) png = POISON_FORMAT_TEXT;
            else {
                fprintf(stderr, "backdoorlab poison: --format must be idx, png or text, got '%s'\n", f);
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' || config) {
            fprintf(stderr, "backdoorlab poison: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        } else {
            config = argv[i];
        }
    }
    if (!config || !out) {
        fprintf(stderr, "backdoorlab poison: needs CONFIG and --out DIR (see --help)\n");
        return 2;
    }
    return cli_report(experiment_poison(config, out, png, threads, isatty(2), quiet));
}
