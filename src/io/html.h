// html.h: the pieces every self-contained page of backdoorlab is made of (run/run_report.c's report.html,
// reproduce's report.html, the leaderboard's leaderboard.html): escaping, the page head with its one stylesheet,
// a section beside its plain-language note, images embedded as data: URIs, and numbers tagged for tests.
//
// A page has no script and loads nothing; the same inputs give the same bytes (nothing time-dependent).
// A number taken from a JSON file is printed as
//   <span data-metric="papers/0/claims/1/mean" data-value="97.499999999999986">97.50</span>
// data-metric: its '/'-separated path in that file (array positions as numbers); data-value: %.17g. The shown
// text is the value rounded (a trailing '%' inside the span means the value is a fraction shown times 100), so a
// test can hold every tagged number against the file it came from.
#ifndef BL_HTML_H
#define BL_HTML_H

#include <stddef.h>
#include <stdio.h>

// Text for HTML: & < > " ' escaped, control bytes (other than tab and newline) shown as '?'. At most n bytes.
void html_esc_n(FILE *f, const char *s, size_t n);
void html_esc(FILE *f, const char *s); // NULL prints nothing

// "<!DOCTYPE html>" up to and including "<body>" and an <h1>: title and heading are escaped.
void html_page_begin(FILE *f, const char *title, const char *heading);
void html_page_end(FILE *f); // "</body></html>"

// <section id=ID><h2>TITLE</h2> with the content beside a note for a student. explain is static markup from the
// caller (not escaped); title is escaped.
void html_sec_begin(FILE *f, const char *id, const char *title, const char *explain);
void html_sec_end(FILE *f);

typedef enum {
    HTML_PCT, // a proportion shown as a percentage, 2 decimals ("97.50%")
    HTML_INT, // a count ("600")
    HTML_NUM, // 4 significant digits
    HTML_FIX2 // 2 decimals (a value already in its unit, e.g. percent points)
} HtmlFmt;

// <span data-metric=PATH data-value=%.17g>shown</span>; a non-finite value prints an untagged "n/a".
void html_num(FILE *f, const char *path, double v, HtmlFmt fmt);

// <img class=CLS alt=ALT src="data:..."> holding the file at path (a PNG or an SVG, checked by its bytes).
// Otherwise a sentence naming label (the path as the reader knows it) says why nothing is shown.
// Returns 1 when embedded, 0 when the file is missing or unreadable, -1 when it is not a PNG or SVG.
int html_embed_image(FILE *f, const char *path, const char *label, const char *alt, const char *cls);

// A small Markdown subset as HTML, for the notes backdoorlab writes itself (narrative.md): '#' headings (level 1
// becomes <h{h}>, level 2 <h{h+1}>, ...), "- " lists, '|' tables (the first row a header, the "|---|" row
// dropped), paragraphs, `code` and **bold** inside. Everything else is escaped text: any input gives valid HTML.
void html_markdown(FILE *f, const char *md, int h);

// to (a file or folder) relative to folder from, both as seen from the current folder; both must exist. Used for
// links between pages that keep working when the folders are moved together. 0 on success, -1 otherwise.
int html_relpath(const char *from, const char *to, char *out, size_t n);

#endif
