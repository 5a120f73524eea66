// scan.h: `backdoorlab scan`: run a policy's checks on one model file, cheapest first, and give one verdict.
//
// Order: signature (milliseconds: the file is read and its hash and signature checked, no weight used),
// provenance, data (a manifest comparison, about a second), then the input-level patch search (seconds) and the
// model-level detector (minutes). A check that cannot even start (the model file does not read) decides the verdict
// before anything costly: with fail_fast (the default) a failed required check skips every later check.
// The verdict: every required check passed -> exit 0; a required check failed -> SCAN_EXIT_POLICY (4); advisory
// failures are reported and do not change the exit code. Errors that are not findings (an unreadable probe, a
// missing key file, a usage mistake) return their Status (1/2/3) instead of a verdict.
#ifndef BL_SCAN_H
#define BL_SCAN_H

#include "core/core.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "scan/policy.h"

#define SCAN_EXIT_POLICY 4 // the exit code of a policy violation (core's Status codes stop at 3)

typedef enum {
    SCAN_NOT_RUN = 0, // the policy does not ask for it
    SCAN_PASS,
    SCAN_FAIL,
    SCAN_SKIPPED,     // not run because an earlier required check failed (fail_fast)
} ScanStatus;

typedef struct {
    ScanCheckId id;        // which check
    ScanMode mode;         // required / advisory (off checks are SCAN_NOT_RUN)
    ScanStatus status;
    double value;          // the check's main figure (has_value), compared with limit
    int has_value;
    char figure[200];      // the figure in words, e.g. "max anomaly index 4.22 (label 0)"
    char threshold[200];   // what it had to meet, e.g. "anomaly index <= 2"
    char message[1024];    // why it failed, or notes
    double seconds;        // wall time the check took
    double budget;         // its budget (0 = none)
    void *details;         // cJSON object with the check's numbers (owned), may be NULL
} ScanCheckResult;

typedef struct {
    ScanCheckResult check[SCAN_NCHECKS];
    char model_path[SCAN_PATH_MAX];
    char model_sha256[65];   // identity ("" when the file did not read)
    char signer[65];         // signer fingerprint ("" when unsigned or unreadable)
    char policy_path[SCAN_PATH_MAX];
    int failed_required;     // number of required checks that failed
    int failed_advisory;
    double seconds;          // the whole scan
    int exit_code;           // 0 or SCAN_EXIT_POLICY
} ScanReport;

typedef struct {
    const char *model;                  // the .bdm file to scan
    const char *data;                   // --data: a dataset folder or a manifest JSON (may be NULL)
    const char *probe;                  // --probe: clean images (IDX file, plain or .gz) or a run folder (may be NULL)
    const char *const *extra_keys;      // --trusted-key paths added to the policy's (may be NULL)
    int nextra_keys;
    const char *out_dir;                // the model-level detector's files (reversed triggers), may be NULL
    int progress;                       // progress on stderr
} ScanOptions;

// Run pol's checks on o->model. BL_OK with rep filled (rep->exit_code is the verdict), or an error Status (and
// rep still describes what ran).
Status scan_run(const ScanPolicy *pol, const ScanOptions *o, ScanReport *rep);
void scan_report_free(ScanReport *rep);

const char *scan_status_name(ScanStatus s); // "not-run", "pass", "fail", "skipped"

// The costly checks (scan_detect.c). m is the model loaded through its trusted key; probe the clean images.
// They fill r (status, figures, details) and return BL_OK unless something broke.
Status scan_model_level(const ScanPolicy *pol, Model *m, const Dataset *probe, const char *out_dir,
                        int progress, ScanCheckResult *r);
// The [model-scan] rule on per-label figures (anomaly index, reversed-trigger L1 and ASR): the failing label with
// the largest anomaly index, or -1 when none fails.
int scan_model_judge(const ScanPolicy *pol, int K, const double *ai, const double *l1, const double *asr);
Status scan_input_level(const ScanPolicy *pol, Model *m, const Dataset *probe, ScanCheckResult *r);

#endif
