// cmd_docs.c: `backdoorlab docs` (make docs) regenerates the README's measured tables from run folders it makes
// with the committed configs; `docs --check` (make docs-check, run by .ci/run) recomputes the cheap tables and
// fails when the README's differ, and names every other table whose figures predate the last change to src/.
// What a table holds: run/docs.h.
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "io/results.h"
#include "run/docs.h"

extern char **environ;

typedef struct {
    const char *readme, *specs, *root, *threads;
    int check, quiet;
} DocsOpts;

// Run `backdoorlab ARGS...` (this same binary); 0 on exit status 0.
static int run_self(char *const *args) {
    if (!args[0]) return 1;
    printf("docs: backdoorlab");
    for (int i = 0; args[i]; i++) printf(" %s", args[i]);
    printf("\n");
    fflush(stdout);
    char *argv[40];
    int n = 0;
    argv[n++] = "backdoorlab";
    for (int i = 0; args[i] && n < 39; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ)) return 1;
    int ws;
    if (waitpid(pid, &ws, 0) != pid) return 1;
    return !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

// First line of a shell command's output (trailing newline removed); 0 when it ran and exited 0.
static int sh_line(const char *cmd, char *out, size_t n) {
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return 1;
    if (fgets(out, (int)n, p)) out[strcspn(out, "\n")] = 0;
    return pclose(p) != 0;
}

static int is_hex_rev(const char *r) { return strlen(r) >= 7 && strspn(r, "0123456789abcdef") == strlen(r); }

// Has src/ (or the Makefile, which sets the flags) changed since revision rev, counting uncommitted changes?
// -1 when git cannot tell (no repository, unknown revision).
static int src_changed_since(const char *rev) {
    if (!is_hex_rev(rev)) return -1;
    char cmd[200], out[8];
    snprintf(cmd, sizeof cmd, "git cat-file -e %s^{commit} 2>/dev/null", rev);
    if (sh_line(cmd, out, sizeof out)) return -1;
    snprintf(cmd, sizeof cmd, "git diff --quiet %s -- src Makefile 2>/dev/null", rev);
    return system(cmd) != 0;
}

// Is the run folder dir a finished run of config made by code equal to today's src/? rowdir: the run inside it
// whose manifest is checked (dir itself for a single run).
static int run_fresh(const char *dir, const char *rowdir, const char *config) {
    char path[1200], rev[64] = "", hash[65];
    snprintf(path, sizeof path, "%s/DONE", dir);
    if (access(path, F_OK)) return 0;
    snprintf(path, sizeof path, "%s/manifest.json", rowdir);
    cJSON *m = json_read_file(path);
    if (!m) return 0;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "git_revision");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "config_sha256");
    int same_cfg = cJSON_IsString(c) && !sha256_file_hex(config, hash) && !strcmp(hash, c->valuestring);
    if (cJSON_IsString(r)) snprintf(rev, sizeof rev, "%.*s", (int)strcspn(r->valuestring, "-"), r->valuestring);
    cJSON_Delete(m);
    return same_cfg && src_changed_since(rev) == 0;
}

