/* main.c: the tuturu-api FastCGI process: settings, threads, signals.
 *
 * lighttpd starts it with the listening unix socket on fd 0. Request threads
 * take turns in FCGX_Accept_r (serialised, as fcgi2's threaded example does)
 * and answer; polls with nothing to deliver go to the park's waker thread, so
 * a held poll costs memory, not a thread. A cleanup thread expires peers,
 * messages and rate rows once a second. SIGTERM (from lighttpd at stop)
 * answers the held polls and exits; so does the death of lighttpd itself.
 *
 * Only stopping ends a request thread. When accepting fails (EMFILE with
 * every descriptor taken by held polls, ENFILE, ENOMEM...) the thread logs
 * the first failure of the burst, waits 10 ms doubling to 1 s, and retries.
 * When the process cannot serve any more (the listening socket unusable, or
 * nothing accepted for 2 x poll_timeout + 5 s) it stops as on SIGTERM and
 * exits 1: lighttpd then starts a new one.
 */
#include "api.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "park.h"
#include "store.h"

#include <errno.h>
#include <fcgiapp.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How a request thread waits after a failed accept (doubling). lighttpd's
 * own server.c likewise stops accepting for a while on EMFILE. */
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000

struct app {
    struct config cfg;
    struct park *park;
    struct beat_table *beats;
    pthread_mutex_t accept_lock;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;   /* on CLOCK_MONOTONIC */
    int stopping;
    int failed;                 /* cannot serve: exit 1 (under stop_lock) */
    /* The current burst of accept failures (under accept_lock). */
    int64_t failing_since_ms;
    long failures;              /* 0: the last accept worked */
    int gave_up;
};

static int is_stopping(struct app *app)
{
    pthread_mutex_lock(&app->stop_lock);
    int stopping = app->stopping;
    pthread_mutex_unlock(&app->stop_lock);
    return stopping;
}

/* Wait up to ms (monotonic: a clock step changes nothing) on the stop
 * condition. Returns 1 when stopping. */
static int wait_stop(struct app *app, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&app->stop_lock);
    while (!app->stopping && pthread_cond_timedwait(&app->stop_cond, &app->stop_lock, &until) == 0)
        ;
    int stopping = app->stopping;
    pthread_mutex_unlock(&app->stop_lock);
    return stopping;
}

/* The process cannot serve any more: stop as on SIGTERM (held polls are
 * answered), and exit 1, so that lighttpd starts a new one. */
static void give_up(struct app *app)
{
    pthread_mutex_lock(&app->stop_lock);
    app->failed = 1;
    pthread_mutex_unlock(&app->stop_lock);
    kill(getpid(), SIGTERM); /* main() waits for it in sigwait */
}

/* Errors that say the listening socket itself is unusable (EINVAL: it no
 * longer listens; main() causes that on purpose when stopping). Anything
 * else (EMFILE, ENFILE, ENOMEM, ENOBUFS...) may pass. libfcgi retries
 * ECONNABORTED and friends itself and returns -errno for the rest. */
static int accept_fatal(int err)
{
    return err == EBADF || err == ENOTSOCK || err == EINVAL || err == EOPNOTSUPP || err == EFAULT;
}

/* Called with accept_lock held after a failed accept (err: an errno, or 0
 * when unknown). Logs the first failure of a burst only. Returns 1 when the
 * process should give up: the socket is unusable, or nothing was accepted
 * for 2 x poll_timeout + 5 s (every held poll has ended meanwhile and given
 * its descriptor back, so whatever holds the resource is not us serving). */
