/* http.c: FastCGI request parsing and the one place replies are written. */
#include "http.h"

#include "validate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void http_req_init(struct http_req *req, FCGX_Request *fcgi)
{
    memset(req, 0, sizeof *req);
    req->fcgi = fcgi;
    req->method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
    req->query = FCGX_GetParam("QUERY_STRING", fcgi->envp);
    req->auth = FCGX_GetParam("HTTP_AUTHORIZATION", fcgi->envp);
    req->remote_addr = FCGX_GetParam("REMOTE_ADDR", fcgi->envp);
    req->content_type = FCGX_GetParam("CONTENT_TYPE", fcgi->envp);
    req->origin = FCGX_GetParam("HTTP_ORIGIN", fcgi->envp);
    req->fetch_site = FCGX_GetParam("HTTP_SEC_FETCH_SITE", fcgi->envp);
    req->host = FCGX_GetParam("HTTP_HOST", fcgi->envp);
    req->scheme = FCGX_GetParam("REQUEST_SCHEME", fcgi->envp);
    if (!req->scheme) {
        const char *https = FCGX_GetParam("HTTPS", fcgi->envp);
        req->scheme = https && !strcasecmp(https, "on") ? "https" : "http";
    }
    if (!req->method) req->method = "";
    const char *uri = FCGX_GetParam("REQUEST_URI", fcgi->envp);
    if (!uri) uri = "";
    size_t n = strcspn(uri, "?");
    if (n < sizeof req->path) {
        memcpy(req->path, uri, n);
        req->path[n] = 0;
    }
}

int http_read_body(struct http_req *req)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->fcgi->envp);
    size_t want = 0;
    if (cl && *cl) {
        if (strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 9) {
            http_error(req->fcgi, 400, "invalid_body", "Content-Length is not a number.");
            return 400;
        }
        want = (size_t)strtoul(cl, NULL, 10);
    }
    if (want > VALIDATE_MAX_BODY) {
        http_error(req->fcgi, 413, "too_large", "The request body is over 65536 bytes.");
        return 413;
    }
    req->body = malloc(want + 1);
    if (!req->body) {
        http_error(req->fcgi, 500, "internal", "Out of memory.");
        return 500;
    }
    int got = want ? FCGX_GetStr(req->body, (int)want, req->fcgi->in) : 0;
    if (got < 0 || (size_t)got != want) {
        http_error(req->fcgi, 400, "invalid_body", "The request body ended early.");
        return 400;
    }
    req->body[want] = 0;
    req->body_len = want;
    return 0;
}

void http_req_free(struct http_req *req)
{
    free(req->body);
    req->body = NULL;
}

int http_is_json_type(const char *t)
{
    static const char json[] = "application/json";
    if (!t) return 0;
    t += strspn(t, " \t");
    if (strncasecmp(t, json, sizeof json - 1) != 0) return 0;
    t += sizeof json - 1;
    t += strspn(t, " \t");
    return *t == 0 || *t == ';';
}

/* 1 if origin is exactly scheme "://" host (ASCII case ignored), with host's
 * port dropped when it is the scheme's default: browsers never write that. */
static int origin_is(const char *origin, const char *scheme, const char *host)
{
    const char *port = strcmp(scheme, "https") == 0 ? ":443" : ":80";
    size_t s = strlen(scheme), h = strlen(host), p = strlen(port);
    if (h > p && strcmp(host + h - p, port) == 0) h -= p;
    return strncasecmp(origin, scheme, s) == 0 && strncmp(origin + s, "://", 3) == 0
           && strlen(origin + s + 3) == h && strncasecmp(origin + s + 3, host, h) == 0;
}

int http_same_origin(const struct http_req *req)
{
    if (req->fetch_site)
        return !strcmp(req->fetch_site, "same-origin") || !strcmp(req->fetch_site, "none");
    if (!req->origin) return 1;
    return req->host && *req->host && origin_is(req->origin, req->scheme, req->host);
}

void http_reply(FCGX_Request *fcgi, int status, const char *body, size_t len, const char *extra)
{
    FCGX_FPrintF(fcgi->out,
                 "Status: %d %s\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "%s%s\r\n",
                 status, status_text(status),
                 status == 204 ? "" : "Content-Type: application/json\r\n",
                 extra ? extra : "");
    if (body && len) FCGX_PutStr(body, (int)len, fcgi->out);
}

void http_error_retry(FCGX_Request *fcgi, int status, const char *code, const char *message,
                      int retry_after)
{
    char hdr[48] = "";
    if (retry_after > 0) snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", retry_after);
    json_t *o = json_pack("{s:s,s:s}", "error", code, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) {
        http_reply(fcgi, status, text, strlen(text), hdr);
    } else {
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"Out of memory.\"}";
        http_reply(fcgi, 500, oom, sizeof oom - 1, NULL);
    }
    free(text);
    json_decref(o);
}

void http_error(FCGX_Request *fcgi, int status, const char *code, const char *message)
{
    http_error_retry(fcgi, status, code, message, 0);
}

void http_finish(FCGX_Request *fcgi)
{
    FCGX_Finish_r(fcgi);
    free(fcgi);
}
