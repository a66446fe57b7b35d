/* clock.c: wall and monotonic seconds, replaceable by tests (clock.h). */
#include "clock.h"

#include <time.h>

static int64_t system_wall(void)
{
    return (int64_t)time(NULL);
}

static int64_t system_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static const struct clock_source system_clock = {system_wall, system_mono};
static struct clock_source source = {system_wall, system_mono};

int64_t clock_wall(void)
{
    return source.wall();
}

int64_t clock_mono(void)
{
    return source.mono();
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_use(const struct clock_source *src)
{
    source = src ? *src : system_clock;
}
