/* api.c: route table and the handlers of API v1 (docs/api.md). */
#include "api.h"

#include "clock.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "turn.h"
#include "validate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A handler returns 1 when it handed the request over (parked), else 0. */
typedef int (*handler_fn)(struct api_ctx *c, struct http_req *r);

static int handle_join(struct api_ctx *c, struct http_req *r);
static int handle_send(struct api_ctx *c, struct http_req *r);
static int handle_poll(struct api_ctx *c, struct http_req *r);
static int handle_leave(struct api_ctx *c, struct http_req *r);
static int handle_turn(struct api_ctx *c, struct http_req *r);
static int handle_health(struct api_ctx *c, struct http_req *r);
static int handle_error(struct api_ctx *c, struct http_req *r);

/* any_site: answered whatever site the request comes from; every other
 * route refuses cross-site requests (http_same_origin) with 403. */
static const struct route {
    const char *method, *path;
    handler_fn fn;
    int any_site;
} routes[] = {
    {"POST", "/api/join", handle_join, 0},
    {"POST", "/api/send", handle_send, 0},
    {"GET", "/api/poll", handle_poll, 0},
    {"POST", "/api/leave", handle_leave, 0},
    {"GET", "/api/turn", handle_turn, 0},
    {"GET", "/api/health", handle_health, 1},
    {NULL, "/api/error", handle_error, 1}, /* lighttpd's own errors, any method */
};


static int reply_json(struct http_req *r, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) http_reply(r->fcgi, status, text, strlen(text), NULL);
    else http_error(r->fcgi, 500, "internal", "Out of memory.");
    free(text);
    json_decref(o);
    return 0;
}

static int db_failed(struct http_req *r)
{
    http_error(r->fcgi, 503, "unavailable", "The database is not available; try again.");
    return 0;
}

/* How a handler takes its body. */
enum body_rule {
    BODY_JSON,   /* required, Content-Type: application/json */
    BODY_BEACON, /* optional, any Content-Type: navigator.sendBeacon's text/plain */
};

static int refuse_media_type(struct http_req *r)
{
    http_error(r->fcgi, 415, "unsupported_media_type", "The body must be sent as 'Content-Type: application/json'.");
    return -1;
}

/* Read and parse the body as a JSON object into *o. Returns 0, or -1 with
 * the error sent. With BODY_BEACON an empty body is no error (*o is NULL). */
static int read_object(struct http_req *r, enum body_rule rule, json_t **o)
{
    *o = NULL;
    if (rule == BODY_JSON && !http_is_json_type(r->content_type)) return refuse_media_type(r);
    if (http_read_body(r) != 0) return -1;
    if (rule == BODY_BEACON && r->body_len == 0) return 0;
    if ((*o = validate_json_object(r->body, r->body_len))) return 0;
    http_error(r->fcgi, 400, "invalid_json", "The body is not one valid JSON object.");
    return -1;
}

/* Resolve the bearer token to a peer; on failure 401 is sent. */
static int authorize(struct api_ctx *c, struct http_req *r, const char *token,
                     char peer[STORE_PEER_HEX])
{
    char hash[CRYPTO_HASH_HEX + 1];
    if (!token) {
        http_error(r->fcgi, 401, "unauthorized", "A valid 'Authorization: Bearer <token>' is needed.");
        return -1;
    }
    if (crypto_sha256_hex(token, hash) < 0) {
        http_error(r->fcgi, 500, "internal", "Hashing failed.");
        return -1;
    }
    enum store_rc rc = store_auth(c->db, hash, peer);
    if (rc == STORE_OK) return 0;
    if (rc == STORE_ERR) db_failed(r);
    else http_error(r->fcgi, 401, "unauthorized", "The token is unknown or was revoked.");
    return -1;
}

static int join_limited(struct api_ctx *c, struct http_req *r)
{
    char hash[CRYPTO_HASH_HEX + 1];
    int retry = 0;
    const char *addr = r->remote_addr ? r->remote_addr : "";
    if (crypto_keyed_hex(c->cfg->secret, "addr", addr, hash) < 0) return 0;
    enum store_rc rc = store_rate_hit(c->db, hash, clock_wall(), c->cfg->join_limit,
                                      c->cfg->join_window, &retry);
    if (rc != STORE_LIMITED) return 0; /* a failing counter must not lock people out */
    http_error_retry(r->fcgi, 429, "rate_limited", "Too many joins from this address; wait and try again.",
                     retry > 0 ? retry : 1);
    return 1;
}

