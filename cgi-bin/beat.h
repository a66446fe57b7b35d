/* beat.h: poll heartbeats and acknowledgements, kept in memory and written
 * to the database in one transaction a second. */
#ifndef TUTURU_BEAT_H
#define TUTURU_BEAT_H

#include "db.h"

#include <stdint.h>

struct beat_table;

/* NULL when out of memory. */
struct beat_table *beat_new(void);

/* Note that peer polled at now (wall clock; the monotonic time is read
 * here, clock.h) with cursor after. Thread-safe. If memory
 * runs out the beat is dropped: it only delays a cleanup, and the peer's next
 * poll records it again. */
void beat_record(struct beat_table *t, const char *peer, long long after, int64_t now);

/* Write every recorded beat (last_seen, deletion of acknowledged messages)
 * in one transaction and forget them. Returns how many were written, or -1
 * when the database failed (the beats are then kept for the next flush). */
int beat_flush(struct beat_table *t, struct db *db);

void beat_free(struct beat_table *t);

#endif
