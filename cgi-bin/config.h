/* config.h: the program's settings, read once at start. */
#ifndef TUTURU_CONFIG_H
#define TUTURU_CONFIG_H

#include <stddef.h>

struct config {
    char *db;               /* SQLite database path */
    char *secret;           /* TURN REST secret, also keys PIN/address hashes */
    char *stun_urls;        /* comma-separated stun: URLs, may be empty */
    char *turn_urls;        /* comma-separated turn:/turns: URLs, may be empty */
    int force_relay;        /* 1: ice_transport_policy "relay" */
    int poll_timeout;       /* seconds a poll is held */
    int peer_grace;         /* seconds without a poll before a peer is dropped */
    int message_ttl;        /* seconds an unacknowledged message is kept */
    int turn_ttl;           /* seconds a TURN credential is valid */
    int join_limit;         /* joins per address per join_window */
    int join_window;        /* seconds */
    int threads;            /* request threads */
    int queue_max_messages; /* undelivered messages per recipient */
    int queue_max_bytes;    /* their bytes (of data) per recipient */
    int polls_per_addr;     /* held polls per client address (IPv6: per /64) */
};

/* Fill cfg with defaults, then the file at path (if path is not NULL), then
 * TUTURU_<NAME> environment variables. On error writes one line naming the
 * setting and the problem into err and returns -1; cfg must then still be
 * passed to config_free. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Apply one "name = value" setting. Returns 0, or -1 with err filled in. */
int config_set(struct config *cfg, const char *name, const char *value,
               char *err, size_t errlen);

void config_free(struct config *cfg);

#endif
