/* test_config.c: the settings table, file and environment (config.c). Each
 * test starts with no TUTURU_* variable set and its own temporary directory. */
#include "unit.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "0123456789abcdef-test-secret"

static const char *const env_names[] = {
    "TUTURU_DB", "TUTURU_SECRET", "TUTURU_SECRET_FILE", "TUTURU_STUN_URLS",
    "TUTURU_TURN_URLS", "TUTURU_FORCE_RELAY", "TUTURU_POLL_TIMEOUT", "TUTURU_PEER_GRACE",
    "TUTURU_MESSAGE_TTL", "TUTURU_TURN_TTL", "TUTURU_JOIN_LIMIT", "TUTURU_JOIN_WINDOW",
    "TUTURU_THREADS",
};

struct fixture {
    char dir[256], path[512], err[512];
    struct config cfg;
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) unsetenv(env_names[i]);
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    clear_env();
    if (unit_tmpdir(f.dir, sizeof f.dir) < 0) return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    config_free(&f->cfg);
    unit_tmpdir_remove(f->dir);
    clear_env();
    return 0;
}

/* Write a config file into the fixture's directory; f->path names it. */
static void write_conf(struct fixture *f, const char *name, const char *text)
{
    assert_int_equal(unit_write_file(f->dir, name, text, f->path, sizeof f->path), 0);
}

static void defaults_with_secret_from_env(void **state)
{
    struct fixture *f = *state;
    setenv("TUTURU_SECRET", SECRET, 1);
    assert_int_equal(config_load(&f->cfg, NULL, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.db, "tuturu.db");
    assert_string_equal(f->cfg.secret, SECRET);
    assert_string_equal(f->cfg.stun_urls, "");
    assert_string_equal(f->cfg.turn_urls, "");
    assert_int_equal(f->cfg.force_relay, 0);
    assert_int_equal(f->cfg.poll_timeout, 25);
    assert_int_equal(f->cfg.peer_grace, 60);
    assert_int_equal(f->cfg.message_ttl, 600);
    assert_int_equal(f->cfg.turn_ttl, 300);
    assert_int_equal(f->cfg.join_limit, 30);
    assert_int_equal(f->cfg.join_window, 60);
    assert_int_equal(f->cfg.threads, 2);
}

static void missing_secret_is_an_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_load(&f->cfg, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "secret"));
}

static void short_secret_is_an_error(void **state)
{
    struct fixture *f = *state;
    setenv("TUTURU_SECRET", "0123456789abcde", 1); /* 15 characters */
    assert_int_equal(config_load(&f->cfg, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "secret"));
}

static void set_int_in_range(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_set(&f->cfg, "poll_timeout", "1", f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.poll_timeout, 1);
    assert_int_equal(config_set(&f->cfg, "poll_timeout", "300", f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.poll_timeout, 300);
}

static void set_int_out_of_range_refused(void **state)
{
    struct fixture *f = *state;
    f->cfg.poll_timeout = 25;
    assert_int_equal(config_set(&f->cfg, "poll_timeout", "0", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "poll_timeout"));
    assert_int_equal(config_set(&f->cfg, "poll_timeout", "301", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(&f->cfg, "threads", "99999999999999999999", f->err, sizeof f->err), -1);
    assert_int_equal(f->cfg.poll_timeout, 25);
}

static void set_int_not_a_number_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_set(&f->cfg, "peer_grace", "abc", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "abc"));
    assert_int_equal(config_set(&f->cfg, "peer_grace", "12abc", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(&f->cfg, "peer_grace", "", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(&f->cfg, "peer_grace", "1.5", f->err, sizeof f->err), -1);
}

static void set_bool_forms(void **state)
{
    struct fixture *f = *state;
    static const char *const on[] = {"1", "true", "yes"}, *const off[] = {"0", "false", "no", ""};
    for (size_t i = 0; i < 3; i++) {
        f->cfg.force_relay = 0;
        assert_int_equal(config_set(&f->cfg, "force_relay", on[i], f->err, sizeof f->err), 0);
        assert_int_equal(f->cfg.force_relay, 1);
    }
    for (size_t i = 0; i < 4; i++) {
        f->cfg.force_relay = 1;
        assert_int_equal(config_set(&f->cfg, "force_relay", off[i], f->err, sizeof f->err), 0);
        assert_int_equal(f->cfg.force_relay, 0);
    }
}

static void set_bool_other_words_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_set(&f->cfg, "force_relay", "on", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "force_relay"));
    assert_int_equal(config_set(&f->cfg, "force_relay", "2", f->err, sizeof f->err), -1);
}

static void set_string_replaces_copy(void **state)
{
    struct fixture *f = *state;
    char value[] = "stun:a.example:3478";
    assert_int_equal(config_set(&f->cfg, "stun_urls", value, f->err, sizeof f->err), 0);
    value[0] = 'X';
    assert_string_equal(f->cfg.stun_urls, "stun:a.example:3478");
    assert_int_equal(config_set(&f->cfg, "stun_urls", "stun:b", f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.stun_urls, "stun:b");
}

static void unknown_name_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_set(&f->cfg, "nope", "1", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "unknown setting 'nope'"));
    assert_int_equal(config_set(&f->cfg, "POLL_TIMEOUT", "5", f->err, sizeof f->err), -1);
}

