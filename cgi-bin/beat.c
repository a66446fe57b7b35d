/* beat.c: heartbeats and acknowledgements, batched.
 *
 * Every poll is a heartbeat (peers.last_seen, seen_mono) and acknowledges
 * the messages up to its cursor. Writing both at each poll made every
 * delivered message cost a second write transaction. Neither is urgent: the
 * heartbeat only needs to be accurate to well under peer_grace, and deleting
 * acknowledged messages is garbage collection, since a poll returns only
 * seq > after anyway. So polls record them here and the cleanup thread
 * writes them once a second, before it looks for silent peers. A process
 * killed in between loses at most a second of heartbeats, never a message.
 */
#include "beat.h"

#include "clock.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BEAT_BUCKETS 4096

struct beat {
    struct store_beat b;
    struct beat *next;
};

struct beat_table {
    pthread_mutex_t lock;
    struct beat *buckets[BEAT_BUCKETS];
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BEAT_BUCKETS;
}

struct beat_table *beat_new(void)
{
    struct beat_table *t = calloc(1, sizeof *t);
    if (t) pthread_mutex_init(&t->lock, NULL);
    return t;
}

static struct beat *find(struct beat *head, const char *peer)
{
    for (; head; head = head->next)
        if (!strcmp(head->b.peer, peer)) return head;
    return NULL;
}

/* Fold beat b into e: the later cursor and the later poll (by the monotonic
 * clock: the wall clock may have stepped between them) win. */
static void fold(struct beat *e, const struct store_beat *b)
{
    if (b->after > e->b.after) e->b.after = b->after;
    if (b->mono >= e->b.mono) {
        e->b.mono = b->mono;
        e->b.when = b->when;
    }
}

/* Put nb into bucket list *head, or fold it into the peer's entry there and
 * free it. The caller holds the lock. */
static void merge(struct beat **head, struct beat *nb)
{
    struct beat *e = find(*head, nb->b.peer);
    if (e) {
        fold(e, &nb->b);
        free(nb);
        return;
    }
    nb->next = *head;
    *head = nb;
}

void beat_record(struct beat_table *t, const char *peer, long long after, int64_t now)
{
    struct store_beat b = {.after = after, .when = now, .mono = clock_mono()};
    strncpy(b.peer, peer, sizeof b.peer - 1);
    pthread_mutex_lock(&t->lock);
    /* A peer polls many times a second in a busy call: allocate only for
     * its first poll since the last flush. */
    struct beat **head = &t->buckets[hash(peer)];
    struct beat *e = find(*head, peer);
    if (e) {
        fold(e, &b);
    } else if ((e = malloc(sizeof *e))) {
        e->b = b;
        e->next = *head;
        *head = e;
    }
    pthread_mutex_unlock(&t->lock);
}

int beat_flush(struct beat_table *t, struct db *db)
{
    struct beat *all = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < BEAT_BUCKETS; i++) {
        while (t->buckets[i]) {
            struct beat *e = t->buckets[i];
            t->buckets[i] = e->next;
            e->next = all;
            all = e;
            n++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (!all) return 0;

    struct store_beat *list = malloc(n * sizeof *list);
    enum store_rc rc = STORE_ERR;
    if (list) {
        size_t i = 0;
        for (struct beat *e = all; e; e = e->next) list[i++] = e->b;
        rc = store_beats(db, list, n);
        free(list);
    }
    /* Written: free them. Failed: put them back for the next flush. */
    pthread_mutex_lock(&t->lock);
    while (all) {
        struct beat *e = all;
        all = e->next;
        if (rc == STORE_OK) free(e);
        else merge(&t->buckets[hash(e->b.peer)], e);
    }
    pthread_mutex_unlock(&t->lock);
    return rc == STORE_OK ? (int)n : -1;
}

void beat_free(struct beat_table *t)
{
    if (!t) return;
    for (int i = 0; i < BEAT_BUCKETS; i++) {
        for (struct beat *e = t->buckets[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}
