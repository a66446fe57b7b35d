/* turn.c: coturn REST-API credentials (use-auth-secret) for the ICE list. */
#include "turn.h"

#include "crypto.h"

#include <stdio.h>
#include <string.h>

/* Split a comma-separated URL list into a JSON array (blanks dropped). */
static json_t *url_list(const char *list)
{
    json_t *a = json_array();
    const char *p = list;
    while (a && p && *p) {
        size_t n = strcspn(p, ",");
        size_t s = 0, e = n;
        while (s < e && (p[s] == ' ' || p[s] == '\t')) s++;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
        if (e > s && json_array_append_new(a, json_stringn(p + s, e - s)) < 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
        if (*p == ',') p++;
    }
    return a;
}

int turn_add_servers(json_t *obj, const struct config *cfg, const char *peer_id, int64_t now)
{
    json_t *servers = json_array();
    json_t *stun = url_list(cfg->stun_urls);
    json_t *turn = url_list(cfg->turn_urls);
    int rc = -1;
    if (!servers || !stun || !turn) goto out;
    if (json_array_size(stun)
        && json_array_append_new(servers, json_pack("{s:O}", "urls", stun)) < 0)
        goto out;
    if (json_array_size(turn)) {
        char user[64], pass[32];
        snprintf(user, sizeof user, "%lld:%s", (long long)(now + cfg->turn_ttl), peer_id);
        if (crypto_turn_password(cfg->secret, user, pass, sizeof pass) < 0) goto out;
        if (json_array_append_new(servers, json_pack("{s:O,s:s,s:s}", "urls", turn,
                                                     "username", user, "credential", pass)) < 0)
            goto out;
    }
    if (json_object_set(obj, "ice_servers", servers) < 0
        || json_object_set_new(obj, "ice_transport_policy",
                               json_string(cfg->force_relay ? "relay" : "all")) < 0)
        goto out;
    rc = 0;
out:
    json_decref(servers);
    json_decref(stun);
    json_decref(turn);
    return rc;
}
