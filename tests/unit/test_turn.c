/* test_turn.c: the RTCIceServer list with coturn REST credentials (turn.c). */
#include "unit.h"

#include "addrs.h"
#include "turn.h"

#include <stdlib.h>
#include <string.h>

#define SECRET "0123456789abcdef-secret"
#define ADDR "192.0.2.1"
/* printf %s turn:4:192.0.2.1 | openssl dgst -sha256 -hmac 0123456789abcdef-secret
 * (the first 32 hex digits), and the credential:
 * printf %s 1700043200:$KEY | openssl dgst -sha1 -hmac 0123456789abcdef-secret -binary | base64 */
#define KEY "6152b34c93307381ecfa76ec9909d18d"
#define PASS "ldpjqCXcHVUrV0Q/B9Hd9BqqgCs="
#define NOW 1700000000

/* A config with only what turn_add_servers reads. */
static void make_cfg(struct config *cfg, const char *stun, const char *turn, int relay)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    assert_int_equal(config_set(cfg, "secret", SECRET, err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "stun_urls", stun, err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "turn_urls", turn, err, sizeof err), 0);
    cfg->turn_ttl = 43200;
    cfg->force_relay = relay;
}

/* turn_add_servers on a new object compared with the JSON text expect. */
static void assert_servers(const char *stun, const char *turn, int relay, const char *expect)
{
    struct config cfg;
    json_error_t jerr;
    make_cfg(&cfg, stun, turn, relay);
    json_t *obj = json_object(), *want = json_loads(expect, 0, &jerr);
    assert_non_null(want);
    int rc = turn_add_servers(obj, &cfg, ADDR, NOW);
    char *got = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    int same = json_equal(obj, want);
    if (!same) print_error("got %s\nwant %s\n", got, expect);
    free(got);
    json_decref(obj);
    json_decref(want);
    config_free(&cfg);
    assert_int_equal(rc, 0);
    assert_true(same);
}

static void empty_lists_give_no_servers(void **state)
{
    (void)state;
    assert_servers("", "", 0, "{\"ice_servers\":[],\"ice_transport_policy\":\"all\"}");
}

static void stun_only_has_no_credentials(void **state)
{
    (void)state;
    assert_servers("stun:a.example:3478", "", 0,
                   "{\"ice_servers\":[{\"urls\":[\"stun:a.example:3478\"]}],"
                   "\"ice_transport_policy\":\"all\"}");
}

static void turn_entry_has_expiry_username_and_hmac(void **state)
{
    (void)state;
    assert_servers("", "turn:t.example:3478?transport=udp,turns:t.example:5349", 0,
                   "{\"ice_servers\":[{\"urls\":[\"turn:t.example:3478?transport=udp\","
                   "\"turns:t.example:5349\"],\"username\":\"1700043200:" KEY "\","
                   "\"credential\":\"" PASS "\"}],"
                   "\"ice_transport_policy\":\"all\",\"turn_ttl\":43200}");
}

static void stun_then_turn_in_that_order(void **state)
{
    (void)state;
    assert_servers("stun:s", "turn:t", 0,
                   "{\"ice_servers\":[{\"urls\":[\"stun:s\"]},{\"urls\":[\"turn:t\"],"
                   "\"username\":\"1700043200:" KEY "\","
                   "\"credential\":\"" PASS "\"}],"
                   "\"ice_transport_policy\":\"all\",\"turn_ttl\":43200}");
}

static void force_relay_sets_policy_relay(void **state)
{
    (void)state;
    assert_servers("", "", 1, "{\"ice_servers\":[],\"ice_transport_policy\":\"relay\"}");
}

static void url_lists_trim_spaces_and_drop_empty_items(void **state)
{
    (void)state;
    assert_servers(" stun:a , ,\tstun:b,,", ", ,", 0,
                   "{\"ice_servers\":[{\"urls\":[\"stun:a\",\"stun:b\"]}],"
                   "\"ice_transport_policy\":\"all\"}");
}

