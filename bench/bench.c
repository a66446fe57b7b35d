/* bench.c: the tuturu-api benchmark (make bench; bench/run builds and runs it).
 *
 * Starts scripts/serve.sh (lighttpd + tuturu-api) on a free loopback port with
 * the given empty state directory, then drives the real HTTP API from one
 * single-threaded epoll client:
 *   1. one pair ping-ponging: one-way delivery latency, messages/s;
 *   2. 50 pairs ping-ponging: server CPU (lighttpd + tuturu-api) per message;
 *      1 and 2 run twice: a new TCP connection per request, then keep-alive;
 *   3. 1,000 held polls plus the 50 pairs ping-ponging: errors, latency;
 *   4. 10,000 held polls: are they all held, RSS per held poll, release.
 * Phases 3 and 4 use a new TCP connection per request ("Connection: close").
 *
 * One-way latency runs from the start of the send request (before its
 * connect) to the moment the receiver's poll response carrying that message is
 * complete. Server CPU is utime+stime of both processes (all threads) from
 * /proc/<pid>/stat. A poll counts as held on the server when tuturu-api has a
 * descriptor open for it (/proc/<pid>/fd): a request waiting in lighttpd's
 * accept backlog looks held to the client but is not.
 *
 * It is a measurement: the exit status is 0 whatever the targets say, and
 * non-zero only when the benchmark could not run.
 *
 * For slow machines (a qemu guest under TCG), from the environment:
 *   BENCH_PHASES=34      the phases to run (default 1234): some of 1 2 3, then 4,
 *                        which always runs; it needs 3's joins and held polls,
 *                        so without 3 only 3's traffic is skipped;
 *   BENCH_STALL_MS=N     no new poll reached tuturu-api for N ms: phase 4 stalled;
 *                        also GET /api/health's timeout under load; the other
 *                        waits are at least as long, the start-up 5 times it
 *                        (default 3000);
 *   BENCH_POLL_TIMEOUT=S, BENCH_PEER_GRACE=S  the server's poll_timeout and
 *                        peer_grace (default 45 and 300 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- settings ---------------------------------------------------------- */

#define POLL_TIMEOUT 45      /* s; held polls are measured well within it */
#define PEER_GRACE 300       /* s; nobody expires during the bench */
#define P1_ROUNDS 2000       /* phase 1: round trips of one pair */
#define P2_PAIRS 50
#define P2_MSGS 20000        /* phase 2: one-way messages in all */
#define P3_HELD 1000
#define P3_MSGS 6000         /* phase 3: one-way messages of the 50 pairs */
#define P4_HELD 10000
#define P4_STEP 500          /* polls opened per step in phase 4 */
#define NPEERS (P4_HELD + 2 * P4_STEP) /* lone peers, with spares for phase 4 */
#define JOIN_INFLIGHT 32
#define STALL_US (10 * 1000000LL) /* no progress for this long: give up the run */
#define STALL_MS 3000        /* phase 4: no new poll reached tuturu-api for this long */

/* An ICE candidate is the typical signaling message. */
#define PAYLOAD "\"candidate\":\"candidate:842163049 1 udp 1677729535 203.0.113.5 46154 typ srflx " \
                "raddr 10.0.0.5 rport 46154 generation 0 ufrag EsAw network-cost 999\""

/* ---- small helpers ----------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;
static int g_port;
static int g_ep = -1;
static pid_t g_server = -1; /* serve.sh, exec'd into lighttpd */
static char g_state[4096], g_top[4096];
static int g_keepalive;     /* new requests may reuse an idle connection */
static char g_sock[108];    /* tuturu-api's FastCGI socket (as in lighttpd.conf) */
static int g_direct;        /* new requests go straight to tuturu-api's FastCGI socket */
static int g_stall_ms = STALL_MS;  /* BENCH_STALL_MS; also a health check's timeout */
static int64_t g_stall_us = STALL_US;
static int g_poll_timeout = POLL_TIMEOUT, g_peer_grace = PEER_GRACE;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory");
    return p;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct samples {
    int64_t *v;
    size_t n, cap;
    int sorted;
};

static void sample_add(struct samples *s, int64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = x;
    s->sorted = 0;
}

static int64_t pct(struct samples *s, double p)
{
    if (!s->n) return -1;
    if (!s->sorted) qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    s->sorted = 1;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i < s->n ? i : s->n - 1];
}

/* ---- /proc ------------------------------------------------------------- */

static int read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return (int)n;
}

static int proc_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0) return 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* utime+stime of all threads in clock ticks, or -1. */
static long long proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, buf, sizeof buf) < 0) return -1;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    char *tok, *save = NULL;
    int field = 2; /* the next token is field 3, the state */
    for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14) ut = strtoull(tok, NULL, 10);
        if (field == 15) {
            st = strtoull(tok, NULL, 10);
            break;
        }
    }
    return (long long)(ut + st);
}

static long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static int proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The tuturu-api child of lighttpd, or -1. */
static pid_t find_api(void)
{
    DIR *d = opendir("/proc");
    if (!d) return -1;
    pid_t found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if (read_file(path, buf, sizeof buf) < 0) continue;
        char *p = strrchr(buf, ')');
        int ppid = 0;
        if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1) continue;
        if (ppid == g_server && strstr(buf, "(tuturu-api)") && p[2] != 'Z') found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static pid_t g_api = -1;   /* tuturu-api as last seen */
static int g_api_changes;  /* times it was seen replaced or gone */

static pid_t api_pid(void)
{
    pid_t p = find_api();
    if (p != g_api && g_api > 0) {
        g_api_changes++;
        if (p > 0)
            say("  !! tuturu-api was replaced: pid %d -> %d (it died and lighttpd restarted it)\n",
                (int)g_api, (int)p);
        else
            say("  !! tuturu-api (pid %d) is gone\n", (int)g_api);
    }
    g_api = p;
    return p;
}

static long long machine_busy(void);

struct usage {
    long long cpu_l, cpu_a, busy; /* ticks */
    long rss_l, rss_a;      /* KiB */
    int fds_l, fds_a;
};

static struct usage usage_now(void)
{
    struct usage u;
    pid_t a = api_pid();
    u.busy = machine_busy();
    u.cpu_l = proc_cpu(g_server);
    u.cpu_a = a > 0 ? proc_cpu(a) : -1;
    u.rss_l = proc_rss_kib(g_server);
    u.rss_a = a > 0 ? proc_rss_kib(a) : -1;
    u.fds_l = proc_fds(g_server);
    u.fds_a = a > 0 ? proc_fds(a) : -1;
    return u;
}

/* Busy ticks of all CPUs together (user..steal, not idle or iowait). */
static long long machine_busy(void)
{
    char buf[512];
    if (read_file("/proc/stat", buf, sizeof buf) < 0) return -1;
    unsigned long long v[8] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) != 8)
        return -1;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

/* CPU ticks of each tuturu-api thread, by tid; returns how many. */
static int api_threads(pid_t api, int *tid, long long *ticks, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)api);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char p2[300], buf[1024];
        snprintf(p2, sizeof p2, "/proc/%d/task/%s/stat", (int)api, e->d_name);
        if (read_file(p2, buf, sizeof buf) < 0) continue;
        char *q = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
            continue;
        tid[n] = atoi(e->d_name);
        ticks[n++] = (long long)(ut + st);
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* sort by tid: creation order */
        for (int j = i; j > 0 && tid[j] < tid[j - 1]; j--) {
            int t = tid[j];
            tid[j] = tid[j - 1];
            tid[j - 1] = t;
            long long k = ticks[j];
            ticks[j] = ticks[j - 1];
            ticks[j - 1] = k;
        }
    return n;
}

static double ticks_us(long long t) { return (double)t * 1e6 / (double)sysconf(_SC_CLK_TCK); }

/* ---- HTTP/1.1 client on epoll ------------------------------------------ */

enum kind { K_JOIN, K_SEND, K_POLL, K_HEALTH };
static const char *const kind_name[] = {"join", "send", "poll", "health"};
static const int kind_ok[] = {200, 202, 200, 200};
enum state { S_CONNECT, S_WRITE, S_READ, S_DRAIN, S_IDLE };

