// fuzz_rda: R .rda files (data/records/rda.c): xz, gzip or uncompressed XDR serialisation of a data frame.
// The in-memory entry point is the one rda_read uses after reading the file.
#include "fuzz_util.h"
#include "data/records/rda.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    Table t;
    memset(&t, 0, sizeof t);
    if (rda_read_mem(data, len, "fuzz.rda", NULL, &t) == BL_OK) table_free(&t);
    return 0;
}
