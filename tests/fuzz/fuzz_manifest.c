// fuzz_manifest: dataset manifests (data/manifest.c, cJSON) through dsm_read, then a manifest that reads
// compared with itself (dsm_compare must find every sample matching).
#include "fuzz_util.h"
#include "data/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz-manifest.json", data, len, 0600);
    DsmManifest m;
    if (dsm_read(path, &m) != BL_OK) return 0;
    DsmReport rep;
    if (dsm_compare(&m, &m, &rep) == BL_OK) {
        if (!dsm_report_ok(&rep)) {
            fprintf(stderr, "a manifest differs from itself\n");
            abort();
        }
        dsm_report_free(&rep);
    }
    char s[128];
    for (int sp = 0; sp < DSM_NSPLITS; sp++)
        if (m.split[sp].n > 0) (void)dsm_sample_source(&m, sp, m.split[sp].n - 1, s, sizeof s);
    dsm_free(&m);
    return 0;
}
