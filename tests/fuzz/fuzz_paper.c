// fuzz_paper: one [paper] claim value (io/paper.c, paper_parse_claim), then what `reproduce` does with a parsed
// claim: its display text and verdicts for a few metric values. Whole [paper] sections are fuzzed by fuzz_config.
#include "fuzz_util.h"
#include "io/paper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len >= PAPER_TEXT_MAX) return 0; // libinih hands over at most 200 characters a line
    char *text = fz_cstr(data, len);
    PaperClaim c;
    memset(&c, 0, sizeof c);
    char err[256];
    if (paper_parse_claim(text, &c, err, sizeof err)) {
        char buf[64];
        paper_claim_value_text(&c, buf, sizeof buf);
        double v[3] = {paper_claim_scale(&c, 0.5), paper_claim_scale(&c, 1.0), paper_claim_scale(&c, 0.0)};
        (void)paper_claim_verdict(&c, v, 3, 0);
        (void)paper_claim_verdict(&c, v, 1, 1);
        (void)paper_verdict_name(paper_claim_verdict(&c, v + 2, 1, 0));
    }
    free(text);
    return 0;
}
