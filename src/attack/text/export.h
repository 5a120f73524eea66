// export.h: a poisoned messages dataset as files (`backdoorlab poison --format text`): TSV files a user can read,
// diff and train on again (`dataset = text:DIR/train.tsv,DIR/test.tsv`).
#ifndef BL_TEXT_EXPORT_H
#define BL_TEXT_EXPORT_H

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"

// Writes into dir (which exists): train.tsv (every training message in file order, the poisoned ones as poisoned,
// with their labels as poisoned), test.tsv (clean test set), triggered.tsv (the test set with the trigger, true
// labels), poison.csv (man, indices = rows of train.tsv). A row is `label<TAB>words`: the class name, then the
// message as the tokeniser split it (lower-cased words joined by single spaces), so reading it back gives the
// same tokens. Each file atomically.
Status text_export(const char *dir, const Dataset *train, const Dataset *test, const Dataset *triggered,
                   const PoisonManifest *man);

#endif