static void file_with_comments_and_blank_lines(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "t.conf",
               "# tuturu test config\n"
               "\n"
               "   \n"
               "  poll_timeout =  7  \n"
               "\t# indented comment\n"
               "secret = " SECRET "\n"
               "turn_urls=turn:t.example:3478\n"
               "db = /tmp/x y.db\n");
    assert_int_equal(config_load(&f->cfg, f->path, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.poll_timeout, 7);
    assert_string_equal(f->cfg.secret, SECRET);
    assert_string_equal(f->cfg.turn_urls, "turn:t.example:3478");
    assert_string_equal(f->cfg.db, "/tmp/x y.db");
    assert_int_equal(f->cfg.threads, 2); /* untouched default */
}

static void file_line_without_equals_names_line(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "t.conf", "secret = " SECRET "\n# ok\njust words\n");
    assert_int_equal(config_load(&f->cfg, f->path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "t.conf:3:"));
}

static void file_bad_value_names_line_and_setting(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "t.conf", "secret = " SECRET "\nthreads = 0\n");
    assert_int_equal(config_load(&f->cfg, f->path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "t.conf:2:"));
    assert_non_null(strstr(f->err, "threads"));
}

static void file_missing_is_an_error(void **state)
{
    struct fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/absent.conf", f->dir);
    setenv("TUTURU_SECRET", SECRET, 1);
    assert_int_equal(config_load(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "absent.conf"));
}

static void secret_file_trailing_newline_trimmed(void **state)
{
    struct fixture *f = *state;
    char conf[700];
    write_conf(f, "secret", SECRET " \t\n\n");
    snprintf(conf, sizeof conf, "secret_file = %s\n", f->path);
    write_conf(f, "t.conf", conf);
    assert_int_equal(config_load(&f->cfg, f->path, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.secret, SECRET);
}

/* Surrounding whitespace is not part of a secret file's secret. */
static void secret_file_leading_whitespace_trimmed(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "secret", "  " SECRET "\n");
    assert_int_equal(config_set(&f->cfg, "secret_file", f->path, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.secret, SECRET);
}

/* A URL list that is not UTF-8 cannot go into the ICE list (JSON), so
 * turn_add_servers fails on every join; it should be refused at start. */
static void set_url_list_not_utf8_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_set(&f->cfg, "turn_urls", "turn:t\xb6.example", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "turn_urls"));
    assert_int_equal(config_set(&f->cfg, "stun_urls", "stun:\xff", f->err, sizeof f->err), -1);
}

static void secret_file_empty_is_an_error(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "secret", " \n\n");
    assert_int_equal(config_set(&f->cfg, "secret_file", f->path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "empty"));
    assert_null(f->cfg.secret);
}

static void secret_file_missing_is_an_error(void **state)
{
    struct fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-secret", f->dir);
    assert_int_equal(config_set(&f->cfg, "secret_file", path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "secret_file"));
    assert_non_null(strstr(f->err, "no-such-secret"));
}

static void secret_file_from_env(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "secret", SECRET "\n");
    setenv("TUTURU_SECRET_FILE", f->path, 1);
    assert_int_equal(config_load(&f->cfg, NULL, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.secret, SECRET);
}

static void env_overrides_file(void **state)
{
    struct fixture *f = *state;
    write_conf(f, "t.conf", "secret = " SECRET "\npoll_timeout = 7\n");
    setenv("TUTURU_POLL_TIMEOUT", "5", 1);
    assert_int_equal(config_load(&f->cfg, f->path, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.poll_timeout, 5);
}

static void env_bad_value_is_an_error(void **state)
{
    struct fixture *f = *state;
    setenv("TUTURU_SECRET", SECRET, 1);
    setenv("TUTURU_POLL_TIMEOUT", "soon", 1);
    assert_int_equal(config_load(&f->cfg, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "poll_timeout"));
}

static const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    T(defaults_with_secret_from_env),
    T(missing_secret_is_an_error),
    T(short_secret_is_an_error),
    T(set_int_in_range),
    T(set_int_out_of_range_refused),
    T(set_int_not_a_number_refused),
    T(set_bool_forms),
    T(set_bool_other_words_refused),
    T(set_string_replaces_copy),
    T(unknown_name_refused),
    T(file_with_comments_and_blank_lines),
    T(file_line_without_equals_names_line),
    T(file_bad_value_names_line_and_setting),
    T(file_missing_is_an_error),
    T(secret_file_trailing_newline_trimmed),
    T(secret_file_leading_whitespace_trimmed),
    T(set_url_list_not_utf8_refused),
    T(secret_file_empty_is_an_error),
    T(secret_file_missing_is_an_error),
    T(secret_file_from_env),
    T(env_overrides_file),
    T(env_bad_value_is_an_error),
#undef T
};

UNIT_GROUP(unit_config, "config", tests, NULL, NULL);
