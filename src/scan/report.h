// report.h: a scan's results for people (terminal table) and for CI systems: JSON, JUnit XML (one testcase per
// check: GitLab, GitHub and Jenkins display it) and SARIF 2.1.0 (one rule per check, one result per check that
// ran). Files are written atomically (io/atomic.h).
#ifndef BL_SCAN_REPORT_H
#define BL_SCAN_REPORT_H

#include <stdio.h>

#include "scan/scan.h"

void scan_print_summary(const ScanReport *rep, FILE *f);
Status scan_write_json(const ScanReport *rep, const char *path);
Status scan_write_junit(const ScanReport *rep, const char *path);
Status scan_write_sarif(const ScanReport *rep, const char *path);

#endif
