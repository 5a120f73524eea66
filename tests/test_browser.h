// test_browser.h: checks of backdoorlab's HTML pages shared by test_run_report.c and test_html_pages.c
// (header-only; include after <cmocka.h>): the tools they need (Debian's chromium and tidy), a shell command's
// exit status, a shown number against its exact value, non-empty sections, embedded images that decode.
#ifndef BL_TEST_BROWSER_H
#define BL_TEST_BROWSER_H

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static inline int sh(const char *cmd) {
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline void need_tools(void) {
    if (sh("command -v chromium >/dev/null 2>&1"))
        fail_msg("chromium is not installed: pages are checked in a real browser; install Debian's chromium "
                 "package (make deps / scripts/install-deps.sh does)");
    if (sh("command -v tidy >/dev/null 2>&1"))
        fail_msg("tidy is not installed: pages are validated by it; install Debian's tidy package (make deps)");
}

// The text of a number as shown rounds to value: a percentage (ending in %) or a plain number to its decimals.
static inline int shown_matches(const char *text, double v) {
    char *end;
    double x = strtod(text, &end);
    if (end == text) return 0;
    if (*end == '%') return fabs(x - 100 * v) <= 0.005 + 1e-9;
    const char *dot = strchr(text, '.');
    int dec = 0;
    if (dot && dot < end)
        for (const char *q = dot + 1; q < end && *q >= '0' && *q <= '9'; q++) dec++;
    const char *e = strpbrk(text, "eE");
    int ex = e && e < end ? atoi(e + 1) : 0;
    return fabs(x - v) <= 0.5 * pow(10, ex - dec) * (1 + 1e-9) + 1e-300;
}

// Every <section> has a non-empty body (text beyond the tags, or an image). Returns how many.
static inline int check_sections(const char *dom) {
    int n = 0;
    for (const char *s = strstr(dom, "<section"); s; s = strstr(s + 1, "<section")) {
        const char *end = strstr(s, "</section>"), *body = strstr(s, "<div class=\"body\">");
        assert_non_null(end);
        if (!body || body > end) fail_msg("section %.40s has no body", s);
        int text = 0, in_tag = 0;
        for (const char *q = body + 18; q < end && !text; q++) {
            if (*q == '<') in_tag = 1, text = !strncmp(q, "<img", 4);
            else if (*q == '>') in_tag = 0;
            else if (!in_tag && *q > ' ') text = 1;
        }
        if (!text) fail_msg("an empty section: %.60s", s);
        n++;
    }
    return n;
}

// Every <img> of the page holds a data: URI that decodes to a PNG or an SVG. Returns how many.
static inline int check_images(const char *html) {
    int n = 0;
    for (const char *p = strstr(html, "<img "); p; p = strstr(p + 1, "<img ")) {
        const char *src = strstr(p, " src=\"");
        assert_non_null(src);
        src += 6;
        int png = !strncmp(src, "data:image/png;base64,", 22), svg = !strncmp(src, "data:image/svg+xml;base64,", 26);
        if (!png && !svg) fail_msg("an image that is not an embedded PNG/SVG: %.60s", src);
        const char *b64 = src + (png ? 22 : 26), *end = strchr(b64, '"');
        size_t len = (size_t)(end - b64), got = 0;
        unsigned char *bin = malloc(len + 1);
        assert_int_equal(sodium_base642bin(bin, len, b64, len, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
        bin[got] = 0;
        if (png) assert_memory_equal(bin, "\x89PNG\r\n\x1a\n", 8);
        else assert_true(got > 100 && strstr((char *)bin, "<svg") && strstr((char *)bin, "</svg>"));
        free(bin);
        n++;
    }
    return n;
}

#endif
