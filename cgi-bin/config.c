/* config.c: settings table (name, type, default), parsed strictly. */
#include "config.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_BOOL, K_SECRET_FILE };

struct setting {
    const char *name;
    enum kind kind;
    size_t offset;
    const char *def;
    long min, max;
};

#define S(n, k, d, lo, hi) { #n, k, offsetof(struct config, n), d, lo, hi }
static const struct setting settings[] = {
    S(db, K_STR, "tuturu.db", 0, 0),
    S(secret, K_STR, NULL, 0, 0),
    {"secret_file", K_SECRET_FILE, offsetof(struct config, secret), NULL, 0, 0},
    S(stun_urls, K_STR, "", 0, 0),
    S(turn_urls, K_STR, "", 0, 0),
    S(force_relay, K_BOOL, "0", 0, 1),
    S(poll_timeout, K_INT, "25", 1, 300),
    S(peer_grace, K_INT, "60", 2, 3600),
    S(message_ttl, K_INT, "600", 1, 86400),
    S(turn_ttl, K_INT, "300", 1, 7 * 86400),
    S(join_limit, K_INT, "30", 1, 1000000),
    S(join_window, K_INT, "60", 1, 86400),
    S(threads, K_INT, "2", 1, 64),
    S(queue_max_messages, K_INT, "256", 8, 100000),
    S(queue_max_bytes, K_INT, "1048576", 65536, 64 * 1024 * 1024),
    S(polls_per_addr, K_INT, "256", 1, 1000000),
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static int parse_int(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) return -1;
    *out = n;
    return 0;
}

static int set_str(char **slot, const char *v)
{
    char *copy = strdup(v);
    if (!copy) return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

/* A secret file holds one line; surrounding whitespace is not part of it. */
static int read_secret_file(char **slot, const char *path, char *err, size_t errlen)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "secret_file: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == sizeof buf) {
        snprintf(err, errlen, "secret_file: %s is over %zu bytes", path, sizeof buf - 1);
        return -1;
    }
    buf[n] = 0;
    while (n && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
    char *s = buf;
    while (isspace((unsigned char)*s)) s++;
    if (!*s || strpbrk(s, "\r\n") || strlen(s) != (size_t)(buf + n - s)) {
        snprintf(err, errlen, "secret_file: %s must hold one non-empty line", path);
        return -1;
    }
    return set_str(slot, s);
}

/* Strings end up in JSON answers: they must be valid UTF-8. */
static int valid_utf8(const char *v)
{
    json_t *t = json_string(v);
    json_decref(t);
    return t != NULL;
}

int config_set(struct config *cfg, const char *name, const char *value,
               char *err, size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (strcmp(s->name, name) != 0) continue;
        void *slot = (char *)cfg + s->offset;
        long n;
        switch (s->kind) {
        case K_STR:
            if (!valid_utf8(value)) {
                snprintf(err, errlen, "%s: not valid UTF-8", name);
                return -1;
            }
            if (set_str(slot, value) == 0) return 0;
            snprintf(err, errlen, "%s: out of memory", name);
            return -1;
        case K_SECRET_FILE:
            return read_secret_file(slot, value, err, errlen);
        case K_BOOL:
            if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) n = 1;
            else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") || !*value) n = 0;
            else {
                snprintf(err, errlen, "%s: expected 0/1, true/false or yes/no, got '%s'", name, value);
                return -1;
            }
            *(int *)slot = (int)n;
            return 0;
        case K_INT:
            if (parse_int(value, s->min, s->max, &n) < 0) {
                snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got '%s'",
                         name, s->min, s->max, value);
                return -1;
            }
            *(int *)slot = (int)n;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown setting '%s'", name);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], msg[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        if (config_set(cfg, trim(s), trim(eq + 1), msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static int load_env(struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        char var[64];
        size_t j = 0;
        j += (size_t)snprintf(var, sizeof var, "TUTURU_");
        for (const char *p = settings[i].name; *p && j + 1 < sizeof var; p++)
            var[j++] = (char)toupper((unsigned char)*p);
        var[j] = 0;
        const char *v = getenv(var);
        if (v && config_set(cfg, settings[i].name, v, err, errlen) < 0) return -1;
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].def && config_set(cfg, settings[i].name, settings[i].def, err, errlen) < 0)
            return -1;
    if (path && load_file(cfg, path, err, errlen) < 0) return -1;
    if (load_env(cfg, err, errlen) < 0) return -1;
    if (!cfg->secret || strlen(cfg->secret) < 16) {
        snprintf(err, errlen, "no secret: set secret_file (or TUTURU_SECRET) to at least 16 characters, "
                              "e.g. made by 'openssl rand -hex 32'");
        return -1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    free(cfg->db);
    free(cfg->secret);
    free(cfg->stun_urls);
    free(cfg->turn_urls);
    memset(cfg, 0, sizeof *cfg);
}
