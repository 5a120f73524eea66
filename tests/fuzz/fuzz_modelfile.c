// fuzz_modelfile: .bdm model files (io/modelfile.c) as bytes in memory, read without a trust requirement and
// with one (the fixed fuzzing key, fuzz_bdm.h), each input as is and with its hash and signature fixed up.
#include "fuzz_bdm.h"
#include "fuzz_util.h"
#include "io/modelfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_bdm_init();
    return 0;
}

static void read_all(const uint8_t *data, size_t len) {
    BdmModel m;
    if (bdm_read_mem(data, len, "fuzz.bdm", &m) == BL_OK) {
        for (int i = 0; i < m.ntensors; i++)
            if (bdm_find(&m, m.tensors[i].name) != &m.tensors[i]) abort(); // names are unique
        bdm_free(&m);
    }
    if (bdm_read_mem_trusted(data, len, "fuzz.bdm", fz_bdm_pk, &m) == BL_OK) bdm_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    read_all(data, len);
    uint8_t *fixed = fz_bdm_fixup(data, len);
    if (fixed) {
        read_all(fixed, len);
        free(fixed);
    }
    return 0;
}
