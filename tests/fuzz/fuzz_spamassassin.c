// fuzz_spamassassin: the SpamAssassin corpus loader (data/text/spamassassin.c, spam_load) over a folder made
// from one input: chunks separated by NUL bytes (JSON never holds one, so the separator cannot be confused with
// content): chunk 0 is data/file_list.json, chunks 1..8 are the records data/r/0.json .. data/r/7.json (a list
// entry "r/3.txt" names r/3.json). Everything past the reader runs too: e-mail decoding, the lexicon, dedupe and
// the split. Seeds: make-seeds.sh (a list of six real messages, ham and spam).
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/text/spamassassin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char dir[600], path[700], rel[100];
    snprintf(dir, sizeof dir, "%s/spam", fz_dir());
    fz_rm_tree(dir);
    size_t at = 0;
    for (int i = 0; i <= 8 && at <= len; i++) {
        const uint8_t *end = memchr(data + at, 0, len - at);
        size_t n = end ? (size_t)(end - (data + at)) : len - at;
        if (i == 0) snprintf(rel, sizeof rel, "spam/data/file_list.json");
        else snprintf(rel, sizeof rel, "spam/data/r/%d.json", i - 1);
        fz_write(path, sizeof path, rel, data + at, n, 0600);
        at += n + 1;
        if (!end) break;
    }
    TextOptions opt;
    memset(&opt, 0, sizeof opt); // defaults: max_tokens, test_fraction, split seed 0
    opt.subject = len & 1;
    DatasetPair p;
    TextLoadInfo info;
    if (spam_load(dir, &opt, &p, &info) == BL_OK) ds_pair_free(&p);
    return 0;
}
