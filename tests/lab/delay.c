/* delay.c: latency for the network lab. This kernel has no netem (FACTS,
 * "Network labs on this machine"), so the lab's router sends packets to an
 * NFQUEUE queue (iptables-nft -j NFQUEUE; nft's own `queue` statement is not
 * built in) and this program holds each one for a delay, plus or minus a
 * random jitter, before it gives the ACCEPT verdict.
 *
 *   delay -q QUEUE -d MS [-j MS]
 *
 * Design:
 *  1. Only packet metadata is copied from the kernel (NFQNL_COPY_META): the
 *     packet id is all a verdict needs, the payload stays in the kernel.
 *  2. Held packets wait in one ring, in arrival order. A packet's due time
 *     is its arrival + delay + jitter, but never earlier than the packet
 *     before it: jitter varies the delay without reordering a flow (what a
 *     queue in a real router does; netem's jitter reorders, which no
 *     network we model does).
 *  3. The kernel queue holds at most RING_SIZE packets (nfq_set_queue_maxlen):
 *     beyond that the kernel drops, as a full router buffer would, so the
 *     ring can never overflow.
 *  4. One thread: poll() on the queue's socket with a timeout up to the head
 *     of the ring's due time, then accept every packet that is due.
 *  5. SIGINT/SIGTERM: every held packet is accepted at once, the queue is
 *     unbound, exit 0. Once bound it prints one line, "delay: queue N ready
 *     ...", on stdout: the lab waits for it instead of sleeping.
 *
 * Exit status: 0 after a signal, 1 when the queue cannot be bound or read,
 * 2 for bad arguments (with a message saying which).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h> /* NF_ACCEPT (after the libc headers) */

#define RING_SIZE 8192u
#define MAX_MS 10000L

struct held {
    uint32_t id;
    int64_t due_us;
};

static struct {
    struct held ring[RING_SIZE];
    unsigned head, count;
    int64_t last_due_us;
    long delay_ms, jitter_ms;
    struct nfq_q_handle *qh;
    unsigned long accepted, overflow;
} dl;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(const char *why, const char *arg)
{
    if (why)
        fprintf(stderr, "delay: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: delay -q QUEUE -d MS [-j MS]\n"
                    "  holds each packet of NFQUEUE queue QUEUE (0-65535) for MS milliseconds\n"
                    "  (0-%ld), plus or minus a random jitter of up to -j MS (at most -d)\n",
            MAX_MS);
    exit(2);
}

/* A whole decimal number in [lo, hi], or a usage error naming the option. */
static long number(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "%s wants a whole number from %ld to %ld, got", opt, lo, hi);
        usage(why, s);
    }
    return v;
}

/* Accept the packet at the head of the ring and drop it from the ring. */
static void release_head(void)
{
    struct held *h = &dl.ring[dl.head];
    if (nfq_set_verdict(dl.qh, h->id, NF_ACCEPT, 0, NULL) < 0)
        fprintf(stderr, "delay: verdict for packet %u failed: %s\n", h->id, strerror(errno));
    dl.head = (dl.head + 1) % RING_SIZE;
    dl.count--;
    dl.accepted++;
}

/* Accept every held packet whose time has come (all of them if `all`). */
static void release_due(int all)
{
    int64_t now = now_us();
    while (dl.count && (all || dl.ring[dl.head].due_us <= now))
        release_head();
}

