/* fuzz_request.c: libFuzzer target for the real request path, from the
 * FastCGI socket through libfcgi, http.c and api_handle to the reply.
 *
 * The harness plays lighttpd. At start it makes a temporary SQLite database
 * with the real schema, a real park (park_start) and one request thread that
 * does what main.c's workers do: FCGX_Accept_r on a listening unix socket,
 * then api_handle. Before each input it empties the database and seats two
 * peers, A and B, in the room of PIN 424242 with the fixed tokens TOKEN_A
 * and TOKEN_B (A has B's peer-joined waiting).
 *
 * An input is up to MAX_REQUESTS requests separated by 0x1d; a request is up
 * to six fields separated by 0x1e:
 *
 *   method 0x1e uri 0x1e authorization 0x1e extra 0x1e body 0x1e flags
 *
 * uri gives REQUEST_URI and, after its '?', QUERY_STRING. An empty
 * authorization sends no header. extra is "NAME=VALUE" lines that set or
 * override parameters (a bare NAME removes one; names are [A-Z0-9_]).
 * In authorization and body, $A, $B and $J stand for A's and B's tokens and
 * the token of the last successful join. flags[0] is what the client does
 * once the request is written: 'g' goes away at once (closes its socket,
 * reads nothing); 'q' reads the reply; anything else first writes a wake-up
 * message for A, B and the last joiner (so a held poll is answered at once,
 * not after poll_timeout) and then reads the reply. flags[1] sets the STDIN
 * record size.
 *
 * Every reply is checked; a break is abort() (libFuzzer keeps the input):
 *   - FastCGI records well formed, END_REQUEST complete, within the bound;
 *   - a CGI header block starting with a Status line, Cache-Control:
 *     no-store, Content-Type: application/json unless 204 (then no body);
 *   - the body is one JSON object (jansson, duplicates refused); an error
 *     is exactly {"error","message"} with a code and status that the table
 *     in docs/api.md lists; a success has the shape docs/api.md gives;
 *   - a poll returns seqs above its cursor in order, every message sent in
 *     this input with its type and data as sent (the real store_fetch), never
 *     the poller's own, server messages with data null; a poll with a
 *     wake-up message above its cursor is never answered empty.
 * ASan, UBSan and LeakSanitizer watch the whole process, park included.
 * FUZZ_REQUEST_VERBOSE=1 prints each request's status and body. */
#include "api.h"
#include "beat.h"
#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "fcgi_peer.h"
#include "park.h"
#include "store.h"
#include "validate.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REQ_SEP 0x1d
#define FIELD_SEP 0x1e
#define MAX_REQUESTS 8
#define NFIELDS 6
#define MAX_PARAMS 40
#define MAX_MODEL 64
#define PIN "424242"
#define TOKEN_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TOKEN_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define PEER_A "00000000000000aa"
#define PEER_B "00000000000000bb"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct doc_code {
    char code[40];
    int lo[6], hi[6], n; /* statuses the docs allow for this code */
};

struct msg {
    long long seq;
    char type[40];
    json_t *data;
    char from[STORE_PEER_HEX];
};

static struct {
    struct config cfg;
    struct park *park;
    struct beat_table *beats;
    struct db *db;
    char dir[256], sock[300];
    int listen_fd, reply_ms, verbose;
    struct doc_code codes[64];
    int ncodes;
    /* per input */
    char join_token[CRYPTO_TOKEN_HEX + 1], join_peer[STORE_PEER_HEX];
    struct msg model[MAX_MODEL];
    int nmodel, blind;
    long long wake[3]; /* the wake-up messages for A, B, J, or 0 */
} h;

static long long last_send_seq; /* over the whole run: seqs only grow */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_request: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}


/* ---- set-up: docs table, database, park, the request thread ---- */

/* Read the error table of docs/api.md ("| `code` | status | ..."): the
 * statuses of a cell are its 3-digit numbers and its "4xx"-style ranges. */
