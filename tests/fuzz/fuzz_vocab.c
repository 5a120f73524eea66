// fuzz_vocab: a text model's preprocessing as carried in its model file's provenance (nn/vocab.c,
// vocab_from_provenance), then what training and serving do with it: look words up, write it back, re-read it.
#include "fuzz_util.h"
#include "nn/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char *prov = fz_cstr(data, len);
    Vocab *v = NULL;
    if (vocab_from_provenance(prov, &v) == BL_OK && v) {
        for (int i = 0; i < v->size; i++) (void)vocab_id(v, v->words[i], strlen(v->words[i]));
        (void)vocab_id(v, prov, strlen(prov) < 64 ? strlen(prov) : 64);
        char *buf = NULL;
        if (vocab_append_lines(v, &buf) == BL_OK && buf) {
            Vocab *w = NULL;
            if (vocab_from_provenance(buf, &w) != BL_OK || !w || w->size != v->size) {
                fprintf(stderr, "vocabulary does not read back: %s\n", bl_errmsg());
                abort();
            }
            vocab_free(w);
        }
        free(buf);
        vocab_free(v);
    }
    free(prov);
    return 0;
}
