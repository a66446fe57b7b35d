/* api.h: the HTTP API v1 (docs/api.md): route table and handlers. */
#ifndef TUTURU_API_H
#define TUTURU_API_H

#include "beat.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "park.h"

#include <fcgiapp.h>

/* What a request thread brings to a handler. */
struct api_ctx {
    const struct config *cfg;
    struct db *db;
    struct park *park;
    struct beat_table *beats;
    struct buf out;
};

/* Answer one accepted request, then finish and free it, or hand it to the
 * park (a poll with nothing to deliver yet). Never fails: every problem is
 * answered with a JSON error. */
void api_handle(struct api_ctx *ctx, FCGX_Request *req);

#endif