struct conn;
typedef void (*conn_cb)(struct conn *c, int err);

struct conn {
    int fd;
    enum state st;
    enum kind kind;
    int dead, reused, keepalive, server_close, fcgi;
    char *out; /* FastCGI: the decoded stdout */
    char *req;
    size_t req_len, req_off;
    char *resp;
    size_t resp_len, resp_cap;
    int status;
    char *body;
    int64_t t_start, t_done;
    conn_cb cb;
    void *ud;
    struct conn **slot; /* where the owner parks it while idle */
    struct conn *next_dead;
    int pending_err;
    const char *pending_what;
};

static struct conn *g_dead, *g_failq;

/* Per-phase error accounting. */
struct errs {
    long requests, bad_status, conn_err, early, timeouts, unexpected;
    char first[6][240];
    int nfirst;
};
static struct errs *g_err;

static void note_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_err(const char *fmt, ...)
{
    if (!g_err || g_err->nfirst >= 6) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err->first[g_err->nfirst++], sizeof g_err->first[0], fmt, ap);
    va_end(ap);
}

static long errs_total(const struct errs *e)
{
    return e->bad_status + e->conn_err + e->early + e->unexpected;
}

static void conn_free_later(struct conn *c)
{
    if (c->dead) return;
    c->dead = 1;
    if (c->slot && *c->slot == c) *c->slot = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->next_dead = g_dead;
    g_dead = c;
}

/* A request that failed before it got going: its callback runs from the
 * loop, never from inside conn_start (the caller may be a callback). */
static void conn_fail_later(struct conn *c, int err, const char *what)
{
    c->pending_err = err ? err : EIO;
    c->pending_what = what;
    c->next_dead = g_failq;
    g_failq = c;
}

/* Abort a request from the client side: its callback is not called. */
static void conn_abort(struct conn *c) { conn_free_later(c); }

static void conn_write(struct conn *c);

/* FastCGI, as lighttpd speaks it to tuturu-api: one request per connection. */
static size_t fcgi_record(char *out, int type, const char *content, size_t len)
{
    unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)(len & 255), 0, 0};
    memcpy(out, h, 8);
    if (len) memcpy(out + 8, content, len);
    return 8 + len;
}

static size_t fcgi_param(char *out, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value); /* both < 128 here */
    out[0] = (char)nl;
    out[1] = (char)vl;
    memcpy(out + 2, name, nl);
    memcpy(out + 2 + nl, value, vl);
    return 2 + nl + vl;
}

/* A GET straight to tuturu-api (only polls use it). */
static struct conn *fcgi_start(struct conn *c, const char *path, const char *token)
{
    char params[1024], auth[160];
    size_t pl = 0;
    const char *q = strchr(path, '?');
    snprintf(auth, sizeof auth, "Bearer %s", token ? token : "");
    pl += fcgi_param(params + pl, "REQUEST_METHOD", "GET");
    pl += fcgi_param(params + pl, "REQUEST_URI", path);
    pl += fcgi_param(params + pl, "QUERY_STRING", q ? q + 1 : "");
    pl += fcgi_param(params + pl, "SCRIPT_NAME", "/api/");
    pl += fcgi_param(params + pl, "SERVER_PROTOCOL", "HTTP/1.1");
    pl += fcgi_param(params + pl, "REMOTE_ADDR", "127.0.0.1");
    pl += fcgi_param(params + pl, "REDIRECT_STATUS", "200");
    pl += fcgi_param(params + pl, "CONTENT_LENGTH", "0");
    if (token) pl += fcgi_param(params + pl, "HTTP_AUTHORIZATION", auth);
    static const char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0}; /* RESPONDER, close after */
    c->fcgi = 1;
    c->keepalive = 0;
    free(c->req);
    c->req = xcalloc(1, pl + 64);
    size_t n = fcgi_record(c->req, 1, begin, 8);
    n += fcgi_record(c->req + n, 4, params, pl);
    n += fcgi_record(c->req + n, 4, NULL, 0);
    n += fcgi_record(c->req + n, 5, NULL, 0);
    c->req_len = n;
    if (g_err) g_err->requests++;
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    memcpy(su.sun_path, g_sock, sizeof su.sun_path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail_later(c, errno, "socket");
        return NULL;
    }
    int rc = connect(c->fd, (struct sockaddr *)&su, sizeof su);
    c->st = rc == 0 ? S_WRITE : S_CONNECT;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if ((rc < 0 && errno != EINPROGRESS) || epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_fail_later(c, errno, "connect (FastCGI)");
        return NULL;
    }
    return c;
}

/* 1 when the FastCGI answer is complete (END_REQUEST seen). */
static int parse_fcgi(struct conn *c)
{
    size_t off = 0, outlen = 0;
    const unsigned char *r = (const unsigned char *)c->resp;
    free(c->out);
    c->out = xcalloc(1, c->resp_len + 1);
    while (off + 8 <= c->resp_len) {
        size_t len = (size_t)r[off + 4] << 8 | r[off + 5], pad = r[off + 6];
        if (off + 8 + len + pad > c->resp_len) break;
        if (r[off + 1] == 6) {
            memcpy(c->out + outlen, c->resp + off + 8, len);
            outlen += len;
        } else if (r[off + 1] == 3) {
            c->out[outlen] = 0;
            const char *st = strstr(c->out, "Status: ");
            c->status = st ? atoi(st + 8) : 200;
            char *b = strstr(c->out, "\r\n\r\n");
            c->body = b ? b + 4 : c->out + outlen;
            c->server_close = 1;
            return 1;
        }
        off += 8 + len + pad;
    }
    return 0;
}

/* Start a request; reuse is an idle keep-alive connection or NULL. */
static struct conn *conn_start(enum kind kind, const char *method, const char *path,
                               const char *token, const char *body, conn_cb cb, void *ud,
                               struct conn *reuse)
{
    struct conn *c = reuse;
    if (c) {
        c->reused = 1;
        c->status = 0;
        c->body = NULL;
        c->resp_len = 0;
        c->req_off = 0;
        if (c->slot && *c->slot == c) *c->slot = NULL;
        c->slot = NULL;
    } else {
        c = xcalloc(1, sizeof *c);
        c->fd = -1;
    }
    c->kind = kind;
    c->cb = cb;
    c->ud = ud;
    c->keepalive = g_keepalive;
    c->t_start = now_us();
    if (g_direct && !reuse) return fcgi_start(c, path, token);
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 512 + blen + (token ? strlen(token) : 0);
    free(c->req);
    c->req = xcalloc(1, cap);
    int n = snprintf(c->req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: tuturu-bench\r\n%s%s%s%s%s",
                     method, path, g_port, c->keepalive ? "" : "Connection: close\r\n",
                     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
                     body ? "Content-Type: application/json\r\n" : "");
    if (body) n += snprintf(c->req + n, cap - (size_t)n, "Content-Length: %zu\r\n\r\n%s", blen, body);
    else n += snprintf(c->req + n, cap - (size_t)n, "\r\n");
    c->req_len = (size_t)n;
    if (g_err) g_err->requests++;
    if (reuse) {
        c->st = S_WRITE;
        conn_write(c);
        return c->dead ? NULL : c;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail_later(c, errno, "socket");
        return NULL;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
    c->st = rc == 0 ? S_WRITE : S_CONNECT;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if ((rc < 0 && errno != EINPROGRESS) || epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_fail_later(c, errno, "connect");
        return NULL;
    }
    return c;
}

static void conn_fail(struct conn *c, int err, const char *what)
{
    if (g_err) g_err->conn_err++;
    note_err("%s: %s: %s (after %.1f ms%s)", kind_name[c->kind], what, strerror(err),
             (double)(now_us() - c->t_start) / 1000.0, c->reused ? ", reused keep-alive connection" : "");
    c->t_done = now_us();
    c->cb(c, err ? err : EPROTO);
    conn_free_later(c);
}

/* Parse what has arrived; 1 when the response is complete. */
static int parse_resp(struct conn *c, int eof)
{
    if (c->resp_len == 0) return 0;
    c->resp[c->resp_len] = 0;
    char *hend = strstr(c->resp, "\r\n\r\n");
    if (!hend) return 0;
    if (sscanf(c->resp, "HTTP/1.%*d %d", &c->status) != 1) c->status = -1;
    char *b = hend + 4;
    size_t have = c->resp_len - (size_t)(b - c->resp);
    long clen = -1;
    c->server_close = 0;
    for (char *h = strstr(c->resp, "\r\n"); h && h < hend; h = strstr(h + 2, "\r\n")) {
        if (!strncasecmp(h + 2, "content-length:", 15)) clen = strtol(h + 17, NULL, 10);
        if (!strncasecmp(h + 2, "connection:", 11) && strncasecmp(h + 13 + strspn(h + 13, " "), "close", 5) == 0)
            c->server_close = 1;
    }
    if (c->status == 204 || c->status == 304) clen = 0;
    if (clen >= 0) {
        if (have < (size_t)clen) return 0;
        c->body = b;
        b[clen] = 0;
        return 1;
    }
    c->server_close = 1;
    if (!eof) return 0;
    c->body = b; /* close-delimited */
    return 1;
}

static void conn_complete(struct conn *c)
{
    c->t_done = now_us();
    c->st = (c->keepalive && !c->server_close) ? S_IDLE : S_DRAIN;
    if (c->status != kind_ok[c->kind]) {
        if (g_err) g_err->bad_status++;
        note_err("%s: HTTP %d after %.1f ms: %.160s", kind_name[c->kind], c->status,
                 (double)(c->t_done - c->t_start) / 1000.0, c->body ? c->body : "");
    }
    c->cb(c, 0); /* it may reuse c at once (S_IDLE) */
}

static void conn_write(struct conn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t w = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            if (errno == EINTR) continue;
            return conn_fail(c, errno, "write");
        }
        c->req_off += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->st = S_READ;
}