static int join_answer(struct api_ctx *c, struct http_req *r, const char *peer,
                       const char *token, int polite, int peers)
{
    json_t *o = json_pack("{s:s,s:s,s:b,s:i,s:i}", "peer", peer, "token", token,
                          "polite", polite, "peers", peers, "poll_timeout", c->cfg->poll_timeout);
    if (o && turn_add_servers(o, c->cfg, r->remote_addr, clock_wall()) < 0) {
        json_decref(o);
        o = NULL;
    }
    return reply_json(r, 200, o);
}

static int handle_join(struct api_ctx *c, struct http_req *r)
{
    json_t *body;
    if (read_object(r, BODY_JSON, &body) < 0) return 0;
    const char *pin = json_string_value(json_object_get(body, "pin"));
    char pin_hash[CRYPTO_HASH_HEX + 1], token_hash[CRYPTO_HASH_HEX + 1];
    char peer[2 * CRYPTO_PEER_BYTES + 1], token[CRYPTO_TOKEN_HEX + 1];
    int polite = 0, peers = 0;
    if (!validate_pin(pin)) {
        json_decref(body);
        http_error(r->fcgi, 400, "invalid_pin", "The PIN must be exactly 6 digits.");
        return 0;
    }
    int bad = crypto_keyed_hex(c->cfg->secret, "pin", pin, pin_hash) < 0;
    json_decref(body);
    if (bad || crypto_random_hex(peer, CRYPTO_PEER_BYTES) < 0
        || crypto_random_hex(token, CRYPTO_TOKEN_BYTES) < 0 || crypto_sha256_hex(token, token_hash) < 0) {
        http_error(r->fcgi, 500, "internal", "The random generator failed.");
        return 0;
    }
    if (join_limited(c, r)) return 0;
    switch (store_join(c->db, pin_hash, peer, token_hash, clock_wall(), &polite, &peers)) {
    case STORE_OK: break;
    case STORE_FULL:
        http_error(r->fcgi, 409, "room_full", "Two people are already in the call with this PIN.");
        return 0;
    default: return db_failed(r);
    }
    if (peers == 2) park_notify(c->park);
    return join_answer(c, r, peer, token, polite, peers);
}

/* 429 queue_full: the recipient has not fetched what waits for it. It
 * polls within poll_timeout or leaves within peer_grace: retry in a second. */
static void queue_full(struct http_req *r)
{
    http_error_retry(r->fcgi, 429, "queue_full",
                     "The other peer has too many undelivered messages; try again once it has caught up.", 1);
}

/* At most this many messages in one send: a call's whole set-up (an offer
 * and ~30 candidates) fits in one, with room. */
#define SEND_BATCH_MAX 64

/* 400 naming the element of a batch that was wrong (index < 0: the batch). */
static void bad_message(struct http_req *r, const char *code, const char *message, long index)
{
    json_t *o = json_pack("{s:s,s:s}", "error", code, "message", message);
    if (o && index >= 0 && json_object_set_new(o, "index", json_integer(index)) < 0) {
        json_decref(o);
        o = NULL;
    }
    reply_json(r, 400, o);
}

/* Store msgs (n of them) for the other peer and answer: 202 {"seq":..} for
 * the single form, {"seqs":[..]} for a batch. */
