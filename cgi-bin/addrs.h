/* addrs.h: client addresses as the per-address limits count them (TURN
 * quota, held polls; any thread), and the table of held polls per address
 * behind park.c's cap (polls_per_addr; the waker thread alone: no lock). */
#ifndef TUTURU_ADDRS_H
#define TUTURU_ADDRS_H

#include "crypto.h"

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

/* out = the normal form of a client address, what one client is counted
 * by: "4:a.b.c.d" for IPv4 (an IPv4-mapped IPv6 address too),
 * "6:<first 64 bits>::/64" for IPv6 (one subscriber usually holds a whole
 * /64), "?:" and the first 100 characters of anything else (NULL is "").
 * Returns 0, or -1 when it does not fit in outlen (out is then undefined;
 * 128 bytes always suffice). */
int addrs_normal(const char *addr, char *out, size_t outlen);

/* hash = HMAC-SHA256(secret, label ":" addrs_normal(client_addr)) in hex:
 * the same client, the same hash, and the address not kept. Returns 0 or
 * -1 (hashing failed). */
int addrs_hash(const char *secret, const char *label, const char *client_addr,
               char hash[CRYPTO_HASH_HEX + 1]);

/* The key of a client address (REMOTE_ADDR; IPv6 counts by its /64, an
 * IPv4-mapped address as its IPv4 one): 64 bits of addrs_hash(secret,
 * "polls", it), so the address itself is not kept. NULL or anything that is not an address is
 * keyed like any other string; a failed hash gives key 0, one count shared
 * by all such polls. */
uint64_t addrs_key(const char *secret, const char *client_addr);

/* The count of key, made at 0 when absent; NULL when out of memory (the
 * table is unchanged). */
struct addr_count *addrs_get(struct addrs *t, uint64_t key);

/* Free c (NULL is fine) if it counts no held poll. */
void addrs_put(struct addrs *t, struct addr_count *c);

#endif
