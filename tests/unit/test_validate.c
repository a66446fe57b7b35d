/* test_validate.c: the input whitelists (validate.c). */
#include "unit.h"

#include "validate.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- validate_pin ---- */

static void pin_six_ascii_digits_ok(void **state)
{
    (void)state;
    assert_true(validate_pin("123456"));
    assert_true(validate_pin("000000"));
}

static void pin_wrong_length_refused(void **state)
{
    (void)state;
    assert_false(validate_pin("12345"));
    assert_false(validate_pin("1234567"));
    assert_false(validate_pin(""));
    assert_false(validate_pin(NULL));
}

static void pin_letters_and_spaces_refused(void **state)
{
    (void)state;
    assert_false(validate_pin("12345a"));
    assert_false(validate_pin("a23456"));
    assert_false(validate_pin(" 123456"));
    assert_false(validate_pin("123456 "));
    assert_false(validate_pin("-12345"));
}

static void pin_unicode_digits_refused(void **state)
{
    (void)state;
    assert_false(validate_pin("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6")); /* Arabic-Indic */
    assert_false(validate_pin("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93"
                              "\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96")); /* fullwidth */
    assert_false(validate_pin("12345\xd9\xa6"));
}

static void pin_with_nul_refused(void **state)
{
    (void)state;
    static const char s[] = {'1', '2', '3', 0, '4', '5', '6', 0};
    assert_false(validate_pin(s));
}

/* ---- validate_type ---- */

static void type_simple_names_ok(void **state)
{
    (void)state;
    assert_true(validate_type("offer"));
    assert_true(validate_type("a"));
    assert_true(validate_type("ice-candidate"));
    assert_true(validate_type("x9-"));
    assert_true(validate_type("peer"));
    assert_true(validate_type("peerx"));
}

static void type_length_32_ok_33_refused(void **state)
{
    (void)state;
    char s[40];
    memset(s, 'a', sizeof s);
    s[32] = 0;
    assert_true(validate_type(s));
    s[32] = 'a';
    s[33] = 0;
    assert_false(validate_type(s));
}

static void type_bad_characters_refused(void **state)
{
    (void)state;
    assert_false(validate_type(""));
    assert_false(validate_type(NULL));
    assert_false(validate_type("Offer"));
    assert_false(validate_type("1abc"));
    assert_false(validate_type("-abc"));
    assert_false(validate_type("a_b"));
    assert_false(validate_type("a b"));
    assert_false(validate_type("a\"b"));
    assert_false(validate_type("caf\xc3\xa9"));
}

static void type_peer_prefix_refused(void **state)
{
    (void)state;
    assert_false(validate_type("peer-joined"));
    assert_false(validate_type("peer-left"));
    assert_false(validate_type("peer-"));
    assert_false(validate_type("peer-x"));
}

/* ---- validate_token and validate_bearer ---- */

static void token_64_lowercase_hex_ok(void **state)
{
    (void)state;
    assert_true(validate_token(TOKEN));
}