static void send_store(struct api_ctx *c, struct http_req *r, const char *peer,
                       const struct store_msg *msgs, size_t n, int batch)
{
    long long seqs[SEND_BATCH_MAX];
    struct store_cap cap = {c->cfg->queue_max_messages, c->cfg->queue_max_bytes};
    switch (store_send_batch(c->db, peer, msgs, n, clock_wall(), &cap, seqs)) {
    case STORE_OK: break;
    case STORE_NO_PEER:
        http_error(r->fcgi, 409, "no_peer", "Nobody else is in the call yet.");
        return;
    case STORE_QUEUE_FULL: queue_full(r); return;
    default: db_failed(r); return;
    }
    park_notify(c->park);
    json_t *o = batch ? json_pack("{s:[]}", "seqs") : json_pack("{s:I}", "seq", (json_int_t)seqs[0]);
    for (size_t i = 0; batch && o && i < n; i++) {
        if (json_array_append_new(json_object_get(o, "seqs"), json_integer(seqs[i])) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    reply_json(r, 202, o);
}

/* One message {"type":..,"data":..} as a store_msg; its data is written
 * into *text (the caller frees it). 0, or -1 with the 400 sent. */
static int send_message(struct http_req *r, json_t *m, long index, struct store_msg *out, char **text)
{
    const char *type = json_is_object(m) ? json_string_value(json_object_get(m, "type")) : NULL;
    json_t *data = json_is_object(m) ? json_object_get(m, "data") : NULL;
    if (!json_is_object(m)) {
        bad_message(r, "invalid_batch", "Each element of messages must be an object {\"type\":..,\"data\":..}.", index);
        return -1;
    }
    if (!validate_type(type)) {
        bad_message(r, "invalid_type", "type must match [a-z][a-z0-9-]{0,31} and not start with 'peer-'.", index);
        return -1;
    }
    if (!(*text = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY))) {
        http_error(r->fcgi, 500, "internal", "Out of memory.");
        return -1;
    }
    *out = (struct store_msg){type, *text};
    return 0;
}

/* {"messages":[{"type":..,"data":..},...]}: all stored in one transaction,
 * or (a bad element, too many, no peer) none. */
static void send_batch(struct api_ctx *c, struct http_req *r, const char *peer, json_t *body, json_t *list)
{
    struct store_msg msgs[SEND_BATCH_MAX];
    char *texts[SEND_BATCH_MAX] = {0};
    size_t n = json_array_size(list), done = 0;
    if (!json_is_array(list) || n == 0 || n > SEND_BATCH_MAX || json_object_get(body, "type")) {
        bad_message(r, "invalid_batch",
                    "messages must be a list of 1 to 64 {\"type\":..,\"data\":..} objects, without a type of its own.", -1);
        return;
    }
    while (done < n && send_message(r, json_array_get(list, done), (long)done, &msgs[done], &texts[done]) == 0)
        done++;
    if (done == n) send_store(c, r, peer, msgs, n, 1);
    for (size_t i = 0; i < done; i++) free(texts[i]);
}

static int handle_send(struct api_ctx *c, struct http_req *r)
{
    char peer[STORE_PEER_HEX];
    if (authorize(c, r, validate_bearer(r->auth), peer) < 0) return 0;
    json_t *body;
    if (read_object(r, BODY_JSON, &body) < 0) return 0;
    json_t *list = json_object_get(body, "messages");
    struct store_msg m;
    char *text = NULL;
    if (list) send_batch(c, r, peer, body, list);
    else if (send_message(r, body, -1, &m, &text) == 0) send_store(c, r, peer, &m, 1, 0);
    free(text);
    json_decref(body);
    return 0;
}

/* Authorise, parse the cursor and fetch. Returns 0 with the reply in c->out
 * and *count set, or -1 when an error reply was sent. */
static int poll_read(struct api_ctx *c, struct http_req *r, char peer[STORE_PEER_HEX],
                     long long *after, int *count)
{
    if (authorize(c, r, validate_bearer(r->auth), peer) < 0) return -1;
    if (validate_after(r->query, after) < 0) {
        http_error(r->fcgi, 400, "invalid_after", "after must be a non-negative integer, given once.");
        return -1;
    }
    buf_reset(&c->out);
    if (store_fetch(c->db, peer, *after, &c->out, count) == STORE_OK) return 0;
    db_failed(r);
    return -1;
}

static int handle_poll(struct api_ctx *c, struct http_req *r)
{
    char peer[STORE_PEER_HEX];
    long long after = 0;
    int count = 0;
    /* One read transaction for the token and the messages. */
    if (db_read_begin(c->db) < 0) return db_failed(r);
    int rc = poll_read(c, r, peer, &after, &count);
    db_read_end(c->db);
    if (rc < 0) return 0;
    beat_record(c->beats, peer, after, clock_wall());
    if (count > 0) {
        http_reply(r->fcgi, 200, c->out.data, c->out.len, NULL);
        return 0;
    }
    park_submit(c->park, r->fcgi, peer, after, r->remote_addr);
    return 1;
}

static int handle_leave(struct api_ctx *c, struct http_req *r)
{
    char peer[STORE_PEER_HEX];
    const char *token = validate_bearer(r->auth);
    json_t *body = NULL;
    if (!token && !r->auth) {
        /* navigator.sendBeacon cannot set headers: the token is in the body,
         * whatever the Content-Type says. No body: no token (401). */
        if (read_object(r, BODY_BEACON, &body) < 0) return 0;
        token = json_string_value(json_object_get(body, "token"));
        if (!validate_token(token)) token = NULL;
    }
    if (authorize(c, r, token, peer) == 0) {
        enum store_rc rc = store_leave(c->db, peer, clock_wall());
        if (rc == STORE_ERR) {
            db_failed(r);
        } else {
            park_notify(c->park);
            http_reply(r->fcgi, 204, NULL, 0, NULL);
        }
    }
    json_decref(body);
    return 0;
}

static int handle_turn(struct api_ctx *c, struct http_req *r)
{
    char peer[STORE_PEER_HEX];
    if (authorize(c, r, validate_bearer(r->auth), peer) < 0) return 0;
    json_t *o = json_object();
    if (o && turn_add_servers(o, c->cfg, r->remote_addr, clock_wall()) < 0) {
        json_decref(o);
        o = NULL;
    }
    return reply_json(r, 200, o);
}

/* GET /api/health: 200 when the database answers a read and can be written
 * (db_write_check: no I/O while writes succeed), else 503 with a reason.
 * The process's last write error, if any, either way. */
static int handle_health(struct api_ctx *c, struct http_req *r)
{
    struct db_write_error last = {.message = ""};
    int readable = db_health(c->db) == 0;
    int writable = readable && db_write_check(c->db, &last) == 0;
    json_t *o = json_pack("{s:s,s:s,s:i}", "status", writable ? "ok" : "error",
                          "db", writable ? "ok" : readable ? "unwritable" : "error",
                          "poll_timeout", c->cfg->poll_timeout);
    if (o && !writable)
        json_object_set_new(o, "reason", json_string(!readable ? "The database cannot be read."
                                                     : last.message[0] ? last.message
                                                     : "The database cannot be written."));
    if (o && last.message[0])
        json_object_set_new(o, "last_write_error", json_pack("{s:s,s:I}", "message", last.message,
                                                             "at", (json_int_t)last.at));
    return reply_json(r, writable ? 200 : 503, o);
}

/* lighttpd's server.error-handler: its own errors come here as JSON. */
static int handle_error(struct api_ctx *c, struct http_req *r)
{
    (void)c;
    const char *s = FCGX_GetParam("REDIRECT_STATUS", r->fcgi->envp);
    int status = s ? atoi(s) : 0;
    if (status == 413)
        http_error(r->fcgi, 413, "too_large", "The request body is over 65536 bytes.");
    else if (status == 400 || status == 414 || status == 431)
        http_error(r->fcgi, status, "bad_request", "The request is malformed or its headers too large.");
    else if (status >= 400 && status < 500 && status != 404)
        http_error(r->fcgi, status, "bad_request", "The request was refused.");
    else if (status >= 500 && status < 600)
        http_error(r->fcgi, 503, "unavailable", "The server is restarting; try again.");
    else
        http_error(r->fcgi, 404, "not_found", "No such API endpoint.");
    return 0;
}

static int refuse_origin(struct http_req *r)
{
    http_error(r->fcgi, 403, "forbidden_origin", "Requests from other websites are refused.");
    return 0;
}

static int dispatch(struct api_ctx *c, struct http_req *r)
{
    int path_known = 0;
    /* lighttpd passes REDIRECT_STATUS=200 on every request, and the error's
     * status when its server.error-handler re-runs a failed one (as GET, with
     * the original REQUEST_URI). */
    const char *redirect = FCGX_GetParam("REDIRECT_STATUS", r->fcgi->envp);
    if (redirect && strcmp(redirect, "200") != 0) return handle_error(c, r);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (strcmp(rt->path, r->path) != 0) continue;
        if (!rt->method || !strcmp(rt->method, r->method))
            return rt->any_site || http_same_origin(r) ? rt->fn(c, r) : refuse_origin(r);
        path_known = 1;
    }
    if (path_known) http_error(r->fcgi, 405, "method_not_allowed", "This endpoint does not take that method.");
    else http_error(r->fcgi, 404, "not_found", "No such API endpoint.");
    return 0;
}

void api_handle(struct api_ctx *c, FCGX_Request *req)
{
    struct http_req r;
    http_req_init(&r, req);
    int parked = dispatch(c, &r);
    http_req_free(&r);
    if (!parked) http_finish(req);
}
