/* turn.c: coturn REST-API credentials (use-auth-secret) for the ICE list. */
#include "turn.h"

#include "addrs.h"
#include "crypto.h"

#include <stdio.h>
#include <string.h>

#define USER_KEY_HEX 32 /* the part of the keyed address hash in a username */

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

/* username = "<expiry>:<keyed hash of the client's address>", password its HMAC. */
static int credential(const struct config *cfg, const char *client_addr, int64_t now,
                      char *user, size_t userlen, char *pass, size_t passlen)
{
    char hash[CRYPTO_HASH_HEX + 1];
    if (addrs_hash(cfg->secret, "turn", client_addr, hash) < 0) return -1;
    int n = snprintf(user, userlen, "%lld:%.*s", (long long)(now + cfg->turn_ttl), USER_KEY_HEX, hash);
    if (n < 0 || (size_t)n >= userlen) return -1;
    return crypto_turn_password(cfg->secret, user, pass, passlen);
}

int turn_add_servers(json_t *obj, const struct config *cfg, const char *client_addr, int64_t now)
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
        if (credential(cfg, client_addr, now, user, sizeof user, pass, sizeof pass) < 0) goto out;
        if (json_array_append_new(servers, json_pack("{s:O,s:s,s:s}", "urls", turn,
                                                     "username", user, "credential", pass)) < 0
            || json_object_set_new(obj, "turn_ttl", json_integer(cfg->turn_ttl)) < 0)
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
