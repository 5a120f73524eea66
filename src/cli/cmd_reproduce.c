// cmd_reproduce.c: `backdoorlab reproduce [--quick] [--strict] CONFIG...`.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/reproduce.h"

int cmd_reproduce(int argc, char **argv) {
    ReproduceOptions o = {.progress = isatty(2)};
    const char *configs[256];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab reproduce [--quick] [--strict] [--report-only] [--out DIR] [--threads N] [--quiet]\n"
                   "                             CONFIG...\n\n"
                   "Runs each paper config (experiments/papers/*.ini: every seed in `seeds`, every [sweep] value, the\n"
                   "[defense.*] sections) and holds our numbers against its [paper] claims. Writes DIR/README.md (one\n"
                   "table per paper: paper number | ours, mean ± sd over the seeds | within tolerance or not),\n"
                   "DIR/claims.csv and DIR/summary.json; each paper's runs go to DIR/<name>/.\n\n"
                   "  --quick      first seed only, at most [paper] quick_epochs epochs, the looser quick tolerances;\n"
                   "               fails (exit 1) when any claim lands outside its quick tolerance\n"
                   "  --strict     fail (exit 1) when a verified claim is outside its tolerance\n"
                   "  --report-only  run nothing: rebuild the report from the finished runs already in DIR\n"
                   "  --out DIR    output folder (default results/reproduce, or results/reproduce-quick)\n"
                   "  --threads N  OpenMP threads (results are bit-identical for any N)\n"
                   "  --quiet      no per-run lines\n\n"
                   "A metric missing from the runs always fails. Unverified claims are shown as expectations and fail\n"
                   "only under --quick.\n");
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            o.quick = 1;
        } else if (!strcmp(argv[i], "--report-only")) {
            o.report_only = 1;
        } else if (!strcmp(argv[i], "--strict")) {
            o.strict = 1;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            o.out = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((o.threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "backdoorlab reproduce: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (n == (int)(sizeof configs / sizeof configs[0])) {
            fprintf(stderr, "backdoorlab reproduce: more than %d configs\n", n);
            return 2;
        } else {
            configs[n++] = argv[i];
        }
    }
    if (!n) {
        fprintf(stderr, "backdoorlab reproduce: missing CONFIG (e.g. experiments/papers/*.ini; see --help)\n");
        return 2;
    }
    ReproduceTally t;
    return cli_report(reproduce_run(configs, n, &o, &t));
}