static void load_doc_codes(void)
{
    const char *path = getenv("TUTURU_API_DOC") ? getenv("TUTURU_API_DOC") : "docs/api.md";
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f) fail("cannot read %s (run from the repository root, or set TUTURU_API_DOC)", path);
    while (fgets(line, sizeof line, f) && h.ncodes < 64) {
        char *code = line + 3, *tick = strchr(code, '`');
        if (strncmp(line, "| `", 3) || !tick || strncmp(tick, "` | ", 4)) continue;
        struct doc_code *d = &h.codes[h.ncodes++];
        snprintf(d->code, sizeof d->code, "%.*s", (int)(tick - code), code);
        char *cell = tick + 4, *end = strchr(cell, '|');
        for (char *c = cell; end && c + 2 < end && d->n < 6; c++) {
            if (!isdigit((unsigned char)c[0]) || (c > cell && isalnum((unsigned char)c[-1]))) continue;
            if (c[1] == 'x' && c[2] == 'x') {
                d->lo[d->n] = (c[0] - '0') * 100;
                d->hi[d->n++] = (c[0] - '0') * 100 + 99;
            } else if (isdigit((unsigned char)c[1]) && isdigit((unsigned char)c[2])) {
                d->lo[d->n] = d->hi[d->n] = atoi(c);
                d->n++;
            }
        }
    }
    fclose(f);
    if (h.ncodes < 5) fail("no error table found in %s", path);
}

static void set(const char *name, const char *value)
{
    char err[512];
    if (config_set(&h.cfg, name, value, err, sizeof err) < 0) fail("config %s: %s", name, err);
}

static void load_config(void)
{
    char err[512], path[300];
    setenv("TUTURU_SECRET", "fuzz-secret-0123456789abcdef", 1);
    if (config_load(&h.cfg, NULL, err, sizeof err) < 0) fail("config: %s", err);
    snprintf(path, sizeof path, "%s/t.db", h.dir);
    set("db", path);
    set("poll_timeout", "1");
    set("join_limit", "5");
    set("stun_urls", "stun:127.0.0.1:3478");
    set("turn_urls", "turn:127.0.0.1:3478?transport=udp,turns:localhost:5349?transport=tcp");
    h.reply_ms = h.cfg.poll_timeout * 1000 + 10000;
}

/* main.c's worker: accept, handle, for ever. */
static void *serve(void *arg)
{
    (void)arg;
    char err[512];
    struct api_ctx ctx = {.cfg = &h.cfg, .park = h.park, .beats = h.beats};
    if (!(ctx.db = db_open(h.cfg.db, 0, err, sizeof err))) fail("worker: %s", err);
    for (;;) {
        FCGX_Request *req = malloc(sizeof *req);
        if (!req || FCGX_InitRequest(req, h.listen_fd, 0) != 0) fail("worker: out of memory");
        if (FCGX_Accept_r(req) < 0) fail("FCGX_Accept_r failed");
        api_handle(&ctx, req);
    }
    return NULL;
}

