// params.h: an attack's [attack] keys, declared in a table in the attack's own file, as a defence declares its
// parameters (defense/defense.h). The config reader (io/config.c) knows no attack key: it looks each one up here,
// parses it with the table's type and range, asks whether it applies to the attack as configured, and writes the
// resolved config from the same tables.
//
// Every attack takes `type` (the registry name, handled by the reader), the keys in attack_common_params (target,
// label_mode, source_classes, poison_rate, poison_rate_base, poison_count), optionally one shared group
// (attack_patch_keys for patch triggers), and its own table. config.resolved.ini prints them in that order:
// type, shared group, own keys, common keys.
//
// Where a value lives: the existing attacks map each key to an AttackSpec field (`field`, `offset`); a new attack
// leaves `field` at ATK_FIELD_NONE and its values go to the AttackSpec's value store, read back by key with
// attack_param(), attack_param_str() and attack_param_list(). A key declared by several attacks must have the same
// type and storage in each (ranges, defaults and `applies` may differ); test_config checks this.
#ifndef BL_ATTACK_PARAMS_H
#define BL_ATTACK_PARAMS_H

#include <stddef.h>

#include "attack/attack.h"

typedef enum {
    ATK_INT,    // whole number in [min, max]
    ATK_REAL,   // number in [min, max], ends open with ATK_MIN_OPEN / ATK_MAX_OPEN; read as a float (strtof)
    ATK_CHOICE, // one of `choices`; stored as its index (and its name)
    ATK_STRING, // text of 1..max characters not starting with ';' or '#' (a file path, a name)
    ATK_LIST,   // comma-separated items without blanks inside, 1..max of them; stored joined by ","
    ATK_CUSTOM, // parsed and printed by the entry's parse / format callbacks (trigger positions, class lists)
} AttackParamType;

#define ATK_MIN_OPEN 1u // ATK_REAL: the value must be > min (default: >= min)
#define ATK_MAX_OPEN 2u // ATK_REAL: the value must be < max (default: <= max)

// Where a parsed value is kept.
typedef enum {
    ATK_FIELD_NONE = 0, // the AttackSpec value store (new attacks: no AttackSpec field needed)
    ATK_FIELD_INT,      // an int field (ATK_INT)
    ATK_FIELD_FLOAT,    // a float field (ATK_REAL)
    ATK_FIELD_ENUM,     // an enum field holding the choice's index (ATK_CHOICE)
    ATK_FIELD_TEXT,     // a char[size] field (ATK_STRING, or ATK_CHOICE kept by name)
} AttackField;

typedef struct AttackParam {
    const char *key;            // the [attack] key, e.g. "trigger_size"
    AttackParamType type;       // how the value is read
    const char *def;            // default, as config text ("3", "0.2", "square"); NULL = unset (not printed)
    double min, max;            // ATK_INT / ATK_REAL range; ATK_STRING: max length; ATK_LIST: max items
    unsigned flags;             // ATK_MIN_OPEN | ATK_MAX_OPEN
    const char *const *choices; // ATK_CHOICE: the names, NULL-terminated
    const char *expect;         // the error's "expected ..." text; NULL = said from the type and range
    const char *help;           // one line for the README and --help
    AttackField field;          // ATK_FIELD_NONE = value store; otherwise an AttackSpec field at `offset`
    size_t offset, size;        // offsetof(AttackSpec, field) and sizeof the field (ATK_FIELD_TEXT)
    int (*applies)(const AttackSpec *a); // NULL = whenever the attack takes the key; else 0 when, as configured,
                                         // the key is meaningless (e.g. trigger_size for trigger = pixel)
    const char *why;            // "applies only to <why>"; NULL = "type = <the attacks that take it>"
    int (*parse)(AttackSpec *a, const char *v);             // ATK_CUSTOM: set the value, 0 = malformed
    int (*format)(const AttackSpec *a, char *buf, size_t n); // ATK_CUSTOM: the value as text, 0 = not printed
    void (*settle)(AttackSpec *a); // the default when it depends on other keys (used instead of def)
} AttackParam;

