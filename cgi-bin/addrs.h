/* addrs.h: held polls counted per client address, for park.c's cap
 * (polls_per_addr). Used by the waker thread alone: no lock. */
#ifndef TUTURU_ADDRS_H
#define TUTURU_ADDRS_H

#include <stddef.h>
#include <stdint.h>

#define ADDRS_BUCKETS 4096

/* Held polls of one address key. A count exists exactly while its key holds
 * at least one poll (after addrs_put). */
struct addr_count {
    uint64_t key;
    unsigned held;
    struct addr_count *next;    /* bucket chain */
};

struct addrs {
    struct addr_count *buckets[ADDRS_BUCKETS];
    size_t n;                   /* counts in the table */
};

/* The key of a client address (REMOTE_ADDR; IPv6 counts by its /64, an
 * IPv4-mapped address as its IPv4 one): 64 bits of HMAC(secret, it), so the
 * address itself is not kept. NULL or anything that is not an address is
 * keyed like any other string; a failed hash gives key 0, one count shared
 * by all such polls. */
uint64_t addrs_key(const char *secret, const char *client_addr);

/* The count of key, made at 0 when absent; NULL when out of memory (the
 * table is unchanged). */
struct addr_count *addrs_get(struct addrs *t, uint64_t key);

/* Free c (NULL is fine) if it counts no held poll. */
void addrs_put(struct addrs *t, struct addr_count *c);

#endif