static int accept_failed(struct app *app, int err)
{
    int64_t now = clock_mono_ms(), limit = (2 * (int64_t)app->cfg.poll_timeout + 5) * 1000;
    const char *why = err ? strerror(err) : "unknown error";
    if (!app->failures++) {
        app->failing_since_ms = now;
        log_msg("accept: %s: failing; retrying with a back-off up to %d ms (logged once"
                " until it works again)", why, BACKOFF_MAX_MS);
    }
    if (app->gave_up) return 1;
    if (!accept_fatal(err) && now - app->failing_since_ms < limit) return 0;
    app->gave_up = 1;
    log_msg("accept: %s: giving up after %ld failures in %lld ms: exiting so that lighttpd"
            " starts a new process", why, app->failures, (long long)(now - app->failing_since_ms));
    return 1;
}

/* Called with accept_lock held after an accept worked. */
static void accept_worked(struct app *app)
{
    if (!app->failures) return;
    log_msg("accept: working again after %ld failures in %lld ms", app->failures,
            (long long)(clock_mono_ms() - app->failing_since_ms));
    app->failures = 0;
}

/* Accept the next request into a new FCGX_Request. Returns it, or NULL when
 * the thread should end (stopping, or the process gave up). Failures are
 * retried after a growing back-off: a request thread never ends for them. */
static FCGX_Request *next_request(struct app *app)
{
    int backoff = 0;
    for (;;) {
        FCGX_Request *req = malloc(sizeof *req);
        int rc = !req || FCGX_InitRequest(req, 0, 0) != 0 ? -ENOMEM : 0;
        pthread_mutex_lock(&app->accept_lock);
        if (rc == 0) rc = FCGX_Accept_r(req);
        if (rc == 0) accept_worked(app);
        int quit = rc != 0 && !is_stopping(app) && accept_failed(app, rc > -9998 ? -rc : 0);
        pthread_mutex_unlock(&app->accept_lock);
        if (rc == 0) return req;
        free(req);
        if (quit) give_up(app);
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
        if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
        if (quit || wait_stop(app, backoff)) return NULL;
    }
}

static void *worker(void *arg)
{
    struct app *app = arg;
    char err[512];
    struct api_ctx ctx = {.cfg = &app->cfg, .park = app->park, .beats = app->beats};
    if (!(ctx.db = db_open(app->cfg.db, 0, err, sizeof err))) {
        log_msg("worker: %s", err);
        give_up(app);
        return NULL;
    }
    FCGX_Request *req;
    while ((req = next_request(app))) api_handle(&ctx, req);
    buf_free(&ctx.out);
    db_close(ctx.db);
    return NULL;
}

/* One cleanup pass: heartbeats first, so that a peer that polled during the
 * last second is not taken for silent. */
static void clean_once(struct app *app, struct db *db)
{
    int removed = 0;
    beat_flush(app->beats, db);
    if (store_cleanup(db, clock_wall(), app->cfg.peer_grace, app->cfg.message_ttl,
                      app->cfg.join_window, &removed) == STORE_OK && removed)
        park_notify(app->park);
}

static void *cleaner(void *arg)
{
    struct app *app = arg;
    char err[512];
    struct db *db = db_open(app->cfg.db, 0, err, sizeof err);
    if (!db) {
        log_msg("cleanup: %s", err);
        give_up(app);
        return NULL;
    }
    unsigned ticks = 0;
    do {
        clean_once(app, db);
        /* Thousands of polls released leave freed memory behind: give it
         * back to the system now and then. */
        if (++ticks % 30 == 0) malloc_trim(0);
    } while (!wait_stop(app, 1000));
    beat_flush(app->beats, db); /* the last second's heartbeats */
    db_close(db);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: tuturu-api [--check] [-c config-file]\n"
                    "Run by lighttpd as a FastCGI program (see lighttpd.conf); settings are\n"
                    "read from the file, then from TUTURU_* environment variables.\n"
                    "--check: load the settings and the database, report, and exit.\n");
    return 2;
}

