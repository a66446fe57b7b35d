/* main.c: the tuturu-api FastCGI process: settings, threads, signals.
 *
 * lighttpd starts it with the listening unix socket on fd 0. Request threads
 * take turns in FCGX_Accept_r (serialised, as fcgi2's threaded example does)
 * and answer; polls with nothing to deliver go to the park's waker thread, so
 * a held poll costs memory, not a thread. A cleanup thread expires peers,
 * messages and rate rows once a second. SIGTERM (from lighttpd at stop)
 * answers the held polls and exits; so does the death of lighttpd itself.
 */
#include "api.h"
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

struct app {
    struct config cfg;
    struct park *park;
    struct beat_table *beats;
    pthread_mutex_t accept_lock;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

static void *worker(void *arg)
{
    struct app *app = arg;
    char err[512];
    struct api_ctx ctx = {.cfg = &app->cfg, .park = app->park, .beats = app->beats};
    if (!(ctx.db = db_open(app->cfg.db, 0, err, sizeof err))) {
        log_msg("worker: %s", err);
        return NULL;
    }
    for (;;) {
        FCGX_Request *req = malloc(sizeof *req);
        if (!req || FCGX_InitRequest(req, 0, 0) != 0) {
            log_msg("worker: out of memory");
            free(req);
            break;
        }
        pthread_mutex_lock(&app->accept_lock);
        int rc = FCGX_Accept_r(req);
        pthread_mutex_unlock(&app->accept_lock);
        if (rc < 0) {
            free(req); /* the listening socket was shut down: we are stopping */
            break;
        }
        api_handle(&ctx, req);
    }
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
    if (store_cleanup(db, (int64_t)time(NULL), app->cfg.peer_grace, app->cfg.message_ttl,
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
        return NULL;
    }
    unsigned ticks = 0;
    pthread_mutex_lock(&app->stop_lock);
    while (!app->stopping) {
        pthread_mutex_unlock(&app->stop_lock);
        clean_once(app, db);
        /* Thousands of polls released leave freed memory behind: give it
         * back to the system now and then. */
        if (++ticks % 30 == 0) malloc_trim(0);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&app->stop_lock);
        if (!app->stopping) pthread_cond_timedwait(&app->stop_cond, &app->stop_lock, &until);
    }
    pthread_mutex_unlock(&app->stop_lock);
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
                      .stop_lock = PTHREAD_MUTEX_INITIALIZER,
                      .stop_cond = PTHREAD_COND_INITIALIZER};
    char err[512];
    int check = 0;
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
    json_object_seed(0);              /* once, before threads make objects */

    if (FCGX_Init() != 0) snprintf(err, sizeof err, "FCGX_Init failed");
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
    rc = started == app.cfg.threads ? 0 : 1;
    config_free(&app.cfg);
    log_msg("stopped%s", sig ? " by signal" : "");
    return rc;
}
