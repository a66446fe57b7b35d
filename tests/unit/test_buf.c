/* test_buf.c: the growable reply buffer (buf.c). */
#include "unit.h"

#include "buf.h"

#include <string.h>

static void buf_add_grows_and_keeps_content(void **state)
{
    (void)state;
    struct buf b = {0};
    char chunk[100];
    memset(chunk, 'q', sizeof chunk);
    for (int i = 0; i < 100; i++) buf_add(&b, chunk, sizeof chunk);
    assert_false(b.failed);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], 0);
    assert_int_equal(strspn(b.data, "q"), 10000);
    buf_free(&b);
}

static void buf_puts_appends(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "ab");
    buf_puts(&b, "");
    buf_puts(&b, "cd");
    assert_string_equal(b.data, "abcd");
    assert_int_equal(b.len, 4);
    buf_free(&b);
}

static void buf_add_keeps_embedded_nul(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_add(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_free(&b);
}

static void buf_printf_formats_and_appends(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "[");
    buf_printf(&b, "%d-%s-%lld", 42, "x", 9007199254740991LL);
    buf_printf(&b, "%s", "");
    buf_puts(&b, "]");
    assert_string_equal(b.data, "[42-x-9007199254740991]");
    assert_int_equal(b.len, strlen(b.data));
    buf_free(&b);
}

static void buf_printf_beyond_initial_capacity(void **state)
{
    (void)state;
    struct buf b = {0};
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    buf_printf(&b, "<%s>", big);
    assert_false(b.failed);
    assert_int_equal(b.len, sizeof big + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    assert_int_equal(b.data[b.len], 0);
    buf_free(&b);
}

static void buf_printf_empty_on_empty_buffer(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_printf(&b, "%s", "");
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void buf_reset_empties_and_keeps_memory(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "hello");
    size_t cap = b.cap;
    b.failed = 1;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.failed);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    buf_puts(&b, "again");
    assert_string_equal(b.data, "again");
    buf_free(&b);
}

static void buf_reset_of_empty_buffer_is_harmless(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_reset(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void buf_failed_buffer_ignores_appends(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "kept");
    b.failed = 1;
    buf_puts(&b, "lost");
    buf_printf(&b, "%d", 1);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "kept");
    assert_true(b.failed);
    buf_free(&b);
}

static void buf_free_zeroes(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "x");
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_free(&b); /* twice is fine */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(buf_add_grows_and_keeps_content),
    cmocka_unit_test(buf_puts_appends),
    cmocka_unit_test(buf_add_keeps_embedded_nul),
    cmocka_unit_test(buf_printf_formats_and_appends),
    cmocka_unit_test(buf_printf_beyond_initial_capacity),
    cmocka_unit_test(buf_printf_empty_on_empty_buffer),
    cmocka_unit_test(buf_reset_empties_and_keeps_memory),
    cmocka_unit_test(buf_reset_of_empty_buffer_is_harmless),
    cmocka_unit_test(buf_failed_buffer_ignores_appends),
    cmocka_unit_test(buf_free_zeroes),
};

UNIT_GROUP(unit_buf, "buf", tests, NULL, NULL);
