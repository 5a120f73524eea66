// params.c: [attack] keys from the attacks' tables: the shared tables (common keys, patch keys), reading a value
// as its entry says, printing it back, whether a key applies, type-dependent defaults, and the value store that
// attacks without AttackSpec fields read with attack_param().
#include "attack/params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/registry.h"

// ---------------------------------------------------------------------------------------------- value readers
// The same rules as the rest of the config (io/config.c): no blanks around numbers, strtol/strtod, finite.

// Floats (AttackSpec) go through strtof so that printing with the fewest digits round-trips exactly.
static int parse_float(const char *v, float *out) {
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

// Fewest significant digits that read back (strtof) to exactly x.
static void fmt_float(char *buf, size_t cap, float x) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) return;
    }
}

// "X,Y" with non-negative decimal ints, optional blanks around each number.
static int parse_xy(const char *v, int *x, int *y) {
    const char *comma = strchr(v, ',');
    if (!comma || comma - v > 31) return 0;
    char first[32];
    memcpy(first, v, (size_t)(comma - v));
    first[comma - v] = 0;
    // trim both parts
    char *a = first;
    while (isspace((unsigned char)*a)) a++;
    size_t an = strlen(a);
    while (an && isspace((unsigned char)a[an - 1])) a[--an] = 0;
    const char *b = comma + 1;
    while (isspace((unsigned char)*b)) b++;
    char second[32];
    size_t bn = strlen(b);
    if (bn >= sizeof second) return 0;
    memcpy(second, b, bn + 1);
    while (bn && isspace((unsigned char)second[bn - 1])) second[--bn] = 0;
    long lx, ly;
    if (!isdigit((unsigned char)a[0]) || !isdigit((unsigned char)second[0])) return 0;
    if (!bl_parse_long(a, &lx) || !bl_parse_long(second, &ly) || lx > 4095 || ly > 4095) return 0;
    *x = (int)lx;
    *y = (int)ly;
    return 1;
}

// Indexed by TriggerPos except POS_XY ("X,Y") and POS_RANDOM, which are handled apart.
static const char *const pos_names[] = {"bottom-right", "bottom-left", "top-left", "top-right", "center"};

// A trigger position: a named corner, "center", "random" or "X,Y".
static int parse_position(const char *v, TriggerPos *p, int *x, int *y) {
    for (int i = 0; i < (int)BL_ARRAY_LEN(pos_names); i++)
        if (!strcmp(v, pos_names[i])) {
            *p = (TriggerPos)i;
            return 1;
        }
    if (!strcmp(v, "random")) *p = POS_RANDOM;
    else if (parse_xy(v, x, y)) *p = POS_XY;
    else return 0;
    return 1;
}

static int format_position(TriggerPos pos, int x, int y, char *buf, size_t n) {
    if (pos == POS_XY) snprintf(buf, n, "%d,%d", x, y);
    else snprintf(buf, n, "%s", attack_position_name(pos));
    return 1;
}

static int cmp_u8(const void *a, const void *b) { return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b; }

// "3, 5,7": distinct class indices in 0..255, stored ascending. 0 on any malformed, repeated or empty entry.
static int parse_classes(const char *v, uint8_t *out, int *n) {
    char buf[1200];
    if (!*v || strlen(v) >= sizeof buf) return 0;
    memcpy(buf, v, strlen(v) + 1);
    int seen[256] = {0}, k = 0;
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        while (isspace((unsigned char)*tok)) tok++;
        size_t m = strlen(tok);
        while (m && isspace((unsigned char)tok[m - 1])) tok[--m] = 0;
        long c;
        if (!isdigit((unsigned char)tok[0]) || !bl_parse_long(tok, &c) || c > 255 || seen[c]) return 0;
        seen[c] = 1;
        out[k++] = (uint8_t)c;
    }
    qsort(out, (size_t)k, 1, cmp_u8);
    *n = k;
    return 1;
}

