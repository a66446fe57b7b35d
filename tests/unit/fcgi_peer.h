/* fcgi_peer.h: the web server's side of a FastCGI connection, for tests.
 * It plays lighttpd against the real libfcgi: a listening unix socket that
 * FCGX_Accept_r accepts from, requests encoded as lighttpd sends them
 * (BEGIN_REQUEST, PARAMS, STDIN records), and the reply read back record by
 * record with a time bound. Used by the unit tests (park) and the fuzzer. */
#ifndef TUTURU_FCGI_PEER_H
#define TUTURU_FCGI_PEER_H

#include "buf.h"

#include <stddef.h>

struct fcgi_param {
    const char *name, *value;
    size_t nlen, vlen; /* bytes, NULs included */
};

enum fcgi_peer_rc {
    FCGI_PEER_DONE = 0,    /* FCGI_END_REQUEST (complete) read */
    FCGI_PEER_EOF = 1,     /* the application closed before END_REQUEST */
    FCGI_PEER_TIMEOUT = 2, /* nothing complete within the bound */
    FCGI_PEER_BAD = 3,     /* a malformed record or a read error */
};

/* A listening unix socket at path (made; an old file there is removed).
 * Returns the fd, or -1. */
int fcgi_peer_listen(const char *path);

/* Connect to the unix socket at path. Returns the fd, or -1. */
int fcgi_peer_connect(const char *path);

/* Append to b one whole request with id 1 and role RESPONDER, flags 0 as
 * lighttpd sends it: params (split over PARAMS records of at most 65535
 * bytes), an empty PARAMS record, the body in STDIN records of at most
 * chunk bytes (1..65535), an empty STDIN record. b->failed on no memory. */
void fcgi_peer_encode(struct buf *b, const struct fcgi_param *p, size_t n, const char *body,
                      size_t len, size_t chunk);

/* Write as much of data to fd as goes within timeout_ms (0: what goes at
 * once). Returns the bytes written, or -1 when the connection is broken
 * (EPIPE, ECONNRESET: the application closed it). */
long fcgi_peer_write(int fd, const char *data, size_t len, int timeout_ms);

/* As lighttpd does: write the rest of the request (req, len; may be 0)
 * while reading the reply, until FCGI_END_REQUEST, at most timeout_ms in
 * total. A reply may come before the whole request is written (an app that
 * refuses a body does not read it); a broken write only stops the writing.
 * STDOUT content is appended to out; STDERR content is dropped. A record of
 * another request id, a bad version or an END_REQUEST whose protocol status
 * is not REQUEST_COMPLETE is FCGI_PEER_BAD, with why filled in. */
enum fcgi_peer_rc fcgi_peer_exchange(int fd, const char *req, size_t len, struct buf *out,
                                     int timeout_ms, char *why, size_t whylen);

/* Split a CGI reply (out of fcgi_peer_read) into its Status code, its
 * header block (without the blank line) and its body. Returns 0, or -1 when
 * there is no "\r\n\r\n" or the first line is not "Status: NNN ...". */
int fcgi_peer_split(const char *reply, size_t len, int *status, const char **head, size_t *hlen,
                    const char **body, size_t *blen);

/* 1 if the header block holds the line "name: value" exactly, else 0. */
int fcgi_peer_has_header(const char *head, size_t hlen, const char *line);

#endif
