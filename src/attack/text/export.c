// export.c: poisoned messages as TSV (see export.h).
#include "attack/text/export.h"

#include <stdio.h>
#include <string.h>

#include "data/text/lexicon.h"
#include "io/atomic.h"

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static Status write_tsv(const char *path, const Dataset *d) {
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    int ok = 1;
    for (int i = 0; i < d->n && ok; i++) {
        const char *label = d->class_names ? d->class_names[d->labels[i]] : NULL;
        if (label && label[0]) ok = fputs(label, af.f) >= 0;
        else ok = fprintf(af.f, "%d", d->labels[i]) > 0;
        ok = ok && fputc('\t', af.f) != EOF;
        for (long t = d->tok_offset[i]; ok && t < d->tok_offset[i + 1]; t++) {
            if (t > d->tok_offset[i]) ok = fputc(' ', af.f) != EOF;
            const char *w = lex_word(d->lexicon, d->tokens[t]);
            ok = ok && fputs(w ? w : "", af.f) >= 0;
        }
        ok = ok && fputc('\n', af.f) != EOF;
    }
    st = atomic_commit(&af, ok);
    return st ? st : ok ? BL_OK : bl_fail(BL_ERR_RUN, "%s: write failed", path);
}

Status text_export(const char *dir, const Dataset *train, const Dataset *test, const Dataset *triggered,
                   const PoisonManifest *man) {
    char path[4200];
    Status st;
    path_in(path, sizeof path, dir, "train.tsv");
    if ((st = write_tsv(path, train))) return st;
    path_in(path, sizeof path, dir, "test.tsv");
    if ((st = write_tsv(path, test))) return st;
    path_in(path, sizeof path, dir, "triggered.tsv");
    if ((st = write_tsv(path, triggered))) return st;
    path_in(path, sizeof path, dir, "poison.csv");
    return poison_manifest_write_csv(man, path);
}
