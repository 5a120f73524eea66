// fuzz_checkpoint: a model file loaded into a network (nn/checkpoint.c, model_load_trusted: read, build the
// network its description names, check every tensor's shape, copy the weights) for 1x28x28 inputs and 10
// classes, the shape of the seed models; once without and once with a trusted key file (the fixed fuzzing key,
// fuzz_bdm.h). Inputs run as is and with hash and signature fixed up.
#include "fuzz_bdm.h"
#include "fuzz_util.h"
#include "io/keys.h"
#include "nn/checkpoint.h"

static char key_path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_bdm_init();
    char line[200];
    int k = snprintf(line, sizeof line, "%s ", KEYS_PUBLIC_TAG);
    for (int i = 0; i < 32; i++) k += snprintf(line + k, sizeof line - (size_t)k, "%02x", fz_bdm_pk[i]);
    snprintf(line + k, sizeof line - (size_t)k, "\n");
    fz_write(key_path, sizeof key_path, "fuzz.pub", line, strlen(line), 0644);
    return 0;
}

static void load_all(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.bdm", data, len, 0600);
    Shape in = {1, 28, 28};
    for (int trusted = 0; trusted <= 1; trusted++) {
        Model m;
        char hex[65];
        if (model_load_trusted(path, trusted ? key_path : NULL, in, 10, 4, NULL, &m, hex) == BL_OK) model_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    load_all(data, len);
    uint8_t *fixed = fz_bdm_fixup(data, len);
    if (fixed) {
        load_all(fixed, len);
        free(fixed);
    }
    return 0;
}
