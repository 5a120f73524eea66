// email.h: what a spam filter reads of an e-mail: from a raw RFC 822 message, the Subject (optional) and the
// decoded body text, parsed with GMime 3.0 (Debian libgmime-3.0-dev).
//
// The text, in this order, parts separated by a newline:
// - with `subject`, the Subject header decoded (RFC 2047 encoded words to UTF-8);
// - every text/plain part, transfer encoding undone (quoted-printable, base64) and converted to UTF-8 (see
//   email.c for the charset rule), and every text/html part reduced to its text (email_html_text); in a
//   multipart/alternative the text/plain alternative is taken when there is one, else the first alternative that
//   gives any text; attached messages (message/rfc822) contribute their bodies the same way.
// NEVER the other headers: List-Id, Received, From, X-Spam-* and the like are label shortcuts in the SpamAssassin
// corpus (List-Id alone is in most ham), and a filter that learns them is not learning spam.
// A leading mbox "From " envelope line is skipped. A message that is all headers, or empty, gives empty text (a
// dataset stores it as an empty sequence; the model reads that as one out-of-vocabulary token, see nn/vocab.h).
// A broken MIME structure gives whatever GMime recovers (never a crash); parts other than text/* give nothing.
#ifndef BL_TEXT_EMAIL_H
#define BL_TEXT_EMAIL_H

#include <stddef.h>

#include "core/core.h"

// Initialise GMime (once per process; further calls do nothing; thread-safe). GMime is never shut down: its
// global tables live until exit (valgrind counts them as "still reachable", not as leaks).
void email_init(void);

// The text of raw[0..len) as above, into *text (malloc'd, NUL-terminated, *text_len bytes without the NUL; the
// caller free()s it). Only BL_ERR_RUN (out of memory) is possible: every input gives some text, maybe empty.
Status email_text(const char *raw, size_t len, int subject, char **text, size_t *text_len);

// The text of an HTML document: tags become spaces; <script>, <style> and <!-- comments --> are dropped with
// their content; character references are decoded (numeric ones, and the common names: amp lt gt quot apos nbsp
// and about thirty more; an unknown name stays as written). Output malloc'd like email_text.
Status email_html_text(const char *html, size_t len, char **text, size_t *text_len);

#endif
