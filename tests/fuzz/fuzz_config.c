// fuzz_config: experiment config text (io/config.c, libinih) through config_load, the loader every command uses.
// A config that loads must also print a resolved config that loads again to the same text (the round trip
// config.h promises); a difference aborts, so the fuzzer reports it like a crash.
#include "fuzz_util.h"
#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.ini", data, len, 0600);
    static ExperimentConfig cfg, again; // large: not on the stack
    if (config_load(path, &cfg) != BL_OK) return 0;
    char *text = config_resolved_string(&cfg);
    if (!text) return 0;
    if (config_load_string(text, "resolved.ini", &again) != BL_OK) {
        fprintf(stderr, "resolved config does not load again: %s\n---\n%s---\n", bl_errmsg(), text);
        abort();
    }
    char *text2 = config_resolved_string(&again);
    if (!text2 || strcmp(text, text2)) {
        fprintf(stderr, "resolved config is not a fixed point\n---\n%s---\n%s---\n", text, text2 ? text2 : "(null)");
        abort();
    }
    free(text2);
    free(text);
    return 0;
}
