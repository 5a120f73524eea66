// test_text_data.c: the text readers (data/text/): the words-lower-v1 tokeniser, the lexicon, e-mail text with
// GMime (quoted-printable, base64, HTML, alternatives, charsets, List-Id never read), dedupe and split, the
// text:PATH readers (TSV, CSV, class folders, TRAIN,TEST), tokens in dataset.c (copy, select, subsets, the hash),
// the [data] config keys, every bad input of issue 15 (invalid UTF-8, NUL bytes, a 10 MB message, empty and
// all-headers messages, broken MIME, a row without a label, a label outside the classes, truncated JSON), and the
// SpamAssassin counts on the real files in datasets/spamassassin (skipped when scripts/fetch-spam.sh has not run).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
// cmocka needs the above first.
#include <cmocka.h>

#include "test_util.h"

#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/load.h"
#include "data/text/corpus.h"
#include "data/text/email.h"
#include "data/text/lexicon.h"
#include "data/text/spamassassin.h"
#include "data/text/textfile.h"
#include "data/text/tokenize.h"
#include "io/config.h"

// ---- helpers ----

static char g_dir[256]; // per-test temp folder

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_text_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static const char *tpath(const char *name) {
    static char buf[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static const char *put_bytes(const char *name, const void *b, size_t len) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    return p;
}

static const char *put(const char *name, const char *text) { return put_bytes(name, text, strlen(text)); }

static void mkdir_in(const char *name) { assert_int_equal(mkdir(tpath(name), 0755), 0); }

// The words of text joined by single spaces, into out.
static Status join_word(void *ctx, const char *w, size_t len) {
    char *out = ctx;
    size_t n = strlen(out);
    if (n + len + 2 > 4096) return BL_ERR_RUN;
    if (n) out[n++] = ' ';
    memcpy(out + n, w, len);
    out[n + len] = 0;
    return BL_OK;
}

static const char *words_of(const char *s, size_t len) {
    static char out[4096];
    out[0] = 0;
    assert_int_equal(text_split_each(s, len, join_word, out), BL_OK);
    return out;
}

static const char *words(const char *s) { return words_of(s, strlen(s)); }

// The e-mail text of raw as its words (subject read when `subject`).
static const char *mail_words(const char *raw, int subject) {
    char *t;
    size_t n;
    assert_int_equal(email_text(raw, strlen(raw), subject, &t, &n), BL_OK);
    assert_non_null(t);
    assert_int_equal(strlen(t), n);
    assert_true(text_utf8_valid(t, n));
    const char *w = words_of(t, n);
    free(t);
    return w;
}

// Message i of d as words joined by spaces.
static const char *msg_words(const Dataset *d, int i) {
    static char out[4096];
    out[0] = 0;
    for (long t = d->tok_offset[i]; t < d->tok_offset[i + 1]; t++) {
        const char *w = lex_word(d->lexicon, d->tokens[t]);
        join_word(out, w, strlen(w));
    }
    return out;
}

static void expect_fail(Status st, Status want, const char *msg) {
    if (st != want || !strstr(bl_errmsg(), msg))
        print_error("status %d, message \"%s\", wanted %d with \"%s\"\n", (int)st, bl_errmsg(), (int)want, msg);
    assert_int_equal(st, want);
    assert_non_null(strstr(bl_errmsg(), msg));
}

static const TextOptions k_opt = {.max_tokens = 50, .subject = 1, .test_fraction = 0.2, .split_seed = 1};

// ---- tokeniser ----

static void test_tokenize_rules(void **state) {
    (void)state;
    assert_string_equal(TEXT_TOKENIZER_NAME, "words-lower-v1");
    assert_string_equal(words("Hello, WORLD! It's 2002: win $100_000 now..."), "hello world it s 2002 win 100 000 now");
    assert_string_equal(words("  \t\n"), "");
    assert_string_equal(words(""), "");
    // non-ASCII letters are word characters, kept as written (lower-casing is ASCII only)
    assert_string_equal(words("Café ÉLAN naïve"), "café Élan naïve");
    // typographic punctuation and spaces separate: U+2019 ’, U+00A0 no-break space, U+2014 —, U+FFFD
    assert_string_equal(words("don\xe2\x80\x99t a\xc2\xa0" "b c\xe2\x80\x94" "d e\xef\xbf\xbd" "f"), "don t a b c d e f");
    // invalid UTF-8 bytes and NULs separate
    assert_string_equal(words_of("caf\xe9 bar\xff\xfe" "baz", 13), "caf bar baz");
    assert_string_equal(words_of("a\0b\0\0c", 6), "a b c");
    assert_string_equal(words("x\xc0\xaf" "y \xed\xa0\x80z"), "x y z"); // overlong form and a surrogate
    assert_string_equal(words("trunc\xe2\x82"), "trunc");                 // a sequence cut by the end
    // a long run is cut to 63 bytes, the rest of the run dropped
    char longw[200];
    memset(longw, 'A', 150);
    strcpy(longw + 150, " next");
    const char *w = words(longw);
    assert_int_equal(strchr(w, ' ') - w, 63);
    assert_string_equal(strchr(w, ' ') + 1, "next");
    // ... at a code-point boundary: 62 ASCII bytes then a 2-byte letter do not fit in 63
    char cut[100];
    memset(cut, 'a', 62);
    strcpy(cut + 62, "\xc3\xa9xyz");
    w = words(cut);
    assert_int_equal(strlen(w), 62);
    assert_true(text_utf8_valid(w, strlen(w)));
}

static void test_tokenize_spans_and_ids(void **state) {
    (void)state;
    const char *s = "Buy NOW, buy cheap";
    WordSpan sp[2];
    assert_int_equal(text_split(s, strlen(s), sp, 2), 4); // counts all words, writes 2
    assert_int_equal(sp[0].start, 0);
    assert_int_equal(sp[0].len, 3);
    assert_int_equal(sp[1].start, 4);
    char w[DS_WORD_MAX];
    assert_int_equal(text_word_lower(s + sp[1].start, sp[1].len, w, sizeof w), 3);
    assert_string_equal(w, "now");
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    IdBuf ids = {0};
    assert_int_equal(text_tokenize(s, strlen(s), lex, &ids), BL_OK);
    assert_int_equal(ids.n, 4);
    assert_int_equal(ids.ids[0], 0);
    assert_int_equal(ids.ids[1], 1);
    assert_int_equal(ids.ids[2], 0); // "buy" again
    assert_int_equal(ids.ids[3], 2);
    assert_int_equal(lex_size(lex), 3);
    idbuf_free(&ids);
    lex_free(lex);
}

// ---- lexicon ----

static void test_lexicon(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    int32_t id;
    assert_int_equal(lex_intern(lex, "spam", 4, &id), BL_OK);
    assert_int_equal(id, 0);
    const char *p0 = lex_word(lex, 0);
    assert_string_equal(p0, "spam");
    assert_int_equal(lex_find(lex, "spam", 4), 0);
    assert_int_equal(lex_find(lex, "spa", 3), -1);
    assert_int_equal(lex_find(lex, "", 0), -1);
    assert_null(lex_word(lex, 1));
    assert_null(lex_word(lex, -1));
    // many words: dense ids in order, found again after the table grew, old pointers still valid
    char w[32];
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(lex_intern(lex, w, (size_t)n, &id), BL_OK);
        assert_int_equal(id, i + 1);
    }
    assert_int_equal(lex_size(lex), 200001);
    for (int i = 0; i < 200000; i += 997) {
        int n = snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(lex_find(lex, w, (size_t)n), i + 1);
        assert_string_equal(lex_word(lex, i + 1), w);
        assert_int_equal(lex_word_len(lex, i + 1), n);
    }
    assert_ptr_equal(lex_word(lex, 0), p0);
    assert_int_equal(lex_intern(lex, "w5", 2, &id), BL_OK);
    assert_int_equal(id, 6);
    // bad words
    char big[DS_WORD_MAX + 1];
    memset(big, 'x', sizeof big);
    expect_fail(lex_intern(lex, big, DS_WORD_MAX, &id), BL_ERR_USAGE, "1..63 bytes");
    expect_fail(lex_intern(lex, "a\0b", 3, &id), BL_ERR_USAGE, "without NUL");
    expect_fail(lex_intern(lex, "", 0, &id), BL_ERR_USAGE, "1..63 bytes");
    assert_int_equal(lex_size(lex), 200001);
    lex_free(lex);
    lex_free(NULL);
    assert_int_equal(lex_size(NULL), 0);
}