static void remove_dir(void)
{
    static const char *const names[] = {"t.db", "t.db-wal", "t.db-shm", "fcgi.sock"};
    char path[400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", h.dir, names[i]);
        unlink(path);
    }
    rmdir(h.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    pthread_t t;
    const char *tmp = getenv("TMPDIR");
    signal(SIGPIPE, SIG_IGN); /* main.c does the same */
    json_object_seed(1);
    load_doc_codes();
    h.verbose = getenv("FUZZ_REQUEST_VERBOSE") != NULL;
    snprintf(h.dir, sizeof h.dir, "%s/tuturu-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h.dir)) fail("mkdtemp failed");
    atexit(remove_dir);
    load_config();
    snprintf(h.sock, sizeof h.sock, "%s/fcgi.sock", h.dir);
    if (!(h.db = db_open(h.cfg.db, 1, err, sizeof err))) fail("%s", err);
    if (!(h.beats = beat_new())) fail("out of memory");
    if (!(h.park = park_start(&h.cfg, err, sizeof err))) fail("park_start: %s", err);
    if (FCGX_Init() != 0) fail("FCGX_Init failed");
    if ((h.listen_fd = fcgi_peer_listen(h.sock)) < 0) fail("cannot listen on %s", h.sock);
    if (pthread_create(&t, NULL, serve, NULL) != 0) fail("pthread_create failed");
    pthread_detach(t);
    return 0;
}

/* Empty the database and seat A and B in the room of PIN. */
static void reset_state(void)
{
    char pin_hash[CRYPTO_HASH_HEX + 1], ha[CRYPTO_HASH_HEX + 1], hb[CRYPTO_HASH_HEX + 1];
    int polite, peers;
    if (db_begin(h.db) < 0) fail("reset: begin");
    static const char wipe[] = "DELETE FROM messages; DELETE FROM peers; DELETE FROM rooms;"
                               " DELETE FROM join_rate;";
    if (sqlite3_exec(h.db->h, wipe, NULL, NULL, NULL) != SQLITE_OK) fail("reset: %s", sqlite3_errmsg(h.db->h));
    if (db_commit(h.db) < 0) fail("reset: commit");
    if (crypto_keyed_hex(h.cfg.secret, "pin", PIN, pin_hash) < 0 || crypto_sha256_hex(TOKEN_A, ha) < 0
        || crypto_sha256_hex(TOKEN_B, hb) < 0)
        fail("reset: hashing failed");
    if (store_join(h.db, pin_hash, PEER_A, ha, time(NULL), &polite, &peers) != STORE_OK
        || store_join(h.db, pin_hash, PEER_B, hb, time(NULL), &polite, &peers) != STORE_OK)
        fail("reset: join failed");
    for (int i = 0; i < h.nmodel; i++) json_decref(h.model[i].data);
    h.nmodel = h.blind = 0;
    h.join_token[0] = h.join_peer[0] = 0;
    memset(h.wake, 0, sizeof h.wake);
}

/* ---- one request: fields, parameters, the exchange ---- */

struct field {
    const char *s;
    size_t len;
};

struct request {
    struct field f[NFIELDS];
    struct fcgi_param params[MAX_PARAMS];
    size_t nparams;
    struct buf auth, body;
    char content_length[24];
    char action;
    size_t chunk;
    /* what the application sees (FCGX_GetParam stops at a NUL) */
    char *method, *uri, *query, *authorization, *redirect;
    char path[128];
};

/* Split data[0..size) at sep into at most max fields (the rest empty).
 * Returns how many were found. */
static size_t split(const char *data, size_t size, char sep, struct field *f, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i < max; i++) f[i] = (struct field){"", 0};
    if (!data) data = "";
    while (n < max) {
        const char *p = start < size ? memchr(data + start, sep, size - start) : NULL;
        size_t end = n == max - 1 || !p ? size : (size_t)(p - data);
        f[n].s = data + start;
        f[n++].len = end - start;
        if (end >= size) break;
        start = end + 1;
    }
    return n;
}

/* Copy f into b with $A, $B and $J replaced by the tokens they stand for. */
static void substitute(struct buf *b, struct field f)
{
    for (size_t i = 0; i < f.len; i++) {
        const char *t = NULL;
        if (f.s[i] == '$' && i + 1 < f.len) {
            char c = f.s[i + 1];
            t = c == 'A' ? TOKEN_A : c == 'B' ? TOKEN_B : c == 'J' ? h.join_token : NULL;
        }
        if (t) {
            buf_puts(b, t);
            i++;
        } else {
            buf_add(b, &f.s[i], 1);
        }
    }
    buf_add(b, "", 1); /* a NUL after the content, not counted */
    b->len--;
    if (b->failed) fail("out of memory");
}

static void param(struct request *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    for (size_t i = 0; i < r->nparams; i++) {
        if (r->params[i].nlen != nlen || memcmp(r->params[i].name, name, nlen)) continue;
        if (!value) r->params[i] = r->params[--r->nparams];
        else r->params[i].value = value, r->params[i].vlen = vlen;
        return;
    }
    if (value && r->nparams < MAX_PARAMS)
        r->params[r->nparams++] = (struct fcgi_param){name, value, nlen, vlen};
}

static void param_s(struct request *r, const char *name, const char *value)
{
    param(r, name, strlen(name), value, strlen(value));
}

/* What lighttpd 1.4 sends for a request to /api/ (the parts that matter). */
static void default_params(struct request *r)
{
    struct field m = r->f[0], u = r->f[1];
    const char *q = memchr(u.s, '?', u.len);
    size_t plen = q ? (size_t)(q - u.s) : u.len;
    param_s(r, "GATEWAY_INTERFACE", "CGI/1.1");
    param_s(r, "SERVER_PROTOCOL", "HTTP/1.1");
    param_s(r, "REDIRECT_STATUS", "200");
    param_s(r, "REMOTE_ADDR", "127.0.0.1");
    param_s(r, "REMOTE_PORT", "40000");
    param_s(r, "HTTP_HOST", "localhost");
    param_s(r, "HTTP_SEC_FETCH_SITE", "same-origin");
    param(r, "REQUEST_METHOD", 14, m.s, m.len);
    param(r, "REQUEST_URI", 11, u.s, u.len);
    param(r, "SCRIPT_NAME", 11, u.s, plen);
    param(r, "QUERY_STRING", 12, q ? q + 1 : "", q ? u.len - plen - 1 : 0);
    if (r->auth.len) param(r, "HTTP_AUTHORIZATION", 18, r->auth.data, r->auth.len);
    if (m.len == 4 && !memcmp(m.s, "POST", 4)) param_s(r, "HTTP_ORIGIN", "http://localhost");
    if (r->body.len || (m.len == 4 && !memcmp(m.s, "POST", 4))) {
        snprintf(r->content_length, sizeof r->content_length, "%zu", r->body.len);
        param_s(r, "CONTENT_LENGTH", r->content_length);
    }
    if (r->body.len) param_s(r, "CONTENT_TYPE", "application/json");
}

/* "NAME=VALUE" lines set a parameter, a bare "NAME" removes one. */
static void extra_params(struct request *r)
{
    struct field lines[32];
    size_t n = split(r->f[3].s, r->f[3].len, '\n', lines, 32);
    for (size_t i = 0; i < n && r->f[3].len; i++) {
        const char *eq = memchr(lines[i].s, '=', lines[i].len);
        size_t nlen = eq ? (size_t)(eq - lines[i].s) : lines[i].len;
        size_t ok = 0;
        while (ok < nlen && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", lines[i].s[ok]) && lines[i].s[ok]) ok++;
        if (!nlen || ok < nlen) continue;
        param(r, lines[i].s, nlen, eq ? eq + 1 : NULL, eq ? lines[i].len - nlen - 1 : 0);
    }
}

/* The value of a parameter as the application reads it, or NULL. */
static char *seen(const struct request *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++) {
        const struct fcgi_param *p = &r->params[i];
        if (p->nlen != strlen(name) || memcmp(p->name, name, p->nlen)) continue;
        char *v = strndup(p->value, p->vlen);
        if (!v) fail("out of memory");
        return v;
    }
    return NULL;
}

static void request_init(struct request *r, const char *data, size_t size)
{
    memset(r, 0, sizeof *r);
    split(data, size, FIELD_SEP, r->f, NFIELDS);
    substitute(&r->auth, r->f[2]);
    substitute(&r->body, r->f[4]);
    r->action = r->f[5].len ? r->f[5].s[0] : 0;
    r->chunk = r->f[5].len > 1 ? 1 + ((unsigned char)r->f[5].s[1] * 257u) % 65535u : 65535;
    default_params(r);
    extra_params(r);
    r->method = seen(r, "REQUEST_METHOD");
    r->uri = seen(r, "REQUEST_URI");
    r->query = seen(r, "QUERY_STRING");
    r->authorization = seen(r, "HTTP_AUTHORIZATION");
    r->redirect = seen(r, "REDIRECT_STATUS");
    const char *u = r->uri ? r->uri : "";
    size_t plen = strcspn(u, "?");
    if (plen < sizeof r->path) memcpy(r->path, u, plen);
}

static void request_free(struct request *r)
{
    buf_free(&r->auth);
    buf_free(&r->body);
    free(r->method);
    free(r->uri);
    free(r->query);
    free(r->authorization);
    free(r->redirect);
}

/* ---- checking a reply against docs/api.md ---- */

static int is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* The peer a request's bearer token belongs to, if the harness knows it. */
static const char *peer_of(const char *authorization)
{
    const char *t = validate_bearer(authorization);
    if (!t) return NULL;
    if (!strcmp(t, TOKEN_A)) return PEER_A;
    if (!strcmp(t, TOKEN_B)) return PEER_B;
    if (h.join_token[0] && !strcmp(t, h.join_token)) return h.join_peer;
    return NULL;
}

static void check_head(const char *head, size_t hlen, int status)
{
    for (const char *p = head, *end = head + hlen; p < end;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        size_t name = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
        if (!name || p + name + 2 > eol || memcmp(p + name, ": ", 2))
            fail("bad header line: %.*s", (int)(eol - p), p);
        for (const char *c = p + name + 2; c < eol; c++)
            if (*c < 0x20 || *c > 0x7e) fail("control byte in header: %.*s", (int)(eol - p), p);
        p = eol + 2;
    }
    if (!fcgi_peer_has_header(head, hlen, "Cache-Control: no-store")) fail("no Cache-Control: no-store");
    int json = fcgi_peer_has_header(head, hlen, "Content-Type: application/json");
    if (json != (status != 204)) fail("status %d with%s a JSON Content-Type", status, json ? "" : "out");
}

static void check_error(int status, json_t *o, const char *head, size_t hlen)
{
    const char *code = json_string_value(json_object_get(o, "error"));
    const char *message = json_string_value(json_object_get(o, "message"));
    /* (a 400 about one element of a send batch also names its index) */
    json_t *index = json_object_get(o, "index");
    size_t keys = 2 + (index != NULL);
    if (index && (status != 400 || !json_is_integer(index) || json_integer_value(index) < 0
                  || json_integer_value(index) >= 64))
        fail("status %d: an index that is no element of a batch", status);
    if (json_object_size(o) != keys || !code || !message || !*message)
        fail("status %d: the body is not {\"error\",\"message\"}", status);
    for (int i = 0; i < h.ncodes; i++) {
        const struct doc_code *d = &h.codes[i];
        if (strcmp(d->code, code)) continue;
        for (int k = 0; k < d->n; k++) {
            if (status < d->lo[k] || status > d->hi[k]) continue;
            if (!strcmp(code, "rate_limited") && !memmem(head, hlen, "\r\nRetry-After: ", 15))
                fail("rate_limited without Retry-After");
            return;
        }
        fail("error %s with status %d: docs/api.md gives another", code, status);
    }
    fail("error code %s (status %d) is not in docs/api.md", code, status);
}

static void check_ice(json_t *o)
{
    json_t *list = json_object_get(o, "ice_servers"), *s;
    size_t i;
    if (!json_is_array(list) || !json_is_string(json_object_get(o, "ice_transport_policy")))
        fail("no ice_servers / ice_transport_policy");
    json_array_foreach (list, i, s)
        if (!json_is_array(json_object_get(s, "urls"))) fail("an ice server without urls");
}

static void check_join(json_t *o)
{
    const char *peer = json_string_value(json_object_get(o, "peer"));
    const char *token = json_string_value(json_object_get(o, "token"));
    json_int_t peers = json_integer_value(json_object_get(o, "peers"));
    if (!is_hex(peer, 16) || !validate_token(token) || !json_is_boolean(json_object_get(o, "polite"))
        || (peers != 1 && peers != 2)
        || json_integer_value(json_object_get(o, "poll_timeout")) != h.cfg.poll_timeout)
        fail("join: 200 with a body of the wrong shape");
    check_ice(o);
    snprintf(h.join_token, sizeof h.join_token, "%s", token);
    snprintf(h.join_peer, sizeof h.join_peer, "%s", peer);
}

static const struct msg *model_find(long long seq)
{
    for (int i = 0; i < h.nmodel; i++)
        if (h.model[i].seq == seq) return &h.model[i];
    return NULL;
}

static void model_add(long long seq, const char *type, json_t *data, const char *from)
{
    if (model_find(seq)) fail("seq %lld given twice", seq);
    if (h.nmodel == MAX_MODEL) {
        json_decref(data);
        h.blind = 1;
        return;
    }
    struct msg *m = &h.model[h.nmodel++];
    m->seq = seq;
    m->data = data;
    snprintf(m->type, sizeof m->type, "%s", type);
    snprintf(m->from, sizeof m->from, "%s", from ? from : "");
}

/* One seq of a 202: it grows over the whole run. */
static long long next_seq(json_t *seq)
{
    if (!json_is_integer(seq) || json_integer_value(seq) < 1) fail("send: 202 without a seq");
    if (json_integer_value(seq) <= last_send_seq)
        fail("send: seq %lld after %lld", (long long)json_integer_value(seq), last_send_seq);
    return last_send_seq = json_integer_value(seq);
}

/* Remember one message sent as seq, as the request said it. */
static void remember(const struct request *r, long long seq, json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!json_is_object(m) || !validate_type(type)) fail("send: 202 for a message the validators refuse");
    json_t *data = json_object_get(m, "data");
    model_add(seq, type, data ? json_incref(data) : json_null(), peer_of(r->authorization));
}

