// cmd_sweep.c: `backdoorlab sweep CONFIG... --out DIR [--slurm ...]`, `sweep --status|--resume|--aggregate DIR`
// and `backdoorlab sweep-task DIR ID` (what each Slurm array task runs). See run/sweep.h.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/sweep.h"

static void help(void) {
    printf("usage: backdoorlab sweep CONFIG... --out DIR [--quick] [--jobs J] [--threads N]\n"
           "       backdoorlab sweep CONFIG... --out DIR --slurm [--partition P] [--time T] [--cpus-per-task C]\n"
           "                         [--mem M] [--account A] [--max-parallel K] [--sbatch-arg ARG]... [--dry-run]\n"
           "       backdoorlab sweep --status DIR | --resume DIR [--dry-run] | --aggregate DIR\n\n"
           "Expands every config's seeds x [sweep] points into numbered tasks (DIR/tasks.tsv: id, config, its\n"
           "sha256, seed, sweep point, run folder), runs them here one after another, then aggregates: each config's\n"
           "summary and plot in DIR/<name>/, and for configs with [paper] the reproduce report (DIR/README.md,\n"
           "claims.csv, summary.json), DIR/DONE last. A task whose run folder has DONE and a manifest matching its\n"
           "config is finished and skipped, here and on the cluster.\n\n"
           "  --slurm           write DIR/sweep.sbatch (a job array: task OFFSET + $SLURM_ARRAY_TASK_ID runs\n"
           "                    `backdoorlab sweep-task DIR ID --threads $SLURM_CPUS_PER_TASK`, logs in\n"
           "                    DIR/logs/%%A_%%a.out) and submit it, split at the cluster's MaxArraySize, then the\n"
           "                    aggregation (DIR/aggregate.sbatch) with --dependency=afterany on every array\n"
           "  --partition P, --time T, --mem M, --account A   the sbatch options of the same name\n"
           "  --cpus-per-task C threads per task (default 1; results are the same for any C)\n"
           "  --max-parallel K  at most K tasks of an array at once (--array=...%%K)\n"
           "  --sbatch-arg ARG  one more #SBATCH line, verbatim (repeatable), e.g. --sbatch-arg=--qos=long\n"
           "  --dry-run         write the scripts and print the sbatch commands; submit nothing (`--resume DIR`\n"
           "                    submits them later)\n"
           "  --quick           first seed only, at most [paper] quick_epochs epochs (as reproduce --quick)\n"
           "  --jobs J          local runs: J tasks at once, each its own process with its output in\n"
           "                    DIR/logs/task-ID.out (default 1: one after another)\n"
           "  --threads N       local runs: OpenMP threads per task (default: the config's; with --jobs, the\n"
           "                    cores / J). Results are bit-identical for any N and J\n"
           "  --status DIR      done / running / failed / pending counts; failed tasks with their error and log\n"
           "  --resume DIR      run or submit only the unfinished tasks not still queued, then the aggregation;\n"
           "                    refuses when tasks.tsv or a config changed since the sweep was planned. The same\n"
           "                    `sweep CONFIG... --out DIR` again does the same with the options it is given\n"
           "  --aggregate DIR   the end of the sweep only (what the aggregation job runs)\n\n"
           "The working folder, the binary, the configs and the data must be where every node sees them (a shared\n"
           "filesystem): the scripts cd to this folder and run this binary by its absolute path.\n"
           "Exit: 0 ok, 1 a task or Slurm failed, 2 usage (or a changed sweep), 3 unreadable sweep files.\n");
}

