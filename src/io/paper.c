// paper.c: parsing [paper] claims and comparing our numbers with them (see paper.h for the syntax).
#include "io/paper.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Copy s[0..n) into out (cap bytes) without surrounding spaces. Returns the trimmed length, -1 if too long.
static int trim_copy(const char *s, size_t n, char *out, size_t cap) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= cap) return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return (int)n;
}

static int parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

// A tolerance: a number >= 0, or '-' (returned as -1).
static int parse_tol(const char *s, double *out) {
    if (!strcmp(s, "-")) {
        *out = -1;
        return 1;
    }
    return parse_num(s, out) && *out >= 0;
}

// A metric path: '/'-separated names from [A-Za-z0-9._-], no empty part.
static int valid_path(const char *s) {
    if (!*s || *s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-/", *s)) return 0;
    return 1;
}

int paper_parse_claim(const char *text, PaperClaim *c, char *err, int errn) {
    char field[5][PAPER_TEXT_MAX];
    int nf = 0;
    const char *s = text;
    for (;;) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        if (nf == 5 || trim_copy(s, n, field[nf], sizeof field[0]) < 0) {
            nf = 6;
            break;
        }
        nf++;
        if (!bar) break;
        s = bar + 1;
    }
    if (nf != 5) {
        snprintf(err, (size_t)errn, "expected 'METRIC [@ SWEEP_VALUE] | PAPER_VALUE | TOLERANCE | QUICK_TOLERANCE | "
                                    "verified|unverified' (5 fields separated by '|')");
        return 0;
    }
    // METRIC [@ VALUE], METRIC = PATH or PATH - PATH
    char *at = strchr(field[0], '@');
    c->at[0] = 0;
    if (at) {
        *at = 0;
        if (trim_copy(at + 1, strlen(at + 1), c->at, sizeof c->at) <= 0) {
            snprintf(err, (size_t)errn, "'@' needs the sweep value the claim is about");
            return 0;
        }
    }
    if (trim_copy(field[0], strlen(field[0]), c->metric, sizeof c->metric) <= 0) {
        snprintf(err, (size_t)errn, "the metric is empty or longer than %zu characters", sizeof c->metric - 1);
        return 0;
    }
    char a[128], b[128];
    const char *minus = strstr(c->metric, " - ");
    int ok = minus ? trim_copy(c->metric, (size_t)(minus - c->metric), a, sizeof a) > 0 &&
                         trim_copy(minus + 3, strlen(minus + 3), b, sizeof b) > 0 && valid_path(a) && valid_path(b)
                   : valid_path(c->metric);
    if (!ok) {
        snprintf(err, (size_t)errn, "metric '%s' is not a path into metrics.json such as backdoored_model/asr (or "
                                    "'A - B' of two paths)", c->metric);
        return 0;
    }
    // PAPER_VALUE
    const char *v = field[1];
    c->op = CLAIM_NEAR;
    if (!strncmp(v, ">=", 2)) c->op = CLAIM_GE, v += 2;
    else if (!strncmp(v, "<=", 2)) c->op = CLAIM_LE, v += 2;
    else if (*v == '>') c->op = CLAIM_GT, v++;
    else if (*v == '<') c->op = CLAIM_LT, v++;
    while (isspace((unsigned char)*v)) v++;
    char num[64];
    size_t vn = strlen(v);
    c->percent = vn && v[vn - 1] == '%';
    if (trim_copy(v, vn - (size_t)c->percent, num, sizeof num) <= 0 || !parse_num(num, &c->value)) {
        snprintf(err, (size_t)errn, "paper value '%s' is not a number (optionally after >, >=, <, <= and with a "
                                    "%% suffix)", field[1]);
        return 0;
    }
    if (!parse_tol(field[2], &c->tol) || !parse_tol(field[3], &c->quick_tol)) {
        snprintf(err, (size_t)errn, "tolerances must be numbers >= 0 or '-', got '%s' and '%s'", field[2], field[3]);
        return 0;
    }
    if (!strcmp(field[4], "verified")) c->verified = 1;
    else if (!strcmp(field[4], "unverified")) c->verified = 0;
    else {
        snprintf(err, (size_t)errn, "status must be verified or unverified, got '%s'", field[4]);
        return 0;
    }
    snprintf(c->raw, sizeof c->raw, "%s", text);
    return 1;
}

double paper_claim_scale(const PaperClaim *c, double metric_value) {
    return c->percent ? 100.0 * metric_value : metric_value;
}

ClaimVerdict paper_claim_verdict(const PaperClaim *c, const double *per_seed, int n, int quick) {
    double tol = quick ? c->quick_tol : c->tol;
    if (n <= 0) return VERDICT_MISSING;
    for (int i = 0; i < n; i++)
        if (!isfinite(per_seed[i])) return VERDICT_MISSING;
    if (tol < 0) return VERDICT_NONE;
    if (c->op == CLAIM_NEAR) {
        double mean = 0;
        for (int i = 0; i < n; i++) mean += per_seed[i];
        mean /= n;
        return fabs(mean - c->value) <= tol ? VERDICT_WITHIN : VERDICT_OUTSIDE;
    }
    for (int i = 0; i < n; i++) { // one-sided: every seed, the tolerance widening the bound
        double x = per_seed[i];
        int ok = c->op == CLAIM_GT   ? x > c->value - tol
                 : c->op == CLAIM_GE ? x >= c->value - tol
                 : c->op == CLAIM_LT ? x < c->value + tol
                                     : x <= c->value + tol;
        if (!ok) return VERDICT_OUTSIDE;
    }
    return VERDICT_WITHIN;
}

void paper_claim_value_text(const PaperClaim *c, char *buf, int n) {
    static const char *const ops[] = {"", "> ", ">= ", "< ", "<= "};
    snprintf(buf, (size_t)n, "%s%g%s", ops[c->op], c->value, c->percent ? "%" : "");
}

const char *paper_verdict_name(ClaimVerdict v) {
    switch (v) {
    case VERDICT_WITHIN: return "within";
    case VERDICT_OUTSIDE: return "outside";
    case VERDICT_MISSING: return "missing";
    default: return "shown only";
    }
}
