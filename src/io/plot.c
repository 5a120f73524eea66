// plot.c: run gnuplot on a script inside a folder. fork + exec rather than system(): no shell, so folder and
// script names need no quoting, and the child changes folder without touching the caller's working directory.
#include "io/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/results.h"

int plot_run_gnuplot(const char *dir, const char *script) {
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) { // child: only open/dup2/chdir/exec/_exit from here on
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(dir) == 0) execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 126; // the child was reaped elsewhere (SIGCHLD ignored): status unknown
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 126;
}

Status plot_script(const char *dir, const char *script_name, const char *script, size_t len, const char *what,
                   char *note, size_t note_n) {
    if (note && note_n) note[0] = 0;
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, script_name) >= sizeof path)
        return bl_fail(BL_ERR_USAGE, "plot: path too long: %s/%s", dir, script_name);
    Status st = write_file_atomic(path, script, len);
    if (st) return st;
    int rc = plot_run_gnuplot(dir, script_name);
    if (!note || !note_n) return BL_OK;
    if (rc == 127)
        snprintf(note, note_n, "gnuplot not found: %s skipped (%s is written: run `gnuplot %s` there to draw it). ",
                 what, script_name, script_name);
    else if (rc)
        snprintf(note, note_n, "gnuplot exited with status %d on %s: %s may be missing. ", rc, script_name, what);
    return BL_OK;
}
