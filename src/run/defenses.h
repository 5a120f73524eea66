// defenses.h: the [defense.<name>] sections of an experiment config, between the config parser (which keeps
// them as text with line numbers) and the defence registry (which knows each defence's parameters).
#ifndef BL_RUN_DEFENSES_H
#define BL_RUN_DEFENSES_H

#include "defense/defense.h"
#include "io/config.h"

#define RUN_DEFENSE_SETTING_MAX 300

// "key=value" strings of one section, NULL-terminated, for defense_params_resolve / defense_run_and_evaluate.
typedef struct {
    char text[CONFIG_MAX_DEFENSE_KEYS][RUN_DEFENSE_SETTING_MAX]; // the settings
    const char *ptr[CONFIG_MAX_DEFENSE_KEYS + 1];                 // pointers to them, NULL-terminated
} DefenseSettings;

void run_defense_settings(const CfgDefense *d, DefenseSettings *out);
// The defence a section runs: the registered one named <name>, or, for any other name with a `cmd` key, the
// external defence stored under that name ([defense.mydef] cmd = python3 /abs/mydef.py); NULL when neither.
const DefenseOps *run_defense_ops(const CfgDefense *d);
// Check every [defense.<name>] section before anything trains: known name, known keys, values in range.
// Errors (BL_ERR_USAGE) name config_path:line, the section and the key.
Status run_defenses_check(const ExperimentConfig *cfg, const char *config_path);
// The resolved [defense.<name>] sections (every parameter, defaults filled in), malloc'd text ("" when none).
char *run_defenses_resolved(const ExperimentConfig *cfg);

#endif