static void null_url_lists_are_empty(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    json_t *obj = json_object();
    assert_int_equal(turn_add_servers(obj, &cfg, ADDR, NOW), 0);
    assert_int_equal(json_array_size(json_object_get(obj, "ice_servers")), 0);
    json_decref(obj);
}

/* The username turn_add_servers makes for a client at addr. */
static void username_for(const char *addr, char *out, size_t outlen)
{
    struct config cfg;
    make_cfg(&cfg, "", "turn:t", 0);
    json_t *obj = json_object();
    assert_int_equal(turn_add_servers(obj, &cfg, addr, NOW), 0);
    json_t *entry = json_array_get(json_object_get(obj, "ice_servers"), 0);
    const char *user = json_string_value(json_object_get(entry, "username"));
    assert_non_null(user);
    assert_true(strlen(user) < outlen);
    strcpy(out, user);
    json_decref(obj);
    config_free(&cfg);
}

static void one_username_per_address_and_ipv6_64(void **state)
{
    (void)state;
    char a[64], b[64];
    username_for("192.0.2.1", a, sizeof a);
    assert_string_equal(a, "1700043200:" KEY);
    username_for("::ffff:192.0.2.1", b, sizeof b);
    assert_string_equal(a, b);
    username_for("192.0.2.2", b, sizeof b);
    assert_string_not_equal(a, b);
    username_for("2001:db8:1:2::5", a, sizeof a);
    username_for("2001:db8:1:2:ffff:ffff:ffff:ffff", b, sizeof b);
    assert_string_equal(a, b);
    username_for("2001:db8:1:3::5", b, sizeof b);
    assert_string_not_equal(a, b);
    username_for(NULL, a, sizeof a);
    username_for("", b, sizeof b);
    assert_string_equal(a, b);
    char garbage[1000];
    memset(garbage, '%', sizeof garbage - 1);
    garbage[sizeof garbage - 1] = 0;
    username_for(garbage, a, sizeof a); /* whatever REMOTE_ADDR holds: a credential */
    assert_int_equal(strlen(a), 10 + 1 + 32);
}

static void addr_key_forms(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(addrs_normal("203.0.113.7", k, sizeof k), 0);
    assert_string_equal(k, "4:203.0.113.7");
    assert_int_equal(addrs_normal("::ffff:203.0.113.7", k, sizeof k), 0);
    assert_string_equal(k, "4:203.0.113.7");
    assert_int_equal(addrs_normal("2001:DB8::1", k, sizeof k), 0);
    assert_string_equal(k, "6:2001:0db8:0000:0000::/64");
    assert_int_equal(addrs_normal("::1", k, sizeof k), 0);
    assert_string_equal(k, "6:0000:0000:0000:0000::/64");
    assert_int_equal(addrs_normal("not an address", k, sizeof k), 0);
    assert_string_equal(k, "?:not an address");
    char longer[300], want[110];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    char big[128];
    assert_int_equal(addrs_normal(longer, big, sizeof big), 0);
    snprintf(want, sizeof want, "?:%.100s", longer);
    assert_string_equal(big, want);
    assert_int_equal(addrs_normal(NULL, k, sizeof k), 0);
    assert_string_equal(k, "?:");
    assert_int_equal(addrs_normal("203.0.113.7", k, 14), 0);
    assert_int_equal(addrs_normal("203.0.113.7", k, 13), -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(one_username_per_address_and_ipv6_64),
    cmocka_unit_test(addr_key_forms),
    cmocka_unit_test(empty_lists_give_no_servers),
    cmocka_unit_test(stun_only_has_no_credentials),
    cmocka_unit_test(turn_entry_has_expiry_username_and_hmac),
    cmocka_unit_test(stun_then_turn_in_that_order),
    cmocka_unit_test(force_relay_sets_policy_relay),
    cmocka_unit_test(url_lists_trim_spaces_and_drop_empty_items),
    cmocka_unit_test(null_url_lists_are_empty),
};

UNIT_GROUP(unit_turn, "turn", tests, NULL, NULL);
