// gather.c: ds_gather (see gather.h).
#include "data/gather.h"

#include <string.h>

Status ds_gather(const Dataset *a, const Dataset *b, const uint8_t *from_b, const int *idx, int k, Dataset *out) {
    memset(out, 0, sizeof *out);
    if (a->kind != b->kind || a->c != b->c || a->h != b->h || a->w != b->w)
        return bl_fail(BL_ERR_USAGE, "ds_gather: the two sources differ in kind or shape");
    Status st;
    if (a->kind == DS_TOKENS) {
        long words = 0;
        for (int j = 0; j < k; j++) {
            const Dataset *s = from_b[j] ? b : a;
            words += s->tok_offset[idx[j] + 1] - s->tok_offset[idx[j]];
        }
        if ((st = ds_alloc_tokens(out, k, words, a->c, a->num_classes, a->lexicon, a->class_names))) return st;
        out->text_subject = a->text_subject;
        long w = 0;
        for (int j = 0; j < k; j++) {
            const Dataset *s = from_b[j] ? b : a;
            const long len = s->tok_offset[idx[j] + 1] - s->tok_offset[idx[j]];
            out->tok_offset[j] = w;
            memcpy(out->tokens + w, s->tokens + s->tok_offset[idx[j]], (size_t)len * sizeof(int32_t));
            w += len;
        }
        out->tok_offset[k] = w;
    } else {
        st = a->kind == DS_RECORDS ? ds_alloc_records(out, k, a->c, a->num_classes, a->schema)
                                   : ds_alloc(out, k, a->c, a->h, a->w, a->num_classes);
        if (st) return st;
        const size_t sz = (size_t)ds_sample_size(a);
        for (int j = 0; j < k; j++) {
            const Dataset *s = from_b[j] ? b : a;
            const size_t o = (size_t)idx[j] * sz, p = (size_t)j * sz;
            if (a->kind == DS_RECORDS) {
                memcpy(out->features + p, s->features + o, sz * sizeof(float));
                memcpy(out->missing + p, s->missing + o, sz);
            } else {
                memcpy(out->images + p, s->images + o, sz);
            }
        }
    }
    for (int j = 0; j < k; j++) {
        const Dataset *s = from_b[j] ? b : a;
        out->labels[j] = s->labels[idx[j]];
        out->orig_index[j] = s->orig_index[idx[j]];
    }
    return BL_OK;
}
