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

/* Hand over a poll of peer_id with cursor after, from client_addr
 * (REMOTE_ADDR; NULL or anything that is not an address is counted as one
 * more address). The park owns req from now on: it writes the reply,
 * finishes and frees it. An older held poll of peer_id is answered with no
 * messages first. If the client's address (IPv6: its /64) already holds
 * cfg->polls_per_addr polls, the poll is answered at once with
 * 429 too_many_polls and Retry-After, and nothing else changes. Never fails:
 * if the poll cannot be held otherwise, it is answered at once with no
 * messages. */
void park_submit(struct park *p, FCGX_Request *req, const char *peer_id, long long after,
                 const char *client_addr);

/* Tell the waker that this process committed a message. */
void park_notify(struct park *p);

/* Answer every held poll with no messages, stop the thread, free p. */
void park_stop(struct park *p);

#endif
