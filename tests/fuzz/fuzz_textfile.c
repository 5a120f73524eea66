// fuzz_textfile: users' labelled texts, `dataset = text:PATH` (data/text/textfile.c), through textfile_load.
// The file has no .tsv/.csv extension, so the loader sniffs the format (a tab on the first line: TSV, else CSV)
// and both parsers are reached; then tokenising, dedupe and the split.
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/text/textfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "messages", data, len, 0600);
    TextOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.max_tokens = 16;
    opt.split_seed = 1;
    DatasetPair p;
    TextLoadInfo info;
    if (textfile_load(path, &opt, &p, &info) == BL_OK) ds_pair_free(&p);
    return 0;
}