// Table helpers: `ATK_AT(trigger_size)` fills offset and size for an AttackSpec field.
#define ATK_AT(f) .offset = offsetof(AttackSpec, f), .size = sizeof(((AttackSpec *)0)->f)
// What the patch attacks and blended share about trigger_png and other paths.
#define ATTACK_PATH_EXPECT .expect = "a file path of 1..4095 characters, not starting with ';' or '#'"
#define ATTACK_TRIGGER_PNG_WHY "trigger = png (badnets, label-consistent) or key = png (blended)"

// A shared group of keys, referenced from the AttackOps of each attack that takes it.
typedef struct {
    const AttackParam *params; // the entries
    int n;                     // their number
} AttackParamGroup;

// 1 when p's value lives in the AttackSpec value store (no field, not custom).
static inline int attack_param_stored(const AttackParam *p) { return p->field == ATK_FIELD_NONE && p->type != ATK_CUSTOM; }

// Shared tables (attack/params.c).
extern const AttackParam attack_common_params[]; // every attack: target, label_mode, source_classes, poison_*
extern const int attack_common_nparams;
extern const AttackParamGroup attack_patch_keys; // patch triggers: trigger, trigger_size, ..., alpha_test

struct AttackOps; // attack/registry.h

// The keys an attack takes, in resolved-config order (shared group, own, common); i in 0..count-1.
int attack_param_count(const struct AttackOps *ops);
const AttackParam *attack_param_at(const struct AttackOps *ops, int i);
// The entry for `key` in ops's tables, or NULL when ops does not take it.
const AttackParam *attack_param_find(const struct AttackOps *ops, const char *key);
// The first registered attack's entry for `key` (to read a value before `type` is known), or NULL.
const AttackParam *attack_param_any(const char *key);

// Every [attack] key some registered attack takes, "type" first (index 0), each once, in registry order; the
// config reader keeps the line of each by this index.
int attack_key_count(void);
const char *attack_key_name(int i);
int attack_key_index(const char *key); // -1 when no attack takes it
// "type, trigger, ..." for the unknown-key message.
const char *attack_key_list(void);
// Forget the cached key list (attack_register calls it).
void attack_keys_changed(void);

// Read `v` into *a as p says. 0 when malformed or out of range (the message is attack_param_expect) or when the
// value store is full.
int attack_param_set(AttackSpec *a, const AttackParam *p, const char *v);
// What p accepts, e.g. "an integer in 1..4096", into buf.
const char *attack_param_expect(const AttackParam *p, char *buf, size_t n);
// p's value in *a as config text (fewest digits that read back the same); 0 = not printed (unset).
int attack_param_format(const AttackSpec *a, const AttackParam *p, char *buf, size_t n);
// Whether `key` applies to *a as configured (its type takes it and the entry's applies() agrees). When it does
// not, *why says what it applies to ("type = sig", "trigger = square, checkerboard or noise").
int attack_key_applies(const AttackSpec *a, const char *key, char *why, size_t n);

// Type-dependent defaults: every key of a->type that is_set(ctx, key) says was not set takes its default (def or
// settle); store values of keys a->type does not take are dropped. attack_spec_defaults runs it with nothing set.
void attack_params_settle(AttackSpec *a, int (*is_set)(void *ctx, const char *key), void *ctx);

// A new attack's values (ATK_FIELD_NONE keys), by key. attack_param: ATK_INT, ATK_REAL, or ATK_CHOICE's index
// (NAN when the attack has no such value); attack_param_str: ATK_STRING, ATK_LIST joined by ",", ATK_CHOICE's name
// ("" when none); attack_param_list: the items of an ATK_LIST into items (at most max), their number.
double attack_param(const AttackSpec *a, const char *key);
const char *attack_param_str(const AttackSpec *a, const char *key);
int attack_param_list(const AttackSpec *a, const char *key, char items[][ATTACK_ITEM_MAX], int max);

#endif