/* A 202: {"seq"} for one message, {"seqs":[...]} for a batch, each
 * remembered as the request said it. */
static void check_send(const struct request *r, json_t *o)
{
    json_t *body = validate_json_object(r->body.data, r->body.len);
    json_t *list = json_object_get(body, "messages"), *seqs = json_object_get(o, "seqs");
    if (!body) fail("send: 202 for a body that is no JSON object");
    if (json_object_size(o) != 1) fail("send: 202 with more than its seq(s)");
    if (!list) {
        remember(r, next_seq(json_object_get(o, "seq")), body);
    } else {
        size_t n = json_array_size(list);
        if (!json_is_array(seqs) || json_array_size(seqs) != n || n < 1 || n > 64)
            fail("send: a batch of %zu answered with %zu seqs", n, json_array_size(seqs));
        for (size_t i = 0; i < n; i++) remember(r, next_seq(json_array_get(seqs, i)), json_array_get(list, i));
    }
    json_decref(body);
}

static void check_message(json_t *m, const char *me)
{
    long long seq = json_integer_value(json_object_get(m, "seq"));
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *data = json_object_get(m, "data");
    const struct msg *sent = model_find(seq);
    if (json_object_size(m) != 3 || !type || !data) fail("poll: a message of the wrong shape");
    if (sent) {
        if (strcmp(sent->type, type) || !json_equal(sent->data, data)) {
            char *got = json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
            fail("poll: message %lld came back changed: type %s, data %.200s", seq, type, got ? got : "?");
        }
        if (me && !strcmp(sent->from, me)) fail("poll: a peer got its own message %lld", seq);
    } else if (!strcmp(type, "peer-joined") || !strcmp(type, "peer-left")) {
        if (!json_is_null(data)) fail("poll: %s with data", type);
    } else if (!h.blind) {
        fail("poll: message %lld (%s) was never sent", seq, type);
    }
}

