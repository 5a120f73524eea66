// reproduce.h: `backdoorlab reproduce experiments/papers/*.ini`: run each paper config (all its seeds and sweep
// points, see run/multirun.h), hold our numbers against the [paper] claims (io/paper.h), and write
//
//   OUT/README.md      one table per paper: paper number | ours (mean ± sd over the seeds) | within tolerance or
//                      not, with the source and how our setup differs; links to the plots
//   OUT/claims.csv     the same, one row per claim
//   OUT/summary.json   the same as JSON
//   OUT/report.html    the same as one self-contained page (io/html.h): the tables with coloured verdicts, the
//                      figures embedded, links to each run's report.html; every number tagged with its
//                      summary.json path
//   OUT/<name>/...     each paper's runs (multirun layout)
//
// OUT is results/reproduce (results/reproduce-quick with --quick).
#ifndef BL_REPRODUCE_H
#define BL_REPRODUCE_H

#include "core/core.h"

typedef struct {
    int quick;         // first seed only, at most [paper] quick_epochs epochs, quick tolerances
    int strict;        // full mode: a verified claim outside its tolerance fails the command
    int threads;       // > 0 overrides the configs' threads
    int progress;      // progress bars (TTY)
    int quiet;         // no per-run lines and tables on stdout
    int report_only;   // run nothing: rebuild the report from the runs already in OUT (each needs DONE)
    const char *out;   // output folder (NULL = default above)
} ReproduceOptions;

typedef struct {
    int claims;        // claims checked
    int within;        // within tolerance
    int outside;       // outside tolerance (verified and unverified)
    int failed;        // claims that fail the command: quick: any outside its quick tolerance;
                       // strict: verified outside; always: a metric missing from the runs
} ReproduceTally;

// Every config must have a [paper] section; all are parsed before anything runs (a bad one is a usage error
// naming file:line). Returns BL_ERR_RUN with a message when tally->failed > 0.
Status reproduce_run(const char *const *configs, int nconfigs, const ReproduceOptions *o, ReproduceTally *tally);

#endif
