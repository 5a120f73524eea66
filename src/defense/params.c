// params.c: a defence's parameters: defaults from its spec table, then "key=value" overrides (from a
// [defense.<name>] config section or `detect --set`). Unknown keys, out-of-range values and fractions given to
// integer parameters (DEF_INT in the spec) are errors that name the key and say what is allowed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defense/defense.h"

static int find_key(const DefenseOps *ops, const char *key, size_t len) {
    for (int i = 0; i < ops->nparams; i++)
        if (strlen(ops->params[i].key) == len && !strncmp(ops->params[i].key, key, len)) return i;
    return -1;
}

static void known_keys(const DefenseOps *ops, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < ops->nparams && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", ops->params[i].key);
    if (!ops->nparams) snprintf(buf, n, "(none)");
}

Status defense_params_resolve(const DefenseOps *ops, const char *const *settings, DefenseParams *out) {
    memset(out, 0, sizeof *out);
    if (!ops) return bl_fail(BL_ERR_USAGE, "defence parameters: no defence given");
    if (ops->nparams < 0 || ops->nparams > DEFENSE_MAX_PARAMS)
        return bl_fail(BL_ERR_USAGE, "defence '%s' declares %d parameters (at most %d)", ops->name, ops->nparams,
                       DEFENSE_MAX_PARAMS);
    out->n = ops->nparams;
    for (int i = 0; i < ops->nparams; i++) out->value[i] = ops->params[i].def, out->text[i] = "";
    char keys[512];
    for (int s = 0; settings && settings[s]; s++) {
        const char *kv = settings[s], *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return bl_fail(BL_ERR_USAGE, "defence '%s': setting '%s' is not key=value", ops->name, kv);
        size_t klen = (size_t)(eq - kv);
        while (klen > 0 && (kv[klen - 1] == ' ' || kv[klen - 1] == '\t')) klen--;
        int i = find_key(ops, kv, klen);
        if (i < 0) {
            known_keys(ops, keys, sizeof keys);
            return bl_fail(BL_ERR_USAGE, "defence '%s': unknown parameter '%.*s' (known: %s)", ops->name, (int)klen,
                           kv, keys);
        }
        const char *val = eq + 1;
        while (*val == ' ' || *val == '\t') val++;
        if (ops->params[i].type == DEF_TEXT) {
            if (!*val) return bl_fail(BL_ERR_USAGE, "defence '%s': parameter %s is empty", ops->name, ops->params[i].key);
            out->text[i] = val;
            continue;
        }
        char *end;
        double v = strtod(val, &end);
        while (*end == ' ' || *end == '\t') end++;
        const DefenseParamSpec *p = &ops->params[i];
        if (end == val || *end || !isfinite(v))
            return bl_fail(BL_ERR_USAGE, "defence '%s': parameter %s: expected a number in [%g, %g], got '%s'",
                           ops->name, p->key, p->min, p->max, val);
        if (p->type == DEF_INT && v != floor(v))
            return bl_fail(BL_ERR_USAGE, "defence '%s': parameter %s: expected an integer in [%g, %g], got '%s' (%s)",
                           ops->name, p->key, p->min, p->max, val, p->help);
        if (v < p->min || v > p->max)
            return bl_fail(BL_ERR_USAGE, "defence '%s': parameter %s = %g is out of range [%g, %g] (%s)", ops->name,
                           p->key, v, p->min, p->max, p->help);
        out->value[i] = v;
    }
    return BL_OK;
}

const char *defense_param_text(const DefenseOps *ops, const DefenseParams *p, const char *key) {
    int i = find_key(ops, key, strlen(key));
    return i < 0 || i >= p->n || !p->text[i] ? "" : p->text[i];
}

double defense_param(const DefenseOps *ops, const DefenseParams *p, const char *key) {
    int i = find_key(ops, key, strlen(key));
    // a defence asking for a key it did not declare is a programming error; NaN makes it loud
    return i < 0 || i >= p->n ? NAN : p->value[i];
}

void defense_params_describe(const DefenseOps *ops, char *buf, size_t n) {
    size_t len = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < ops->nparams && len < n; i++) {
        const DefenseParamSpec *p = &ops->params[i];
        char range[64];
        snprintf(range, sizeof range, "[%g, %g]%s", p->min, p->max, p->type == DEF_INT ? " (integer)" : "");
        if (p->type == DEF_TEXT)
            len += (size_t)snprintf(buf + len, n - len, "  %-18s %-8s %-24s %s\n", p->key, "-", "(text)", p->help);
        else
            len += (size_t)snprintf(buf + len, n - len, "  %-18s %-8g %-24s %s\n", p->key, p->def, range, p->help);
    }
}