// "a, b,c" -> "a,b,c": 1..max non-empty items without blanks inside, each shorter than ATTACK_ITEM_MAX.
static int parse_list(const char *v, int max, char *out, size_t cap) {
    size_t w = 0;
    int count = 0;
    for (const char *s = v;;) {
        while (isspace((unsigned char)*s)) s++;
        const char *e = s;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > s && isspace((unsigned char)t[-1])) t--;
        size_t len = (size_t)(t - s);
        if (count == max || len == 0 || len >= ATTACK_ITEM_MAX || w + len + 2 > cap) return 0;
        for (size_t i = 0; i < len; i++)
            if (isspace((unsigned char)s[i])) return 0;
        if (count) out[w++] = ',';
        memcpy(out + w, s, len);
        w += len;
        out[w] = 0;
        count++;
        if (!*e) break;
        s = e + 1;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------------- shared tables

static int atk_all2one(const AttackSpec *a) { return a->label_mode == LABEL_ALL2ONE; }
static int atk_dirty(const AttackSpec *a) {
    const AttackOps *ops = attack_find(a->type);
    return !ops || !ops->clean_label;
}
static int atk_by_rate(const AttackSpec *a) { return !a->use_count; }
static int is_trigger(const AttackSpec *a, const char *const *kinds) {
    for (; *kinds; kinds++)
        if (!strcmp(a->trigger, *kinds)) return 1;
    return 0;
}
static int patch_sized(const AttackSpec *a) {
    static const char *const k[] = {"square", "checkerboard", "noise", NULL};
    return is_trigger(a, k);
}
static int patch_valued(const AttackSpec *a) {
    static const char *const k[] = {"square", "pixel", "pattern", "checkerboard", NULL};
    return is_trigger(a, k);
}
static int patch_png(const AttackSpec *a) { return !strcmp(a->trigger, "png"); }

static int parse_source_classes(AttackSpec *a, const char *v) {
    return parse_classes(v, a->source_classes, &a->source_count);
}
static int format_source_classes(const AttackSpec *a, char *buf, size_t n) {
    size_t w = 0;
    if (a->source_count <= 0) return 0;
    buf[0] = 0;
    for (int i = 0; i < a->source_count && w < n; i++)
        w += (size_t)snprintf(buf + w, n - w, "%s%d", i ? "," : "", a->source_classes[i]);
    return 1;
}
static int parse_poison_count(AttackSpec *a, const char *v) {
    long l;
    if (!bl_parse_long(v, &l) || l < 0 || l > 2147483647L) return 0;
    a->poison_count = (int)l;
    a->use_count = 1;
    return 1;
}
static int format_poison_count(const AttackSpec *a, char *buf, size_t n) {
    if (!a->use_count) return 0; // poison_rate was used instead
    snprintf(buf, n, "%d", a->poison_count);
    return 1;
}
// Clean-label attacks count the target class; all2all has no target, so it counts everything.
static void settle_base(AttackSpec *a) {
    const AttackOps *ops = attack_find(a->type);
    a->poison_base = ops && ops->clean_label ? BASE_TARGET : a->label_mode == LABEL_ALL2ALL ? BASE_ALL : BASE_NONTARGET;
}

static const char *const label_mode_names[] = {"all2one", "all2all", NULL};
static const char *const base_names[] = {"all", "nontarget", "target", NULL};
static const char *const dirty_why = "dirty-label attacks (badnets, blended, wanet)";

const AttackParam attack_common_params[] = {
    {.key = "target", .type = ATK_INT, .def = "0", .min = 0, .max = 255, .expect = "a class index in 0..255",
     .help = "target class (all2one only)", .field = ATK_FIELD_INT, ATK_AT(target), .applies = atk_all2one,
     .why = "label_mode = all2one (all2all sends class y to y+1)"},
    {.key = "label_mode", .type = ATK_CHOICE, .def = "all2one", .choices = label_mode_names,
     .help = "all2one, or all2all: y -> y+1 mod K (dirty-label attacks)", .field = ATK_FIELD_ENUM,
     ATK_AT(label_mode), .applies = atk_dirty, .why = dirty_why},
    {.key = "source_classes", .type = ATK_CUSTOM, .expect = "a comma-separated list of distinct class indices in 0..255",
     .help = "only these classes are poisoned (and counted by ASR)", .parse = parse_source_classes,
     .format = format_source_classes, .applies = atk_dirty, .why = dirty_why},
    {.key = "poison_rate", .type = ATK_REAL, .def = "0.1", .min = 0, .max = 1, .expect = "a number in [0,1]",
     .help = "fraction of poison_rate_base to poison", .field = ATK_FIELD_FLOAT, ATK_AT(poison_rate),
     .applies = atk_by_rate, .why = "configs without poison_count (they are alternatives: keep one)"},
    {.key = "poison_rate_base", .type = ATK_CHOICE, .def = "nontarget", .choices = base_names,
     .help = "what poison_rate counts: nontarget (dirty-label), target (clean-label) or all (all2all)",
     .field = ATK_FIELD_ENUM, ATK_AT(poison_base), .settle = settle_base},
    {.key = "poison_count", .type = ATK_CUSTOM, .expect = "a number of samples >= 0",
     .help = "poison exactly this many samples instead of poison_rate", .parse = parse_poison_count,
     .format = format_poison_count},
};
const int attack_common_nparams = (int)BL_ARRAY_LEN(attack_common_params);

static int parse_pos(AttackSpec *a, const char *v) { return parse_position(v, &a->position, &a->pos_x, &a->pos_y); }
static int parse_pos_test(AttackSpec *a, const char *v) {
    return parse_position(v, &a->position_test, &a->pos_test_x, &a->pos_test_y);
}
static int format_pos(const AttackSpec *a, char *buf, size_t n) {
    return format_position(a->position, a->pos_x, a->pos_y, buf, n);
}
static int format_pos_test(const AttackSpec *a, char *buf, size_t n) {
    return format_position(a->position_test, a->pos_test_x, a->pos_test_y, buf, n);
}
static void settle_pos_test(AttackSpec *a) { // test images get the training position unless told otherwise
    a->position_test = a->position;
    a->pos_test_x = a->pos_x;
    a->pos_test_y = a->pos_y;
}

static const char *const trigger_kinds[] = {"square", "pixel", "pattern", "checkerboard", "noise", "png", NULL};
static const char *const patch_why = "patch attacks (type = badnets or label-consistent)";
#define POSITION_EXPECT                                                                                           \
    "bottom-right, bottom-left, top-left, top-right, center, random or X,Y (column,row of the patch's top-left "  \
    "corner, 0-based)"

static const AttackParam attack_patch_params[] = {
    {.key = "trigger", .type = ATK_CHOICE, .def = "square", .choices = trigger_kinds,
     .help = "patch kind (pattern: ART's 4 pixels; png: trigger_png, its alpha channel is the mask)",
     .field = ATK_FIELD_TEXT, ATK_AT(trigger), .why = patch_why},
    {.key = "trigger_size", .type = ATK_INT, .def = "3", .min = 1, .max = 4096, .expect = "an integer in 1..4096",
     .help = "patch side in pixels", .field = ATK_FIELD_INT, ATK_AT(trigger_size), .applies = patch_sized,
     .why = "trigger = square, checkerboard or noise"},
    {.key = "trigger_png", .type = ATK_STRING, .max = ATTACK_PATH_MAX - 1, ATTACK_PATH_EXPECT,
     .help = "the patch as a PNG (alpha channel = mask)", .field = ATK_FIELD_TEXT, ATK_AT(trigger_png),
     .applies = patch_png, .why = ATTACK_TRIGGER_PNG_WHY},
    {.key = "trigger_value", .type = ATK_REAL, .def = "1", .min = 0, .max = 1, .expect = "a pixel value in [0,1]",
     .help = "value of the patch's \"on\" pixels", .field = ATK_FIELD_FLOAT, ATK_AT(trigger_value),
     .applies = patch_valued, .why = "trigger = square, pixel, pattern or checkerboard"},
    {.key = "position", .type = ATK_CUSTOM, .def = "bottom-right", .expect = POSITION_EXPECT,
     .help = "where the patch goes on training images", .parse = parse_pos, .format = format_pos, .why = patch_why},
    {.key = "position_test", .type = ATK_CUSTOM, .def = "bottom-right", .expect = POSITION_EXPECT,
     .help = "where it goes on test images (default: position)", .parse = parse_pos_test, .format = format_pos_test,
     .settle = settle_pos_test, .why = patch_why},
    {.key = "alpha_train", .type = ATK_REAL, .def = "1", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "a blend weight in (0,1]", .help = "blend weight on training images", .field = ATK_FIELD_FLOAT,
     ATK_AT(alpha_train)},
    {.key = "alpha_test", .type = ATK_REAL, .def = "1", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "a blend weight in (0,1]", .help = "blend weight on test images", .field = ATK_FIELD_FLOAT,
     ATK_AT(alpha_test)},
};
const AttackParamGroup attack_patch_keys = {attack_patch_params, (int)BL_ARRAY_LEN(attack_patch_params)};

// ---------------------------------------------------------------------------------------------- lookups

static int nshared(const AttackOps *ops) { return ops->shared ? ops->shared->n : 0; }

int attack_param_count(const AttackOps *ops) { return ops ? nshared(ops) + ops->nparams + attack_common_nparams : 0; }

const AttackParam *attack_param_at(const AttackOps *ops, int i) {
    if (!ops || i < 0) return NULL;
    if (i < nshared(ops)) return &ops->shared->params[i];
    i -= nshared(ops);
    if (i < ops->nparams) return &ops->params[i];
    i -= ops->nparams;
    return i < attack_common_nparams ? &attack_common_params[i] : NULL;
}

const AttackParam *attack_param_find(const AttackOps *ops, const char *key) {
    for (int i = 0, n = attack_param_count(ops); i < n; i++)
        if (!strcmp(attack_param_at(ops, i)->key, key)) return attack_param_at(ops, i);
    return NULL;
}

const AttackParam *attack_param_any(const char *key) {
    for (int i = 0; i < attack_count(); i++) {
        const AttackParam *p = attack_param_find(attack_at(i), key);
        if (p) return p;
    }
    return NULL;
}

#define ATTACK_MAX_KEYS 64 // distinct [attack] keys over all registered attacks (io/config.h keeps their lines)
static const char *g_keys[ATTACK_MAX_KEYS];
static int g_nkeys;

static void add_key(const char *key) {
    for (int i = 0; i < g_nkeys; i++)
        if (!strcmp(g_keys[i], key)) return;
    if (g_nkeys < ATTACK_MAX_KEYS) g_keys[g_nkeys++] = key; // test_config checks that every key fits
}

// "type", then each attack's shared and own keys in registry order, then the common keys.
static void build_keys(void) {
    if (g_nkeys) return;
    add_key("type");
    for (int i = 0; i < attack_count(); i++) {
        const AttackOps *ops = attack_at(i);
        for (int j = 0; j < nshared(ops) + ops->nparams; j++) add_key(attack_param_at(ops, j)->key);
    }
    for (int j = 0; j < attack_common_nparams; j++) add_key(attack_common_params[j].key);
}

static char g_key_list[512]; // attack_key_list, built on first use

void attack_keys_changed(void) {
    g_nkeys = 0;
    g_key_list[0] = 0;
}

int attack_key_count(void) {
    build_keys();
    return g_nkeys;
}

const char *attack_key_name(int i) {
    build_keys();
    return i >= 0 && i < g_nkeys ? g_keys[i] : NULL;
}

int attack_key_index(const char *key) {
    build_keys();
    for (int i = 0; i < g_nkeys; i++)
        if (!strcmp(g_keys[i], key)) return i;
    return -1;
}

const char *attack_key_list(void) {
    build_keys();
    if (!g_key_list[0])
        for (int i = 0, w = 0; i < g_nkeys && w < (int)sizeof g_key_list; i++)
            w += snprintf(g_key_list + w, sizeof g_key_list - (size_t)w, "%s%s", i ? ", " : "", g_keys[i]);
    return g_key_list;
}

// ---------------------------------------------------------------------------------------------- values

static AttackValue *store_find(const AttackSpec *a, const char *key) {
    for (int i = 0; i < a->nvalues && i < ATTACK_MAX_VALUES; i++)
        if (!strcmp(a->values[i].key, key)) return (AttackValue *)&a->values[i];
    return NULL;
}

static int store_put(AttackSpec *a, const char *key, double num, const char *text) {
    AttackValue *s = store_find(a, key);
    if (!s) {
        if (a->nvalues >= ATTACK_MAX_VALUES || strlen(key) >= sizeof s->key) return 0;
        s = &a->values[a->nvalues++];
        memset(s, 0, sizeof *s);
        memcpy(s->key, key, strlen(key) + 1);
    }
    s->num = num;
    snprintf(s->text, sizeof s->text, "%s", text);
    return 1;
}

static void store_drop(AttackSpec *a, int i) {
    memmove(&a->values[i], &a->values[i + 1], (size_t)(a->nvalues - i - 1) * sizeof a->values[0]);
    a->nvalues--;
    memset(&a->values[a->nvalues], 0, sizeof a->values[0]);
}

static int choice_count(const AttackParam *p) {
    int n = 0;
    while (p->choices && p->choices[n]) n++;
    return n;
}

const char *attack_param_expect(const AttackParam *p, char *buf, size_t n) {
    if (p->expect) {
        snprintf(buf, n, "%s", p->expect);
        return buf;
    }
    switch (p->type) {
    case ATK_INT: snprintf(buf, n, "an integer in %.0f..%.0f", p->min, p->max); break;
    case ATK_REAL:
        snprintf(buf, n, "a number in %c%g,%g%c", p->flags & ATK_MIN_OPEN ? '(' : '[', p->min, p->max,
                 p->flags & ATK_MAX_OPEN ? ')' : ']');
        break;
    case ATK_CHOICE: {
        size_t w = (size_t)snprintf(buf, n, "one of ");
        for (int i = 0; p->choices && p->choices[i] && w < n; i++)
            w += (size_t)snprintf(buf + w, n - w, "%s%s", i ? "|" : "", p->choices[i]);
        break;
    }
    case ATK_STRING:
        snprintf(buf, n, "text of 1..%.0f characters, not starting with ';' or '#'", p->max);
        break;
    case ATK_LIST:
        snprintf(buf, n, "a comma-separated list of 1..%.0f items (no blanks inside, each under %d characters)",
                 p->max, ATTACK_ITEM_MAX);
        break;
    case ATK_CUSTOM: snprintf(buf, n, "a valid value"); break;
    }
    return buf;
}

static void *field_ptr(AttackSpec *a, const AttackParam *p) { return (char *)a + p->offset; }
static const void *field_cptr(const AttackSpec *a, const AttackParam *p) { return (const char *)a + p->offset; }

int attack_param_set(AttackSpec *a, const AttackParam *p, const char *v) {
    long l = 0;
    float f = 0.0f;
    int idx = -1;
    char list[ATTACK_VALUE_MAX];
    switch (p->type) {
    case ATK_CUSTOM: return p->parse && p->parse(a, v);
    case ATK_INT:
        if (!bl_parse_long(v, &l) || (double)l < p->min || (double)l > p->max) return 0;
        if (p->field == ATK_FIELD_INT) *(int *)field_ptr(a, p) = (int)l;
        break;
    case ATK_REAL: {
        if (!parse_float(v, &f)) return 0;
        double x = (double)f;
        if ((p->flags & ATK_MIN_OPEN) ? !(x > p->min) : !(x >= p->min)) return 0;
        if ((p->flags & ATK_MAX_OPEN) ? !(x < p->max) : !(x <= p->max)) return 0;
        if (p->field == ATK_FIELD_FLOAT) *(float *)field_ptr(a, p) = f;
        break;
    }
    case ATK_CHOICE:
        for (int i = 0; p->choices && p->choices[i]; i++)
            if (!strcmp(v, p->choices[i])) idx = i;
        if (idx < 0) return 0;
        if (p->field == ATK_FIELD_ENUM) *(int *)field_ptr(a, p) = idx; // enums are int-sized (C11 6.7.2.2)
        if (p->field == ATK_FIELD_TEXT) snprintf(field_ptr(a, p), p->size, "%s", p->choices[idx]);
        v = p->choices[idx];
        break;
    case ATK_STRING:
        if (!*v || *v == ';' || *v == '#' || (double)strlen(v) > p->max) return 0;
        if (p->field == ATK_FIELD_TEXT) {
            if (strlen(v) >= p->size) return 0;
            memcpy(field_ptr(a, p), v, strlen(v) + 1);
        }
        break;
    case ATK_LIST:
        if (!parse_list(v, (int)p->max, list, sizeof list)) return 0;
        v = list;
        break;
    }
    if (p->field != ATK_FIELD_NONE) return 1;
    if (strlen(v) >= ATTACK_VALUE_MAX) return 0;
    double num = p->type == ATK_INT ? (double)l : p->type == ATK_REAL ? (double)f : p->type == ATK_CHOICE ? idx : 0.0;
    return store_put(a, p->key, num, v);
}

int attack_param_format(const AttackSpec *a, const AttackParam *p, char *buf, size_t n) {
    if (p->type == ATK_CUSTOM) return p->format && p->format(a, buf, n);
    const AttackValue *s = p->field == ATK_FIELD_NONE ? store_find(a, p->key) : NULL;
    if (p->field == ATK_FIELD_NONE && !s) return 0;
    switch (p->type) {
    case ATK_INT: snprintf(buf, n, "%d", s ? (int)s->num : *(const int *)field_cptr(a, p)); break;
    case ATK_REAL: fmt_float(buf, n, s ? (float)s->num : *(const float *)field_cptr(a, p)); break;
    case ATK_CHOICE: {
        if (s || p->field == ATK_FIELD_TEXT) {
            snprintf(buf, n, "%s", s ? s->text : (const char *)field_cptr(a, p));
            break;
        }
        int i = *(const int *)field_cptr(a, p);
        snprintf(buf, n, "%s", i >= 0 && i < choice_count(p) ? p->choices[i] : "?");
        break;
    }
    case ATK_STRING:
    case ATK_LIST: snprintf(buf, n, "%s", s ? s->text : (const char *)field_cptr(a, p)); break;
    case ATK_CUSTOM: break;
    }
    return buf[0] != 0; // an empty path is an unset one (surrogate: train one in-process)
}

int attack_key_applies(const AttackSpec *a, const char *key, char *why, size_t n) {
    if (n) why[0] = 0;
    if (!strcmp(key, "type")) return 1;
    const AttackParam *p = attack_param_find(attack_find(a->type), key);
    if (p && (!p->applies || p->applies(a))) return 1;
    if (!p) p = attack_param_any(key);
    if (p && p->why) {
        snprintf(why, n, "%s", p->why);
        return 0;
    }
    // "type = a, b or c": the attacks that take the key
    int count = 0, taken = 0;
    for (int i = 0; i < attack_count(); i++) count += attack_param_find(attack_at(i), key) != NULL;
    size_t w = (size_t)snprintf(why, n, "type = ");
    for (int i = 0; i < attack_count() && w < n; i++) {
        if (!attack_param_find(attack_at(i), key)) continue;
        taken++;
        w += (size_t)snprintf(why + w, n - w, "%s%s", taken == 1 ? "" : taken == count ? " or " : ", ",
                              attack_at(i)->name);
    }
    return 0;
}

void attack_params_settle(AttackSpec *a, int (*is_set)(void *ctx, const char *key), void *ctx) {
    const AttackOps *ops = attack_find(a->type);
    if (!ops) return;
    for (int i = a->nvalues - 1; i >= 0; i--) {
        const AttackParam *p = attack_param_find(ops, a->values[i].key);
        if (!p || !attack_param_stored(p)) store_drop(a, i);
    }
    for (int i = 0, n = attack_param_count(ops); i < n; i++) {
        const AttackParam *p = attack_param_at(ops, i);
        if (is_set && is_set(ctx, p->key)) continue;
        if (p->settle) p->settle(a);
        else if (p->def) attack_param_set(a, p, p->def); // defaults are valid by construction (test_config)
    }
}

void attack_spec_defaults(AttackSpec *a, const char *type) {
    memset(a, 0, sizeof *a);
    snprintf(a->type, sizeof a->type, "%s", type ? type : "badnets");
    // Every AttackSpec field takes its first declaration's default, so a spec is complete for whatever reads it;
    // then the type's own defaults (blended's alpha 0.2, the clean-label poison base) and its store values.
    for (int i = 0; i < attack_count(); i++)
        for (int j = 0, n = attack_param_count(attack_at(i)); j < n; j++) {
            const AttackParam *p = attack_param_at(attack_at(i), j);
            if (!attack_param_stored(p) && p->def && attack_param_any(p->key) == p) attack_param_set(a, p, p->def);
        }
    attack_params_settle(a, NULL, NULL);
}

// ---------------------------------------------------------------------------------------------- reading values

double attack_param(const AttackSpec *a, const char *key) {
    const AttackValue *s = store_find(a, key);
    return s ? s->num : NAN; // NaN makes asking for an undeclared key loud
}

const char *attack_param_str(const AttackSpec *a, const char *key) {
    const AttackValue *s = store_find(a, key);
    return s ? s->text : "";
}

int attack_param_list(const AttackSpec *a, const char *key, char items[][ATTACK_ITEM_MAX], int max) {
    const char *s = attack_param_str(a, key);
    int n = 0;
    while (*s && n < max) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len >= ATTACK_ITEM_MAX) len = ATTACK_ITEM_MAX - 1;
        memcpy(items[n], s, len);
        items[n++][len] = 0;
        if (!e) break;
        s = e + 1;
    }
    return n;
}
