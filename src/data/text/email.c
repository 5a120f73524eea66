// email.c: e-mail to model text with GMime (see email.h).
//
// Charset rule for a text part, after the transfer encoding is undone: bytes that are already valid UTF-8 are kept
// as they are (pure ASCII, real UTF-8, and text a corpus tool already re-encoded, whatever the label says);
// otherwise the declared charset is converted with iconv when GMime knows it; otherwise GMime's 8-bit guesser
// (g_mime_utils_decode_8bit: UTF-8, then Latin-1) decides. The result is always valid UTF-8.
#include "data/text/email.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/text/tokenize.h"

#define EMAIL_MAX_DEPTH 64 // MIME nesting followed; deeper parts are ignored (GMime also limits it)

// A growing byte buffer; `oom` sticks once an allocation fails, so callers check once at the end.
typedef struct {
    char *s;    // (n) bytes, NUL-terminated when non-NULL
    size_t n;   // bytes used
    size_t cap; // room
    int oom;    // 1 after a failed allocation (the buffer then holds what fitted before it)
} Buf;

static void buf_put(Buf *b, const char *p, size_t len) {
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, p, len);
    b->n += len;
    b->s[b->n] = 0;
}

static void buf_putc(Buf *b, char c) { buf_put(b, &c, 1); }

// Hand the buffer over as (text, text_len); an empty buffer becomes "".
static Status buf_finish(Buf *b, char **text, size_t *text_len) {
    if (!b->oom && !b->s) buf_put(b, "", 0);
    if (b->oom) {
        free(b->s);
        *text = NULL;
        *text_len = 0;
        return bl_fail(BL_ERR_RUN, "e-mail text: out of memory");
    }
    *text = b->s;
    *text_len = b->n;
    return BL_OK;
}

static pthread_once_t email_once = PTHREAD_ONCE_INIT;
static void email_init_once(void) { g_mime_init(); }
void email_init(void) { pthread_once(&email_once, email_init_once); }

// ---- HTML to text ----

static const struct {
    const char *name; // entity name without & and ;
    const char *utf8; // what it stands for
} html_entities[] = {
    {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "},
    {"copy", "\xc2\xa9"}, {"reg", "\xc2\xae"}, {"trade", "\xe2\x84\xa2"}, {"hellip", "\xe2\x80\xa6"},
    {"mdash", "\xe2\x80\x94"}, {"ndash", "\xe2\x80\x93"}, {"lsquo", "\xe2\x80\x98"}, {"rsquo", "\xe2\x80\x99"},
    {"ldquo", "\xe2\x80\x9c"}, {"rdquo", "\xe2\x80\x9d"}, {"bull", "\xe2\x80\xa2"}, {"middot", "\xc2\xb7"},
    {"euro", "\xe2\x82\xac"}, {"pound", "\xc2\xa3"}, {"cent", "\xc2\xa2"}, {"yen", "\xc2\xa5"},
    {"eacute", "\xc3\xa9"}, {"egrave", "\xc3\xa8"}, {"ecirc", "\xc3\xaa"}, {"aacute", "\xc3\xa1"},
    {"agrave", "\xc3\xa0"}, {"acirc", "\xc3\xa2"}, {"iacute", "\xc3\xad"}, {"oacute", "\xc3\xb3"},
    {"uacute", "\xc3\xba"}, {"ntilde", "\xc3\xb1"}, {"ccedil", "\xc3\xa7"}, {"auml", "\xc3\xa4"},
    {"ouml", "\xc3\xb6"}, {"uuml", "\xc3\xbc"}, {"Auml", "\xc3\x84"}, {"Ouml", "\xc3\x96"},
    {"Uuml", "\xc3\x9c"}, {"szlig", "\xc3\x9f"}, {"Eacute", "\xc3\x89"}, {"shy", ""},
};

// Append code point c as UTF-8 (a space for NUL, surrogates and values past U+10FFFF).
static void put_utf8(Buf *b, uint32_t c) {
    char u[4];
    if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) c = ' ';
    if (c < 0x80) u[0] = (char)c, buf_put(b, u, 1);
    else if (c < 0x800) u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3f)), buf_put(b, u, 2);
    else if (c < 0x10000)
        u[0] = (char)(0xe0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3f)), u[2] = (char)(0x80 | (c & 0x3f)),
        buf_put(b, u, 3);
    else
        u[0] = (char)(0xf0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3f)), u[2] = (char)(0x80 | ((c >> 6) & 0x3f)),
        u[3] = (char)(0x80 | (c & 0x3f)), buf_put(b, u, 4);
}

