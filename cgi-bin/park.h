/* park.h: held long-polls. A poll with nothing to deliver is parked here and
 * answered by one waker thread when a message for its peer is committed (by
 * any process), when it times out, or at shutdown. */
#ifndef TUTURU_PARK_H
#define TUTURU_PARK_H

#include "config.h"

#include <fcgiapp.h>

struct park;

/* Start the waker thread; it watches the directory of db_path for commits by
 * other processes. Returns NULL with err filled in on failure. */
struct park *park_start(const struct config *cfg, char *err, size_t errlen);

/* Hand over a poll of peer_id with cursor after. The park owns req from now
 * on: it writes the reply, finishes and frees it. Never fails: if the poll
 * cannot be held it is answered at once with no messages. */
void park_submit(struct park *p, FCGX_Request *req, const char *peer_id, long long after);

/* Tell the waker that this process committed a message. */
void park_notify(struct park *p);

/* Answer every held poll with no messages, stop the thread, free p. */
void park_stop(struct park *p);

#endif
