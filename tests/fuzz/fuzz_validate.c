/* fuzz_validate.c: libFuzzer target for the validators and config_set alone.
 *
 * The input is up to six fields separated by the byte 0x1e (ASCII record
 * separator), each standing for one thing a client controls:
 *
 *   query 0x1e authorization 0x1e word 0x1e body 0x1e setting 0x1e value
 *
 * query goes to validate_after, authorization to validate_bearer, word to
 * validate_pin / validate_type / validate_token, body (with any NUL bytes it
 * holds) to validate_json_object and, when it parses, through a dump and a
 * strict re-parse (what the server stores and re-reads; what a poll then
 * returns is fuzzed on the real path by fuzz_request.c); setting and value go
 * to config_set and then turn_add_servers.
 * Every accepted value is checked against its contract: a break is abort(). */
#include "config.h"
#include "turn.h"
#include "validate.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEP 0x1e
#define NFIELDS 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct field {
    char *s;    /* NUL-terminated copy (C-string users stop at the first NUL) */
    size_t len; /* bytes, NULs included */
};

static void check(int ok)
{
    if (!ok) abort();
}

static int all_in(const char *s, size_t n, const char *set)
{
    return strspn(s, set) == n && strlen(s) == n;
}

static void fuzz_after(const char *query)
{
    long long after = -1;
    if (validate_after(query, &after) == 0) check(after >= 0 && after <= VALIDATE_MAX_SEQ);
}

static void fuzz_bearer(const char *header)
{
    const char *t = validate_bearer(header);
    if (!t) return;
    check(t > header && t < header + strlen(header) && validate_token(t));
    check(!strncasecmp(header, "Bearer ", 7));
}

static void fuzz_word(const char *w)
{
    if (validate_pin(w)) check(all_in(w, 6, "0123456789"));
    if (validate_token(w)) check(all_in(w, 64, "0123456789abcdef"));
    if (validate_type(w)) {
        size_t n = strlen(w);
        check(n >= 1 && n <= 32 && w[0] >= 'a' && w[0] <= 'z');
        check(all_in(w, n, "abcdefghijklmnopqrstuvwxyz0123456789-") && strncmp(w, "peer-", 5));
    }
}

/* The body as api.c uses it: pin for join, token for leave, type and data for
 * send (data stored as its compact dump and re-parsed on the way out). */
static void fuzz_body(const char *body, size_t len)
{
    json_t *o = validate_json_object(body, len);
    if (!o) return;
    check(json_is_object(o));
    fuzz_word(json_string_value(json_object_get(o, "pin")));
    fuzz_word(json_string_value(json_object_get(o, "token")));
    fuzz_word(json_string_value(json_object_get(o, "type")));
    json_t *data = json_object_get(o, "data");
    if (!data) data = json_null();
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    check(text != NULL);
    json_error_t err;
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    check(back && json_equal(back, data));
    json_decref(back);
    free(text);
    /* The whole object survives a dump and a strict re-parse too. */
    char *all = json_dumps(o, JSON_COMPACT);
    check(all != NULL);
    json_t *again = json_loads(all, JSON_REJECT_DUPLICATES, &err);
    check(again && json_equal(again, o));
    json_decref(again);
    free(all);
    json_decref(o);
}

/* One setting on a fresh config, then the ICE list built from it.
 * secret_file is left out: its value is a path, and the fuzzer would open
 * whatever it names (a FIFO or /dev/stdin would hang the run). A setting
 * that config_set takes must make a valid ICE list. */
static void fuzz_config(const char *name, const char *value)
{
    struct config cfg;
    char err[512] = "";
    if (!strcmp(name, "secret_file")) return;
    memset(&cfg, 0, sizeof cfg);
    if (config_set(&cfg, name, value, err, sizeof err) < 0) {
        check(err[0] != 0); /* a refusal always says why */
    } else {
        if (!cfg.secret) check(config_set(&cfg, "secret", "fuzz-secret-0123456789", err, sizeof err) == 0);
        if (!cfg.turn_ttl) cfg.turn_ttl = 43200;
        json_t *obj = json_object();
        check(obj && turn_add_servers(obj, &cfg, "192.0.2.1", 1700000000) == 0);
        check(json_is_array(json_object_get(obj, "ice_servers")));
        json_decref(obj);
    }
    config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct field f[NFIELDS];
    size_t start = 0;
    memset(f, 0, sizeof f);
    for (int i = 0; i < NFIELDS; i++) {
        const uint8_t *sep = start < size ? memchr(data + start, SEP, size - start) : NULL;
        size_t end = i == NFIELDS - 1 || !sep ? size : (size_t)(sep - data);
        if (start > end) end = start;
        f[i].len = end - start;
        f[i].s = malloc(f[i].len + 1);
        if (!f[i].s) goto out;
        if (f[i].len) memcpy(f[i].s, data + start, f[i].len);
        f[i].s[f[i].len] = 0;
        start = end < size ? end + 1 : size;
    }
    fuzz_after(f[0].s);
    fuzz_bearer(f[1].s);
    fuzz_word(f[2].s);
    fuzz_body(f[3].s, f[3].len);
    fuzz_config(f[4].s, f[5].s);
out:
    for (int i = 0; i < NFIELDS; i++) free(f[i].s);
    return 0;
}
