// samples.h: the samples view of a records run: a few clean test records beside their triggered versions, the
// features the trigger changed marked, as samples.csv (for programs) and samples.md (for people). The records
// counterpart of samples.png.
#ifndef BL_RECORDS_SAMPLES_H
#define BL_RECORDS_SAMPLES_H

#include "core/core.h"
#include "data/dataset.h"

// Up to two test records per class (the first ones, in order), each as a clean row and a triggered row.
// samples.csv: columns `sample,version,label,<feature...>`; a missing value is empty, a value the trigger changed
// is followed by '*'. samples.md: the same as a Markdown table, showing only the features the trigger changes on
// any shown record plus the first few others. Both written atomically.
Status records_write_samples(const char *csv_path, const char *md_path, const Dataset *test,
                             const Dataset *triggered);

#endif
