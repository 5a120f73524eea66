// run_report.h: report.html, one self-contained page per run folder for a person (a student) to read: the setup,
// clean and triggered samples, training curves, the metrics with their intervals, every defence's plots, each
// model's provenance and signature status, and beside each part a plain-language note of what it shows.
//
// The page is built only from the files already in the folder (config.resolved.ini, manifest.json, metrics.json,
// epochs.csv, samples.*, defense/*/, supply-chain/, the .bdm files), so it can be re-rendered at any time:
// `run` writes it before DONE, `detect` again after adding a defence. Images are embedded as data: URIs, the
// page has no script and loads nothing, and a missing or unreadable file becomes a sentence saying so.
//
// Every number taken from metrics.json is printed as
//   <span data-metric="backdoored_model/asr" data-value="0.97499999999999998">97.50%</span>
// (data-metric: its path in metrics.json, '/'-separated, array positions as numbers; data-value: %.17g), so a
// test can check the page against the file. Nothing time-dependent (timings, start/end times) is shown: the same
// run gives the same page bytes.
#ifndef BL_RUN_REPORT_H
#define BL_RUN_REPORT_H

#include "core/core.h"

// Write run_dir/report.html atomically, plus curves.gp and curves.svg (training curves, drawn by gnuplot; without
// gnuplot the page says the figure needs it). Errors only when the page cannot be written (BL_ERR_RUN); a missing
// or corrupt input file is reported on the page, never an error.
Status run_report_write(const char *run_dir);

#endif