// ---- e-mail ----

static const char *k_mail_qp =
    "From someone@example.com  Thu Aug 22 13:17:22 2002\n"
    "Return-Path: <x@example.com>\n"
    "List-Id: <razor-users.example.sourceforge.net>\n"
    "X-Spam-Status: No, hits=-2.0\n"
    "Subject: =?iso-8859-1?q?Caf=E9_meeting?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Soft line=\n"
    "break and caf=E9 =3D fine\n";

static void test_email_quoted_printable_subject(void **state) {
    (void)state;
    assert_string_equal(mail_words(k_mail_qp, 1), "café meeting soft linebreak and café fine");
    assert_string_equal(mail_words(k_mail_qp, 0), "soft linebreak and café fine");
    // never a header other than the Subject
    const char *w = mail_words(k_mail_qp, 1);
    assert_null(strstr(w, "razor"));
    assert_null(strstr(w, "sourceforge"));
    assert_null(strstr(w, "hits"));
    assert_null(strstr(w, "example"));
}

static void test_email_base64_multipart_html(void **state) {
    (void)state;
    // "Hello base64 world" in base64; an attachment that is not text is ignored
    const char *m = "Subject: Multi\n"
                    "MIME-Version: 1.0\n"
                    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
                    "\n"
                    "preamble is not read\n"
                    "--XX\n"
                    "Content-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: base64\n"
                    "\n"
                    "SGVsbG8gYmFzZTY0IHdvcmxk\n"
                    "--XX\n"
                    "Content-Type: application/octet-stream\n"
                    "Content-Transfer-Encoding: base64\n"
                    "\n"
                    "c2VjcmV0IGJpbmFyeQ==\n"
                    "--XX\n"
                    "Content-Type: text/html\n"
                    "\n"
                    "<html><head><style>p {color: red}</style><script>var hidden=1;</script></head>"
                    "<body><p>Click&nbsp;<b>HERE</b> &amp; win &#36;5 &#x263A; &bogus; a &lt; b</p><!-- secret -->"
                    "</body></html>\n"
                    "--XX--\n"
                    "epilogue\n";
    assert_string_equal(mail_words(m, 1), "multi hello base64 world click here win 5 ☺ bogus a b");
}

static void test_email_alternative_prefers_plain(void **state) {
    (void)state;
    const char *m = "Subject: alt\n"
                    "Content-Type: multipart/alternative; boundary=b1\n"
                    "\n"
                    "--b1\n"
                    "Content-Type: text/html\n"
                    "\n"
                    "<p>html version</p>\n"
                    "--b1\n"
                    "Content-Type: text/plain\n"
                    "\n"
                    "plain version\n"
                    "--b1--\n";
    assert_string_equal(mail_words(m, 0), "plain version");
    // html only: reduced to text; nested related part inside alternative
    const char *h = "Content-Type: multipart/alternative; boundary=b1\n"
                    "\n"
                    "--b1\n"
                    "Content-Type: multipart/related; boundary=b2\n"
                    "\n"
                    "--b2\n"
                    "Content-Type: text/html; charset=utf-8\n"
                    "\n"
                    "<div>only <i>html</i></div>\n"
                    "--b2--\n"
                    "--b1--\n";
    assert_string_equal(mail_words(h, 0), "only html");
    // an attached message contributes its body, not its headers
    const char *fw = "Subject: fwd\n"
                     "Content-Type: multipart/mixed; boundary=q\n"
                     "\n"
                     "--q\n"
                     "Content-Type: text/plain\n"
                     "\n"
                     "see below\n"
                     "--q\n"
                     "Content-Type: message/rfc822\n"
                     "\n"
                     "List-Id: <inner.list>\n"
                     "Subject: inner\n"
                     "\n"
                     "inner body\n"
                     "--q--\n";
    assert_string_equal(mail_words(fw, 1), "fwd see below inner body");
}

