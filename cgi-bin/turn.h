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
 * "<expiry>:<hash>", hash addrs_hash(secret, "turn", client_addr): coturn
 * counts user-quota per username without its "<expiry>:", so every
 * credential handed to one address shares one quota (docs/turn.md).
 * Returns 0, or -1 when out of memory or hashing failed (obj may then hold
 * some of the keys). */
int turn_add_servers(json_t *obj, const struct config *cfg, const char *client_addr, int64_t now);

#endif
