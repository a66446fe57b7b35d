/* http.h: reading a FastCGI request and writing every reply. No handler
 * writes its own headers: replies go through http_reply / http_error. */
#ifndef TUTURU_HTTP_H
#define TUTURU_HTTP_H

#include <fcgiapp.h>
#include <stddef.h>

struct http_req {
    FCGX_Request *fcgi;
    const char *method;   /* these point into fcgi->envp: dead after finish */
    const char *query;
    const char *auth;
    const char *remote_addr;
    const char *content_type; /* NULL when the request has none */
    const char *origin;       /* Origin header, or NULL */
    const char *fetch_site;   /* Sec-Fetch-Site header, or NULL */
    const char *host;         /* Host header, or NULL */
    const char *scheme;       /* "https" or "http": how the request reached lighttpd */
    char path[128];       /* request path without the query; "" if too long */
    char *body;           /* NUL-terminated copy, or NULL when none was read */
    size_t body_len;
};

/* Fill req from an accepted request. Never fails: odd input is left for the
 * handlers to refuse. */
void http_req_init(struct http_req *req, FCGX_Request *fcgi);

/* Read the body (CONTENT_LENGTH bytes). Returns 0, or an HTTP status with the
 * error reply already written: 413 over VALIDATE_MAX_BODY, 400 truncated,
 * 500 out of memory. */
int http_read_body(struct http_req *req);

void http_req_free(struct http_req *req);

/* 1 if content_type is application/json, parameters allowed
 * ("application/json; charset=utf-8", any case), else 0 (NULL included).
 * text/plain, form and multipart bodies are what another site can make a
 * browser send without a CORS preflight. */
int http_is_json_type(const char *content_type);

/* 1 if a browser would not call req cross-site, else 0 (docs/api.md):
 * Sec-Fetch-Site, when present, must be "same-origin" or "none"; without it an
 * Origin, when present, must equal scheme "://" Host (ASCII case ignored, a
 * default port on Host ignored). No Sec-Fetch-Site and no Origin: 1 (curl,
 * a non-browser client). */
int http_same_origin(const struct http_req *req);

/* Write status, JSON headers, and body (may be NULL for 204). extra is more
 * header lines ("Name: value\r\n"...) or NULL. */
void http_reply(FCGX_Request *fcgi, int status, const char *body, size_t len, const char *extra);

/* Write {"error":code,"message":message} with status. */
void http_error(FCGX_Request *fcgi, int status, const char *code, const char *message);

/* http_error with a Retry-After header of retry_after seconds (none when it
 * is 0 or less): for 429 and 503 answers a client should retry later. */
void http_error_retry(FCGX_Request *fcgi, int status, const char *code, const char *message,
                      int retry_after);

/* Finish a request (flushes the reply, closes the connection) and free it.
 * Requests are heap-allocated so that a poll can outlive its thread. */
void http_finish(FCGX_Request *fcgi);

#endif
