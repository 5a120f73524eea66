// attack.c: AttackSpec names, and the poison manifest (poison.csv).
#include "attack/attack.h"
#include "io/atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// attack_spec_defaults is in params.c: the defaults come from the attacks' key tables.

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
