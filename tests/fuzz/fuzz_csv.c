// fuzz_csv: CSV records (data/records/csv.c, libcsv) through csv_load_pair, the loader `dataset = csv:PATH`
// uses: header, type inference, missing values, then table_to_pair with column 0 as the label and the rest as
// features, split 75/25 by class.
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/records/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.csv", data, len, 0600);
    CsvOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.path = path;
    opt.label_column = "0";
    opt.test_fraction = 0.25;
    opt.seed = 1;
    DatasetPair p;
    if (csv_load_pair(&opt, &p) == BL_OK) ds_pair_free(&p);
    return 0;
}