static void conn_event(struct conn *c, uint32_t ev)
{
    if (c->st == S_CONNECT) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) return conn_fail(c, err, "connect");
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        c->st = S_WRITE;
    }
    if (c->st == S_WRITE) {
        conn_write(c);
        return; /* the answer comes later */
    }
    while (!c->dead) {
        char tmp[4096];
        char *dst = tmp;
        size_t room = sizeof tmp;
        enum state st = c->st;
        if (st == S_READ) {
            if (c->resp_cap - c->resp_len < 2048) {
                c->resp_cap = c->resp_cap ? c->resp_cap * 2 : 4096;
                c->resp = realloc(c->resp, c->resp_cap + 1);
                if (!c->resp) die("out of memory");
            }
            dst = c->resp + c->resp_len;
            room = c->resp_cap - c->resp_len;
        } else if (st == S_WRITE) {
            return; /* reused by the callback and waiting to write */
        }
        ssize_t r = recv(c->fd, dst, room, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            if (st != S_READ) return conn_free_later(c);
            return conn_fail(c, errno, "read");
        }
        if (r == 0) {
            if (st != S_READ) return conn_free_later(c); /* done, or idle and closed by lighttpd */
            if (c->fcgi ? parse_fcgi(c) : parse_resp(c, 1)) {
                c->keepalive = 0;
                conn_complete(c);
                return conn_free_later(c);
            }
            return conn_fail(c, EPIPE, c->resp_len ? "connection closed mid-response"
                                                    : "connection closed without a response");
        }
        if (st == S_READ) {
            c->resp_len += (size_t)r;
            if (c->fcgi ? parse_fcgi(c) : parse_resp(c, 0)) conn_complete(c);
        } else if (st == S_IDLE) {
            return conn_free_later(c); /* bytes nobody asked for */
        }
    }
}

static void loop_once(int timeout_ms)
{
    struct epoll_event evs[1024];
    int n = epoll_wait(g_ep, evs, 1024, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (!c->dead) conn_event(c, evs[i].events);
    }
    while (g_failq) {
        struct conn *c = g_failq;
        g_failq = c->next_dead;
        c->next_dead = NULL;
        conn_fail(c, c->pending_err, c->pending_what);
    }
    while (g_dead) {
        struct conn *c = g_dead;
        g_dead = c->next_dead;
        free(c->req);
        free(c->resp);
        free(c->out);
        free(c);
    }
    if (g_interrupted) die("interrupted");
}

static void loop_for(int ms)
{
    int64_t end = now_us() + (int64_t)ms * 1000;
    for (int64_t t = now_us(); t < end; t = now_us()) loop_once((int)((end - t + 999) / 1000));
}

/* ---- tiny JSON picking (our server writes compact JSON) ----------------- */