// A character reference at s[0..len) (s[0] == '&'): appended decoded, returns bytes consumed; 0 when it is not
// one (the caller then copies the '&').
static size_t html_entity(const char *s, size_t len, Buf *b) {
    size_t i = 1;
    if (i < len && s[i] == '#') {
        uint32_t v = 0;
        int hex = ++i < len && (s[i] == 'x' || s[i] == 'X'), digits = 0;
        if (hex) i++;
        for (; i < len && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])); i++, digits++)
            if (v < 0x110000) v = v * (hex ? 16 : 10) + (uint32_t)(isdigit((unsigned char)s[i]) ? s[i] - '0'
                                                                      : (s[i] | 0x20) - 'a' + 10);
        if (!digits) return 0;
        put_utf8(b, v);
        return i < len && s[i] == ';' ? i + 1 : i;
    }
    while (i < len && i < 12 && isalnum((unsigned char)s[i])) i++;
    if (i >= len || s[i] != ';') return 0;
    for (size_t k = 0; k < BL_ARRAY_LEN(html_entities); k++)
        if (strlen(html_entities[k].name) == i - 1 && !memcmp(html_entities[k].name, s + 1, i - 1)) {
            buf_put(b, html_entities[k].utf8, strlen(html_entities[k].utf8));
            return i + 1;
        }
    return 0;
}

// Case-insensitive search for needle in s[from..len); its offset or len.
static size_t find_ci(const char *s, size_t len, size_t from, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = from; i + m <= len; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)s[i + k]) == needle[k]) k++;
        if (k == m) return i;
    }
    return len;
}

