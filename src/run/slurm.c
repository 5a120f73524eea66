// slurm.c: Slurm's client programs, run and read (see slurm.h).
#include "run/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Status slurm_require(const char *program) {
    const char *path = getenv("PATH");
    char full[4096];
    for (const char *p = path ? path : ""; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? p : ".", program);
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0) return BL_OK;
        p += n + (e ? 1 : 0);
    }
    return bl_fail(BL_ERR_RUN,
                   "%s: not found on PATH; --slurm needs Slurm's client programs (Debian package slurm-wlm, or the "
                   "cluster's own module, e.g. `module load slurm`), or run the sweep here without --slurm",
                   program);
}

// Append what is readable on fd to buf (cut at cap - 1); 0 at end of file.
static int drain(int fd, char *buf, size_t cap, size_t *len) {
    char tmp[4096];
    ssize_t k = read(fd, tmp, sizeof tmp);
    if (k < 0) return errno == EINTR || errno == EAGAIN;
    if (k == 0) return 0;
    size_t room = cap - 1 - *len, take = (size_t)k < room ? (size_t)k : room;
    memcpy(buf + *len, tmp, take);
    *len += take;
    buf[*len] = 0;
    return 1;
}

Status slurm_exec(char *const argv[], char *out, size_t out_cap, char *err, size_t err_cap, int *exit_code) {
    int po[2], pe[2];
    out[0] = err[0] = 0;
    if (pipe(po) != 0) return bl_fail(BL_ERR_RUN, "pipe: %s", strerror(errno));
    if (pipe(pe) != 0) {
        close(po[0]), close(po[1]);
        return bl_fail(BL_ERR_RUN, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return bl_fail(BL_ERR_RUN, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]), close(pe[1]);
    // both pipes at once: a program that fills one while we block on the other would never finish
    size_t lo = 0, le = 0;
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++)
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                if (!drain(fds[i].fd, i ? err : out, i ? err_cap : out_cap, i ? &le : &lo)) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    open_fds--;
                }
            }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) return bl_fail(BL_ERR_RUN, "waitpid: %s", strerror(errno));
    *exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return BL_OK;
}

// The message of a failed client program: its stderr, else its stdout, on one line.
static void one_line(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
    for (char *c = s; *c; c++)
        if (*c == '\n') *c = ' ';
}

Status slurm_sbatch(char *const args[], int nargs, char job_id[32]) {
    Status st = slurm_require("sbatch");
    if (st) return st;
    char *argv[80];
    if (nargs + 3 > (int)(sizeof argv / sizeof argv[0])) return bl_fail(BL_ERR_USAGE, "too many sbatch arguments");
    argv[0] = "sbatch";
    argv[1] = "--parsable";
    for (int i = 0; i < nargs; i++) argv[2 + i] = args[i];
    argv[2 + nargs] = NULL;
    char out[4096], err[4096];
    int code;
    if ((st = slurm_exec(argv, out, sizeof out, err, sizeof err, &code))) return st;
    one_line(out);
    one_line(err);
    if (code != 0)
        return bl_fail(BL_ERR_RUN, "sbatch failed (exit %d): %s", code, err[0] ? err : out[0] ? out : "no message");
    // --parsable prints "JOBID" or "JOBID;CLUSTER"
    size_t n = strspn(out, "0123456789");
    if (!n || n >= 32 || (out[n] && out[n] != ';'))
        return bl_fail(BL_ERR_RUN, "sbatch printed no job id (stdout '%s', stderr '%s')", out, err);
    memcpy(job_id, out, n);
    job_id[n] = 0;
    return BL_OK;
}

Status slurm_max_array_size(int *out) {
    Status st = slurm_require("scontrol");
    if (st) return st;
    char *argv[] = {"scontrol", "show", "config", NULL};
    char *buf = malloc(1 << 20), err[2048];
    if (!buf) return bl_fail(BL_ERR_RUN, "out of memory");
    int code;
    if (!(st = slurm_exec(argv, buf, 1 << 20, err, sizeof err, &code)) && code != 0) {
        one_line(err);
        st = bl_fail(BL_ERR_RUN, "scontrol show config failed (exit %d): %s", code, err);
    }
    *out = 1001; // Slurm's default
    for (char *line = buf; !st && line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, "MaxArraySize", 12)) {
            char *eq = strchr(line, '=');
            long v = eq ? strtol(eq + 1, NULL, 10) : 0;
            if (v > 0) *out = (int)v;
        }
    free(buf);
    return st;
}

// Append one program's answer, its separators turned into spaces, to *all.
static void collect(char *const argv[], char sep, char **all, size_t *len) {
    char *buf = malloc(1 << 20), err[1024];
    int code;
    if (buf && slurm_exec(argv, buf, 1 << 20, err, sizeof err, &code) == BL_OK && code == 0) {
        for (char *c = buf; *c; c++)
            if (*c == sep) *c = ' ';
        size_t n = strlen(buf);
        char *grown = realloc(*all, *len + n + 1);
        if (grown) {
            memcpy(grown + *len, buf, n + 1);
            *all = grown;
            *len += n;
        }
    }
    free(buf);
}

char *slurm_task_states(const char *const *job_ids, int njobs) {
    char *all = calloc(1, 1);
    size_t len = 0;
    if (!all || njobs <= 0) return all;
    char list[8192] = "";
    for (int i = 0; i < njobs; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", job_ids[i]);
    // sacct first (finished tasks, when accounting is on), squeue last: a live state overrides an old one
    if (slurm_require("sacct") == BL_OK) {
        char *sacct[] = {"sacct", "-n", "-X", "-P", "-j", list, "-o", "JobID,State", NULL};
        collect(sacct, '|', &all, &len);
    }
    if (slurm_require("squeue") == BL_OK) {
        char *squeue[] = {"squeue", "-h", "-r", "-j", list, "-o", "%i %T", NULL};
        collect(squeue, '\t', &all, &len);
    }
    bl_clear_error();
    return all;
}
