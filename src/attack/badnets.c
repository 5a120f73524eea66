// badnets.c: square-patch trigger, poisoning plan and poison manifest.
#include "attack/badnets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"

// Top-left corner (x = column, y = row) of an s x s patch in an h x w image.
static void patch_origin(const AttackSpec *a, int h, int w, int *x, int *y) {
    int s = a->trigger_size;
    switch (a->position) {
    case POS_BOTTOM_RIGHT: *x = w - s; *y = h - s; break;
    case POS_BOTTOM_LEFT: *x = 0; *y = h - s; break;
    case POS_TOP_LEFT: *x = 0; *y = 0; break;
    case POS_TOP_RIGHT: *x = w - s; *y = 0; break;
    case POS_CENTER: *x = (w - s) / 2; *y = (h - s) / 2; break;
    case POS_XY: *x = a->pos_x; *y = a->pos_y; break;
    default: *x = -1; *y = -1; break;
    }
}

static const char *pos_name(TriggerPos p) {
    switch (p) {
    case POS_BOTTOM_RIGHT: return "bottom-right";
    case POS_BOTTOM_LEFT: return "bottom-left";
    case POS_TOP_LEFT: return "top-left";
    case POS_TOP_RIGHT: return "top-right";
    case POS_CENTER: return "center";
    case POS_XY: return "x,y";
    }
    return "?";
}

