// paper.h: the [paper] section of an experiment config: what a paper reports and how our numbers are held to it.
//
//   [paper]
//   reference   = Gao et al. 2019, STRIP: A Defence Against Trojan Attacks on DNNs, ACSAC'19
//   differences = Fashion-MNIST (paper: MNIST), reference-cnn (paper: 2 conv + 2 dense)
//   quick_epochs = 1                      ; epochs in `reproduce --quick` (default 1)
//   claim.asr   = backdoored_model/asr | 99.86% | 1.0 | 10 | verified
//   source.asr  = Table 2, MNIST, 3x3 square trigger
//   note.asr    = one line on why our number may differ (optional)
//
// A claim is `METRIC [@ SWEEP_VALUE] | PAPER_VALUE | TOLERANCE | QUICK_TOLERANCE | verified|unverified`:
//   METRIC       a path into a run's metrics.json, '/'-separated ("defenses/strip/far_at_frr/0.01",
//                array items by index), or the difference of two such paths "A - B"
//   @ VALUE      the claim is about the sweep point with this value (configs with a [sweep] only)
//   PAPER_VALUE  a number, optionally after '>', '>=', '<' or '<=' (a one-sided claim: "above 2"), optionally
//                with a '%' suffix (then metric fractions are compared and shown times 100)
//   TOLERANCE    how far ours may be from the paper value (same unit), or '-' to show the numbers without a
//                verdict (e.g. an absolute accuracy on a different dataset)
//   QUICK_TOLERANCE  the looser bound `reproduce --quick` checks (fewer seeds and epochs), '-' = not checked
//   verified     the number was read in the paper (../shared/research/paper-numbers-verified.md): pass/fail;
//   unverified   a reported number nobody has checked in the paper: shown as an expectation, never a failure
// Two-sided claims compare the mean over seeds; one-sided claims must hold for every seed.
#ifndef BL_PAPER_H
#define BL_PAPER_H

#define PAPER_MAX_CLAIMS 16
#define PAPER_TEXT_MAX 200 // libinih reads at most 200 characters per line

typedef enum { CLAIM_NEAR, CLAIM_GT, CLAIM_GE, CLAIM_LT, CLAIM_LE } ClaimOp;

typedef struct {
    char id[32];                 // the part after "claim."
    char metric[128];            // path, or "A - B"
    char at[64];                 // sweep value the claim is about ("" = no sweep)
    ClaimOp op;                  // how ours is compared with value
    double value;                // the paper's number, in its own unit
    int percent;                 // value was written with '%': fractions are shown and compared times 100
    double tol;                  // tolerance (< 0: no verdict, shown only)
    double quick_tol;            // tolerance under --quick (< 0: not checked)
    int verified;                // 1 = verified (pass/fail), 0 = unverified (expectation only)
    char raw[PAPER_TEXT_MAX];    // the value as written (the resolved config prints it back)
    char source[PAPER_TEXT_MAX]; // source.<id>: where in the paper
    char note[PAPER_TEXT_MAX];   // note.<id>: how our setup differs ("" = none)
    int line;                    // line of the claim
} PaperClaim;

typedef struct {
    int enabled;                      // the config has a [paper] section
    char reference[PAPER_TEXT_MAX];   // the paper (required)
    char differences[PAPER_TEXT_MAX]; // how our setup differs, one line ("" = none given)
    int quick_epochs;                 // epochs under --quick, >= 1 (default 1)
    int nclaims;                      // claims in file order
    PaperClaim claims[PAPER_MAX_CLAIMS];
} PaperSpec;

// Parse a claim value into c (id, line, source and note untouched). Returns 1, or 0 with a message in err.
int paper_parse_claim(const char *text, PaperClaim *c, char *err, int errn);

// The comparison of a claim with our numbers. ours is in metric units (fractions unless not a rate);
// per_seed holds n >= 1 values, mean their mean.
typedef enum {
    VERDICT_NONE,    // tolerance '-' or, under --quick, quick tolerance '-': shown only
    VERDICT_WITHIN,  // within tolerance (or, one-sided, every seed on the right side)
    VERDICT_OUTSIDE, // not
    VERDICT_MISSING, // the metric was not found in a run's metrics.json
} ClaimVerdict;

// Scale metric values to the claim's unit (x100 for '%').
double paper_claim_scale(const PaperClaim *c, double metric_value);
// Verdict for values already in the claim's unit. quick selects quick_tol.
ClaimVerdict paper_claim_verdict(const PaperClaim *c, const double *per_seed, int n, int quick);
// "99.86%", ">= 2", "< 1%": the paper value as shown in tables.
void paper_claim_value_text(const PaperClaim *c, char *buf, int n);
const char *paper_verdict_name(ClaimVerdict v);

#endif
