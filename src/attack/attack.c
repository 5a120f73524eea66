// attack.c: AttackSpec defaults and names, and the poison manifest (poison.csv).
#include "attack/attack.h"
#include "io/atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void attack_spec_defaults(AttackSpec *a, const char *type) {
    memset(a, 0, sizeof *a);
    snprintf(a->type, sizeof a->type, "%s", type ? type : "badnets");
    snprintf(a->trigger, sizeof a->trigger, "square");
    a->trigger_size = 3;
    a->position = a->position_test = POS_BOTTOM_RIGHT;
    a->trigger_value = 1.0f;
    a->target = 0;
    a->label_mode = LABEL_ALL2ONE;
    a->poison_rate = 0.1f;
    a->poison_base = BASE_NONTARGET;
    a->key = KEY_NOISE;
    a->alpha_train = a->alpha_test = 1.0f;
    a->delta = 40.0f / 255.0f;
    a->frequency = 6.0f;
    a->k = 4;
    a->s = 0.5f;
    a->cross_ratio = 2.0f;
    a->eps = 8.0f / 255.0f;
    a->steps = 10;
    if (!strcmp(a->type, "blended")) a->alpha_train = a->alpha_test = 0.2f;
    if (!strcmp(a->type, "sig") || !strcmp(a->type, "label-consistent")) a->poison_base = BASE_TARGET;
}

int attack_is_source(const AttackSpec *a, int y) {
    if (a->source_count <= 0) return 1;
    for (int i = 0; i < a->source_count && i < 256; i++)
        if (a->source_classes[i] == y) return 1;
    return 0;
}

const char *attack_position_name(TriggerPos p) {
    static const char *const names[] = {"bottom-right", "bottom-left", "top-left", "top-right", "center", "x,y",
                                        "random"};
    return (unsigned)p < BL_ARRAY_LEN(names) ? names[p] : "?";
}

const char *attack_base_name(PoisonBase b) {
    static const char *const names[] = {"all", "nontarget", "target"};
    return (unsigned)b < BL_ARRAY_LEN(names) ? names[b] : "?";
}

const char *attack_label_mode_name(LabelMode m) {
    static const char *const names[] = {"all2one", "all2all"};
    return (unsigned)m < BL_ARRAY_LEN(names) ? names[m] : "?";
}

void poison_manifest_free(PoisonManifest *m) {
    if (!m) return;
    bl_free(m->records);
    bl_free(m->positions);
    bl_free(m->noise_orig_index);
    memset(m, 0, sizeof *m);
}

Status poison_manifest_write_csv(const PoisonManifest *m, const char *path) {
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    errno = 0;
    int ok = fputs("index,original_label,new_label\n", af.f) >= 0;
    for (int i = 0; ok && i < m->count; i++)
        ok = fprintf(af.f, "%d,%d,%d\n", m->records[i].orig_index, m->records[i].orig_label,
                     m->records[i].new_label) > 0;
    return atomic_commit(&af, ok);
}
