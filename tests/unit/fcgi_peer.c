/* fcgi_peer.c: the web server's side of a FastCGI connection, for tests. */
#include "fcgi_peer.h"

#include <errno.h>
#include <fastcgi.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_ID 1

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path) return -1;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

int fcgi_peer_listen(const char *path)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) < 0) return -1;
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int fcgi_peer_connect(const char *path)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void record(struct buf *b, int type, const char *content, size_t len)
{
    unsigned char h[FCGI_HEADER_LEN] = {FCGI_VERSION_1, (unsigned char)type, 0, REQUEST_ID,
                                        (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
    buf_add(b, (const char *)h, sizeof h);
    if (len) buf_add(b, content, len);
}

/* One name-value length: 1 byte below 128, else 4 with the top bit set. */
static void nv_len(struct buf *b, size_t n)
{
    if (n < 128) {
        unsigned char c = (unsigned char)n;
        buf_add(b, (const char *)&c, 1);
        return;
    }
    unsigned char c[4] = {(unsigned char)(0x80 | ((n >> 24) & 0x7f)), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    buf_add(b, (const char *)c, sizeof c);
}

/* Append a stream's content as records of at most chunk bytes, then the
 * empty record that ends it. */
static void stream(struct buf *b, int type, const char *data, size_t len, size_t chunk)
{
    for (size_t off = 0; off < len; off += chunk)
        record(b, type, data + off, len - off < chunk ? len - off : chunk);
    record(b, type, NULL, 0);
}

void fcgi_peer_encode(struct buf *b, const struct fcgi_param *p, size_t n, const char *body,
                      size_t len, size_t chunk)
{
    static const char begin[8] = {0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0};
    struct buf params = {0};
    if (chunk < 1 || chunk > FCGI_MAX_LENGTH) chunk = FCGI_MAX_LENGTH;
    record(b, FCGI_BEGIN_REQUEST, begin, sizeof begin);
    for (size_t i = 0; i < n; i++) {
        nv_len(&params, p[i].nlen);
        nv_len(&params, p[i].vlen);
        buf_add(&params, p[i].name, p[i].nlen);
        buf_add(&params, p[i].value, p[i].vlen);
    }
    if (params.failed) b->failed = 1;
    stream(b, FCGI_PARAMS, params.data, params.len, FCGI_MAX_LENGTH);
    stream(b, FCGI_STDIN, body, len, chunk);
    buf_free(&params);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline. Returns 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left < 0) left = 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, (int)left);
        if (rc >= 0 || errno != EINTR) return rc > 0 ? 1 : rc;
    }
}

long fcgi_peer_write(int fd, const char *data, size_t len, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    size_t done = 0;
    while (done < len) {
        ssize_t w = send(fd, data + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        } else if (wait_fd(fd, POLLOUT, deadline) <= 0) {
            break;
        }
    }
    return (long)done;
}

/* Handle the complete records at the front of in; consume them. Returns
 * DONE after END_REQUEST, BAD on a malformed one, else -1 (need more). */
static int take_records(struct buf *in, struct buf *out, char *why, size_t whylen)
{
    size_t off = 0;
    int rc = -1;
    while (rc < 0 && in->len - off >= FCGI_HEADER_LEN) {
        const unsigned char *h = (const unsigned char *)in->data + off;
        size_t clen = (size_t)h[4] << 8 | h[5], total = FCGI_HEADER_LEN + clen + h[6];
        int id = h[2] << 8 | h[3];
        if (h[0] != FCGI_VERSION_1 || id != REQUEST_ID) {
            snprintf(why, whylen, "record version %d id %d", h[0], id);
            return FCGI_PEER_BAD;
        }
        if (in->len - off < total) break;
        const char *c = in->data + off + FCGI_HEADER_LEN;
        if (h[1] == FCGI_STDOUT) {
            buf_add(out, c, clen);
        } else if (h[1] == FCGI_END_REQUEST) {
            if (clen != 8 || c[4] != FCGI_REQUEST_COMPLETE) {
                snprintf(why, whylen, "END_REQUEST length %zu status %d", clen, clen == 8 ? c[4] : -1);
                return FCGI_PEER_BAD;
            }
            rc = FCGI_PEER_DONE;
        } else if (h[1] != FCGI_STDERR) {
            snprintf(why, whylen, "unexpected record type %d", h[1]);
            return FCGI_PEER_BAD;
        }
        off += total;
    }
    memmove(in->data, in->data + off, in->len - off);
    in->len -= off;
    return rc;
}

/* Read what is there into in; 1 read, 0 EOF, -1 error (errno). */
static int read_some(int fd, struct buf *in)
{
    char chunk[16384];
    ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
    if (n <= 0) return (int)n;
    buf_add(in, chunk, (size_t)n);
    return 1;
}

enum fcgi_peer_rc fcgi_peer_exchange(int fd, const char *req, size_t len, struct buf *out,
                                     int timeout_ms, char *why, size_t whylen)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct buf in = {0};
    int rc = -1;
    snprintf(why, whylen, "none");
    while (rc < 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (len ? POLLOUT : 0)};
        int64_t left = deadline - now_ms();
        int ready = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            rc = ready ? FCGI_PEER_BAD : FCGI_PEER_TIMEOUT;
            break;
        }
        if (len && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
            long w = fcgi_peer_write(fd, req, len, 0);
            if (w < 0) len = 0; /* the app closed its side: read what it said */
            else req += w, len -= (size_t)w;
        }
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        int got = read_some(fd, &in);
        if (got <= 0) {
            rc = got == 0 ? FCGI_PEER_EOF : FCGI_PEER_BAD;
            if (got < 0) snprintf(why, whylen, "recv: %s", strerror(errno));
        } else if (in.failed || out->failed) {
            rc = FCGI_PEER_BAD;
        } else {
            rc = take_records(&in, out, why, whylen);
        }
    }
    buf_free(&in);
    return (enum fcgi_peer_rc)rc;
}

int fcgi_peer_split(const char *reply, size_t len, int *status, const char **head, size_t *hlen,
                    const char **body, size_t *blen)
{
    const char *end = memmem(reply, len, "\r\n\r\n", 4);
    if (!end || len < 12 || memcmp(reply, "Status: ", 8) != 0) return -1;
    const char *s = reply + 8;
    if (s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9'
        || (s[3] != ' ' && s[3] != '\r'))
        return -1;
    *status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    *head = reply;
    *hlen = (size_t)(end - reply);
    *body = end + 4;
    *blen = len - *hlen - 4;
    return 0;
}

int fcgi_peer_has_header(const char *head, size_t hlen, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = head, *end = head + hlen; p < end;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        if ((size_t)(eol - p) == n && !memcmp(p, line, n)) return 1;
        p = eol + 2;
    }
    return 0;
}
