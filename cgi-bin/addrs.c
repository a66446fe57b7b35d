/* addrs.c: held polls counted per client address key (addrs.h). */
#include "addrs.h"

#include "crypto.h"
#include "turn.h"

#include <stdlib.h>

uint64_t addrs_key(const char *secret, const char *client_addr)
{
    char key[128], hash[CRYPTO_HASH_HEX + 1];
    uint64_t k = 0;
    if (turn_addr_key(client_addr, key, sizeof key) < 0
        || crypto_keyed_hex(secret, "polls", key, hash) < 0)
        return 0;
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
