// slurm.h: the few things `sweep --slurm` asks of Slurm's client programs (sbatch, scontrol, squeue, sacct).
// They are run as programs (no shell, no libslurm): what a user would type, so every call can be replayed by hand.
#ifndef BL_SLURM_H
#define BL_SLURM_H

#include <stddef.h>

#include "core/core.h"

// Whether PROGRAM is an executable on PATH; otherwise an error naming the Debian package (slurm-wlm).
Status slurm_require(const char *program);

// Run argv (argv[0] looked up on PATH) and capture its stdout and stderr (each cut at cap - 1 bytes, NUL-ended).
// *exit_code gets its exit status (128 + signal when killed). Fails only when the program cannot be started.
Status slurm_exec(char *const argv[], char *out, size_t out_cap, char *err, size_t err_cap, int *exit_code);

// `sbatch --parsable ARGS...`: the job id it prints. A non-zero exit is an error carrying sbatch's message.
Status slurm_sbatch(char *const args[], int nargs, char job_id[32]);

// MaxArraySize from `scontrol show config` (Slurm's default 1001 when the line is absent).
Status slurm_max_array_size(int *out);

// The state of each array task of the given jobs that Slurm still knows about, as "JOBID_INDEX STATE" lines
// (squeue for pending and running ones; sacct, where accounting is on, for finished ones). Returns a malloc'd
// string ("" when neither answers); never fails: status is advisory, DONE markers decide what is finished.
char *slurm_task_states(const char *const *job_ids, int njobs);

#endif
