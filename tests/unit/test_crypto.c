/* test_crypto.c: hashes, keyed hashes, TURN passwords, random ids (crypto.c).
 * Expected values come from the openssl CLI, e.g.
 *   printf %s user | openssl dgst -sha1 -hmac secret -binary | base64 */
#include "unit.h"

#include "crypto.h"

#include <string.h>

static int is_lower_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

static void sha256_hex_known_vectors(void **state)
{
    (void)state;
    char out[CRYPTO_HASH_HEX + 1];
    assert_int_equal(crypto_sha256_hex("abc", out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(crypto_sha256_hex("", out), 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void keyed_hex_is_hmac_of_label_colon_value(void **state)
{
    (void)state;
    char out[CRYPTO_HASH_HEX + 1];
    /* printf %s pin:123456 | openssl dgst -sha256 -hmac secret */
    assert_int_equal(crypto_keyed_hex("secret", "pin", "123456", out), 0);
    assert_string_equal(out, "7d7c073f4c09255768e4eeb0754c2e6946781a185a00f147e6e18696e88b898c");
}

static void keyed_hex_differs_by_label_and_secret(void **state)
{
    (void)state;
    char a[CRYPTO_HASH_HEX + 1], b[CRYPTO_HASH_HEX + 1], c[CRYPTO_HASH_HEX + 1];
    assert_int_equal(crypto_keyed_hex("secret", "pin", "123456", a), 0);
    assert_int_equal(crypto_keyed_hex("secret", "addr", "123456", b), 0);
    assert_int_equal(crypto_keyed_hex("other-secret", "pin", "123456", c), 0);
    assert_int_equal(strlen(a), CRYPTO_HASH_HEX);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
}

static void keyed_hex_refuses_overlong_input(void **state)
{
    (void)state;
    char out[CRYPTO_HASH_HEX + 1], big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(crypto_keyed_hex("secret", "addr", big, out), -1);
}

static void turn_password_known_vectors(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(crypto_turn_password("secret", "user", out, sizeof out), 0);
    assert_string_equal(out, "An2kjIxkLKTFjrmC7sgZFReed6M=");
    assert_int_equal(crypto_turn_password("0123456789abcdef-secret", "1700043200:0123456789abcdef",
                                          out, sizeof out), 0);
    assert_string_equal(out, "3mYR3QYpJMxU1H7G+R7dK6fX3Nw=");
}

static void turn_password_needs_29_bytes(void **state)
{
    (void)state;
    char out[29];
    assert_int_equal(crypto_turn_password("secret", "user", out, 28), -1);
    assert_int_equal(crypto_turn_password("secret", "user", out, 29), 0);
    assert_int_equal(strlen(out), 28);
}

static void random_hex_length_and_charset(void **state)
{
    (void)state;
    char out[2 * CRYPTO_TOKEN_BYTES + 1], peer[2 * CRYPTO_PEER_BYTES + 1];
    assert_int_equal(crypto_random_hex(out, CRYPTO_TOKEN_BYTES), 0);
    assert_int_equal(strlen(out), CRYPTO_TOKEN_HEX);
    assert_true(is_lower_hex(out));
    assert_int_equal(crypto_random_hex(peer, CRYPTO_PEER_BYTES), 0);
    assert_int_equal(strlen(peer), 16);
    assert_true(is_lower_hex(peer));
}

static void random_hex_values_differ(void **state)
{
    (void)state;
    char seen[16][2 * CRYPTO_TOKEN_BYTES + 1];
    for (int i = 0; i < 16; i++) {
        assert_int_equal(crypto_random_hex(seen[i], CRYPTO_TOKEN_BYTES), 0);
        for (int j = 0; j < i; j++) assert_string_not_equal(seen[i], seen[j]);
    }
}

static void random_hex_too_many_bytes_fails_empty(void **state)
{
    (void)state;
    char out[2 * 65 + 1];
    memset(out, 'x', sizeof out);
    assert_int_equal(crypto_random_hex(out, 65), -1);
    assert_string_equal(out, "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sha256_hex_known_vectors),
    cmocka_unit_test(keyed_hex_is_hmac_of_label_colon_value),
    cmocka_unit_test(keyed_hex_differs_by_label_and_secret),
    cmocka_unit_test(keyed_hex_refuses_overlong_input),
    cmocka_unit_test(turn_password_known_vectors),
    cmocka_unit_test(turn_password_needs_29_bytes),
    cmocka_unit_test(random_hex_length_and_charset),
    cmocka_unit_test(random_hex_values_differ),
    cmocka_unit_test(random_hex_too_many_bytes_fails_empty),
};

UNIT_GROUP(unit_crypto, "crypto", tests, NULL, NULL);
