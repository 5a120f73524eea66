// defenses.c: validation and resolved text of [defense.<name>] config sections.
#include "run/defenses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_defense_settings(const CfgDefense *d, DefenseSettings *out) {
    for (int i = 0; i < d->nkeys; i++) {
        snprintf(out->text[i], sizeof out->text[i], "%s=%s", d->key[i], d->value[i]);
        out->ptr[i] = out->text[i];
    }
    out->ptr[d->nkeys] = NULL;
}

const DefenseOps *run_defense_ops(const CfgDefense *d) {
    const DefenseOps *ops = defense_find(d->name);
    for (int i = 0; !ops && i < d->nkeys; i++)
        if (!strcmp(d->key[i], "cmd")) ops = defense_find("external");
    return ops;
}

Status run_defenses_check(const ExperimentConfig *cfg, const char *config_path) {
    for (int i = 0; i < cfg->ndefenses; i++) {
        const CfgDefense *d = &cfg->defenses[i];
        const DefenseOps *ops = run_defense_ops(d);
        if (!ops)
            return bl_fail(BL_ERR_USAGE, "%s:%d: [defense.%s]: unknown defence (known: %s; or any name with a `cmd` "
                           "key for an external one)", config_path, d->line, d->name, defense_known_names());
        int has_cmd = 0;
        for (int k = 0; k < d->nkeys; k++) has_cmd |= !strcmp(d->key[k], "cmd");
        if (ops->level == DEF_ANY && !has_cmd) // before anything trains, not after
            return bl_fail(BL_ERR_USAGE, "%s:%d: [defense.%s]: an external defence needs cmd = <command>", config_path,
                           d->line, d->name);
        if (!cfg->attack.enabled)
            return bl_fail(BL_ERR_USAGE, "%s:%d: [defense.%s]: defences need an [attack] section to defend against",
                           config_path, d->line, d->name);
        DsKind kind = config_data_kind(cfg);
        if (!(ops->kinds & DS_KIND_BIT(kind))) {
            char kinds[64];
            return bl_fail(BL_ERR_USAGE, "%s:%d: [defense.%s]: %s works on %s, but dataset %s holds %s; remove the "
                           "section or choose a defence that supports %s", config_path, d->line, d->name, d->name,
                           config_kinds_text(ops->kinds, kinds, sizeof kinds), cfg->data.dataset, ds_kind_name(kind),
                           ds_kind_name(kind));
        }
        // one key at a time, so the error can name its line
        for (int k = 0; k < d->nkeys; k++) {
            char one[RUN_DEFENSE_SETTING_MAX];
            snprintf(one, sizeof one, "%s=%s", d->key[k], d->value[k]);
            const char *settings[2] = {one, NULL};
            DefenseParams p;
            if (defense_params_resolve(ops, settings, &p))
                return bl_fail_ctx(BL_ERR_USAGE, "%s:%d: [defense.%s] %s", config_path, d->key_line[k], d->name,
                                   d->key[k]);
        }
    }
    return BL_OK;
}

char *run_defenses_resolved(const ExperimentConfig *cfg) {
    size_t cap = 64 + (size_t)cfg->ndefenses * DEFENSE_MAX_PARAMS * (96 + RUN_DEFENSE_SETTING_MAX);
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < cfg->ndefenses; i++) {
        const CfgDefense *d = &cfg->defenses[i];
        const DefenseOps *ops = run_defense_ops(d);
        DefenseSettings s;
        DefenseParams p;
        run_defense_settings(d, &s);
        if (!ops || defense_params_resolve(ops, s.ptr, &p)) continue; // checked before: cannot happen
        len += (size_t)snprintf(out + len, cap - len, "\n[defense.%s]\n", d->name);
        for (int k = 0; k < ops->nparams && len < cap; k++)
            if (ops->params[k].type == DEF_TEXT)
                len += (size_t)snprintf(out + len, cap - len, "%s = %s\n", ops->params[k].key, p.text[k]);
            else
                len += (size_t)snprintf(out + len, cap - len, "%s = %.17g\n", ops->params[k].key, p.value[k]);
    }
    return out;
}
