// cmd_scan.c: `backdoorlab scan --model M --policy P.ini ...`: a backdoor gate for build pipelines. Runs the
// policy's checks (src/scan/), prints a summary, writes JSON / JUnit / SARIF, exits 0 (pass) or 4 (violation).
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "scan/report.h"

static void scan_usage(void) {
    printf("usage: backdoorlab scan --model M.bdm --policy P.ini [--data DIR_OR_MANIFEST] [--probe CLEAN]\n"
           "                        [--trusted-key KEY.pub ...] [--json F.json] [--junit F.xml] [--sarif F.sarif]\n"
           "                        [--out-dir DIR] [--threads N] [--quiet]\n\n"
           "Checks a model before it enters a build, as the policy asks, cheapest first: [signature] (intact and\n"
           "signed by a trusted key), [provenance] (required fields, allowed dataset hashes), [data] (trained on the\n"
           "manifest's dataset; --data matches it), [model-scan] (Neural Cleanse: anomaly index, reversed-trigger\n"
           "size) and [input-scan] (small patch candidates on clean probe images; what STRIP/confidence would catch).\n"
           "Each check is required or advisory and may have a time budget; a failed required check skips the later\n"
           "ones (fail_fast). The policy format is in src/scan/policy.h; examples in experiments/scan/.\n\n"
           "  --model M.bdm       the model to scan\n"
           "  --policy P.ini      the policy\n"
           "  --data X            the training data as a dataset folder, or its manifest (data manifest ... --out)\n"
           "  --probe CLEAN       clean images for the detector checks: an IDX images file (plain or .gz) or a run\n"
           "                      folder (its defender split); the first [scan] probe_images are used\n"
           "  --trusted-key K     a trusted publisher key, in addition to the policy's (repeatable)\n"
           "  --json/--junit/--sarif F   write the results (atomically) as JSON, JUnit XML, SARIF 2.1.0\n"
           "  --out-dir DIR       where the model-level detector writes its reversed triggers (PNG)\n"
           "  --threads N         OpenMP threads\n"
           "  --quiet             no summary on stdout\n\n"
           "exit codes: 0 every required check passed (advisory failures are warnings), 4 POLICY VIOLATION (a\n"
           "required check failed), 1 runtime failure, 2 usage or policy error, 3 bad or corrupt input data or model\n"
           "(a model that does not read fails the [signature] check instead when that check is required).\n");
}

int cmd_scan(int argc, char **argv) {
    ScanOptions o = {.progress = isatty(2)};
    const char *policy = NULL, *json = NULL, *junit = NULL, *sarif = NULL, *keys[SCAN_MAX_ITEMS];
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            scan_usage();
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v || strncmp(a, "--", 2)) {
            fprintf(stderr, "backdoorlab scan: unknown option or missing value: %s (see --help)\n", a);
            return BL_ERR_USAGE;
        }
        i++;
        if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--policy")) policy = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--probe")) o.probe = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--junit")) junit = v;
        else if (!strcmp(a, "--sarif")) sarif = v;
        else if (!strcmp(a, "--out-dir")) o.out_dir = v;
        else if (!strcmp(a, "--trusted-key")) {
            if (o.nextra_keys == SCAN_MAX_ITEMS) return cli_report(bl_fail(BL_ERR_USAGE, "scan: more than %d --trusted-key", SCAN_MAX_ITEMS));
            keys[o.nextra_keys++] = v;
        } else if (!strcmp(a, "--threads")) {
            int t = cli_parse_threads(v);
            if (t < 0) return BL_ERR_USAGE;
            bl_set_threads(t);
        } else {
            fprintf(stderr, "backdoorlab scan: unknown option %s (see --help)\n", a);
            return BL_ERR_USAGE;
        }
    }
    o.extra_keys = keys;
    if (!o.model || !policy) {
        fprintf(stderr, "backdoorlab scan: --model and --policy are required (see --help)\n");
        return BL_ERR_USAGE;
    }
    if (o.out_dir && mkdir(o.out_dir, 0755) != 0 && errno != EEXIST)
        return cli_report(bl_fail(BL_ERR_USAGE, "scan: cannot create --out-dir %s", o.out_dir));
    ScanPolicy *pol = malloc(sizeof *pol);
    ScanReport *rep = calloc(1, sizeof *rep);
    if (!pol || !rep) {
        free(pol);
        free(rep);
        return cli_report(bl_fail(BL_ERR_RUN, "scan: out of memory"));
    }
    Status st = scan_policy_load(policy, pol);
    if (!st) st = scan_run(pol, &o, rep);
    int code = st ? (int)st : rep->exit_code;
    if (!st && !quiet) scan_print_summary(rep, stdout);
    fflush(stdout);
    if (st) fprintf(stderr, "backdoorlab: %s\n", bl_errmsg());
    // The reports are written for a verdict; an error (exit 1-3) leaves none that could be mistaken for one.
    Status wst = BL_OK;
    if (!st && json && (wst = scan_write_json(rep, json))) fprintf(stderr, "backdoorlab: %s\n", bl_errmsg());
    if (!st && junit && (wst = scan_write_junit(rep, junit))) fprintf(stderr, "backdoorlab: %s\n", bl_errmsg());
    if (!st && sarif && (wst = scan_write_sarif(rep, sarif))) fprintf(stderr, "backdoorlab: %s\n", bl_errmsg());
    if (!st && wst) code = BL_ERR_RUN;
    scan_report_free(rep);
    free(rep);
    free(pol);
    return code;
}
