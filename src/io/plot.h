// plot.h: figures drawn by gnuplot, run as an external program. Plots are optional extras: the data (CSV) and
// the gnuplot script are always written, atomically, so a reader can redraw them; a missing or failing gnuplot
// never fails a run, it only leaves a note saying the PNG was skipped.
#ifndef BL_PLOT_H
#define BL_PLOT_H

#include <stddef.h>

#include "core/core.h"

// Run `gnuplot script` with `dir` as the working folder (stdout and stderr discarded). Returns gnuplot's exit
// status: 0 = drawn, 127 = gnuplot could not be started (not on PATH), 126 = killed by a signal.
int plot_run_gnuplot(const char *dir, const char *script);

// Write `script` (len bytes) to dir/script_name atomically, then run gnuplot on it inside dir, so the script's
// `set output 'x.png'` lands beside it. Returns an error only when the script cannot be written; when gnuplot
// is missing or fails, returns BL_OK and puts a one-sentence note into note (note[0] = 0 when the PNG was
// drawn). `what` names the figure in the note (e.g. "entropy_hist.png"). Each PNG the script draws also gets
// an SVG twin (X.svg beside X.png) for report.html and for papers.
Status plot_script(const char *dir, const char *script_name, const char *script, size_t len, const char *what,
                   char *note, size_t note_n);

#endif
