// html.c: shared pieces of backdoorlab's HTML pages (see html.h).
#undef _POSIX_C_SOURCE
#define _XOPEN_SOURCE 700 // realpath
#include "io/html.h"

#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/results.h"

#define HTML_MAX_IMAGE (16L << 20) // largest image embedded (a page is for people: bigger is not shown)

void html_esc_n(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(c < 32 && c != '\n' && c != '\t' ? '?' : c, f);
        }
    }
}

void html_esc(FILE *f, const char *s) { html_esc_n(f, s ? s : "", SIZE_MAX); }

// One stylesheet for every page, so they read alike.
static const char g_css[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:0 auto;max-width:1250px;padding:1em 2em;"
    "color:#222;line-height:1.45}\n"
    "h1{margin-bottom:.2em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\n"
    ".row{display:flex;gap:1.5em;align-items:flex-start}.body{flex:1;min-width:0}\n"
    ".explain{flex:0 0 260px;background:#f3f6fa;border-left:4px solid #6a9fd4;padding:.2em .9em;font-size:.92em}\n"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;"
    "vertical-align:top}\n"
    "table.grid td{text-align:right}table.kv th{background:#f6f6f6;font-weight:normal;white-space:nowrap}\n"
    "table.metrics td{min-width:13em}.scroll{overflow-x:auto;max-width:100%}\n"
    "tr.triggered{background:#fff6f0}mark{background:#ffd54f;padding:0 .15em;font-weight:bold}\n"
    "img.samples{image-rendering:pixelated;max-width:100%}img.plot{max-width:100%;border:1px solid #ddd}\n"
    "figure{margin:.8em 0}figcaption{font-size:.9em;color:#555}\n"
    "pre{background:#f8f8f8;padding:.6em;overflow-x:auto;font-size:.88em}pre.wrap{white-space:pre-wrap}\n"
    ".missing{color:#8a4b00}.warn{color:#b00020}.ok{color:#1b7a1b}.na{color:#888}\n"
    ".msg{font-family:'DejaVu Sans Mono',monospace;font-size:.9em}.msg.triggered{background:#fff6f0}\n"
    "td.verdict-within{background:#e3f4e3;color:#1b5e20;font-weight:bold}"
    "td.verdict-outside{background:#fde2e2;color:#b00020;font-weight:bold}\n"
    "td.verdict-missing{background:#fff0d6;color:#8a4b00;font-weight:bold}td.verdict-none{color:#666}\n"
    "table.board td{text-align:left;font-size:.92em}td.failed{color:#b00020}\n"
    "code{font-size:.92em}\n";

void html_page_begin(FILE *f, const char *title, const char *heading) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    html_esc(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", g_css);
    html_esc(f, heading);
    fputs("</h1>\n", f);
}

void html_page_end(FILE *f) { fputs("</body>\n</html>\n", f); }

void html_sec_begin(FILE *f, const char *id, const char *title, const char *explain) {
    fputs("<section id=\"", f);
    html_esc(f, id);
    fputs("\">\n<h2>", f);
    html_esc(f, title);
    fputs("</h2>\n<div class=\"row\">\n<aside class=\"explain\"><p>", f);
    fputs(explain, f);
    fputs("</p></aside>\n<div class=\"body\">\n", f);
}

void html_sec_end(FILE *f) { fputs("</div>\n</div>\n</section>\n", f); }

void html_num(FILE *f, const char *path, double v, HtmlFmt fmt) {
    if (!isfinite(v)) {
        fputs("<span class=\"na\">n/a</span>", f);
        return;
    }
    fputs("<span data-metric=\"", f);
    html_esc(f, path);
    fprintf(f, "\" data-value=\"%.17g\">", v);
    if (fmt == HTML_PCT) fprintf(f, "%.2f%%", 100 * v);
    else if (fmt == HTML_INT) fprintf(f, "%.0f", v);
    else if (fmt == HTML_FIX2) fprintf(f, "%.2f", v);
    else fprintf(f, "%.4g", v);
    fputs("</span>", f);
}

int html_embed_image(FILE *f, const char *path, const char *label, const char *alt, const char *cls) {
    size_t n = 0;
    unsigned char *b = (unsigned char *)read_file_bytes(path, HTML_MAX_IMAGE, &n);
    const char *mime = NULL;
    if (b && n > 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) mime = "image/png";
    else if (b && n > 5 && strstr((char *)b, "<svg") != NULL) mime = "image/svg+xml";
    if (!mime) {
        fputs("<p class=\"missing\">", f);
        html_esc(f, label);
        fputs(b ? " is not a PNG or SVG image: not shown.</p>\n" : " is missing or unreadable: not shown.</p>\n", f);
        int rc = b ? -1 : 0;
        free(b);
        return rc;
    }
    size_t m = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(m);
    if (!s) {
        free(b);
        fputs("<p class=\"missing\">out of memory embedding an image.</p>\n", f);
        return 0;
    }
    sodium_bin2base64(s, m, b, n, sodium_base64_VARIANT_ORIGINAL);
    fprintf(f, "<img class=\"%s\" alt=\"", cls);
    html_esc(f, alt);
    fprintf(f, "\" src=\"data:%s;base64,%s\">\n", mime, s);
    free(s);
    free(b);
    return 1;
}

// One line's inline markup: `code`, **bold**; unmatched markers are text.
static void md_inline(FILE *f, const char *s, size_t n) {
    const char *e = s + n;
    while (s < e) {
        const char *tick = memchr(s, '`', (size_t)(e - s)), *star = NULL;
        for (const char *q = s; q + 1 < e && !star; q++)
            if (q[0] == '*' && q[1] == '*') star = q;
        const char *m = tick && (!star || tick < star) ? tick : star;
        const char *close = NULL;
        if (m == tick && tick) close = memchr(tick + 1, '`', (size_t)(e - tick - 1));
        else if (m)
            for (const char *q = m + 2; q + 1 < e && !close; q++)
                if (q[0] == '*' && q[1] == '*') close = q;
        if (!m || !close) {
            html_esc_n(f, s, (size_t)(e - s));
            return;
        }
        html_esc_n(f, s, (size_t)(m - s));
        int code = m == tick;
        fputs(code ? "<code>" : "<strong>", f);
        html_esc_n(f, m + (code ? 1 : 2), (size_t)(close - m - (code ? 1 : 2)));
        fputs(code ? "</code>" : "</strong>", f);
        s = close + (code ? 1 : 2);
    }
}

void html_markdown(FILE *f, const char *md, int h) {
    enum { NONE, PARA, LIST, TABLE } open = NONE;
    static const char *const close_tag[] = {"", "</p>\n", "</ul>\n", "</table></div>\n"};
    int rows = 0;
    for (const char *s = md ? md : ""; *s;) {
        size_t n = strcspn(s, "\n");
        const char *next = s + n + (s[n] != 0);
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
        int kind = !n ? NONE : s[0] == '|' ? TABLE : (n > 1 && (s[0] == '-' || s[0] == '*') && s[1] == ' ') ? LIST
                       : s[0] == '#' ? -1 : PARA;
        if (open != NONE && kind != (int)open) fputs(close_tag[open], f), open = NONE;
        if (kind == -1) { // heading
            int lv = (int)strspn(s, "#");
            size_t skip = (size_t)lv + strspn(s + lv, " ");
            lv = h + lv - 1 > 6 ? 6 : h + lv - 1;
            fprintf(f, "<h%d>", lv);
            md_inline(f, s + skip, n > skip ? n - skip : 0);
            fprintf(f, "</h%d>\n", lv);
        } else if (kind == PARA) {
            fputs(open == PARA ? "\n" : "<p>", f);
            open = PARA;
            md_inline(f, s, n);
        } else if (kind == LIST) {
            if (open != LIST) fputs("<ul>\n", f);
            open = LIST;
            fputs("<li>", f);
            md_inline(f, s + 2, n - 2);
            fputs("</li>\n", f);
        } else if (kind == TABLE) {
            if (open != TABLE) fputs("<div class=\"scroll\"><table>\n", f), rows = 0;
            open = TABLE;
            if (strspn(s, "|-: ") >= n) { // the header's underline
                s = next;
                continue;
            }
            const char *cell = "td";
            if (!rows++) cell = "th";
            fputs("<tr>", f);
            const char *c = s + 1, *e = s + n;
            if (e > c && e[-1] == '|') e--;
            while (c <= e) {
                const char *bar = c;
                while (bar < e && *bar != '|') bar++;
                fprintf(f, "<%s>", cell);
                md_inline(f, c, (size_t)(bar - c));
                fprintf(f, "</%s>", cell);
                c = bar + 1;
            }
            fputs("</tr>\n", f);
        }
        s = next;
    }
    if (open != NONE) fputs(close_tag[open], f);
}

int html_relpath(const char *from, const char *to, char *out, size_t n) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, b)) return -1;
    // the longest common prefix that ends at a '/' boundary of both
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) i++;
    if ((a[i] == 0 || a[i] == '/') && (b[i] == 0 || b[i] == '/')) common = i;
    else
        for (common = i; common > 0 && a[common - 1] != '/'; common--);
    size_t u = 0;
    out[0] = 0;
    for (const char *p = a + common; *p; p++) // one "../" per folder of from below the common part
        if (*p == '/' && p[1] && u + 4 < n) u += (size_t)snprintf(out + u, n - u, "../");
    if (a[common] && a[common] != '/' && u + 4 < n) u += (size_t)snprintf(out + u, n - u, "../");
    const char *rest = b + common;
    while (*rest == '/') rest++;
    if ((size_t)snprintf(out + u, n - u, "%s", *rest ? rest : ".") >= n - u) return -1;
    return 0;
}
