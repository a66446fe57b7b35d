/* turn.h: the RTCIceServer list handed to clients, with TURN credentials. */
#ifndef TUTURU_TURN_H
#define TUTURU_TURN_H

#include "config.h"

#include <jansson.h>
#include <stdint.h>

/* Add "ice_servers" and "ice_transport_policy" to obj for peer_id at time
 * now: STUN URLs as they are, TURN URLs with a coturn REST-API credential
 * valid for cfg->turn_ttl seconds. Returns 0, or -1 when out of memory. */
int turn_add_servers(json_t *obj, const struct config *cfg, const char *peer_id, int64_t now);

#endif
