// report.c: write a ScanReport as a terminal table, JSON, JUnit XML and SARIF 2.1.0.
#include "scan/report.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

static const char *const g_rule_ids[SCAN_NCHECKS] = {"BDL-SCAN-SIGNATURE", "BDL-SCAN-PROVENANCE", "BDL-SCAN-DATA",
                                                     "BDL-SCAN-INPUT", "BDL-SCAN-MODEL"};
static const char *const g_rule_text[SCAN_NCHECKS] = {
    "The model file is intact and signed by a trusted publisher.",
    "The model's provenance carries the required fields and an allowed dataset hash.",
    "The model was trained on the dataset the policy's manifest describes, and the supplied data matches it.",
    "No small patch candidate takes over the model's decisions on clean probe images.",
    "No label of the model has a reversed trigger that is an outlier (Neural Cleanse anomaly index) or absolutely "
    "small.",
};

static const char *verdict_word(const ScanCheckResult *r) {
    if (r->status == SCAN_FAIL) return r->mode == SCAN_ADVISORY ? "WARN" : "FAIL";
    return r->status == SCAN_PASS ? "pass" : "skip";
}

void scan_print_summary(const ScanReport *rep, FILE *f) {
    fprintf(f, "scan %s  (policy %s)\n", rep->model_path, rep->policy_path);
    if (rep->model_sha256[0]) fprintf(f, "  sha256 %s\n", rep->model_sha256);
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        const ScanCheckResult *r = &rep->check[i];
        if (r->status == SCAN_NOT_RUN) continue;
        fprintf(f, "  %-4s %-10s %-8s %7.2fs  %s\n", verdict_word(r), scan_check_name(r->id), scan_mode_name(r->mode),
                r->seconds, r->figure);
        if (r->threshold[0] && r->status != SCAN_SKIPPED) fprintf(f, "  %24s limit: %s\n", "", r->threshold);
        if (r->message[0]) fprintf(f, "  %24s %s\n", "", r->message);
    }
    fprintf(f, "verdict: %s (%d required check(s) failed, %d advisory warning(s); %.2f s; exit %d)\n",
            rep->exit_code ? "POLICY VIOLATION" : "pass", rep->failed_required, rep->failed_advisory, rep->seconds,
            rep->exit_code);
}

static Status write_json_file(cJSON *root, const char *path) {
    char *text = cJSON_Print(root);
    if (!text) return bl_fail(BL_ERR_RUN, "out of memory writing %s", path);
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (!st) st = atomic_commit(&af, fputs(text, af.f) >= 0 && fputc('\n', af.f) != EOF);
    free(text);
    return st;
}

Status scan_write_json(const ScanReport *rep, const char *path) {
    cJSON *root = cJSON_CreateObject(), *checks = cJSON_AddArrayToObject(root, "checks");
    cJSON_AddStringToObject(root, "format", "backdoorlab-scan");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", rep->model_path);
    cJSON_AddStringToObject(root, "model_sha256", rep->model_sha256);
    cJSON_AddStringToObject(root, "signer_fingerprint", rep->signer);
    cJSON_AddStringToObject(root, "policy", rep->policy_path);
    cJSON_AddStringToObject(root, "verdict", rep->exit_code ? "fail" : "pass");
    cJSON_AddNumberToObject(root, "exit_code", rep->exit_code);
    cJSON_AddNumberToObject(root, "failed_required", rep->failed_required);
    cJSON_AddNumberToObject(root, "failed_advisory", rep->failed_advisory);
    cJSON_AddNumberToObject(root, "seconds", rep->seconds);
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        const ScanCheckResult *r = &rep->check[i];
        if (r->status == SCAN_NOT_RUN) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "check", scan_check_name(r->id));
        cJSON_AddStringToObject(o, "rule_id", g_rule_ids[r->id]);
        cJSON_AddStringToObject(o, "mode", scan_mode_name(r->mode));
        cJSON_AddStringToObject(o, "status", scan_status_name(r->status));
        if (r->has_value) cJSON_AddNumberToObject(o, "value", r->value);
        cJSON_AddStringToObject(o, "figure", r->figure);
        cJSON_AddStringToObject(o, "threshold", r->threshold);
        cJSON_AddStringToObject(o, "message", r->message);
        cJSON_AddNumberToObject(o, "seconds", r->seconds);
        cJSON_AddNumberToObject(o, "budget_seconds", r->budget);
        if (r->details) cJSON_AddItemToObject(o, "details", cJSON_Duplicate(r->details, 1));
        cJSON_AddItemToArray(checks, o);
    }
    Status st = write_json_file(root, path);
    cJSON_Delete(root);
    return st;
}

// XML-escape s into f (attribute-safe; control characters other than tab/newline become spaces: XML 1.0 forbids
// them).
static void xml_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs("&#10;", f); break;
        case '\t': fputs("&#9;", f); break;
        default: fputc(c < 0x20 ? ' ' : c, f);
        }
    }
}

