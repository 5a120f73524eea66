// plot.c: run gnuplot on a script inside a folder. fork + exec rather than system(): no shell, so folder and
// script names need no quoting, and the child changes folder without touching the caller's working directory.
#include "io/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

// The figure again as SVG beside its PNG (the PNG for papers and viewers, the SVG for report.html and for
// scaling): the script with its `set terminal png...` line swapped for the svg terminal at the same size (a
// larger font, readable when scaled into a column) and each output 'X.png' for 'X.tmp.svg', renamed to X.svg
// once gnuplot is done, so a killed run never leaves half an SVG under its final name. Best effort.
static void draw_svg_too(const char *dir, const char *script_name, const char *script, size_t len) {
    char *svg = NULL, outs[8][256];
    size_t svg_n = 0;
    int nouts = 0;
    FILE *f = open_memstream(&svg, &svg_n);
    if (!f) return;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && script[e] != '\n') e++;
        int w, h;
        char name[256];
        const char *line = script + i;
        int n = (int)(e - i);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", n < 511 ? n : 511, line);
        const char *size = strstr(buf, " size ");
        if (!strncmp(buf, "set terminal png", 16) && size && sscanf(size, " size %d,%d", &w, &h) == 2) {
            fprintf(f, "set terminal svg size %d,%d font 'Helvetica,14' background '#ffffff'\n", w, h);
        } else if (sscanf(buf, "set output '%255[^']'", name) == 1 && strlen(name) > 4 &&
                   !strcmp(name + strlen(name) - 4, ".png") && nouts < 8) {
            name[strlen(name) - 4] = 0;
            snprintf(outs[nouts++], sizeof outs[0], "%s", name);
            fprintf(f, "set output '%s.tmp.svg'\n", name);
        } else {
            fprintf(f, "%.*s\n", n, line);
        }
        i = e + 1;
    }
    fclose(f);
    char tmp_name[300], path[4400], from[4400];
    snprintf(tmp_name, sizeof tmp_name, ".%s.svg.gp", script_name);
    snprintf(path, sizeof path, "%s/%s", dir, tmp_name);
    if (svg && nouts && write_file_atomic(path, svg, svg_n) == BL_OK) {
        int rc = plot_run_gnuplot(dir, tmp_name);
        for (int k = 0; k < nouts; k++) {
            snprintf(from, sizeof from, "%s/%s.tmp.svg", dir, outs[k]);
            char to[4400];
            snprintf(to, sizeof to, "%s/%s.svg", dir, outs[k]);
            if (rc != 0 || rename(from, to) != 0) unlink(from);
        }
        unlink(path);
    }
    bl_clear_error();
    free(svg);
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
    if (rc == 0) draw_svg_too(dir, script_name, script, len);
    if (!note || !note_n) return BL_OK;
    if (rc == 127)
        snprintf(note, note_n, "gnuplot not found: %s skipped (%s is written: run `gnuplot %s` there to draw it). ",
                 what, script_name, script_name);
    else if (rc)
        snprintf(note, note_n, "gnuplot exited with status %d on %s: %s may be missing. ", rc, script_name, what);
    return BL_OK;
}