static int load(struct app *app, int argc, char **argv, int *check)
{
    const char *path = NULL;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--check")) *check = 1;
        else return usage();
    }
    if (config_load(&app->cfg, path, err, sizeof err) < 0) {
        log_msg("config: %s", err);
        return 1;
    }
    if (app->cfg.peer_grace < app->cfg.poll_timeout + 2) {
        log_msg("config: peer_grace (%d) must exceed poll_timeout (%d) by 2 s or more",
                app->cfg.peer_grace, app->cfg.poll_timeout);
        return 1;
    }
    struct db *db = db_open(app->cfg.db, 1, err, sizeof err);
    if (!db) {
        log_msg("%s", err);
        return 1;
    }
    db_close(db);
    return 0;
}

/* The stop condition waits on CLOCK_MONOTONIC. Returns 0 or -1. */
static int init_stop_cond(struct app *app)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr)) return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
             || pthread_cond_init(&app->stop_cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc ? -1 : 0;
}

static int start_threads(struct app *app, pthread_t *threads, int n, pthread_t *clean)
{
    int rc = pthread_create(clean, NULL, cleaner, app);
    if (rc) {
        log_msg("pthread_create: %s", strerror(rc));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if ((rc = pthread_create(&threads[i], NULL, worker, app))) {
            log_msg("pthread_create: %s", strerror(rc));
            return i;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    struct app app = {.accept_lock = PTHREAD_MUTEX_INITIALIZER,
                      .stop_lock = PTHREAD_MUTEX_INITIALIZER};
    char err[512];
    int check = 0;
    pid_t parent = getppid(); /* lighttpd, which must still be there after prctl below */
    int rc = load(&app, argc, argv, &check);
    if (rc || check) {
        if (check && !rc) fprintf(stderr, "tuturu-api: settings and database %s are fine\n", app.cfg.db);
        config_free(&app.cfg);
        return rc;
    }
    struct stat st;
    if (fstat(0, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        log_msg("fd 0 is not a socket: tuturu-api is started by lighttpd (make run)");
        config_free(&app.cfg);
        return 2;
    }
    /* All threads inherit this mask; the main thread takes the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* lighttpd gone: do not linger */
    /* ...unless it was gone before: lighttpd in a graceful shutdown can
     * still respawn a backend and exit at once (seen: an orphan left for
     * good after Ctrl-C), and the death signal covers only a parent that
     * dies after prctl. */
    if (getppid() != parent || parent == 1) {
        log_msg("lighttpd (pid %ld) ended before this process started: exiting", (long)parent);
        config_free(&app.cfg);
        return 1;
    }
    json_object_seed(0);              /* once, before threads make objects */

    if (init_stop_cond(&app) < 0) snprintf(err, sizeof err, "pthread_cond_init failed");
    else if (FCGX_Init() != 0) snprintf(err, sizeof err, "FCGX_Init failed");
    else if (!(app.beats = beat_new())) snprintf(err, sizeof err, "out of memory");
    else app.park = park_start(&app.cfg, err, sizeof err);
    if (!app.park) {
        log_msg("start: %s", err);
        beat_free(app.beats);
        config_free(&app.cfg);
        return 1;
    }
    pthread_t threads[64], clean;
    int started = start_threads(&app, threads, app.cfg.threads, &clean);
    if (started == app.cfg.threads) log_msg("started: %d request threads", started);

    int sig = 0;
    if (started == app.cfg.threads) sigwait(&sigs, &sig);
    /* Stop: no more accepts, then answer what is held, then go. */
    pthread_mutex_lock(&app.stop_lock);
    app.stopping = 1;
    pthread_cond_broadcast(&app.stop_cond);
    pthread_mutex_unlock(&app.stop_lock);
    shutdown(0, SHUT_RDWR);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    if (started >= 0) pthread_join(clean, NULL);
    park_stop(app.park);
    beat_free(app.beats);
    rc = started == app.cfg.threads && !app.failed ? 0 : 1;
    config_free(&app.cfg);
    if (app.failed) log_msg("stopped: this process cannot serve (exit 1)");
    else log_msg("stopped%s", sig ? " by signal" : "");
    return rc;
}
