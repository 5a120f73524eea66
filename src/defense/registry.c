// registry.c: the table of defences. Adding a defence is one file (src/defense/<name>.c defining
// `const DefenseOps <name>_defense`) and one line in DEFENSE_LIST below.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defense/defense.h"

#include <cjson/cJSON.h>

// One line per defence: X(<the DefenseOps variable>). Order = the order of `--help` and reports.
#define DEFENSE_LIST(X)        \
    X(ac_defense)              \
    X(spectral_defense)        \
    X(loss_isolation_defense)  \
    X(strip_defense)           \
    X(confidence_defense)      \
    X(zdef_defense)            \
    X(strip_text_defense)      \
    X(onion_defense)           \
    X(rap_defense)             \
    X(neural_cleanse_defense)  \
    X(filter_retrain_defense)  \
    X(fine_tune_defense)       \
    X(fine_prune_defense)      \
    X(nc_unlearn_defense)      \
    X(external_defense)

#define DEFENSE_DECLARE(v) extern const DefenseOps v;
DEFENSE_LIST(DEFENSE_DECLARE)
#define DEFENSE_ENTRY(v) &v,
static const DefenseOps *const g_defenses[] = {DEFENSE_LIST(DEFENSE_ENTRY)};

const double defense_frr_targets[DEFENSE_NFRR] = {0.005, 0.01, 0.02, 0.03};

int defense_count(void) { return (int)BL_ARRAY_LEN(g_defenses); }

const DefenseOps *defense_at(int i) { return i >= 0 && i < defense_count() ? g_defenses[i] : NULL; }

const DefenseOps *defense_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < defense_count(); i++)
        if (!strcmp(g_defenses[i]->name, name)) return g_defenses[i];
    return NULL;
}

const char *defense_known_names(void) {
    static char buf[1024];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < defense_count() && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", g_defenses[i]->name);
    return buf;
}

const char *defense_level_name(DefenseLevel level) {
    switch (level) {
    case DEF_SAMPLES: return "samples";
    case DEF_MODEL: return "model";
    case DEF_INPUTS: return "inputs";
    case DEF_MITIGATION: return "mitigation";
    case DEF_ANY: return "any";
    }
    return "?";
}

void defense_result_free(DefenseResult *r) {
    if (!r) return;
    free(r->sample_score);
    free(r->sample_flag);
    free(r->label_stat);
    free(r->anomaly_index);
    free(r->reversed_mask);
    free(r->input_score);
    if (r->repaired) {
        model_free(r->repaired);
        free(r->repaired);
    }
    if (r->extra_json) cJSON_Delete((cJSON *)r->extra_json);
    memset(r, 0, sizeof *r);
}

void defense_note(DefenseResult *r, const char *fmt, ...) {
    size_t len = strlen(r->notes);
    if (len + 2 >= sizeof r->notes) return;
    if (len) r->notes[len++] = ';', r->notes[len++] = ' ', r->notes[len] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes + len, sizeof r->notes - len, fmt, ap);
    va_end(ap);
}
