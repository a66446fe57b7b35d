/* buf.h: a growable byte buffer for building replies. */
#ifndef TUTURU_BUF_H
#define TUTURU_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated while len < cap */
    size_t len, cap;
    int failed; /* an append ran out of memory: the content is incomplete */
};

/* Append n bytes / a string / formatted text. On allocation failure the
 * buffer keeps what it had and b->failed is set; callers check it once at the
 * end instead of after every append. */
void buf_add(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