// JUnit: one testsuite, one testcase per check that the policy asks for. A failed required check is a <failure>;
// an advisory failure passes with the warning in <system-out> (CI systems would show a red test otherwise);
// a skipped check is <skipped>.
Status scan_write_junit(const ScanReport *rep, const char *path) {
    int tests = 0, failures = 0, skipped = 0;
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        const ScanCheckResult *r = &rep->check[i];
        if (r->status == SCAN_NOT_RUN) continue;
        tests++;
        failures += r->status == SCAN_FAIL && r->mode == SCAN_REQUIRED;
        skipped += r->status == SCAN_SKIPPED;
    }
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    FILE *f = af.f;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"backdoorlab scan\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" "
               "time=\"%.3f\">\n", tests, failures, skipped, rep->seconds);
    fprintf(f, "  <testsuite name=\"backdoorlab scan ");
    xml_esc(f, rep->model_path);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n", tests, failures,
            skipped, rep->seconds);
    fprintf(f, "    <properties>\n      <property name=\"policy\" value=\"");
    xml_esc(f, rep->policy_path);
    fprintf(f, "\"/>\n      <property name=\"model_sha256\" value=\"%s\"/>\n    </properties>\n", rep->model_sha256);
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        const ScanCheckResult *r = &rep->check[i];
        if (r->status == SCAN_NOT_RUN) continue;
        fprintf(f, "    <testcase classname=\"backdoorlab.scan\" name=\"%s (%s)\" time=\"%.3f\">\n",
                scan_check_name(r->id), scan_mode_name(r->mode), r->seconds);
        if (r->status == SCAN_FAIL && r->mode == SCAN_REQUIRED) {
            fprintf(f, "      <failure type=\"%s\" message=\"", g_rule_ids[r->id]);
            xml_esc(f, r->message);
            fprintf(f, "\">");
            xml_esc(f, r->figure);
            fprintf(f, "; limit: ");
            xml_esc(f, r->threshold);
            fprintf(f, "</failure>\n");
        } else if (r->status == SCAN_SKIPPED) {
            fprintf(f, "      <skipped message=\"");
            xml_esc(f, r->message);
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "      <system-out>%s", r->status == SCAN_FAIL && r->mode == SCAN_ADVISORY ? "ADVISORY FAIL: " : "");
        xml_esc(f, r->figure);
        fprintf(f, "; limit: ");
        xml_esc(f, r->threshold);
        if (r->message[0] && r->mode == SCAN_ADVISORY) {
            fprintf(f, "; ");
            xml_esc(f, r->message);
        }
        fprintf(f, "</system-out>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return atomic_commit(&af, !ferror(f));
}

// SARIF 2.1.0: one run, the tool's driver declares one rule per check; every check that ran gives a result:
// kind "fail" (level error when required, warning when advisory), "pass" (level none) or "notApplicable"
// (skipped). The location is the model file.
Status scan_write_sarif(const ScanReport *rep, const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    cJSON_AddStringToObject(root, "version", "2.1.0");
    cJSON *runs = cJSON_AddArrayToObject(root, "runs"), *run = cJSON_CreateObject();
    cJSON_AddItemToArray(runs, run);
    cJSON *tool = cJSON_AddObjectToObject(run, "tool"), *drv = cJSON_AddObjectToObject(tool, "driver");
    cJSON_AddStringToObject(drv, "name", "backdoorlab scan");
    cJSON *rules = cJSON_AddArrayToObject(drv, "rules");
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        cJSON *ru = cJSON_CreateObject();
        cJSON_AddStringToObject(ru, "id", g_rule_ids[i]);
        cJSON_AddStringToObject(ru, "name", scan_check_name((ScanCheckId)i));
        cJSON_AddStringToObject(cJSON_AddObjectToObject(ru, "shortDescription"), "text", g_rule_text[i]);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(ru, "defaultConfiguration"), "level", "error");
        cJSON_AddItemToArray(rules, ru);
    }
    cJSON *results = cJSON_AddArrayToObject(run, "results");
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        const ScanCheckResult *r = &rep->check[i];
        if (r->status == SCAN_NOT_RUN) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ruleId", g_rule_ids[i]);
        cJSON_AddNumberToObject(o, "ruleIndex", i);
        const char *kind = r->status == SCAN_FAIL ? "fail" : r->status == SCAN_PASS ? "pass" : "notApplicable";
        const char *level = r->status != SCAN_FAIL ? "none" : r->mode == SCAN_REQUIRED ? "error" : "warning";
        cJSON_AddStringToObject(o, "kind", kind);
        cJSON_AddStringToObject(o, "level", level);
        char text[1600];
        snprintf(text, sizeof text, "%s: %s (limit: %s)%s%s", scan_check_name(r->id), r->figure, r->threshold,
                 r->message[0] ? ". " : "", r->message);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "message"), "text", text);
        cJSON *locs = cJSON_AddArrayToObject(o, "locations"), *loc = cJSON_CreateObject();
        cJSON *phys = cJSON_AddObjectToObject(loc, "physicalLocation");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(phys, "artifactLocation"), "uri", rep->model_path);
        cJSON_AddItemToArray(locs, loc);
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON_AddStringToObject(props, "mode", scan_mode_name(r->mode));
        cJSON_AddNumberToObject(props, "seconds", r->seconds);
        if (r->has_value) cJSON_AddNumberToObject(props, "value", r->value);
        cJSON_AddItemToArray(results, o);
    }
    cJSON *inv = cJSON_CreateObject();
    cJSON_AddBoolToObject(inv, "executionSuccessful", 1);
    cJSON_AddNumberToObject(inv, "exitCode", rep->exit_code);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(run, "invocations"), inv);
    Status st = write_json_file(root, path);
    cJSON_Delete(root);
    return st;
}