/* The wake-up message last written for peer, or 0. */
static long long wake_for(const char *peer)
{
    if (!peer) return 0;
    if (!strcmp(peer, PEER_A)) return h.wake[0];
    if (!strcmp(peer, PEER_B)) return h.wake[1];
    return h.join_peer[0] && !strcmp(peer, h.join_peer) ? h.wake[2] : 0;
}

static void check_poll(const struct request *r, json_t *o)
{
    json_t *list = json_object_get(o, "messages"), *m;
    long long after = 0, prev;
    size_t i;
    const char *me = peer_of(r->authorization);
    if (json_object_size(o) != 1 || !json_is_array(list)) fail("poll: no messages array");
    if (validate_after(r->query, &after) < 0) fail("poll: 200 for a cursor validate_after refuses");
    prev = after;
    json_array_foreach (list, i, m) {
        long long seq = json_integer_value(json_object_get(m, "seq"));
        if (seq <= prev) fail("poll: seq %lld after %lld (cursor %lld)", seq, prev, after);
        prev = seq;
        check_message(m, me);
    }
    long long wake = wake_for(me);
    if (r->action != 'q' && !json_array_size(list) && wake > after)
        fail("poll: answered empty although message %lld (cursor %lld) was committed for it", wake, after);
}

static int is_ok(const json_t *v)
{
    return json_is_string(v) && !strcmp(json_string_value(v), "ok");
}

