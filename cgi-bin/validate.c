/* validate.c: input whitelists. */
#include "validate.h"

#include "crypto.h"

#include <string.h>
#include <strings.h>

int validate_pin(const char *s)
{
    if (!s) return 0;
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return s[6] == 0;
}

int validate_type(const char *s)
{
    if (!s || *s < 'a' || *s > 'z') return 0;
    size_t n = 1;
    for (; s[n]; n++) {
        char c = s[n];
        if (n > 31) return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return strncmp(s, "peer-", 5) != 0;
}

int validate_token(const char *s)
{
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= CRYPTO_TOKEN_HEX) return 0;
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return n == CRYPTO_TOKEN_HEX;
}

const char *validate_bearer(const char *header)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0) return NULL;
    const char *t = header + 7;
    while (*t == ' ') t++;
    return validate_token(t) ? t : NULL;
}

int validate_after(const char *query, long long *after)
{
    int seen = 0;
    *after = 0;
    if (!query) return 0;
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= 6 && memcmp(p, "after=", 6) == 0) {
            if (seen++) return -1;
            if (n == 6 || n - 6 > 16) return -1;
            long long v = 0;
            for (size_t i = 6; i < n; i++) {
                if (p[i] < '0' || p[i] > '9') return -1;
                v = v * 10 + (p[i] - '0');
            }
            if (v > VALIDATE_MAX_SEQ) return -1;
            *after = v;
        }
        p += n;
        if (*p == '&') p++;
    }
    return 0;
}

/* The deepest nesting of arrays and objects in JSON text, strings skipped. */
static int json_depth(const char *s, size_t len)
{
    int depth = 0, max = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (s[i] == '\\') i++;
            else if (s[i] == '"') in_string = 0;
        } else if (s[i] == '"') {
            in_string = 1;
        } else if (s[i] == '[' || s[i] == '{') {
            if (++depth > max) max = depth;
        } else if (s[i] == ']' || s[i] == '}') {
            depth--;
        }
    }
    return max;
}

json_t *validate_json_object(const char *body, size_t len)
{
    json_error_t err;
    if (!body || len == 0 || len > VALIDATE_MAX_BODY) return NULL;
    /* SQLite's JSON functions stop at 2000 levels, jansson at 2048: data
     * between would be stored but come back quoted as a string. */
    if (json_depth(body, len) > VALIDATE_MAX_DEPTH) return NULL;
    /* The whole buffer must be one value (trailing data is an error), NUL
     * bytes inside strings are refused, UTF-8 is checked, and a key given
     * twice is refused rather than guessed at. */
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}