int cmd_sweep(int argc, char **argv) {
    SweepOptions o = {.progress = isatty(2)};
    const char *configs[256], *out = NULL, *status = NULL, *resume = NULL, *aggregate = NULL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        // the string options of sbatch, --opt VALUE or --opt=VALUE
        const char *const names[] = {"--partition", "--time", "--mem", "--account", "--out", "--status", "--resume",
                                     "--aggregate", "--sbatch-arg", "--cpus-per-task", "--max-parallel", "--threads", "--jobs"};
        const char *value = NULL;
        int which = -1;
        for (int k = 0; k < (int)(sizeof names / sizeof names[0]) && which < 0; k++) {
            size_t l = strlen(names[k]);
            if (!strncmp(a, names[k], l) && a[l] == '=') which = k, value = a + l + 1;
            else if (!strcmp(a, names[k])) {
                if (!more) {
                    fprintf(stderr, "backdoorlab sweep: %s needs a value (see --help)\n", a);
                    return 2;
                }
                which = k, value = argv[++i];
            }
        }
        if (which >= 0 && !*value) {
            fprintf(stderr, "backdoorlab sweep: %s: empty value\n", names[which]);
            return 2;
        }
        switch (which) {
        case 0: o.partition = value; continue;
        case 1: o.time = value; continue;
        case 2: o.mem = value; continue;
        case 3: o.account = value; continue;
        case 4: out = value; continue;
        case 5: status = value; continue;
        case 6: resume = value; continue;
        case 7: aggregate = value; continue;
        case 8:
            if (o.nsbatch_args == SWEEP_MAX_SBATCH_ARGS) {
                fprintf(stderr, "backdoorlab sweep: more than %d --sbatch-arg\n", SWEEP_MAX_SBATCH_ARGS);
                return 2;
            }
            if (strchr(value, '\n')) {
                fprintf(stderr, "backdoorlab sweep: --sbatch-arg: one line only\n");
                return 2;
            }
            o.sbatch_args[o.nsbatch_args++] = value;
            continue;
        case 9:
            if ((o.cpus_per_task = cli_parse_threads(value)) < 0) return 2;
            continue;
        case 10:
            if ((o.max_parallel = cli_parse_threads(value)) < 0) return 2;
            continue;
        case 11:
            if ((o.threads = cli_parse_threads(value)) < 0) return 2;
            continue;
        case 12:
            if ((o.jobs = cli_parse_threads(value)) < 0) return 2;
            continue;
        default: break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return 0;
        } else if (!strcmp(a, "--slurm")) {
            o.slurm = 1;
        } else if (!strcmp(a, "--dry-run")) {
            o.dry_run = 1;
        } else if (!strcmp(a, "--quick")) {
            o.quick = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "backdoorlab sweep: unexpected argument '%s' (see --help)\n", a);
            return 2;
        } else if (n == (int)(sizeof configs / sizeof configs[0])) {
            fprintf(stderr, "backdoorlab sweep: more than %d configs\n", n);
            return 2;
        } else {
            configs[n++] = a;
        }
    }
    int modes = !!status + !!resume + !!aggregate + (n > 0 || out);
    if (modes != 1) {
        fprintf(stderr, "backdoorlab sweep: give CONFIG... --out DIR, or one of --status/--resume/--aggregate DIR "
                        "(see --help)\n");
        return 2;
    }
    if (status) return cli_report(sweep_status(status));
    if (aggregate) return cli_report(sweep_aggregate(aggregate));
    if (resume) return cli_report(sweep_resume(resume, &o));
    if (!out) {
        fprintf(stderr, "backdoorlab sweep: missing --out DIR\n");
        return 2;
    }
    if (o.jobs > 1 && o.slurm) {
        fprintf(stderr, "backdoorlab sweep: --jobs runs tasks here; on Slurm, --max-parallel K limits them\n");
        return 2;
    }
    if (o.dry_run && !o.slurm) {
        fprintf(stderr, "backdoorlab sweep: --dry-run goes with --slurm (a local sweep has nothing to submit)\n");
        return 2;
    }
    return cli_report(sweep_start(configs, n, out, &o));
}

int cmd_sweep_task(int argc, char **argv) {
    int threads = 0;
    const char *dir = NULL, *id_text = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab sweep-task DIR ID [--threads N]\n\n"
                   "Runs task ID of the sweep planned in DIR (a line of DIR/tasks.tsv) into its run folder; a finished\n"
                   "one (DONE, matching manifest) is skipped. What each Slurm array task of `sweep --slurm` runs.\n");
            return 0;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "backdoorlab sweep-task: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else if (!id_text) {
            id_text = argv[i];
        } else {
            fprintf(stderr, "backdoorlab sweep-task: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    long id;
    if (!dir || !id_text) {
        fprintf(stderr, "backdoorlab sweep-task: usage: backdoorlab sweep-task DIR ID [--threads N]\n");
        return 2;
    }
    if (!bl_parse_long(id_text, &id) || id < 0) {
        fprintf(stderr, "backdoorlab sweep-task: task id '%s': expected an integer >= 0\n", id_text);
        return 2;
    }
    return cli_report(sweep_task(dir, id, threads));
}
