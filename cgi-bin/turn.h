/* turn.h: the RTCIceServer list handed to clients, with TURN credentials. */
#ifndef TUTURU_TURN_H
#define TUTURU_TURN_H

#include "config.h"

#include <jansson.h>
#include <stdint.h>

/* Add "ice_servers" and "ice_transport_policy" to obj for a client at
 * client_addr (REMOTE_ADDR; NULL counts as "") at time now: STUN URLs as
 * they are; TURN URLs with a coturn REST-API credential valid for
 * cfg->turn_ttl seconds, and then "turn_ttl" too. The username is
 * "<expiry>:<hash>", hash a keyed hash of turn_addr_key(client_addr): coturn
 * counts user-quota per username without its "<expiry>:", so every
 * credential handed to one address shares one quota (docs/turn.md).
 * Returns 0, or -1 when out of memory or hashing failed (obj may then hold
 * some of the keys). */
int turn_add_servers(json_t *obj, const struct config *cfg, const char *client_addr, int64_t now);

/* out = the quota key of a client address: "4:a.b.c.d" for IPv4 (an
 * IPv4-mapped IPv6 address too), "6:<first 64 bits>::/64" for IPv6 (one
 * subscriber usually holds a whole /64), "?:" and the first 100 characters
 * of anything else. Returns 0, or -1 when it does not fit in outlen (out is
 * then undefined; 128 bytes always suffice). */
int turn_addr_key(const char *addr, char *out, size_t outlen);

#endif
