// cli.h: the subcommands and the option parsing they share.
#ifndef BL_CLI_H
#define BL_CLI_H

#include "core/core.h"

int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_poison(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_docs(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_sweep_task(int argc, char **argv);

// Print "backdoorlab: <message>" for a failed status and return it as the exit code.
int cli_report(Status st);
// Parse a positive int option value; on error print and return -1.
int cli_parse_threads(const char *s);

#endif