struct route {
    const char *method, *path;
    int status;
};

static const struct route routes[] = {
    {"POST", "/api/join", 200}, {"POST", "/api/send", 202}, {"GET", "/api/poll", 200},
    {"POST", "/api/leave", 204}, {"GET", "/api/turn", 200}, {"GET", "/api/health", 200},
};

static void check_success(const struct request *r, int status, json_t *o)
{
    const char *method = r->method ? r->method : "";
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(routes[i].method, method) && !strcmp(routes[i].path, r->path)) rt = &routes[i];
    if (!rt || rt->status != status || (r->redirect && strcmp(r->redirect, "200")))
        fail("status %d for %s %s (REDIRECT_STATUS %s)", status, method, r->path, r->redirect ? r->redirect : "-");
    if (!strcmp(rt->path, "/api/join")) check_join(o);
    else if (!strcmp(rt->path, "/api/send")) check_send(r, o);
    else if (!strcmp(rt->path, "/api/poll")) check_poll(r, o);
    else if (!strcmp(rt->path, "/api/turn")) check_ice(o);
    else if (!strcmp(rt->path, "/api/health") && !is_ok(json_object_get(o, "status")))
        fail("health: 200 without status ok");
}

static void check_reply(const struct request *r, const struct buf *out)
{
    int status;
    const char *head, *body;
    size_t hlen, blen;
    json_error_t err;
    if (fcgi_peer_split(out->data ? out->data : "", out->len, &status, &head, &hlen, &body, &blen) < 0)
        fail("no CGI header block with a Status line: %.200s", out->data ? out->data : "");
    if (h.verbose)
        fprintf(stderr, "%s %s -> %d %.*s\n", r->method ? r->method : "-", r->path, status,
                (int)(blen < 160 ? blen : 160), body);
    check_head(head, hlen, status);
    if (status == 204) {
        if (blen) fail("204 with a body");
        if (!r->method || strcmp(r->method, "POST") || strcmp(r->path, "/api/leave")) fail("204 not for a leave");
        return;
    }
    json_t *o = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(o)) fail("status %d: the body is not one JSON object: %s", status, err.text);
    int health = !strcmp(r->path, "/api/health") && json_object_get(o, "status");
    if (status >= 400 && !(health && status == 503)) check_error(status, o, head, hlen);
    else if (status < 400) check_success(r, status, o);
    json_decref(o);
}