static void token_bad_forms_refused(void **state)
{
    (void)state;
    assert_false(validate_token(NULL));
    assert_false(validate_token(""));
    assert_false(validate_token(TOKEN "0"));           /* 65 */
    assert_false(validate_token(TOKEN + 1));           /* 63 */
    assert_false(validate_token("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(validate_token("g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
}

static void bearer_returns_token_inside_header(void **state)
{
    (void)state;
    const char *h = "Bearer " TOKEN;
    assert_ptr_equal(validate_bearer(h), h + 7);
}

static void bearer_scheme_case_insensitive(void **state)
{
    (void)state;
    assert_non_null(validate_bearer("bearer " TOKEN));
    assert_non_null(validate_bearer("BEARER " TOKEN));
    assert_non_null(validate_bearer("Bearer   " TOKEN));
}

static void bearer_malformed_refused(void **state)
{
    (void)state;
    assert_null(validate_bearer(NULL));
    assert_null(validate_bearer(""));
    assert_null(validate_bearer("Bearer"));
    assert_null(validate_bearer("Bearer "));
    assert_null(validate_bearer("Bearer" TOKEN));
    assert_null(validate_bearer("Basic " TOKEN));
    assert_null(validate_bearer("Bearer " TOKEN " "));
    assert_null(validate_bearer("Bearer " TOKEN "0"));
    assert_null(validate_bearer("Bearer x" TOKEN));
}

/* ---- validate_after ---- */

static long long after_of(const char *q)
{
    long long v = -42;
    return validate_after(q, &v) == 0 ? v : -1;
}

static void after_missing_is_zero(void **state)
{
    (void)state;
    assert_int_equal(after_of(NULL), 0);
    assert_int_equal(after_of(""), 0);
    assert_int_equal(after_of("x=1"), 0);
}

static void after_values_parsed(void **state)
{
    (void)state;
    assert_int_equal(after_of("after=0"), 0);
    assert_int_equal(after_of("after=17"), 17);
    assert_int_equal(after_of("after=9007199254740991"), 9007199254740991LL);
}

static void after_past_2_53_minus_1_refused(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(validate_after("after=9007199254740992", &v), -1);
    assert_int_equal(validate_after("after=99999999999999999999999", &v), -1);
}

static void after_signs_and_junk_refused(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(validate_after("after=-1", &v), -1);
    assert_int_equal(validate_after("after=+1", &v), -1);
    assert_int_equal(validate_after("after=x1", &v), -1);
    assert_int_equal(validate_after("after= 1", &v), -1);
    assert_int_equal(validate_after("after=1x", &v), -1);
    assert_int_equal(validate_after("after=0x10", &v), -1);
    assert_int_equal(validate_after("after=", &v), -1);
}

static void after_given_twice_refused(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(validate_after("after=1&after=2", &v), -1);
    assert_int_equal(validate_after("after=1&after=1", &v), -1);
}

static void after_among_other_params(void **state)
{
    (void)state;
    assert_int_equal(after_of("a=b&after=7&c=d"), 7);
    assert_int_equal(after_of("&&after=8&"), 8);
    assert_int_equal(after_of("xafter=5"), 0);
    assert_int_equal(after_of("t=after=5"), 0);
}

/* ---- validate_json_object ---- */

static int json_ok(const char *s, size_t n)
{
    json_t *v = validate_json_object(s, n);
    json_decref(v);
    return v != NULL;
}
#define JSON_OK(lit) json_ok(lit, sizeof lit - 1)

static void json_objects_accepted(void **state)
{
    (void)state;
    assert_true(JSON_OK("{}"));
    assert_true(JSON_OK("{\"pin\":\"123456\"}"));
    assert_true(JSON_OK(" {\"a\":[1,2,{\"b\":null}]} \n"));
    assert_true(JSON_OK("{\"a\":\"\\u00e9\xc3\xa9\"}"));
}

static void json_non_objects_refused(void **state)
{
    (void)state;
    assert_false(JSON_OK("[]"));
    assert_false(JSON_OK("[{}]"));
    assert_false(JSON_OK("\"s\""));
    assert_false(JSON_OK("1"));
    assert_false(JSON_OK("true"));
    assert_false(JSON_OK("null"));
}

static void json_trailing_data_refused(void **state)
{
    (void)state;
    assert_false(JSON_OK("{}x"));
    assert_false(JSON_OK("{}{}"));
    assert_false(JSON_OK("{} 1"));
    assert_false(JSON_OK("{}\0"));
}

static void json_nul_in_string_refused(void **state)
{
    (void)state;
    assert_false(JSON_OK("{\"a\":\"x\\u0000y\"}"));
    assert_false(JSON_OK("{\"a\":\"x\0y\"}"));
    assert_false(JSON_OK("{\"a\\u0000\":1}"));
}

static void json_invalid_utf8_refused(void **state)
{
    (void)state;
    assert_false(JSON_OK("{\"a\":\"\xff\"}"));
    assert_false(JSON_OK("{\"a\":\"\xc0\xaf\"}"));       /* overlong '/' */
    assert_false(JSON_OK("{\"a\":\"\xed\xa0\x80\"}"));   /* UTF-16 surrogate */
    assert_false(JSON_OK("{\"a\":\"\xe2\x82\"}"));       /* truncated */
    assert_false(JSON_OK("{\"a\":\"\\ud800\"}"));        /* lone surrogate escape */
}

static void json_duplicate_keys_refused(void **state)
{
    (void)state;
    assert_false(JSON_OK("{\"a\":1,\"a\":2}"));
    assert_false(JSON_OK("{\"x\":{\"a\":1,\"a\":1}}"));
}

static void json_empty_and_malformed_refused(void **state)
{
    (void)state;
    assert_false(json_ok(NULL, 0));
    assert_false(json_ok("", 0));
    assert_false(json_ok("{}", 0));
    assert_false(JSON_OK(" "));
    assert_false(JSON_OK("{"));
    assert_false(JSON_OK("{\"a\":}"));
    assert_false(JSON_OK("{'a':1}"));
    assert_false(JSON_OK("{\"a\":1,}"));
}

/* A body of n bytes: {"a":"xxx...x"} */
static char *padded_object(size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memset(s, 'x', n);
    memcpy(s, "{\"a\":\"", 6);
    memcpy(s + n - 2, "\"}", 2);
    s[n] = 0;
    return s;
}

static void json_65536_bytes_ok_one_more_refused(void **state)
{
    (void)state;
    char *max = padded_object(VALIDATE_MAX_BODY), *over = padded_object(VALIDATE_MAX_BODY + 1);
    assert_non_null(max);
    assert_non_null(over);
    int ok_max = json_ok(max, VALIDATE_MAX_BODY), ok_over = json_ok(over, VALIDATE_MAX_BODY + 1);
    free(max);
    free(over);
    assert_true(ok_max);
    assert_false(ok_over);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pin_six_ascii_digits_ok),
    cmocka_unit_test(pin_wrong_length_refused),
    cmocka_unit_test(pin_letters_and_spaces_refused),
    cmocka_unit_test(pin_unicode_digits_refused),
    cmocka_unit_test(pin_with_nul_refused),
    cmocka_unit_test(type_simple_names_ok),
    cmocka_unit_test(type_length_32_ok_33_refused),
    cmocka_unit_test(type_bad_characters_refused),
    cmocka_unit_test(type_peer_prefix_refused),
    cmocka_unit_test(token_64_lowercase_hex_ok),
    cmocka_unit_test(token_bad_forms_refused),
    cmocka_unit_test(bearer_returns_token_inside_header),
    cmocka_unit_test(bearer_scheme_case_insensitive),
    cmocka_unit_test(bearer_malformed_refused),
    cmocka_unit_test(after_missing_is_zero),
    cmocka_unit_test(after_values_parsed),
    cmocka_unit_test(after_past_2_53_minus_1_refused),
    cmocka_unit_test(after_signs_and_junk_refused),
    cmocka_unit_test(after_given_twice_refused),
    cmocka_unit_test(after_among_other_params),
    cmocka_unit_test(json_objects_accepted),
    cmocka_unit_test(json_non_objects_refused),
    cmocka_unit_test(json_trailing_data_refused),
    cmocka_unit_test(json_nul_in_string_refused),
    cmocka_unit_test(json_invalid_utf8_refused),
    cmocka_unit_test(json_duplicate_keys_refused),
    cmocka_unit_test(json_empty_and_malformed_refused),
    cmocka_unit_test(json_65536_bytes_ok_one_more_refused),
};

UNIT_GROUP(unit_validate, "validate", tests, NULL, NULL);