static int json_str(const char *s, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = s ? strstr(s, pat) : NULL;
    if (!p) return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    if (*p != '"') return -1;
    p++;
    size_t n = strcspn(p, "\"");
    if (n >= outlen) return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* ---- a one-off request, waited for ------------------------------------ */

struct sync_ctx {
    int done, err, status;
};

static void sync_cb(struct conn *c, int err)
{
    struct sync_ctx *s = c->ud;
    s->done = 1;
    s->err = err;
    s->status = err ? -1 : c->status;
}

/* Status, -1 on a connection error, -2 when no answer came in time. */
static int sync_req(enum kind kind, const char *path, int timeout_ms, int64_t *took_us)
{
    struct sync_ctx s = {0};
    int64_t t0 = now_us(), end = t0 + (int64_t)timeout_ms * 1000;
    int ka = g_keepalive;
    g_keepalive = 0;
    struct conn *c = conn_start(kind, "GET", path, NULL, NULL, sync_cb, &s, NULL);
    g_keepalive = ka;
    while (!s.done && now_us() < end) loop_once(20);
    if (took_us) *took_us = now_us() - t0;
    if (!s.done) {
        if (c) conn_abort(c);
        return -2;
    }
    return s.status;
}

/* ---- peers and pairs ---------------------------------------------------- */

enum pmode { M_ACTIVE, M_HELD };

struct pair;
struct peer {
    char token[100];
    long long after;
    struct pair *pair;
    int side;
    enum pmode mode;
    int polling;          /* keep a poll outstanding */
    int joined;
    int replies;          /* early poll replies while held */
    int direct;           /* polls go straight to tuturu-api */
    struct conn *poll;    /* outstanding poll */
    struct conn *kpoll, *ksend; /* idle keep-alive connections */
};

struct pair {
    struct peer p[2];
    int to_send;          /* one-way messages still to send in this run */
    int inflight;         /* a message is on its way */
    int next_n;
    int done;
    int64_t sent_at;
};

static struct samples *g_lat; /* where one-way latencies go */
static int64_t g_progress;    /* last time something moved */
static int g_pairs_running;
static long g_late_polls;     /* deliveries whose poll started after the send */

static void poll_start(struct peer *pe);
static void send_next(struct pair *pr, int from);

static void park_idle(struct conn *c, struct conn **slot)
{
    if (c->st != S_IDLE || c->dead) return;
    if (*slot && *slot != c) conn_abort(*slot);
    *slot = c;
    c->slot = slot;
}

static void poll_cb(struct conn *c, int err)
{
    struct peer *pe = c->ud;
    int64_t t_start = c->t_start, t_done = c->t_done; /* c may be reused below */
    if (pe->poll == c) pe->poll = NULL;
    park_idle(c, &pe->kpoll);
    if (err || c->status != 200) return; /* counted; the pair stalls and its run ends */
    int got = 0, got_x = 0, other = 0;
    long long n_seen = -1;
    for (const char *p = c->body; (p = strstr(p, "\"seq\":"));) {
        p += 6;
        long long seq = strtoll(p, NULL, 10);
        got++;
        if (seq > pe->after) pe->after = seq;
        char type[40] = "";
        json_str(p, "type", type, sizeof type);
        if (!strcmp(type, "x")) {
            const char *q = strstr(p, "\"n\":");
            if (q) n_seen = strtoll(q + 4, NULL, 10);
            got_x = 1;
        } else if (strcmp(type, "peer-joined") != 0) {
            other = 1;
            if (g_err) g_err->unexpected++;
            note_err("poll: unexpected message '%s'", type);
        }
    }
    (void)other;
    if (pe->mode == M_HELD) {
        int64_t age = t_done - t_start;
        if (!got && age >= (int64_t)(g_poll_timeout - 2) * 1000000) {
            if (g_err) g_err->timeouts++;
        } else {
            pe->replies++;
            if (g_err) g_err->early++;
            note_err("a held poll was answered after %.1f ms: %.120s", (double)age / 1000.0, c->body);
        }
        if (pe->polling) poll_start(pe);
        return;
    }
    g_progress = now_us();
    if (pe->polling) poll_start(pe); /* re-poll first, as the web client does */
    struct pair *pr = pe->pair;
    if (!got_x || !pr) return;
    if (!pr->inflight || n_seen != pr->next_n - 1) {
        if (g_err) g_err->unexpected++;
        note_err("pair got message n=%lld, expected n=%d", n_seen, pr->next_n - 1);
        return;
    }
    pr->inflight = 0;
    if (g_lat) sample_add(g_lat, t_done - pr->sent_at);
    if (t_start > pr->sent_at) g_late_polls++;
    if (pr->to_send > 0) send_next(pr, pe->side); /* the receiver answers */
    else if (!pr->done) {
        pr->done = 1;
        g_pairs_running--;
    }
}

static void poll_start(struct peer *pe)
{
    char path[64];
    snprintf(path, sizeof path, "/api/poll?after=%lld", pe->after);
    struct conn *reuse = g_keepalive ? pe->kpoll : NULL;
    if (pe->kpoll && !reuse) conn_abort(pe->kpoll);
    pe->kpoll = NULL;
    int direct = g_direct;
    g_direct = pe->direct;
    pe->poll = conn_start(K_POLL, "GET", path, pe->token, NULL, poll_cb, pe, reuse);
    g_direct = direct;
}

static void send_cb(struct conn *c, int err)
{
    struct peer *pe = c->ud;
    park_idle(c, &pe->ksend);
    if (!err) g_progress = now_us();
}

static void send_next(struct pair *pr, int from)
{
    char body[512];
    struct peer *pe = &pr->p[from];
    snprintf(body, sizeof body, "{\"type\":\"x\",\"data\":{\"n\":%d,%s}}", pr->next_n, PAYLOAD);
    pr->next_n++;
    pr->to_send--;
    pr->inflight = 1;
    pr->sent_at = now_us();
    struct conn *reuse = g_keepalive ? pe->ksend : NULL;
    if (pe->ksend && !reuse) conn_abort(pe->ksend);
    pe->ksend = NULL;
    conn_start(K_SEND, "POST", "/api/send", pe->token, body, send_cb, pe, reuse);
}

/* Joins, JOIN_INFLIGHT at a time. */
struct join_batch {
    struct peer **peers;
    char (*pins)[12];
    int n, next, done, failed;
};

struct join_one {
    struct join_batch *b;
    struct peer *pe;
};

static void join_one_cb(struct conn *c, int err);

static void join_launch(struct join_batch *b)
{
    int i = b->next++;
    char body[64];
    struct join_one *k = xcalloc(1, sizeof *k);
    k->b = b;
    k->pe = b->peers[i];
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", b->pins[i]);
    conn_start(K_JOIN, "POST", "/api/join", NULL, body, join_one_cb, k, NULL);
}

static void join_one_cb(struct conn *c, int err)
{
    struct join_one *j = c->ud;
    struct join_batch *b = j->b;
    b->done++;
    g_progress = now_us();
    if (!err && c->status == 200 && json_str(c->body, "token", j->pe->token, sizeof j->pe->token) == 0)
        j->pe->joined = 1;
    else
        b->failed++;
    free(j);
    if (b->next < b->n) join_launch(b);
}

/* Join peers[i] with pins[i]; returns how many failed. */
static int join_all(struct peer **peers, char (*pins)[12], int n, double *secs)
{
    struct join_batch b = {.peers = peers, .pins = pins, .n = n};
    int64_t t0 = now_us();
    int ka = g_keepalive;
    g_keepalive = 0;
    g_progress = t0;
    while (b.next < n && b.next < JOIN_INFLIGHT) join_launch(&b);
    while (b.done < n && now_us() - g_progress < g_stall_us) loop_once(100);
    g_keepalive = ka;
    if (secs) *secs = (double)(now_us() - t0) / 1e6;
    if (b.done < n) say("  !! joins stalled: %d of %d answered\n", b.done, n);
    return b.failed + (n - b.done);
}

/* n pairs with pins prefix*1000+i, both sides polling (A past its peer-joined). */
static struct pair *pairs_make(int n, int prefix)
{
    struct pair *prs = xcalloc((size_t)n, sizeof *prs);
    struct peer **pp = xcalloc((size_t)n, sizeof *pp);
    char(*pins)[12] = xcalloc((size_t)n, sizeof *pins);
    int failed = 0;
    for (int side = 0; side < 2 && !failed; side++) {
        for (int i = 0; i < n; i++) {
            prs[i].p[side].pair = &prs[i];
            prs[i].p[side].side = side;
            pp[i] = &prs[i].p[side];
            snprintf(pins[i], sizeof pins[i], "%06d", prefix * 1000 + i);
        }
        failed = join_all(pp, pins, n, NULL);
    }
    free(pp);
    free(pins);
    if (failed) {
        say("  !! %d of %d pair joins failed\n", failed, n);
        if (g_err) {
            g_err->unexpected++;
            note_err("%d of %d pair joins failed", failed, n);
        }
        return NULL; /* (the peers leak: the run is ending) */
    }
    for (int i = 0; i < n; i++)
        for (int side = 0; side < 2; side++) {
            prs[i].p[side].mode = M_ACTIVE;
            prs[i].p[side].polling = 1;
            poll_start(&prs[i].p[side]);
        }
    int64_t end = now_us() + (g_stall_ms > 5000 ? g_stall_ms * 1000LL : 5000000);
    for (int ready = 0; !ready && now_us() < end;) {
        ready = 1;
        for (int i = 0; i < n; i++)
            if (!prs[i].p[0].after) ready = 0;
        loop_once(20);
    }
    loop_for(100);
    return prs;
}

/* Each of n pairs sends `each` one-way messages, ping-pong; returns seconds. */
static double pairs_run(struct pair *prs, int n, int each, struct samples *lat)
{
    g_lat = lat;
    g_pairs_running = n;
    int64_t t0 = now_us();
    g_progress = t0;
    for (int i = 0; i < n; i++) {
        prs[i].done = 0;
        prs[i].inflight = 0;
        prs[i].to_send = each;
        send_next(&prs[i], 0);
    }
    while (g_pairs_running > 0 && now_us() - g_progress < g_stall_us) loop_once(100);
    double secs = (double)(now_us() - t0) / 1e6;
    if (g_pairs_running > 0) {
        say("  !! %d of %d pairs stalled: no delivery for %lld s\n", g_pairs_running, n,
            (long long)(g_stall_us / 1000000));
        if (g_err) {
            g_err->unexpected += g_pairs_running;
            note_err("%d pairs stalled: a message or poll never came back", g_pairs_running);
        }
        secs -= (double)g_stall_us / 1e6;
        for (int i = 0; i < n; i++) prs[i].done = 1;
    }
    g_lat = NULL;
    return secs;
}

/* Switch a set of pairs between connection modes: drop idle connections. */
static void pairs_drop_idle(struct pair *prs, int n)
{
    for (int i = 0; i < n; i++)
        for (int s = 0; s < 2; s++) {
            struct peer *pe = &prs[i].p[s];
            if (pe->kpoll) conn_abort(pe->kpoll);
            if (pe->ksend) conn_abort(pe->ksend);
            pe->kpoll = pe->ksend = NULL;
        }
}

/* ---- report ------------------------------------------------------------ */

struct verdict {
    char what[80], target[40], result[100];
    int pass;
};
static struct verdict g_v[16];
static int g_nv;

static void verdict(const char *what, const char *target, int pass, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verdict(const char *what, const char *target, int pass, const char *fmt, ...)
{
    if (g_nv >= 16) return;
    struct verdict *v = &g_v[g_nv++];
    snprintf(v->what, sizeof v->what, "%s", what);
    snprintf(v->target, sizeof v->target, "%s", target);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->result, sizeof v->result, fmt, ap);
    va_end(ap);
    v->pass = pass;
}

static void print_errs(const char *label, const struct errs *e)
{
    say("  %s: %ld errors in %ld requests (%ld bad status, %ld connection, %ld early poll replies, "
        "%ld other)%s\n",
        label, errs_total(e), e->requests, e->bad_status, e->conn_err, e->early, e->unexpected,
        e->timeouts ? "; poll timeouts are not errors" : "");
    for (int i = 0; i < e->nfirst; i++) say("     e.g. %s\n", e->first[i]);
}

static void print_lat(const char *label, struct samples *s, double secs)
{
    if (!s->n) {
        say("  %s: no message delivered\n", label);
        return;
    }
    say("  %s: %zu one-way messages in %.2f s = %.0f msg/s\n", label, s->n, secs,
        secs > 0 ? (double)s->n / secs : 0.0);
    say("    one-way latency (us): p50 %" PRId64 "  p90 %" PRId64 "  p99 %" PRId64 "  max %" PRId64 "\n",
        pct(s, 50), pct(s, 90), pct(s, 99), pct(s, 100));
}

static double cpu_us(struct usage a, struct usage b)
{
    return ticks_us((b.cpu_l - a.cpu_l) + (b.cpu_a - a.cpu_a));
}

static double g_others_max; /* % of a core other processes took during a measured run */

static void print_cpu(struct usage a, struct usage b, long msgs, double secs, double client_us)
{
    if (!msgs) return;
    double busy = ticks_us(b.busy - a.busy);
    double others = busy - cpu_us(a, b) - client_us;
    if (secs > 0 && others / 1e4 / secs > g_others_max) g_others_max = others / 1e4 / secs;
    say("    server CPU: %.2f s over %.2f s (%.0f%% of one core) = %.0f us per delivered message "
        "(lighttpd %.0f + tuturu-api %.0f); client %.0f us\n",
        cpu_us(a, b) / 1e6, secs, secs > 0 ? cpu_us(a, b) / 1e4 / secs : 0.0, cpu_us(a, b) / (double)msgs,
        ticks_us(b.cpu_l - a.cpu_l) / (double)msgs, ticks_us(b.cpu_a - a.cpu_a) / (double)msgs,
        client_us / (double)msgs);
    say("    machine: %.0f%% of %ld cores busy; other processes %.0f%% of one core\n",
        secs > 0 ? busy / 1e4 / secs / (double)sysconf(_SC_NPROCESSORS_ONLN) : 0.0,
        sysconf(_SC_NPROCESSORS_ONLN), secs > 0 && others > 0 ? others / 1e4 / secs : 0.0);
}

static double self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6
           + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Wait until tuturu-api holds at least want fds, or none came for stall_ms. */
static int wait_api_fds(int want, int stall_ms)
{
    int64_t last = now_us();
    int best = -1;
    for (;;) {
        pid_t a = api_pid();
        int f = a > 0 ? proc_fds(a) : -1;
        if (f >= want) return f;
        if (f > best) {
            best = f;
            last = now_us();
        }
        if (now_us() - last > (int64_t)stall_ms * 1000) return f;
        loop_once(20);
    }
}

/* ---- server start/stop -------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0
        || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}

static void server_start(const char *bin)
{
    char path[4200], out[4200], pidfile[4200];
    snprintf(path, sizeof path, "%s/scripts/serve.sh", g_top);
    snprintf(out, sizeof out, "%s/serve.out", g_state);
    snprintf(pidfile, sizeof pidfile, "%s/bench-server.pid", g_state);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        setsid(); /* Ctrl-C reaches the bench, which stops the server itself */
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char buf[32];
        setenv("TUTURU_STATE", g_state, 1);
        snprintf(buf, sizeof buf, "%d", g_port);
        setenv("PORT", buf, 1);
        setenv("BIND", "127.0.0.1", 1);
        setenv("TUTURU_BIN", bin, 1);
        snprintf(buf, sizeof buf, "%d", g_poll_timeout);
        setenv("TUTURU_POLL_TIMEOUT", buf, 1);
        snprintf(buf, sizeof buf, "%d", g_peer_grace);
        setenv("TUTURU_PEER_GRACE", buf, 1);
        setenv("TUTURU_JOIN_LIMIT", "1000000", 1);
        setenv("TUTURU_POLLS_PER_ADDR", "1000000", 1); /* every poll comes from 127.0.0.1 */
        execl("/bin/sh", "sh", path, (char *)NULL);
        _exit(127);
    }
    g_server = pid;
    FILE *f = fopen(pidfile, "w");
    if (f) {
        fprintf(f, "%d\n", (int)pid);
        fclose(f);
    }
}