/* ---- running an input ---- */

/* Unless the client goes ('g') or stays quiet ('q'), a wake-up message is
 * written for each peer the harness knows and that is still seated, as an
 * operator's sqlite3 would write it (the park sees it through inotify or its
 * tick), and the waker is told, as a request thread would tell it. */
static void wake_known(void)
{
    const char *peers[3] = {PEER_A, PEER_B, h.join_peer};
    sqlite3_stmt *st = NULL;
    if (db_begin(h.db) < 0
        || sqlite3_prepare_v2(h.db->h, "INSERT INTO messages (peer_id, type, data, created)"
                                       " SELECT id, 'wake', 'null', ?1 FROM peers WHERE id = ?2 RETURNING seq",
                              -1, &st, NULL) != SQLITE_OK)
        fail("wake: %s", sqlite3_errmsg(h.db->h));
    for (int i = 0; i < 3; i++) {
        h.wake[i] = 0;
        if (!peers[i][0]) continue;
        sqlite3_bind_int64(st, 1, time(NULL));
        sqlite3_bind_text(st, 2, peers[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) h.wake[i] = sqlite3_column_int64(st, 0);
        if (sqlite3_reset(st) != SQLITE_OK) fail("wake: %s", sqlite3_errmsg(h.db->h));
    }
    sqlite3_finalize(st);
    if (db_commit(h.db) < 0) fail("wake: commit");
    for (int i = 0; i < 3; i++)
        if (h.wake[i]) model_add(h.wake[i], "wake", json_null(), "");
    park_notify(h.park);
}

static void run_request(const char *data, size_t size)
{
    struct request r;
    struct buf req = {0}, out = {0};
    char why[128];
    request_init(&r, data, size);
    fcgi_peer_encode(&req, r.params, r.nparams, r.body.data, r.body.len, r.chunk);
    int fd = fcgi_peer_connect(h.sock);
    if (req.failed || fd < 0) fail("cannot connect or out of memory");
    long sent = fcgi_peer_write(fd, req.data, req.len, 0);
    if (r.action == 'g') {
        /* The client went away: lighttpd closes the backend connection. */
        h.blind = 1;
        close(fd);
    } else {
        if (r.action != 'q') wake_known();
        size_t off = sent < 0 ? req.len : (size_t)sent;
        enum fcgi_peer_rc rc = fcgi_peer_exchange(fd, req.data + off, req.len - off, &out, h.reply_ms, why, sizeof why);
        close(fd); /* before checking: the app waits for this to finish the request */
        if (rc == FCGI_PEER_TIMEOUT) fail("no reply within %d ms", h.reply_ms);
        if (rc != FCGI_PEER_DONE) fail("the FastCGI reply broke off (%d: %s)", rc, why);
        if (out.failed) fail("out of memory");
        check_reply(&r, &out);
    }
    buf_free(&req);
    buf_free(&out);
    request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct field reqs[MAX_REQUESTS];
    size_t n = split((const char *)data, size, REQ_SEP, reqs, MAX_REQUESTS);
    reset_state();
    for (size_t i = 0; i < n; i++) run_request(reqs[i].s, reqs[i].len);
    /* The request thread answers in order: once health is answered, every
     * request of this input has been handled. */
    static const char health[] = "GET\x1e/api/health";
    run_request(health, sizeof health - 1);
    beat_flush(h.beats, h.db); /* the cleaner's once-a-second write */
    return 0;
}
