/* addrs.c: a client address's normal form and keyed hash, and the counts
 * of held polls per address (addrs.h). */
#include "addrs.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addrs_normal(const char *addr, char *out, size_t outlen)
{
    unsigned char a6[16];
    struct in_addr a4;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int n;
    if (!addr) addr = "";
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        n = snprintf(out, outlen, "4:%s", addr);
    } else if (inet_pton(AF_INET6, addr, a6) == 1 && !memcmp(a6, mapped, sizeof mapped)) {
        n = snprintf(out, outlen, "4:%u.%u.%u.%u", a6[12], a6[13], a6[14], a6[15]);
    } else if (inet_pton(AF_INET6, addr, a6) == 1) {
        n = snprintf(out, outlen, "6:%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
                     a6[0], a6[1], a6[2], a6[3], a6[4], a6[5], a6[6], a6[7]);
    } else {
        n = snprintf(out, outlen, "?:%.100s", addr); /* not an address: its start */
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int addrs_hash(const char *secret, const char *label, const char *client_addr,
               char hash[CRYPTO_HASH_HEX + 1])
{
    char key[128];
    if (addrs_normal(client_addr, key, sizeof key) < 0) return -1;
    return crypto_keyed_hex(secret, label, key, hash);
}

uint64_t addrs_key(const char *secret, const char *client_addr)
{
    char hash[CRYPTO_HASH_HEX + 1];
    uint64_t k = 0;
    if (addrs_hash(secret, "polls", client_addr, hash) < 0) return 0;
    for (int i = 0; i < 16; i++)
        k = k << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return k;
}

struct addr_count *addrs_get(struct addrs *t, uint64_t key)
{
    struct addr_count **head = &t->buckets[key % ADDRS_BUCKETS];
    for (struct addr_count *c = *head; c; c = c->next)
        if (c->key == key) return c;
    struct addr_count *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->key = key;
    c->next = *head;
    *head = c;
    t->n++;
    return c;
}

void addrs_put(struct addrs *t, struct addr_count *c)
{
    if (!c || c->held) return;
    struct addr_count **pp = &t->buckets[c->key % ADDRS_BUCKETS];
    while (*pp != c) pp = &(*pp)->next;
    *pp = c->next;
    t->n--;
    free(c);
}
