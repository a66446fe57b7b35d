/* clock.h: the two clocks. Wall time (unix seconds) is what people read and
 * what must mean the same after a reboot; monotonic time (CLOCK_MONOTONIC
 * seconds, the same for every process of the machine, restarting at boot)
 * measures how long ago something happened, whatever the wall clock does.
 * Tests replace both (design: db.c). */
#ifndef TUTURU_CLOCK_H
#define TUTURU_CLOCK_H

#include <stdint.h>

struct clock_source {
    int64_t (*wall)(void);
    int64_t (*mono)(void);
};

/* Unix seconds. Never fails. */
int64_t clock_wall(void);

/* CLOCK_MONOTONIC seconds. Never fails. */
int64_t clock_mono(void);

/* CLOCK_MONOTONIC milliseconds, always from the system (tests do not
 * replace it): for waits and deadlines inside one process. Never fails. */
int64_t clock_mono_ms(void);

/* Tests only, before any thread starts: read time from src (copied), or from
 * the system again when src is NULL. */
void clock_use(const struct clock_source *src);

#endif