Status badnets_check(const AttackSpec *a, const Dataset *d) {
    if (a->type[0] && strcmp(a->type, "badnets") != 0)
        return bl_fail(BL_ERR_USAGE, "attack type '%s' is not supported (only 'badnets')", a->type);
    if (a->trigger[0] && strcmp(a->trigger, "square") != 0)
        return bl_fail(BL_ERR_USAGE, "attack trigger '%s' is not supported by badnets (only 'square')", a->trigger);
    if (a->label_mode != LABEL_ALL2ONE && a->label_mode != LABEL_ALL2ALL)
        return bl_fail(BL_ERR_USAGE, "attack label_mode %d is invalid", (int)a->label_mode);
    if (a->poison_base != BASE_ALL && a->poison_base != BASE_NONTARGET)
        return bl_fail(BL_ERR_USAGE, "attack poison_base %d is invalid", (int)a->poison_base);
    if ((int)a->position < (int)POS_BOTTOM_RIGHT || (int)a->position > (int)POS_XY)
        return bl_fail(BL_ERR_USAGE, "attack position %d is invalid", (int)a->position);
    if (d->num_classes < 2 || a->target < 0 || a->target >= d->num_classes)
        return bl_fail(BL_ERR_USAGE, "attack target %d is outside 0..%d (the dataset has %d classes); set target "
                       "to an existing class", a->target, d->num_classes - 1, d->num_classes);
    if (!(a->trigger_value >= 0.0f && a->trigger_value <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "attack trigger_value %g is outside [0, 1]", (double)a->trigger_value);
    int s = a->trigger_size;
    if (s < 1 || s > d->h || s > d->w)
        return bl_fail(BL_ERR_USAGE, "attack trigger_size %d does not fit %dx%d images (use 1..%d)", s, d->h, d->w,
                       BL_MIN(d->h, d->w));
    int x, y;
    patch_origin(a, d->h, d->w, &x, &y);
    if (x < 0 || y < 0 || x > d->w - s || y > d->h - s)
        return bl_fail(BL_ERR_USAGE,
                       "attack trigger at %s (x=%d, y=%d) with size %d falls outside the %dx%d image; "
                       "x must be in 0..%d and y in 0..%d",
                       pos_name(a->position), x, y, s, d->w, d->h, d->w - s, d->h - s);
    if (!(a->poison_rate >= 0.0f && a->poison_rate <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "attack poison_rate %g is outside [0, 1]", (double)a->poison_rate);
    return BL_OK;
}

void badnets_stamp(const AttackSpec *a, uint8_t *img, int c, int h, int w) {
    int s = a->trigger_size, x0, y0;
    patch_origin(a, h, w, &x0, &y0);
    float v = a->trigger_value < 0.0f ? 0.0f : a->trigger_value > 1.0f ? 1.0f : a->trigger_value;
    uint8_t val = (uint8_t)lroundf(v * 255.0f); // round half away from zero, as documented
    for (int ch = 0; ch < c; ch++)
        for (int y = BL_MAX(y0, 0); y < BL_MIN(y0 + s, h); y++)
            for (int x = BL_MAX(x0, 0); x < BL_MIN(x0 + s, w); x++) img[((size_t)ch * h + y) * w + x] = val;
}

int badnets_target_label(const AttackSpec *a, int y, int num_classes) {
    if (a->label_mode == LABEL_ALL2ALL) return (y + 1) % num_classes;
    return a->target;
}

typedef struct {
    int orig; // orig_index of the sample
    int pos;  // its position in the dataset
} OrigPos;

static int cmp_origpos(const void *pa, const void *pb) {
    const OrigPos *a = pa, *b = pb;
    if (a->orig != b->orig) return a->orig < b->orig ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

void poison_manifest_free(PoisonManifest *m) {
    if (!m) return;
    bl_free(m->records);
    bl_free(m->positions);
    memset(m, 0, sizeof *m);
}

Status badnets_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, Dataset *poisoned,
                      PoisonManifest *man) {
    memset(poisoned, 0, sizeof *poisoned);
    memset(man, 0, sizeof *man);
    Status st = badnets_check(a, rest);
    if (st) return st;
    int n = rest->n;
    size_t cnt = (size_t)(n ? n : 1);
    int *base = bl_alloc(cnt * sizeof(int));       // (nb) positions eligible for poisoning
    OrigPos *chosen = bl_alloc(cnt * sizeof *chosen); // (k) the poisoned ones, sorted by orig_index
    if (!base || !chosen) {
        st = BL_ERR_RUN;
        goto done;
    }
    int nb = 0;
    for (int i = 0; i < n; i++)
        if (a->poison_base == BASE_ALL || rest->labels[i] != a->target) base[nb++] = i;
    int k = (int)floor((double)a->poison_rate * nb + 0.5);
    if (k > nb) k = nb;
    Rng r = rng_stream(seed, "poison");
    rng_shuffle_int(&r, base, nb); // uniform without replacement: the first k of a uniform permutation
    for (int i = 0; i < k; i++) chosen[i] = (OrigPos){rest->orig_index[base[i]], base[i]};
    qsort(chosen, (size_t)k, sizeof *chosen, cmp_origpos);

    st = ds_copy(rest, poisoned);
    if (st) goto done;
    man->records = bl_alloc((size_t)(k ? k : 1) * sizeof *man->records);
    man->positions = bl_alloc((size_t)(k ? k : 1) * sizeof *man->positions);
    if (!man->records || !man->positions) {
        st = BL_ERR_RUN;
        goto done;
    }
    size_t ss = (size_t)ds_sample_size(rest);
    for (int i = 0; i < k; i++) {
        int p = chosen[i].pos;
        int y = poisoned->labels[p];
        int ny = badnets_target_label(a, y, rest->num_classes);
        badnets_stamp(a, poisoned->images + (size_t)p * ss, rest->c, rest->h, rest->w);
        poisoned->labels[p] = (uint8_t)ny;
        man->records[i] = (PoisonRecord){chosen[i].orig, y, ny};
        man->positions[i] = p;
    }
    man->count = k;
    man->rate = nb ? (double)k / nb : 0.0;
done:
    bl_free(base);
    bl_free(chosen);
    if (st) {
        ds_free(poisoned);
        poison_manifest_free(man);
    }
    return st;
}

Status badnets_triggered_test(const AttackSpec *a, const Dataset *test, Dataset *triggered) {
    memset(triggered, 0, sizeof *triggered);
    Status st = badnets_check(a, test);
    if (st) return st;
    st = ds_copy(test, triggered);
    if (st) return st;
    size_t ss = (size_t)ds_sample_size(test);
    for (int i = 0; i < test->n; i++) badnets_stamp(a, triggered->images + (size_t)i * ss, test->c, test->h, test->w);
    return BL_OK;
}

Status poison_manifest_write_csv(const PoisonManifest *m, const char *path) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return bl_fail(BL_ERR_USAGE, "output path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return bl_fail(BL_ERR_RUN, "cannot create %s: %s", tmp, strerror(errno));
    fchmod(fd, 0644); // mkstemp makes 0600; results are meant to be readable
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return bl_fail(BL_ERR_RUN, "cannot open %s: %s", tmp, strerror(e));
    }
    int ok = fputs("index,original_label,new_label\n", f) >= 0;
    for (int i = 0; ok && i < m->count; i++)
        ok = fprintf(f, "%d,%d,%d\n", m->records[i].orig_index, m->records[i].orig_label, m->records[i].new_label) >
             0;
    int e = ok ? 0 : (errno ? errno : EIO);
    if (fflush(f) != 0 && !e) e = errno;
    if (!e && fsync(fd) != 0) e = errno;
    if (fclose(f) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        return bl_fail(BL_ERR_RUN, "writing %s failed: %s", path, strerror(e));
    }
    return BL_OK;
}