// Make every run and defence result table t needs, reusing fresh ones.
static int produce(const DocsTable *t, const DocsOpts *o) {
    char done[DOCS_MAX_ROWS][1024], first[1024] = ""; // runs made now; the first run folder of the table
    int ndone = 0;
    for (int i = 0; i < t->nrows; i++) {
        const DocsRow *r = &t->rows[i];
        if (!r->config[0]) continue;
        char dir[1024], rowdir[1024];
        docs_run_dir(o->root, r, dir, sizeof dir);
        docs_row_dir(o->root, r, rowdir, sizeof rowdir);
        int redone = 0;
        for (int k = 0; k < ndone; k++) redone |= !strcmp(done[k], dir);
        if (!first[0]) snprintf(first, sizeof first, "%s", dir);
        if (!redone && !run_fresh(dir, rowdir, r->config)) {
            // the clean model is the same in most rows of a table (same data, model, training, seed): `run` takes
            // the first row's when it was trained exactly so, and trains its own otherwise
            int own = !strcmp(first, dir);
            char *args[] = {"run", (char *)r->config, "--out", dir, "--quiet", own ? "--quiet" : "--reuse-clean",
                            own ? "--quiet" : first, o->threads ? "--threads" : NULL, (char *)o->threads, NULL};
            if (run_self(args)) {
                fprintf(stderr, "backdoorlab docs: %s: row %s: the run failed\n", t->path, r->id);
                return 1;
            }
            snprintf(done[ndone++], sizeof done[0], "%s", dir);
            redone = 1;
        }
        if (!r->detect[0]) continue;
        char sum[1200];
        snprintf(sum, sizeof sum, "%s/defense/%s/summary.json", rowdir, r->as[0] ? r->as : r->detect);
        struct stat ss, ms;
        char mpath[1100];
        snprintf(mpath, sizeof mpath, "%s/model-backdoor.bdm", rowdir);
        // a result older than the models, or from a run redone now, is recomputed
        if (!redone && !stat(sum, &ss) && !stat(mpath, &ms) && ss.st_mtime >= ms.st_mtime) continue;
        char *args[40];
        char inputs[16];
        int n = 0;
        args[n++] = "detect";
        args[n++] = "--run";
        args[n++] = rowdir;
        args[n++] = "--defense";
        args[n++] = (char *)r->detect;
        for (int k = 0; k < r->nset; k++) {
            args[n++] = "--set";
            args[n++] = (char *)r->set[k];
        }
        if (r->as[0]) {
            args[n++] = "--as";
            args[n++] = (char *)r->as;
        }
        if (r->inputs) {
            snprintf(inputs, sizeof inputs, "%d", r->inputs);
            args[n++] = "--inputs";
            args[n++] = inputs;
        }
        if (o->threads) {
            args[n++] = "--threads";
            args[n++] = (char *)o->threads;
        }
        args[n++] = "--quiet";
        args[n] = NULL;
        if (run_self(args)) {
            fprintf(stderr, "backdoorlab docs: %s: row %s: the defence failed\n", t->path, r->id);
            return 1;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The spec files in dir, sorted (malloc'd array of malloc'd paths).
static int list_specs(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **v = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".ini")) continue;
        char **nv = realloc(v, (size_t)(n + 1) * sizeof *v);
        if (!nv) break;
        v = nv;
        v[n] = malloc(strlen(dir) + l + 2);
        if (!v[n]) break;
        sprintf(v[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static int wanted(const char *name, char **names, int nnames) {
    if (!nnames) return 1;
    for (int i = 0; i < nnames; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

int cmd_docs(int argc, char **argv) {
    DocsOpts o = {.readme = "README.md", .specs = "experiments/docs", .root = "results/docs"};
    char *names[64];
    int nnames = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab docs [--check] [--readme README.md] [--specs experiments/docs]\n"
                   "                        [--root results/docs] [--threads N] [NAME...]\n\n"
                   "Regenerates the README's measured tables: for each spec SPECS/NAME.ini (format: src/run/docs.h)\n"
                   "it runs the rows' configs and defences into ROOT (a run whose manifest names a revision with\n"
                   "today's src/ and config is reused), renders the table and rewrites the README's block\n"
                   "<!-- table:NAME --> ... <!-- /table --> (nothing else in the README changes).\n"
                   "--check changes no file in place: the tables marked cheap are recomputed (their runs made or\n"
                   "reused as above) and compared with the README (exit 1 naming the table and line on a\n"
                   "difference); every other table is reported stale when src/ changed since the revision its\n"
                   "footer names, and so is results/reproduce/README.md. NAME... limits either to those tables.\n");
            return 0;
        } else if (!strcmp(argv[i], "--check")) {
            o.check = 1;
        } else if (!strcmp(argv[i], "--readme") && i + 1 < argc) {
            o.readme = argv[++i];
        } else if (!strcmp(argv[i], "--specs") && i + 1 < argc) {
            o.specs = argv[++i];
        } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
            o.root = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (cli_parse_threads(argv[i + 1]) < 0) return 2;
            o.threads = argv[++i];
        } else if (argv[i][0] == '-' || nnames == 64) {
            fprintf(stderr, "backdoorlab docs: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        } else {
            names[nnames++] = argv[i];
        }
    }
    char **specs = NULL;
    int nspecs = list_specs(o.specs, &specs);
    if (nspecs < 0) {
        fprintf(stderr, "backdoorlab docs: cannot read the spec folder %s\n", o.specs);
        return 2;
    }
    size_t rlen;
    char *readme = read_file_bytes(o.readme, 1L << 24, &rlen);
    if (!readme) {
        fprintf(stderr, "backdoorlab docs: cannot read %s\n", o.readme);
        return 1;
    }
    int rc = 0, ndiff = 0, nstale = 0, nok = 0, nseen = 0;
    DocsTable *t = malloc(sizeof *t);
    for (int s = 0; s < nspecs && t && rc < 2; s++) {
        Status st = docs_load(specs[s], t);
        if (st) {
            rc = cli_report(st);
            break;
        }
        if (!wanted(t->name, names, nnames)) continue;
        nseen++;
        size_t b, e;
        int f = docs_find_block(readme, t->name, &b, &e);
        if (f) {
            fprintf(stderr, "backdoorlab docs: %s has no %s <!-- table:%s --> ... <!-- /table --> for %s\n", o.readme,
                    f == -1 ? "block" : "closing marker after", t->name, t->path);
            rc = 1;
            continue;
        }
        if (o.check && !t->cheap) { // expensive: its revision against src/
            char rev[64];
            docs_block_revision(readme + b, e - b, rev, sizeof rev);
            int ch = src_changed_since(rev);
            if (ch != 0) {
                printf("docs-check: %s: stale (%s)\n", t->name,
                       ch < 0 ? "its footer names no revision git knows" : "src/ changed since its revision");
                nstale++;
            } else {
                nok++;
            }
            continue;
        }
        if (produce(t, &o)) {
            rc = 1;
            continue;
        }
        char *md;
        if ((st = docs_render(t, o.root, &md))) {
            rc = cli_report(st);
            continue;
        }
        if (o.check) {
            char *w = NULL, *h = NULL;
            int line = docs_compare(md, strlen(md), readme + b, e - b, &w, &h);
            if (line) {
                printf("docs-check: %s: the README differs from this build at table line %d:\n  README: %s\n"
                       "  build:  %s\n(run `make docs` to rewrite it)\n", t->name, line, h, w);
                ndiff++;
            } else {
                printf("docs-check: %s: matches this build\n", t->name);
                nok++;
            }
            free(w);
            free(h);
        } else {
            // the runs took minutes: read the README again, so that edits made meanwhile (by hand, or by another
            // `docs` writing another table) are kept, and replace only this block
            size_t nlen;
            char *now = read_file_bytes(o.readme, 1L << 24, &nlen);
            if (!now || docs_find_block(now, t->name, &b, &e)) {
                fprintf(stderr, "backdoorlab docs: %s changed under us: its block %s is gone\n", o.readme, t->name);
                free(now);
                free(md);
                rc = 1;
                continue;
            }
            free(readme);
            readme = now;
            rlen = nlen;
            size_t ml = strlen(md);
            char *nr = malloc(rlen - (e - b) + ml + 1);
            if (!nr) abort();
            memcpy(nr, readme, b);
            memcpy(nr + b, md, ml);
            memcpy(nr + b + ml, readme + e, rlen - e + 1);
            free(readme);
            readme = nr;
            rlen = rlen - (e - b) + ml;
            if ((st = write_file_atomic(o.readme, readme, rlen))) rc = cli_report(st);
            else printf("docs: %s: table %s rewritten\n", o.readme, t->name);
            nok++;
        }
        free(md);
    }
    for (int i = 0; i < nnames; i++) {
        int found = 0;
        for (int s = 0; s < nspecs; s++) {
            const char *base = strrchr(specs[s], '/');
            base = base ? base + 1 : specs[s];
            found |= !strncmp(base, names[i], strlen(names[i])) && !strcmp(base + strlen(names[i]), ".ini");
        }
        if (!found) {
            fprintf(stderr, "backdoorlab docs: no spec %s/%s.ini\n", o.specs, names[i]);
            rc = rc ? rc : 2;
        }
    }
    if (o.check && !nnames) { // the reproduce report follows the same rule
        char rev[64] = "";
        char *rep = read_file_bytes("results/reproduce/README.md", 1L << 24, NULL);
        if (rep) docs_block_revision(rep, strlen(rep), rev, sizeof rev);
        if (!rep || src_changed_since(rev) != 0) {
            printf("docs-check: results/reproduce/README.md: stale (%s)\n",
                   !rep ? "missing: make reproduce" : "src/ changed since its revision, or it names none");
            nstale++;
        }
        free(rep);
    }
    if (o.check)
        printf("docs-check: %d tables checked: %d up to date, %d differ from this build, %d stale%s\n", nseen, nok,
               ndiff, nstale, ndiff ? " (FAILED)" : "");
    free(t);
    for (int s = 0; s < nspecs; s++) free(specs[s]);
    free(specs);
    free(readme);
    return rc ? rc : ndiff ? 1 : 0;
}
