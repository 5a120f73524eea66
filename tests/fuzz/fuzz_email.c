// fuzz_email: raw RFC 822 messages (data/text/email.c, GMime) to the text a spam filter reads, with and without
// the Subject, and the same bytes as an HTML document (email_html_text).
#include "fuzz_util.h"
#include "data/text/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    email_init();
    for (int subject = 0; subject <= 1; subject++) {
        char *text = NULL;
        size_t n = 0;
        if (email_text((const char *)data, len, subject, &text, &n) == BL_OK) free(text);
    }
    char *text = NULL;
    size_t n = 0;
    if (email_html_text((const char *)data, len, &text, &n) == BL_OK) free(text);
    return 0;
}