/* SIGTERM lighttpd, wait (bounded), and check that tuturu-api went too. */
static void server_stop(void)
{
    if (g_server <= 0) return;
    pid_t server = g_server, api = find_api();
    g_server = -1;
    int64_t t0 = now_us();
    kill(server, SIGTERM);
    int status = 0, gone = 0;
    while (now_us() - t0 < 15000000) {
        pid_t r = waitpid(server, &status, WNOHANG);
        if (r == server || (r < 0 && errno == ECHILD)) {
            gone = 1;
            break;
        }
        usleep(20000);
    }
    if (!gone) {
        say("  !! lighttpd did not stop within 15 s of SIGTERM; killing it\n");
        kill(server, SIGKILL);
        waitpid(server, &status, 0);
    } else {
        say("  lighttpd stopped %.2f s after SIGTERM (%s %d)\n", (double)(now_us() - t0) / 1e6,
            WIFEXITED(status) ? "exit status" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    if (api > 0) {
        int64_t t1 = now_us();
        while (proc_alive(api) && now_us() - t1 < 5000000) usleep(20000);
        if (proc_alive(api)) {
            say("  !! tuturu-api (pid %d) still runs 5 s after lighttpd stopped (orphaned); killing it\n",
                (int)api);
            kill(api, SIGKILL);
        } else {
            say("  tuturu-api exited as well (no orphan)\n");
        }
    }
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stdout, "bench: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    fflush(stdout);
    server_stop();
    exit(2);
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void conf_value(const char *file, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "?");
    FILE *f = fopen(file, "r");
    if (!f) return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == '=')) {
            p += kl;
            p += strspn(p, " =");
            p[strcspn(p, "\r\n")] = 0;
            snprintf(out, outlen, "%s", p);
        }
    }
    fclose(f);
}

/* An integer setting from the environment, or def when unset. */
static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) die("%s=%s: expected %d to %d", name, v, lo, hi);
    return (int)n;
}

/* ---- the phases --------------------------------------------------------- */

struct pp_result {
    struct samples lat;
    double secs, cpu_per_msg;
    struct errs err;
};