static void test_email_charsets(void **state) {
    (void)state;
    // 8-bit Latin-1 body declared as such: converted
    assert_string_equal(mail_words("Content-Type: text/plain; charset=iso-8859-1\n\nna\xefve r\xe9sum\xe9\n", 0),
                        "naïve résumé");
    // already valid UTF-8 whatever the label says: kept
    assert_string_equal(mail_words("Content-Type: text/plain; charset=iso-8859-1\n\nna\xc3\xafve\n", 0), "naïve");
    // unknown charset, bad bytes: still valid UTF-8 text (mail_words checks), the words survive
    const char *w = mail_words("Content-Type: text/plain; charset=x-nonsense\n\nhello \xff\xfe world\n", 0);
    assert_non_null(strstr(w, "hello"));
    assert_non_null(strstr(w, "world"));
    // koi8-r
    assert_string_equal(mail_words("Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n", 0),
                        "Привет");
}

static void test_email_bad_input(void **state) {
    (void)state;
    char *t;
    size_t n;
    // empty, headers only, an mbox line only: empty text, never an error
    assert_string_equal(mail_words("", 1), "");
    assert_string_equal(mail_words("From a@b  Thu Aug 22 2002\n", 1), "");
    assert_string_equal(mail_words("List-Id: <x>\nReceived: from y\n", 1), "");
    assert_string_equal(mail_words("List-Id: <x>\nSubject: only subject\n\n", 1), "only subject");
    // no headers at all: GMime reads the first lines as (broken) headers; whatever it keeps, no crash
    mail_words("just some text\nwithout headers\n", 1);
    // broken MIME: a boundary never closed, a boundary never opened, nested garbage, bad base64
    mail_words("Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nopen part\n", 0);
    assert_non_null(strstr(mail_words("Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain"
                                      "\n\nopen part\n", 0), "open part"));
    mail_words("Content-Type: multipart/mixed; boundary=\n\n--\n--\n----\n", 0);
    mail_words("Content-Type: multipart/mixed\n\nno boundary parameter\n", 0);
    mail_words("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!not base64@@@\n====\n", 0);
    mail_words("Content-Type: text/html\n\n<script>never closed <b>&#99999999999; &#; &#x; <\n", 0);
    mail_words("Content-Type: message/rfc822\n\n", 0);
    mail_words("Subject: =?utf-8?b?!!!?= =?bogus?q?x?=\n\nbody\n", 1);
    // NUL bytes inside a message
    const char nul[] = "Subject: a\0b\n\nbody\0with\0nuls\n";
    assert_int_equal(email_text(nul, sizeof nul - 1, 1, &t, &n), BL_OK);
    assert_true(text_utf8_valid(t, n));
    assert_non_null(strstr(words_of(t, n), "with"));
    free(t);
    // deeply nested multiparts
    char deep[40000];
    size_t w = 0;
    for (int i = 0; i < 300; i++)
        w += (size_t)snprintf(deep + w, sizeof deep - w, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    snprintf(deep + w, sizeof deep - w, "Content-Type: text/plain\n\ndeep\n");
    mail_words(deep, 0);
    // a 10 MB message: all of it is read
    const size_t big = 10u << 20;
    char *m = malloc(big + 64);
    assert_non_null(m);
    size_t h = (size_t)sprintf(m, "Subject: big\n\n");
    for (size_t i = h; i < big; i++) m[i] = (i % 8 == 7) ? ' ' : 'a' + (char)(i % 3);
    memcpy(m + big - 8, " theend\n", 8);
    assert_int_equal(email_text(m, big, 1, &t, &n), BL_OK);
    assert_true(n > big - 100);
    assert_non_null(strstr(t + n - 20, "theend"));
    DsLexicon *lex;
    IdBuf ids = {0};
    assert_int_equal(lex_new(&lex), BL_OK);
    assert_int_equal(text_tokenize(t, n, lex, &ids), BL_OK);
    assert_true(ids.n > (long)(big / 8) - 10);
    idbuf_free(&ids);
    lex_free(lex);
    free(t);
    free(m);
}

// The per-message loop must not grow memory: run valgrind on this test to see it (no "definitely lost").
static void test_email_loop_no_leak(void **state) {
    (void)state;
    for (int i = 0; i < 300; i++) {
        char *t;
        size_t n;
        assert_int_equal(email_text(k_mail_qp, strlen(k_mail_qp), i & 1, &t, &n), BL_OK);
        free(t);
    }
}

// ---- corpus: dedupe and split ----

static void test_corpus_dedupe_split(void **state) {
    (void)state;
    DsLexicon *lex;
    assert_int_equal(lex_new(&lex), BL_OK);
    TextCorpus c = {0};
    // 300 messages, 100 distinct texts; message i has text i % 100 and class (i % 100) % 3 == 0
    for (int i = 0; i < 300; i++) {
        char t[64];
        int k = i % 100;
        snprintf(t, sizeof t, "%s message number %d", i % 2 ? "Hello," : "hello", k); // case/punct differ only
        assert_int_equal(corpus_add(&c, t, strlen(t), k % 3 == 0, i, lex), BL_OK);
    }
    assert_int_equal(corpus_add(&c, "", 0, 0, 300, lex), BL_OK); // an empty message
    assert_int_equal(corpus_add(&c, "!!!", 3, 1, 301, lex), BL_OK); // empty too: a duplicate of the previous
    int removed;
    assert_int_equal(corpus_dedupe(&c, NULL, &removed), BL_OK);
    assert_int_equal(removed, 201);
    assert_int_equal(c.n, 101);
    for (int i = 0; i < 100; i++) assert_int_equal(c.orig[i], i); // the first occurrences, in order
    assert_int_equal(c.orig[100], 300);
    int count[2];
    corpus_count(&c, 2, count);
    assert_int_equal(count[1], 34);
    assert_int_equal(count[0], 67);
    char(*names)[DS_NAME_MAX] = bl_alloc(2 * DS_NAME_MAX);
    strcpy(names[0], "ham");
    strcpy(names[1], "spam");
    DatasetPair p;
    assert_int_equal(corpus_make_pair(&c, NULL, 0.2, 7, 5, 1, lex, names, 2, "test", &p), BL_OK);
    assert_int_equal(p.train.kind, DS_TOKENS);
    assert_int_equal(p.train.c, 5);
    assert_int_equal(p.train.h, 1);
    assert_int_equal(p.train.text_subject, 1);
    assert_int_equal(p.test.n, 20); // round(0.2 * 67) + round(0.2 * 34) = 13 + 7
    assert_int_equal(p.train.n, 81);
    int test_per[2] = {0, 0};
    for (int i = 0; i < p.test.n; i++) test_per[p.test.labels[i]]++;
    assert_int_equal(test_per[0], 13);
    assert_int_equal(test_per[1], 7);
    // no message in both, every message in one, both in file order
    uint8_t seen[400] = {0};
    for (int s = 0; s < 2; s++) {
        const Dataset *d = s ? &p.test : &p.train;
        for (int i = 0; i < d->n; i++) {
            assert_int_equal(seen[d->orig_index[i]]++, 0);
            if (i) assert_true(d->orig_index[i] > d->orig_index[i - 1]);
        }
    }
    for (int i = 0; i < p.train.n; i++) {
        char a[4096];
        snprintf(a, sizeof a, "%s", msg_words(&p.train, i));
        for (int j = 0; j < p.test.n; j++) assert_string_not_equal(a, msg_words(&p.test, j));
    }
    // messages are stored whole (c = 5 is only what a model reads)
    const Dataset *d = &p.train;
    assert_true(d->tok_offset[1] - d->tok_offset[0] == 4);
    assert_string_equal(msg_words(d, 0), "hello message number 0");
    ds_pair_free(&p);
    corpus_free(&c);
}

// ---- tokens in dataset.c ----

static void test_dataset_tokens_ops(void **state) {
    (void)state;
    const char *tsv = put("m.tsv", "label\ttext\nspam\tbuy cheap pills\nham\tmeeting at noon\nspam\twin cash now\n"
                                   "ham\tlunch tomorrow\nham\t\nspam\tcheap cheap cheap\n");
    TextOptions o = {.max_tokens = 3, .test_fraction = 0.34, .split_seed = 1};
    DatasetPair p;
    TextLoadInfo info;
    assert_int_equal(dataset_load_text("text", tsv, &o, 0, 0, &p, &info), BL_OK);
    assert_int_equal(info.read, 6);
    assert_int_equal(info.duplicates, 0);
    assert_int_equal(info.empty, 1);
    assert_int_equal(p.train.n + p.test.n, 6);
    assert_string_equal(p.class_names[0], "ham");
    assert_string_equal(p.class_names[1], "spam");
    assert_ptr_equal(p.train.class_names, p.class_names);
    assert_ptr_equal(p.test.lexicon, p.lexicon);
    Dataset cp, sel;
    assert_int_equal(ds_copy(&p.train, &cp), BL_OK);
    assert_int_equal(cp.n, p.train.n);
    assert_int_equal(cp.c, 3);
    assert_ptr_equal(cp.lexicon, p.lexicon);
    assert_ptr_not_equal(cp.tokens, p.train.tokens);
    for (int i = 0; i < cp.n; i++) assert_string_equal(msg_words(&cp, i), msg_words(&p.train, i));
    int idx[3] = {2, 0, 2};
    assert_int_equal(ds_select(&p.train, idx, 3, &sel), BL_OK);
    assert_int_equal(sel.n, 3);
    assert_string_equal(msg_words(&sel, 0), msg_words(&p.train, 2));
    assert_string_equal(msg_words(&sel, 1), msg_words(&p.train, 0));
    assert_int_equal(sel.orig_index[2], p.train.orig_index[2]);
    assert_int_equal(sel.labels[1], p.train.labels[0]);
    int bad = 99;
    assert_int_equal(ds_select(&p.train, &bad, 1, &sel) == BL_OK, 0);
    ds_free(&sel);
    assert_int_equal(ds_take_first(&cp, 2), BL_OK);
    assert_int_equal(cp.n, 2);
    assert_string_equal(msg_words(&cp, 1), msg_words(&p.train, 1));
    ds_free(&cp);
    // subsets through the front door change the hash; the hash does not depend on interning order
    char h1[65];
    strcpy(h1, p.sha256_hex);
    ds_pair_free(&p);
    assert_int_equal(dataset_load_text("text", tsv, &o, 2, 0, &p, NULL), BL_OK);
    assert_int_equal(p.train.n, 2);
    assert_string_not_equal(p.sha256_hex, h1);
    ds_pair_free(&p);
    // same messages, words interned in another order first (a different lexicon): same hash
    assert_int_equal(dataset_load_text("text", tsv, &o, 0, 0, &p, NULL), BL_OK);
    int32_t id;
    DsLexicon *lex2;
    assert_int_equal(lex_new(&lex2), BL_OK);
    for (int i = lex_size(p.lexicon) - 1; i >= 0; i--)
        assert_int_equal(lex_intern(lex2, lex_word(p.lexicon, i), strlen(lex_word(p.lexicon, i)), &id), BL_OK);
    for (int s = 0; s < 2; s++) {
        Dataset *d = s ? &p.test : &p.train;
        for (long t = 0; t < d->tok_offset[d->n]; t++)
            d->tokens[t] = lex_find(lex2, lex_word(p.lexicon, d->tokens[t]), strlen(lex_word(p.lexicon, d->tokens[t])));
    }
    lex_free(p.lexicon);
    p.lexicon = p.train.lexicon = p.test.lexicon = lex2;
    assert_int_equal(ds_pair_hash(&p), BL_OK);
    assert_string_equal(p.sha256_hex, h1);
    ds_pair_free(&p);
}

// ---- text:PATH readers ----

static void test_textfile_tsv_csv(void **state) {
    (void)state;
    DatasetPair p;
    TextLoadInfo info;
    // TSV without a header, CRLF, blank lines, spaces around the label; class ids in byte order of names
    const char *tsv = put("a.txt", "zeta\tlast class first\r\n\r\n alpha \tfirst class\r\nzeta\tagain z\n"
                                   "alpha\tmore a\nalpha\tmore a\n");
    assert_int_equal(textfile_load(tsv, &k_opt, &p, &info), BL_OK);
    assert_int_equal(p.train.num_classes, 2);
    assert_string_equal(p.class_names[0], "alpha");
    assert_string_equal(p.class_names[1], "zeta");
    assert_int_equal(info.read, 5);
    assert_int_equal(info.duplicates, 1);
    assert_int_equal(info.ntrain + info.ntest, 4);
    assert_int_equal(strncmp(p.source, "text:", 5), 0);
    ds_pair_free(&p);
    // CSV: header, quoted text with commas, quotes and a newline, unquoted commas joined into the text
    const char *csv = put("b.csv", "Label,Text\nham,\"Hi, \"\"Bob\"\"\nsee you\"\nspam,win,big,now\n\nham,plain\r\n");
    TextOptions o = k_opt;
    o.test_fraction = 0.01; // everything in train
    assert_int_equal(textfile_load(csv, &o, &p, &info), BL_OK);
    assert_int_equal(p.train.n, 3);
    assert_string_equal(msg_words(&p.train, 0), "hi bob see you");
    assert_string_equal(msg_words(&p.train, 1), "win big now");
    assert_int_equal(p.train.labels[1], 1);
    assert_string_equal(msg_words(&p.train, 2), "plain");
    assert_int_equal(p.train.orig_index[2], 2);
    ds_pair_free(&p);
    // TRAIN,TEST: the test file's repeats of training messages are dropped
    const char *tr = put("tr.tsv", "ham\tone\nspam\ttwo\nham\tthree\n");
    const char *te = put("te.tsv", "ham\tfour\nspam\ttwo\n");
    char spec[1100];
    snprintf(spec, sizeof spec, "%s,%s", tr, te);
    assert_int_equal(textfile_load(spec, &k_opt, &p, &info), BL_OK);
    assert_int_equal(p.train.n, 3);
    assert_int_equal(p.test.n, 1);
    assert_int_equal(info.duplicates, 1);
    assert_string_equal(msg_words(&p.test, 0), "four");
    ds_pair_free(&p);
}

static void test_textfile_folder(void **state) {
    (void)state;
    mkdir_in("f");
    mkdir_in("f/spam");
    mkdir_in("f/ham");
    mkdir_in("f/.hidden");
    put("f/ham/b.txt", "second ham");
    put("f/ham/a.txt", "first ham");
    put("f/ham/notes.md", "ignored");
    put("f/spam/x.txt", "only spam");
    put("f/README.txt", "ignored too");
    put("f/.hidden/h.txt", "ignored");
    DatasetPair p;
    TextOptions o = k_opt;
    o.test_fraction = 0.01;
    assert_int_equal(textfile_load(tpath("f"), &o, &p, NULL), BL_OK);
    assert_int_equal(p.train.n, 3);
    assert_string_equal(p.class_names[0], "ham");
    assert_string_equal(msg_words(&p.train, 0), "first ham");
    assert_string_equal(msg_words(&p.train, 1), "second ham");
    assert_string_equal(msg_words(&p.train, 2), "only spam");
    assert_int_equal(p.train.labels[2], 1);
    ds_pair_free(&p);
    // an empty class folder, and a test folder with a class the training folder lacks
    mkdir_in("g");
    mkdir_in("g/ham");
    mkdir_in("g/spam");
    put("g/ham/a.txt", "x");
    expect_fail(textfile_load(tpath("g"), &o, &p, NULL), BL_ERR_DATA, "no .txt files in this class folder");
    put("g/spam/a.txt", "y");
    mkdir_in("g2");
    mkdir_in("g2/eggs");
    put("g2/eggs/a.txt", "z");
    char spec[1100];
    snprintf(spec, sizeof spec, "%s,%s", tpath("g"), tpath("g2"));
    expect_fail(textfile_load(spec, &o, &p, NULL), BL_ERR_DATA, "label 'eggs' is not a class of the training data");
}

static void test_textfile_bad_input(void **state) {
    (void)state;
    DatasetPair p;
    expect_fail(textfile_load(put("t1.tsv", "ham\tok\n\tno label here\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t1.tsv:2: no label");
    expect_fail(textfile_load(put("t2.tsv", "ham\tok\njust text without a tab\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t2.tsv:2: no tab");
    expect_fail(textfile_load(put("t3.csv", "ham,ok\nspam\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t3.csv:2: no comma after the label");
    expect_fail(textfile_load(put("t4.csv", "ham,ok\nspam,\"never closed\n\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t4.csv:2: a quoted field is not closed");
    expect_fail(textfile_load(put("t5.csv", "ham,ok\nspam,\"q\"x\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t5.csv:2: text after a closing quote");
    expect_fail(textfile_load(put("t6.tsv", "ham\tone\nham\ttwo\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "1 class ('ham'); a classifier needs at least 2");
    expect_fail(textfile_load(put("t7.tsv", ""), &k_opt, &p, NULL), BL_ERR_DATA, "no messages");
    expect_fail(textfile_load(put("t8.tsv", "label\ttext\n\n"), &k_opt, &p, NULL), BL_ERR_DATA, "no messages");
    expect_fail(textfile_load(put_bytes("t9.tsv", "ha\x01m\tx\nspam\ty\n", 14), &k_opt, &p, NULL), BL_ERR_DATA,
                "t9.tsv:1: the label holds a control character");
    expect_fail(textfile_load(put("t10.tsv", "h\xffm\tx\nspam\ty\n"), &k_opt, &p, NULL), BL_ERR_DATA,
                "t10.tsv:1: the label is not valid UTF-8");
    char longl[200];
    memset(longl, 'L', 100);
    strcpy(longl + 100, "\tx\nspam\ty\n");
    expect_fail(textfile_load(put("t11.tsv", longl), &k_opt, &p, NULL), BL_ERR_DATA, "is longer than 63 bytes");
    expect_fail(textfile_load(tpath("missing.tsv"), &k_opt, &p, NULL), BL_ERR_DATA, "no such file or folder");
    expect_fail(textfile_load("", &k_opt, &p, NULL), BL_ERR_USAGE, "no file given");
    expect_fail(textfile_load("a.tsv,", &k_opt, &p, NULL), BL_ERR_USAGE, "expected text:TRAIN,TEST");
    // a test label outside the training classes names the test file's line
    const char *tr = put("tr.tsv", "ham\tone\nspam\ttwo\n");
    const char *te = put("te.tsv", "ham\tthree\n\nphish\tfour\n");
    char spec[1100];
    snprintf(spec, sizeof spec, "%s,%s", tr, te);
    expect_fail(textfile_load(spec, &k_opt, &p, NULL), BL_ERR_DATA,
                "te.tsv:3: label 'phish' is not a class of the training data (classes: ham, spam)");
    // invalid UTF-8 and NUL bytes in the text: separators, not errors
    const char bin[] = "ham\tgood\xff\xfe" "bytes\nspam\tnul\0inside\n";
    assert_int_equal(textfile_load(put_bytes("ok.tsv", bin, sizeof bin - 1), &k_opt, &p, NULL), BL_OK);
    const Dataset *d = p.train.n == 2 ? &p.train : NULL;
    assert_non_null(d);
    assert_string_equal(msg_words(d, 0), "good bytes");
    assert_string_equal(msg_words(d, 1), "nul inside");
    ds_pair_free(&p);
    // 300 distinct labels: more than 256 classes
    FILE *f = fopen(tpath("many.tsv"), "w");
    for (int i = 0; i < 300; i++) fprintf(f, "c%d\tx\n", i);
    fclose(f);
    expect_fail(textfile_load(tpath("many.tsv"), &k_opt, &p, NULL), BL_ERR_DATA, "more than 256 distinct labels");
}

// ---- spamassassin reader on a fake corpus ----

static void make_fake_spam(const char *const *records, int n) {
    mkdir_in("sa");
    mkdir_in("sa/data");
    mkdir_in("sa/data/easy-ham-1");
    mkdir_in("sa/data/spam-1");
    FILE *f = fopen(tpath("sa/data/file_list.json"), "w");
    fputs("[", f);
    for (int i = 0; i < n; i++) {
        const char *g = strstr(records[i], "\"spam") ? "spam-1" : "easy-ham-1";
        fprintf(f, "%s\"%s/%05d.abc.txt\"", i ? "," : "", g, i);
        char name[64];
        snprintf(name, sizeof name, "sa/data/%s/%05d.abc.json", g, i);
        put(name, records[i]);
    }
    fputs("]", f);
    fclose(f);
}

static void test_spam_fake(void **state) {
    (void)state;
    const char *rec[] = {
        "{\"id\":\"1\",\"group\":\"easy-ham-1\",\"text\":\"List-Id: <l>\\nSubject: Hi\\n\\nmeeting notes\\n\"}",
        "{\"id\":\"2\",\"group\":\"spam-1\",\"text\":\"Subject: Win\\n\\ncash \\u0000now\\n\"}",
        "{\"id\":\"3\",\"group\":\"spam-1\",\"text\":\"Received: other\\nSubject: Win\\n\\ncash now\\n\"}",
        "{\"id\":\"4\",\"group\":\"easy-ham-1\",\"text\":\"Subject: x\\n\\n\"}",
        "{\"id\":\"5\",\"group\":\"easy-ham-1\",\"text\":\"\"}",
    };
    make_fake_spam(rec, 5);
    DatasetPair p;
    TextLoadInfo info;
    TextOptions o = {.max_tokens = 10, .subject = 1, .test_fraction = 0.01, .split_seed = 1};
    assert_int_equal(spam_load(tpath("sa"), &o, &p, &info), BL_OK);
    assert_int_equal(info.read, 5);
    assert_int_equal(info.duplicates, 1); // record 3 reads as record 2 (headers other than Subject are not read)
    assert_int_equal(info.empty, 1);      // record 5
    assert_int_equal(p.train.n, 4);
    assert_string_equal(msg_words(&p.train, 0), "hi meeting notes");
    assert_string_equal(msg_words(&p.train, 1), "win cash now");
    assert_int_equal(p.train.labels[1], 1);
    assert_string_equal(msg_words(&p.train, 2), "x");
    assert_string_equal(p.class_names[1], "spam");
    assert_int_equal(p.train.text_subject, 1);
    ds_pair_free(&p);
    o.subject = 0;
    assert_int_equal(spam_load(tpath("sa"), &o, &p, &info), BL_OK);
    assert_string_equal(msg_words(&p.train, 0), "meeting notes");
    assert_int_equal(info.empty, 1); // records 4 and 5 are now the same (empty) message
    assert_int_equal(info.duplicates, 2);
    ds_pair_free(&p);
    rm_rf(tpath("sa"));
    // truncated JSON record, a record without text, a bad group, a raw NUL, a missing record, a bad list entry
    const char *trunc[] = {rec[0], "{\"id\":\"2\",\"group\":\"spam-1\",\"text\":\"Subject: Win\\n\\nca"};
    make_fake_spam(trunc, 2);
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "(record 2):1: not valid JSON (truncated");
    rm_rf(tpath("sa"));
    const char *notext[] = {"{\"group\":\"spam-1\",\"text\":5}"};
    make_fake_spam(notext, 1);
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "(record 1): expected an object with string");
    rm_rf(tpath("sa"));
    const char *badgroup[] = {"{\"group\":\"phish\",\"text\":\"x\"}"};
    make_fake_spam(badgroup, 1);
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "group 'phish' is neither ham");
    rm_rf(tpath("sa"));
    make_fake_spam(rec, 2);
    put_bytes("sa/data/easy-ham-1/00000.abc.json", "{\"group\":\"easy-ham-1\",\n\"text\":\"a\0b\"}", 34);
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "(record 1):2: a NUL byte in a JSON file");
    unlink(tpath("sa/data/easy-ham-1/00000.abc.json"));
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "cannot open");
    put("sa/data/file_list.json", "[\"../../etc/passwd.txt\"]");
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "entry 1 is not a message file name");
    put("sa/data/file_list.json", "[\"spam-1/00001.abc.txt\"");
    expect_fail(spam_load(tpath("sa"), &o, &p, NULL), BL_ERR_DATA, "file_list.json:1: not valid JSON");
    expect_fail(spam_load(tpath("nothing"), &o, &p, NULL), BL_ERR_DATA, "install it with scripts/fetch-spam.sh");
}

// ---- random corruption: every result is OK or BL_ERR_DATA, never a crash (run under valgrind or make asan) ----

static void corrupt(Rng *r, char *buf, size_t n, const char *pick) {
    int flips = 1 + (int)rng_below(r, 4);
    for (int k = 0; k < flips; k++) {
        size_t at = rng_below(r, n);
        buf[at] = rng_below(r, 2) ? pick[rng_below(r, strlen(pick))] : (char)(buf[at] ^ (1 << rng_below(r, 8)));
    }
}

static void test_fuzz_textfile(void **state) {
    (void)state;
    const char *clean = "label,text\nham,\"quoted, \"\"text\"\"\nline\"\nspam,buy now\nham,see you\nspam,\"x\"\n"
                        "ham\tstray tab\nspam,caf\xc3\xa9\n";
    const size_t n = strlen(clean);
    Rng r = rng_stream(15, "test");
    for (int it = 0; it < 1500; it++) {
        char buf[256];
        memcpy(buf, clean, n);
        corrupt(&r, buf, n, ",\"\n\r\t\xff\xc3");
        const char *path = put_bytes(it % 2 ? "fz.csv" : "fz.tsv", buf, n);
        DatasetPair p;
        Status st = textfile_load(path, &k_opt, &p, NULL);
        if (st == BL_OK) ds_pair_free(&p);
        else if (st != BL_ERR_DATA) fail_msg("iteration %d: status %d (%s)", it, st, bl_errmsg());
    }
}

static void test_fuzz_email(void **state) {
    (void)state;
    const char *clean = "From x  Thu\nSubject: =?utf-8?q?caf=C3=A9?=\nContent-Type: multipart/alternative; "
                        "boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\n"
                        "Content-Transfer-Encoding: quoted-printable\n\nsoft=\nline =E9t=E9\n--b\n"
                        "Content-Type: text/html\nContent-Transfer-Encoding: base64\n\nPHA+aGk8L3A+\n--b--\n";
    const size_t n = strlen(clean);
    Rng r = rng_stream(16, "test");
    for (int it = 0; it < 1500; it++) {
        char buf[512];
        memcpy(buf, clean, n);
        corrupt(&r, buf, n, "-\n=\"<>&;:\0\xff");
        char *t;
        size_t tl;
        assert_int_equal(email_text(buf, n, 1, &t, &tl), BL_OK);
        assert_true(text_utf8_valid(t, tl));
        free(t);
    }
}

static void test_fuzz_spam_json(void **state) {
    (void)state;
    const char *rec[] = {"{\"id\":\"1\",\"group\":\"easy-ham-1\",\"text\":\"Subject: Hi\\n\\nmeeting \\u00e9 notes\\n\"}",
                         "{\"id\":\"2\",\"group\":\"spam-1\",\"text\":\"Subject: Win\\n\\ncash now\\n\"}"};
    make_fake_spam(rec, 2);
    const size_t n = strlen(rec[1]);
    TextOptions o = {.max_tokens = 10, .subject = 1, .test_fraction = 0.01, .split_seed = 1};
    Rng r = rng_stream(17, "test");
    for (int it = 0; it < 600; it++) {
        char buf[256];
        memcpy(buf, rec[1], n);
        corrupt(&r, buf, n, "{}[]\",:\\u0\xff");
        put_bytes("sa/data/spam-1/00001.abc.json", buf, n);
        DatasetPair p;
        Status st = spam_load(tpath("sa"), &o, &p, NULL);
        if (st == BL_OK) ds_pair_free(&p);
        else if (st != BL_ERR_DATA) fail_msg("iteration %d: status %d (%s)", it, st, bl_errmsg());
    }
}

// ---- the real corpus ----

static void test_spam_real_counts(void **state) {
    (void)state;
    if (access("datasets/spamassassin/data/file_list.json", F_OK) != 0) {
        print_message("skipped: datasets/spamassassin is not installed (scripts/fetch-spam.sh)\n");
        skip();
    }
    DatasetPair p;
    TextLoadInfo info;
    TextOptions o = {.max_tokens = 400, .subject = 1, .test_fraction = 0.2, .split_seed = 1};
    assert_int_equal(dataset_load_text("spamassassin", NULL, &o, 0, 0, &p, &info), BL_OK);
    print_message("spamassassin (subject): read %d, duplicates %d, train %d (ham %d, spam %d), test %d (ham %d, "
                  "spam %d), %d words, sha256 %.16s\n", info.read, info.duplicates, info.ntrain,
                  info.train_per_class[0], info.train_per_class[1], info.ntest, info.test_per_class[0],
                  info.test_per_class[1], lex_size(p.lexicon), p.sha256_hex);
    assert_int_equal(info.read, 6046);
    assert_int_equal(info.duplicates, 132);
    assert_int_equal(info.ntrain, 4731);
    assert_int_equal(info.ntest, 1183);
    assert_int_equal(info.train_per_class[0], 3286);
    assert_int_equal(info.train_per_class[1], 1445);
    assert_int_equal(info.test_per_class[0], 822);
    assert_int_equal(info.test_per_class[1], 361);
    assert_int_equal(info.empty, 0);
    assert_int_equal(p.train.c, 400);
    // Header names are never read, but ham bodies carry mailing-list footers ("Spamassassin-talk mailing list"):
    // a body cue the issue keeps (reported here, not asserted)
    int32_t lid = lex_find(p.lexicon, "spamassassin", 12);
    long uses = 0;
    for (long t = 0; lid >= 0 && t < p.train.tok_offset[p.train.n]; t++) uses += p.train.tokens[t] == lid;
    print_message("'spamassassin' appears %ld times in the training bodies (list footers)\n", uses);
    ds_pair_free(&p);
    o.subject = 0;
    assert_int_equal(dataset_load_text("spamassassin", NULL, &o, 0, 0, &p, &info), BL_OK);
    print_message("spamassassin (no subject): duplicates %d, train %d, test %d, empty %d\n", info.duplicates,
                  info.ntrain, info.ntest, info.empty);
    assert_int_equal(info.duplicates, 328);
    ds_pair_free(&p);
}

// ---- config ----

static void test_config_text_keys(void **state) {
    (void)state;
    ExperimentConfig c;
    assert_int_equal(config_load_string("[data]\ndataset = spamassassin\nmax_tokens = 300\nsubject = 0\nsplit_seed = 3\n"
                                        "test_fraction = 0.25\n", "t.ini", &c), BL_OK);
    assert_int_equal(config_data_kind(&c), DS_TOKENS);
    assert_int_equal(c.data.max_tokens, 300);
    assert_int_equal(c.data.subject, 0);
    char *r = config_resolved_string(&c);
    assert_non_null(r);
    assert_non_null(strstr(r, "max_tokens = 300\nsubject = 0\ntest_fraction = 0.25\nsplit_seed = 3\n"));
    ExperimentConfig c2;
    assert_int_equal(config_load_string(r, "r.ini", &c2), BL_OK);
    char *r2 = config_resolved_string(&c2);
    assert_string_equal(r, r2);
    free(r);
    free(r2);
    assert_int_equal(config_load_string("[data]\ndataset = text:/x/a.tsv\n", "t.ini", &c), BL_OK);
    assert_int_equal(config_data_kind(&c), DS_TOKENS);
    assert_string_equal(c.data.dataset, "text");
    assert_string_equal(c.data.path, "/x/a.tsv");
    assert_int_equal(c.data.max_tokens, 400);
    r = config_resolved_string(&c);
    assert_non_null(strstr(r, "dataset = text:/x/a.tsv\n"));
    assert_non_null(strstr(r, "max_tokens = 400\n"));
    assert_null(strstr(r, "subject"));
    free(r);
    assert_int_equal(config_load_string("[data]\ndataset = text:a.tsv,b.tsv\n", "t.ini", &c), BL_OK);
    r = config_resolved_string(&c);
    assert_null(strstr(r, "split_seed"));
    free(r);
    expect_fail(config_load_string("[data]\ndataset = text:a.tsv\nsubject = 1\n", "t.ini", &c), BL_ERR_USAGE,
                "t.ini:3: [data] subject");
    expect_fail(config_load_string("[data]\ndataset = mnist10k\nmax_tokens = 30\n", "t.ini", &c), BL_ERR_USAGE,
                "t.ini:3: [data] max_tokens");
    expect_fail(config_load_string("[data]\ndataset = spamassassin\nmax_tokens = 0\n", "t.ini", &c), BL_ERR_USAGE,
                "1..100000");
    expect_fail(config_load_string("[data]\ndataset = spamassassin\nmax_tokens = 100001\n", "t.ini", &c),
                BL_ERR_USAGE, "1..100000");
    expect_fail(config_load_string("[data]\ndataset = spamassassin\nsubject = maybe\n", "t.ini", &c), BL_ERR_USAGE,
                "1 or 0");
    expect_fail(config_load_string("[data]\ndataset = text:\n", "t.ini", &c), BL_ERR_USAGE, "text:PATH");
    expect_fail(config_load_string("[data]\ndataset = text:a,b\nsplit_seed = 2\n", "t.ini", &c), BL_ERR_USAGE,
                "does not apply to text:TRAIN,TEST");
    expect_fail(config_load_string("[data]\ndataset = text:a\npath = x\n", "t.ini", &c), BL_ERR_USAGE,
                "does not apply to dataset = text:PATH");
    expect_fail(config_load_string("[data]\ndataset = spamassassin\nlabel_column = x\n", "t.ini", &c), BL_ERR_USAGE,
                "applies only to dataset = csv:PATH");
    expect_fail(config_load_string("[data]\ndataset = mnist10k\nsplit_seed = 2\n", "t.ini", &c), BL_ERR_USAGE,
                "applies only to dataset = csv:PATH, text:PATH or spamassassin");
    assert_int_equal(dataset_kind_of("spamassassin"), DS_TOKENS);
    assert_int_equal(dataset_kind_of("text"), DS_TOKENS);
    assert_int_equal(dataset_kind_of("mnist10k"), DS_IMAGES);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_tokenize_rules),
        T(test_tokenize_spans_and_ids),
        T(test_lexicon),
        T(test_email_quoted_printable_subject),
        T(test_email_base64_multipart_html),
        T(test_email_alternative_prefers_plain),
        T(test_email_charsets),
        T(test_email_bad_input),
        T(test_email_loop_no_leak),
        T(test_corpus_dedupe_split),
        T(test_dataset_tokens_ops),
        T(test_textfile_tsv_csv),
        T(test_textfile_folder),
        T(test_textfile_bad_input),
        T(test_spam_fake),
        T(test_fuzz_textfile),
        T(test_fuzz_email),
        T(test_fuzz_spam_json),
        T(test_spam_real_counts),
        T(test_config_text_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
