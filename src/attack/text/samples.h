// samples.h: the samples view of a messages run: a few test messages beside their triggered versions with the
// inserted words marked, as samples.md (for people; the text counterpart of samples.png).
#ifndef BL_TEXT_SAMPLES_H
#define BL_TEXT_SAMPLES_H

#include "core/core.h"
#include "data/dataset.h"

// Up to two test messages per class (the first ones), each as its first words and, for the triggered version,
// the words around every insertion with the inserted words in bold. `max_tokens` marks where the model stops
// reading (an insertion beyond it is shown as unseen). Written atomically.
Status text_write_samples(const char *md_path, const Dataset *test, const Dataset *triggered, int max_tokens);

#endif