/* Ping-pong with n pairs, `msgs` one-way messages in all. */
static void pingpong(const char *label, struct pair *prs, int n, int msgs, struct pp_result *r)
{
    g_err = &r->err;
    loop_for(200);
    int tid0[80], tid1[80];
    long long tk0[80], tk1[80];
    pid_t api = api_pid();
    int nt0 = api_threads(api, tid0, tk0, 80);
    struct usage a = usage_now();
    double c0 = self_cpu_us();
    g_late_polls = 0;
    r->secs = pairs_run(prs, n, msgs / n, &r->lat);
    double c1 = self_cpu_us();
    struct usage b = usage_now();
    int nt1 = api_threads(api, tid1, tk1, 80);
    print_lat(label, &r->lat, r->secs);
    if (r->lat.n)
        say("    %.1f%% of messages were answered to a poll already in flight when the send began\n",
            100.0 * (double)((long)r->lat.n - g_late_polls) / (double)r->lat.n);
    print_cpu(a, b, (long)r->lat.n, r->secs, c1 - c0);
    if (nt0 == nt1 && nt1 > 0 && r->secs > 0) {
        char line[512];
        size_t off = 0;
        for (int i = 0; i < nt1 && off < sizeof line - 16; i++)
            off += (size_t)snprintf(line + off, sizeof line - off, " %.0f%%",
                                    ticks_us(tk1[i] - tk0[i]) / 1e4 / r->secs);
        say("    tuturu-api threads' CPU (main, waker, cleanup, workers):%s\n", line);
    }
    r->cpu_per_msg = r->lat.n ? cpu_us(a, b) / (double)r->lat.n : -1;
    print_errs("errors", &r->err);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench <repo top> <tuturu-api binary> <empty state dir>\n");
        return 2;
    }
    snprintf(g_top, sizeof g_top, "%s", argv[1]);
    snprintf(g_state, sizeof g_state, "%s", argv[3]);
    const char *bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *phases = getenv("BENCH_PHASES");
    if (!phases || !*phases) phases = "1234";
    if (phases[strspn(phases, "123")] != '4' || phases[strspn(phases, "123") + 1])
        die("BENCH_PHASES=%s: expected some of 1, 2, 3, then 4 (phase 4 always runs), e.g. 34", phases);
    int run1 = !!strchr(phases, '1'), run2 = !!strchr(phases, '2'), run3 = !!strchr(phases, '3');
    g_stall_ms = env_int("BENCH_STALL_MS", STALL_MS, 100, 3600000);
    if ((int64_t)g_stall_ms * 1000 > g_stall_us) g_stall_us = (int64_t)g_stall_ms * 1000;
    g_poll_timeout = env_int("BENCH_POLL_TIMEOUT", POLL_TIMEOUT, 5, 300);
    g_peer_grace = env_int("BENCH_PEER_GRACE", PEER_GRACE, g_poll_timeout + 2, 3600);

    /* Up to 10,000 held polls plus the pairs: take the hard limit. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t soft0 = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) say("bench: setrlimit: %s\n", strerror(errno));
    getrlimit(RLIMIT_NOFILE, &rl);

    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) die("epoll_create1: %s", strerror(errno));
    g_port = free_port();
    server_start(bin);

    int64_t t0 = now_us();
    int st = -1;
    while (now_us() - t0 < 5LL * g_stall_ms * 1000 && proc_alive(g_server)) {
        st = sync_req(K_HEALTH, "/api/health", 1000, NULL);
        if (st == 200) break;
        usleep(50000);
    }
    if (st != 200)
        die("the server did not answer GET /api/health with 200 within %d s (last: %d)", 5 * g_stall_ms / 1000,
            st);
    double up = (double)(now_us() - t0) / 1e6;
    if (api_pid() <= 0) die("cannot find tuturu-api among lighttpd's children");
    /* lighttpd names the socket of the process it spawns <socket>-<n>. */
    const char *socks[] = {"run/api.sock-0", "run/api.sock"};
    for (int i = 0; i < 2 && !g_sock[0]; i++) {
        struct stat sst;
        char sp[4300];
        snprintf(sp, sizeof sp, "%s/%s", g_state, socks[i]);
        if (stat(sp, &sst) == 0 && S_ISSOCK(sst.st_mode) && strlen(sp) < sizeof g_sock)
            memcpy(g_sock, sp, strlen(sp) + 1);
    }

    char conf[4200], maxfds[32], maxconns[32], backlog[32], threads[32];
    snprintf(conf, sizeof conf, "%s/lighttpd.conf", g_state);
    conf_value(conf, "server.max-fds", maxfds, sizeof maxfds);
    conf_value(conf, "server.max-connections", maxconns, sizeof maxconns);
    conf_value(conf, "server.listen-backlog", backlog, sizeof backlog);
    snprintf(conf, sizeof conf, "%s/tuturu.conf", g_state);
    conf_value(conf, "threads", threads, sizeof threads);

    say("tuturu-api benchmark\n");
    say("  machine: %ld CPUs online; RLIMIT_NOFILE hard %llu (client soft limit %llu -> %llu)\n",
        sysconf(_SC_NPROCESSORS_ONLN), (unsigned long long)rl.rlim_max, (unsigned long long)soft0,
        (unsigned long long)rl.rlim_cur);
    say("  server: lighttpd pid %d (max-fds %s, max-connections %s, listen-backlog %s), tuturu-api pid %d "
        "(threads %s); healthy after %.2f s\n",
        (int)g_server, maxfds, maxconns, backlog, (int)g_api, strcmp(threads, "?") ? threads : "default",
        up);
    say("  settings: poll_timeout %d s, peer_grace %d s, join_limit 1000000\n", g_poll_timeout, g_peer_grace);
    if (strcmp(phases, "1234") || g_stall_ms != STALL_MS)
        say("  BENCH_PHASES %s, BENCH_STALL_MS %d\n", phases, g_stall_ms);
    say("  client: one thread, epoll, HTTP/1.1; a message is {\"type\":\"x\",\"data\":{n, ICE candidate}} "
        "(~190 bytes)\n");
    say("  one-way latency: start of the send request -> receiver's poll response complete\n");
    char la[128] = "?";
    if (read_file("/proc/loadavg", la, sizeof la) > 0) la[strcspn(la, "\n")] = 0;
    int64_t ts = now_us();
    for (int i = 0; i < 100000; i++) syscall(SYS_getppid);
    say("  machine load: loadavg %s; a getppid() system call costs %.2f us here\n", la,
        (double)(now_us() - ts) / 100000.0);
    struct usage u0 = usage_now();
    say("  idle: RSS lighttpd %ld KiB + tuturu-api %ld KiB; fds %d + %d\n", u0.rss_l, u0.rss_a, u0.fds_l,
        u0.fds_a);

    /* ---- 1 ---- */
    say("\n== 1. one pair ping-ponging, %d round trips ==\n", P1_ROUNDS);
    struct errs e_setup = {0};
    struct pp_result r1 = {0}, r1k = {0};
    if (run1) {
        g_err = &e_setup;
        struct pair *solo = pairs_make(1, 100);
        if (!solo) die("cannot set up a pair");
        pingpong("new connection per request", solo, 1, 2 * P1_ROUNDS, &r1);
        pairs_drop_idle(solo, 1);
        g_keepalive = 1;
        pingpong("keep-alive", solo, 1, 2 * P1_ROUNDS, &r1k);
        g_keepalive = 0;
        pairs_drop_idle(solo, 1);
    } else {
        say("  skipped (BENCH_PHASES=%s)\n", phases);
    }

    /* ---- 2 ---- */
    say("\n== 2. server CPU: %d pairs ping-ponging, %d messages ==\n", P2_PAIRS, P2_MSGS);
    struct pair *many = NULL;
    struct pp_result r2 = {0}, r2k = {0};
    if (run2) {
        g_err = &e_setup;
        many = pairs_make(P2_PAIRS, 200);
        if (!many) die("cannot set up %d pairs", P2_PAIRS);
        pingpong("new connection per request", many, P2_PAIRS, P2_MSGS, &r2);
        pairs_drop_idle(many, P2_PAIRS);
        g_keepalive = 1;
        pingpong("keep-alive", many, P2_PAIRS, P2_MSGS, &r2k);
        g_keepalive = 0;
        pairs_drop_idle(many, P2_PAIRS);
    } else {
        say("  skipped (BENCH_PHASES=%s)\n", phases);
    }
    if (errs_total(&e_setup)) print_errs("setup errors", &e_setup);

    if (run1) {
        verdict("1 pair: one-way p50, new connections", "<= 1000 us", r1.lat.n && pct(&r1.lat, 50) <= 1000,
                "p50 %" PRId64 " us, p99 %" PRId64 " us, %.0f msg/s", pct(&r1.lat, 50), pct(&r1.lat, 99),
                r1.secs > 0 ? (double)r1.lat.n / r1.secs : 0.0);
        verdict("1 pair: one-way p50, keep-alive", "<= 1000 us", r1k.lat.n && pct(&r1k.lat, 50) <= 1000,
                "p50 %" PRId64 " us, p99 %" PRId64 " us, %.0f msg/s", pct(&r1k.lat, 50), pct(&r1k.lat, 99),
                r1k.secs > 0 ? (double)r1k.lat.n / r1k.secs : 0.0);
    }
    if (run2) {
        verdict("server CPU per message, new connections", "<= 80 us", r2.lat.n && r2.cpu_per_msg <= 80,
                "%.0f us (%d pairs, %.0f msg/s)", r2.cpu_per_msg, P2_PAIRS,
                r2.secs > 0 ? (double)r2.lat.n / r2.secs : 0.0);
        verdict("server CPU per message, keep-alive", "<= 80 us", r2k.lat.n && r2k.cpu_per_msg <= 80,
                "%.0f us (%d pairs, %.0f msg/s)", r2k.cpu_per_msg, P2_PAIRS,
                r2k.secs > 0 ? (double)r2k.lat.n / r2k.secs : 0.0);
    }

    /* ---- 3 ---- */
    say("\n== 3. %d held polls + %d active pairs (new connection per request) ==\n", P3_HELD, P2_PAIRS);
    struct errs e3 = {0};
    g_err = &e3;
    /* The pairs of phase 2 (made here when it was skipped), polling before fd0 is taken. */
    if (run3 && !many && !(many = pairs_make(P2_PAIRS, 200))) die("cannot set up %d pairs", P2_PAIRS);
    struct usage u3pre = usage_now();
    struct peer *held = xcalloc(NPEERS, sizeof *held);
    struct peer **hp = xcalloc(NPEERS, sizeof *hp);
    char(*pins)[12] = xcalloc(NPEERS, sizeof *pins);
    for (int i = 0; i < NPEERS; i++) {
        hp[i] = &held[i];
        snprintf(pins[i], sizeof pins[i], "%06d", 300000 + i);
    }
    double js = 0;
    int jf = join_all(hp, pins, NPEERS, &js);
    say("  joined %d lone peers (for phases 3 and 4) in %.2f s = %.0f joins/s; %d failed\n", NPEERS, js,
        NPEERS / js, jf);
    loop_for(300);
    struct usage u3a = usage_now();
    int fd0 = u3a.fds_a; /* tuturu-api with no lone peer polling */
    say("  RSS: %ld -> %ld KiB for %d joined peers (%.1f KiB per peer)\n", u3pre.rss_l + u3pre.rss_a,
        u3a.rss_l + u3a.rss_a, NPEERS, (double)(u3a.rss_l + u3a.rss_a - u3pre.rss_l - u3pre.rss_a) / NPEERS);
    int64_t tp = now_us();
    for (int i = 0; i < P3_HELD; i++) {
        if (!held[i].joined) continue;
        held[i].mode = M_HELD;
        held[i].polling = 1;
        poll_start(&held[i]);
    }
    int f3 = wait_api_fds(fd0 + P3_HELD, g_stall_ms > 5000 ? g_stall_ms : 5000);
    double park3 = (double)(now_us() - tp) / 1e6;
    loop_for(500);
    struct usage u3b = usage_now();
    say("  parked %d polls in %.2f s: tuturu-api fds %d -> %d, lighttpd fds %d -> %d\n", f3 - fd0, park3,
        fd0, u3b.fds_a, u3a.fds_l, u3b.fds_l);
    say("  RSS: %ld -> %ld KiB (%+.1f KiB per held poll)\n", u3a.rss_l + u3a.rss_a, u3b.rss_l + u3b.rss_a,
        (double)(u3b.rss_l + u3b.rss_a - u3a.rss_l - u3a.rss_a) / P3_HELD);
    struct pp_result r3 = {0};
    if (run3) {
        pingpong("50 pairs while 1,000 polls are held", many, P2_PAIRS, P3_MSGS, &r3);
    } else {
        say("  the 50 pairs' traffic: skipped (BENCH_PHASES=%s)\n", phases);
    }
    g_err = &e3;
    loop_for(200);
    struct usage u3c = usage_now();
    int open3 = 0;
    for (int i = 0; i < P3_HELD; i++)
        if (held[i].poll && !held[i].replies) open3++;
    say("  after the traffic: %d of %d held polls still open and unanswered; tuturu-api holds %d\n", open3,
        P3_HELD, u3c.fds_a - fd0);
    if (f3 - fd0 < P3_HELD) {
        e3.unexpected++;
        note_err("only %d of %d polls reached tuturu-api", f3 - fd0, P3_HELD);
    }
    print_errs("errors of the held polls", &e3);
    long err3 = errs_total(&e3) + errs_total(&r3.err) + jf;
    if (run3)
        verdict("1,000 held + 50 active pairs: errors", "0", err3 == 0 && u3c.fds_a - fd0 >= P3_HELD,
                "%ld errors; active p50 %" PRId64 " us, p99 %" PRId64 " us", err3, pct(&r3.lat, 50),
                pct(&r3.lat, 99));
    else
        verdict("1,000 held polls: errors", "0", err3 == 0 && u3c.fds_a - fd0 >= P3_HELD, "%ld errors", err3);

    /* ---- 4 ---- */
    say("\n== 4. %d held polls ==\n", P4_HELD);
    struct errs e4 = {0};
    g_err = &e4;
    e4.early = e3.early; /* the first 1,000 carry on */
    int opened = P3_HELD, reached = u3c.fds_a - fd0, stalled = 0;
    struct usage u4_1k = u3c;
    tp = now_us();
    while (opened < P4_HELD) {
        int upto = opened + P4_STEP < P4_HELD ? opened + P4_STEP : P4_HELD;
        for (; opened < upto; opened++) {
            if (!held[opened].joined) continue;
            held[opened].mode = M_HELD;
            held[opened].polling = 1;
            poll_start(&held[opened]);
        }
        reached = wait_api_fds(fd0 + opened, g_stall_ms) - fd0;
        if (reached < opened - 50) {
            stalled = 1;
            break;
        }
    }
    double park4 = (double)(now_us() - tp) / 1e6;
    loop_for(1000);
    struct usage u4 = usage_now();
    reached = u4.fds_a - fd0;
    int via_lighttpd = reached, n_reset = 0;
    long open4 = 0, early4 = 0;
    for (int i = 0; i < opened; i++) {
        if (held[i].poll) open4++;
        if (held[i].replies) early4++;
    }
    say("  opened %d more polls through lighttpd in %.2f s; the client has %ld open, %ld were answered early\n",
        opened - P3_HELD, park4, open4, early4);
    say("  tuturu-api holds %d polls (fds %d -> %d); lighttpd fds %d -> %d\n", reached, fd0, u4.fds_a,
        u3a.fds_l, u4.fds_l);
    if (stalled)
        say("  !! no new poll reached tuturu-api for %g s at %d held (lighttpd max-connections %s, max-fds "
            "%s): %d opened polls wait unaccepted in the listen backlog, %d not opened\n",
            g_stall_ms / 1000.0, reached, maxconns, maxfds, opened - reached, P4_HELD - opened);
    int64_t took = 0;
    int hs = sync_req(K_HEALTH, "/api/health", g_stall_ms, &took);
    if (hs == 200) {
        say("  GET /api/health meanwhile: 200 in %.1f ms\n", (double)took / 1000.0);
    } else {
        say("  !! GET /api/health meanwhile: %s after %.0f ms: lighttpd serves nobody else\n",
            hs == -2 ? "no answer" : "failed", (double)took / 1000.0);
        e4.unexpected++;
        char noans[48];
        snprintf(noans, sizeof noans, "no answer in %g s", g_stall_ms / 1000.0);
        note_err("GET /api/health with %d polls held: %s", reached, hs == -2 ? noans : "failed");
    }
    long rss_a = u3a.rss_l + u3a.rss_a, rss_1k = u4_1k.rss_l + u4_1k.rss_a, rss_n = u4.rss_l + u4.rss_a;
    double kib_l = reached > 0 ? (double)(u4.rss_l - u3a.rss_l) / reached : 0;
    double kib_a = reached > 0 ? (double)(u4.rss_a - u3a.rss_a) / reached : 0;
    say("  RSS of lighttpd + tuturu-api:\n");
    say("    peers joined, 0 held  %7ld KiB (%ld + %ld)\n", rss_a, u3a.rss_l, u3a.rss_a);
    say("    1,000 held            %7ld KiB (%ld + %ld)  %+.1f KiB per held poll\n", rss_1k, u4_1k.rss_l,
        u4_1k.rss_a, (double)(rss_1k - rss_a) / P3_HELD);
    say("    %6d held           %7ld KiB (%ld + %ld)  %+.1f KiB per held poll (lighttpd %.1f + tuturu-api %.1f)\n",
        reached, rss_n, u4.rss_l, u4.rss_a, kib_l + kib_a, kib_l, kib_a);
    double kib = kib_l + kib_a;
    int total_api = reached;
    struct usage u4d = u4;
    if (stalled) {
        /* Reset what waits in the backlog, then show whether tuturu-api itself
         * holds 10,000: the rest straight to its FastCGI socket. */
        for (int i = reached; i < opened; i++)
            if (held[i].poll) {
                struct linger lg = {1, 0};
                setsockopt(held[i].poll->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                conn_abort(held[i].poll);
                held[i].poll = NULL;
                held[i].polling = 0;
                n_reset++;
            }
        int need = P4_HELD - reached, first = opened, last = opened + need;
        if (last > NPEERS) last = NPEERS;
        loop_for(200);
        int fa = usage_now().fds_a;
        for (int i = first; i < last; i++) {
            if (!held[i].joined) continue;
            held[i].mode = M_HELD;
            held[i].polling = 1;
            held[i].direct = 1;
            poll_start(&held[i]);
        }
        opened = last;
        int f = wait_api_fds(fa + (last - first), g_stall_ms);
        loop_for(1000);
        u4d = usage_now();
        total_api = u4d.fds_a - fd0;
        say("  reset the %d waiting in the backlog; %d more polls sent straight to tuturu-api's FastCGI socket "
            "(as lighttpd would): tuturu-api now holds %d (fds %d)\n",
            n_reset, last - first, total_api, f);
        say("    RSS: tuturu-api %ld KiB with %d held = %+.1f KiB per held poll\n", u4d.rss_a, total_api,
            total_api > 0 ? (double)(u4d.rss_a - u3a.rss_a) / total_api : 0.0);
        if (total_api > 0) kib = kib_l + (double)(u4d.rss_a - u3a.rss_a) / total_api;
    }
    print_errs("errors so far", &e4);
    verdict("10,000 held polls through lighttpd", "10000, 0 errors",
            via_lighttpd >= P4_HELD && errs_total(&e4) == 0 && jf == 0,
            "%d held, %ld errors%s", via_lighttpd, errs_total(&e4) + jf,
            stalled ? " (lighttpd connection limit)" : "");
    if (stalled)
        verdict("  (tuturu-api alone, topped up directly)", "10000, 0 errors",
                total_api >= P4_HELD && errs_total(&e4) - (hs != 200) == 0 && jf == 0, "%d held, %ld errors besides health",
                total_api, errs_total(&e4) + jf - (hs != 200));
    verdict("server memory per held poll", "<= 20 KiB", reached > 0 && kib <= 20.0,
            "%.1f KiB (lighttpd %.1f + tuturu-api %.1f)", kib, kib_l, kib - kib_l);

    /* Release: every other client closes its poll (a phone going away), the
     * rest wait for the poll timeout. */
    int n_closed = 0, n_wait = 0, n_closed_direct = 0;
    for (int i = 0; i < opened; i++) {
        struct peer *pe = &held[i];
        pe->polling = 0;
        if (!pe->poll) continue;
        if (i % 2 == 0) {
            conn_abort(pe->poll);
            pe->poll = NULL;
            n_closed++;
            n_closed_direct += pe->direct;
        } else {
            n_wait++;
        }
    }
    int64_t r0 = now_us();
    long to0 = e4.timeouts;
    say("  release: %d clients close their poll (%d of them direct to tuturu-api), %d wait for the %d s "
        "timeout\n", n_closed, n_closed_direct, n_wait, g_poll_timeout);
    loop_for(2000);
    struct usage ur = usage_now();
    say("    2 s later: tuturu-api holds %d polls (%d fewer), lighttpd fds %d (%+d)\n", ur.fds_a - fd0,
        u4d.fds_a - ur.fds_a, ur.fds_l, ur.fds_l - u4d.fds_l);
    int64_t limit = (int64_t)g_poll_timeout * 1000000 + 5LL * g_stall_ms * 1000, last_drop = now_us();
    int waiting = n_wait, half_logged = 0, prev = -1, ghosts = 0;
    for (;;) {
        pid_t a = api_pid();
        int f = a > 0 ? proc_fds(a) : -1;
        if (f != prev) last_drop = now_us();
        prev = f;
        waiting = 0;
        for (int i = 0; i < opened; i++)
            if (held[i].poll) waiting++;
        if (f >= 0 && f <= fd0 + 5 && waiting == 0) break;
        /* Connections reset while in lighttpd's backlog may still reach
         * tuturu-api once slots free up, and then sit out a whole timeout. */
        if (n_reset && waiting == 0 && f - fd0 <= n_reset + 5 && now_us() - last_drop > g_stall_ms * 1000LL) {
            ghosts = f - fd0;
            break;
        }
        if (now_us() - r0 > limit) break;
        if (!half_logged && f >= 0 && f - fd0 < (ur.fds_a - fd0) / 2) {
            say("    %.1f s later: tuturu-api down to %d polls; %ld timeout replies so far\n",
                (double)(now_us() - r0) / 1e6, f - fd0, e4.timeouts - to0);
            half_logged = 1;
        }
        loop_once(50);
    }
    double rel = (double)(now_us() - r0) / 1e6;
    loop_for(300);
    struct usage uz = usage_now();
    say("    %.1f s later: tuturu-api holds %d polls (fds %d), lighttpd fds %d (%d before phase 3); "
        "%ld of %d waiting clients got their timeout reply\n",
        rel, uz.fds_a - fd0, uz.fds_a, uz.fds_l, u3a.fds_l, e4.timeouts - to0, n_wait);
    if (ghosts > 0)
        say("  !! %d polls remain: the connections reset in lighttpd's backlog were accepted when slots freed "
            "and forwarded to tuturu-api anyway; they hold for a full poll timeout (the bench does not wait "
            "for them)\n", ghosts);
    else if (uz.fds_a > fd0 + 5 || waiting)
        say("  !! not all released %.0f s after the release began\n", rel);
    say("    RSS after the release: %ld KiB (%ld + %ld)\n", uz.rss_l + uz.rss_a, uz.rss_l, uz.rss_a);
    print_errs("errors (whole phase)", &e4);
    for (int i = 0; i < opened; i++)
        if (held[i].poll) conn_abort(held[i].poll), held[i].poll = NULL;

    /* ---- after ---- */
    say("\n== after: is the server still well? ==\n");
    struct errs e5 = {0};
    g_err = &e5;
    hs = sync_req(K_HEALTH, "/api/health", g_stall_ms, &took);
    say("  GET /api/health: %s in %.1f ms\n", hs == -2 ? "no answer" : hs == 200 ? "200" : "failed",
        (double)took / 1000.0);
    struct pair *late = pairs_make(1, 600);
    if (late) {
        struct samples lat5 = {0};
        double s5 = pairs_run(late, 1, 400, &lat5);
        print_lat("a fresh pair, 200 round trips", &lat5, s5);
    }
    print_errs("errors", &e5);
    api_pid();
    if (g_api_changes) say("  !! tuturu-api was replaced or lost %d time(s) during the run\n", g_api_changes);
    else say("  tuturu-api pid %d throughout (no crash, no restart)\n", (int)g_api);
    g_err = NULL;

    say("\n== summary (targets from issue 2; a measurement, not a test: exit status 0 either way) ==\n");
    for (int i = 0; i < g_nv; i++)
        say("  %s  %-42s %-17s %s\n", g_v[i].pass ? "PASS" : "FAIL", g_v[i].what, g_v[i].target,
            g_v[i].result);

    if (g_others_max > 25)
        say("  !! other processes took up to %.0f%% of a core during the measured runs (this machine is shared):\n"
            "     messages/s and latencies are pessimistic; CPU per message is the server's own time\n",
            g_others_max);

    say("\n== stop ==\n");
    server_stop();
    return 0;
}