static void html_to_buf(const char *s, size_t len, Buf *b) {
    for (size_t i = 0; i < len;) {
        if (s[i] == '&') {
            size_t k = html_entity(s + i, len - i, b);
            if (!k) buf_putc(b, '&'), k = 1;
            i += k;
            continue;
        }
        if (s[i] != '<' || i + 1 >= len ||
            !(isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!' || s[i + 1] == '?')) {
            buf_putc(b, s[i++]); // text, or a '<' that does not open a tag ("a < b")
            continue;
        }
        if (len - i >= 4 && !memcmp(s + i, "<!--", 4)) { // comment: to "-->" (or the end)
            size_t e = find_ci(s, len, i + 4, "-->");
            i = e < len ? e + 3 : len;
            buf_putc(b, ' ');
            continue;
        }
        size_t j = i + 1;
        while (j < len && isalnum((unsigned char)s[j])) j++;
        size_t nl = j - (i + 1);
        const char *skip_to = NULL; // a raw-text element: its content is not text
        if (nl == 6 && !strncasecmp(s + i + 1, "script", 6)) skip_to = "</script";
        if (nl == 5 && !strncasecmp(s + i + 1, "style", 5)) skip_to = "</style";
        size_t e = j;
        while (e < len && s[e] != '>') e++; // end of the tag (attribute values with '>' are rare in mail)
        i = e < len ? e + 1 : len;
        if (skip_to) {
            size_t c = find_ci(s, len, i, skip_to);
            while (c < len && s[c] != '>') c++;
            i = c < len ? c + 1 : len;
        }
        buf_putc(b, ' ');
    }
}

Status email_html_text(const char *html, size_t len, char **text, size_t *text_len) {
    Buf b = {0};
    html_to_buf(html, len, &b);
    return buf_finish(&b, text, text_len);
}

// ---- MIME ----

// Append part's content decoded to UTF-8 (html reduced to text), then a newline.
static void put_part(GMimePart *part, int html, Buf *out) {
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    if (!dw) return;
    GMimeStream *mem = g_mime_stream_mem_new();
    if (!mem) {
        out->oom = 1;
        return;
    }
    g_mime_data_wrapper_write_to_stream(dw, mem); // undoes the transfer encoding
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const char *raw = ba && ba->len ? (const char *)ba->data : "";
    size_t n = ba ? ba->len : 0;
    char *conv = NULL;
    if (n && !text_utf8_valid(raw, n)) {
        const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
        if (cs) {
            iconv_t cd = g_mime_iconv_open("UTF-8", cs);
            if (cd != (iconv_t)-1) {
                conv = g_mime_iconv_strndup(cd, raw, n);
                g_mime_iconv_close(cd);
                if (conv && !text_utf8_valid(conv, strlen(conv))) g_free(conv), conv = NULL;
            }
        }
        if (!conv) conv = g_mime_utils_decode_8bit(NULL, raw, n);
        if (conv) raw = conv, n = strlen(conv);
    }
    if (html) html_to_buf(raw, n, out);
    else buf_put(out, raw, n);
    buf_putc(out, '\n');
    g_free(conv);
    g_object_unref(mem);
}

static int is_text(GMimeObject *o, const char *subtype) {
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return GMIME_IS_PART(o) && ct && g_mime_content_type_is_type(ct, "text", subtype);
}

static void walk(GMimeObject *o, Buf *out, int depth) {
    if (!o || depth > EMAIL_MAX_DEPTH || out->oom) return;
    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (m) walk(g_mime_message_get_mime_part(m), out, depth + 1);
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        const int n = g_mime_multipart_get_count(mp);
        GMimeContentType *ct = g_mime_object_get_content_type(o);
        if (ct && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
            for (int i = 0; i < n; i++) // the plain alternative when there is one
                if (is_text(g_mime_multipart_get_part(mp, i), "plain")) {
                    walk(g_mime_multipart_get_part(mp, i), out, depth + 1);
                    return;
                }
            for (int i = 0; i < n; i++) { // else the first alternative that gives any text
                size_t before = out->n;
                walk(g_mime_multipart_get_part(mp, i), out, depth + 1);
                if (out->n > before) return;
            }
            return;
        }
        for (int i = 0; i < n; i++) walk(g_mime_multipart_get_part(mp, i), out, depth + 1);
        return;
    }
    if (is_text(o, "plain")) put_part(GMIME_PART(o), 0, out);
    else if (is_text(o, "html")) put_part(GMIME_PART(o), 1, out);
}

Status email_text(const char *raw, size_t len, int subject, char **text, size_t *text_len) {
    email_init();
    Buf b = {0};
    if (len >= 5 && !memcmp(raw, "From ", 5)) { // mbox envelope line, not a header
        const char *nl = memchr(raw, '\n', len);
        size_t skip = nl ? (size_t)(nl - raw) + 1 : len;
        raw += skip, len -= skip;
    }
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = stream ? g_mime_parser_new_with_stream(stream) : NULL;
    GMimeMessage *msg = parser ? g_mime_parser_construct_message(parser, NULL) : NULL;
    if (msg) {
        const char *subj = subject ? g_mime_message_get_subject(msg) : NULL;
        if (subj && *subj) {
            buf_put(&b, subj, strlen(subj));
            buf_putc(&b, '\n');
        }
        walk(g_mime_message_get_mime_part(msg), &b, 0);
        g_object_unref(msg);
    }
    if (parser) g_object_unref(parser);
    if (stream) g_object_unref(stream);
    return buf_finish(&b, text, text_len);
}
