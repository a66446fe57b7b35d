/* validate.h: whitelist checks for everything a client sends, before it
 * touches anything. Pure functions: no I/O, no allocation unless stated. */
#ifndef TUTURU_VALIDATE_H
#define TUTURU_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

#define VALIDATE_MAX_BODY 65536   /* bytes; one more is 413 too_large */
#define VALIDATE_MAX_DEPTH 1000  /* arrays/objects nested in a body, at most */
#define VALIDATE_MAX_SEQ 9007199254740991LL  /* 2^53-1: exact in JavaScript */

/* 1 if s is exactly six ASCII digits, else 0. */
int validate_pin(const char *s);

/* 1 if s matches [a-z][a-z0-9-]{0,31} and is not a server type (peer-*). */
int validate_type(const char *s);

/* 1 if s is a well-formed token: CRYPTO_TOKEN_HEX lowercase hex digits. */
int validate_token(const char *s);

/* Parse "Bearer <token>" (scheme case-insensitive). Returns the token inside
 * header (not copied) or NULL when the header is missing or malformed. */
const char *validate_bearer(const char *header);

/* Parse a query string for after=<decimal>. A missing query or parameter
 * means 0. Returns 0 and sets *after, or -1 for anything else: non-digits,
 * leading +/-, overflow past VALIDATE_MAX_SEQ, or after given twice. */
int validate_after(const char *query, long long *after);

/* Parse body as one JSON object (RFC 8259, nothing after it, no NUL in
 * strings, valid UTF-8, nested at most VALIDATE_MAX_DEPTH deep). Returns a
 * new reference, or NULL if it is not. */
json_t *validate_json_object(const char *body, size_t len);

#endif
