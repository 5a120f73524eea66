// textdef.h: what the text defences (src/defense/text/) share: the checks that a run is a text run, the
// messages of a tokens dataset as the model reads them (model ids, first L words), and thresholds for the FRR
// targets from clean scores. Private to src/defense.
#ifndef BL_DEFENSE_TEXTDEF_H
#define BL_DEFENSE_TEXTDEF_H

#include "defense/defense.h"

struct cJSON;

// BL_ERR_USAGE unless d is a tokens dataset with a lexicon (what names the defence in the message).
Status tdef_need_tokens(const Dataset *d, const char *what, const char *defence);
// BL_ERR_USAGE unless m reads tokens: a leading embed layer, a fitted vocabulary and an input of d->c positions.
Status tdef_need_text_model(const Model *m, const Dataset *d, const char *defence);
// Model ids of the first L words of every message of d (batch_load's layout: padding 0, an empty message one
// out-of-vocabulary token) into ids (d->n, L), and each message's count of non-padding positions into len (d->n).
void tdef_load_ids(Model *m, const Dataset *d, float *ids, int *len);
// Thresholds for defense_frr_targets from n clean scores (higher = more suspicious): normal = 1 fits a normal
// distribution to them (STRIP's boundary), 0 takes the empirical upper quantile. Records them in ex (may be NULL)
// under "thresholds". BL_ERR_DATA when the clean scores are not finite or n < 2.
Status tdef_thresholds(const float *cal, int n, int normal, DefenseResult *out, struct cJSON *ex);

#endif