/* poll() timeout: milliseconds until the head is due (-1: nothing held). */
static int next_timeout_ms(void)
{
    if (!dl.count)
        return -1;
    int64_t left = dl.ring[dl.head].due_us - now_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* nfq callback: hold one packet (design 2). */
static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
    (void)msg;
    (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (dl.count == RING_SIZE) { /* cannot happen (design 3); never hold a packet forever */
        dl.overflow++;
        return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
    }
    long jitter = dl.jitter_ms ? random() % (2 * dl.jitter_ms + 1) - dl.jitter_ms : 0;
    int64_t due = now_us() + (dl.delay_ms + jitter) * 1000;
    if (due < dl.last_due_us)
        due = dl.last_due_us;
    dl.last_due_us = due;
    dl.ring[(dl.head + dl.count) % RING_SIZE] = (struct held){ .id = id, .due_us = due };
    dl.count++;
    return 0;
}

/* Bind queue `num`; NULL (with a message) on failure. */
static struct nfq_handle *bind_queue(unsigned num)
{
    struct nfq_handle *h = nfq_open();
    if (!h) {
        fprintf(stderr, "delay: cannot open nfnetlink (root, and the nfnetlink_queue module?): %s\n", strerror(errno));
        return NULL;
    }
    dl.qh = nfq_create_queue(h, (uint16_t)num, on_packet, NULL);
    if (!dl.qh) {
        fprintf(stderr, "delay: cannot bind queue %u (another program holds it?): %s\n", num, strerror(errno));
        nfq_close(h);
        return NULL;
    }
    if (nfq_set_mode(dl.qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(dl.qh, RING_SIZE) < 0) {
        fprintf(stderr, "delay: cannot configure queue %u: %s\n", num, strerror(errno));
        nfq_destroy_queue(dl.qh);
        nfq_close(h);
        return NULL;
    }
    nfnl_rcvbufsiz(nfq_nfnlh(h), 4u << 20);
    return h;
}

/* The loop of design 4, until a signal; 0, or 1 on a read error. */
static int serve(struct nfq_handle *h)
{
    static char buf[65536] __attribute__((aligned));
    struct pollfd pfd = { .fd = nfq_fd(h), .events = POLLIN };
    while (!stopping) {
        int n = poll(&pfd, 1, next_timeout_ms());
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "delay: poll: %s\n", strerror(errno));
            return 1;
        }
        if (n > 0) {
            ssize_t len = recv(pfd.fd, buf, sizeof buf, MSG_DONTWAIT);
            if (len >= 0)
                nfq_handle_packet(h, buf, (int)len);
            else if (errno == ENOBUFS)
                fprintf(stderr, "delay: the kernel dropped queue messages (too slow?)\n");
            else if (errno != EINTR && errno != EAGAIN) {
                fprintf(stderr, "delay: recv: %s\n", strerror(errno));
                return 1;
            }
        }
        release_due(0);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long queue = -1;
    dl.delay_ms = -1;
    int opt;
    opterr = 0;
    while ((opt = getopt(argc, argv, ":q:d:j:")) != -1) {
        switch (opt) {
        case 'q': queue = number("-q", optarg, 0, 65535); break;
        case 'd': dl.delay_ms = number("-d", optarg, 0, MAX_MS); break;
        case 'j': dl.jitter_ms = number("-j", optarg, 0, MAX_MS); break;
        case ':': { char o[3] = { '-', (char)optopt, 0 }; usage("this option needs a value", o); } break;
        default: { char o[3] = { '-', (char)optopt, 0 }; usage("unknown option", o); }
        }
    }
    if (optind < argc)
        usage("unexpected argument", argv[optind]);
    if (queue < 0 || dl.delay_ms < 0)
        usage("-q and -d are required", NULL);
    if (dl.jitter_ms > dl.delay_ms)
        usage("the jitter (-j) must not exceed the delay (-d)", NULL);

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    srandom((unsigned)(now_us() ^ getpid()));

    struct nfq_handle *h = bind_queue((unsigned)queue);
    if (!h)
        return 1;
    printf("delay: queue %ld ready, %ld ms +- %ld ms\n", queue, dl.delay_ms, dl.jitter_ms);
    fflush(stdout);
    int rc = serve(h);
    release_due(1);
    fprintf(stderr, "delay: %lu packets accepted%s\n", dl.accepted, dl.overflow ? ", some dropped (ring full)" : "");
    nfq_destroy_queue(dl.qh);
    nfq_close(h);
    return rc;
}
