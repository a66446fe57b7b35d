/* test_main.c: runs every unit test group and prints "N passed, N failed". */
#include "unit.h"

#include "db.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const struct unit_group *const groups[] = {
    &unit_validate, &unit_crypto, &unit_buf, &unit_config, &unit_store, &unit_turn, &unit_clock,
    &unit_park, &unit_beat,
};

int unit_tmpdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir, len, "%s/tuturu-unit-XXXXXX", base && *base ? base : "/tmp");
    return n > 0 && (size_t)n < len && mkdtemp(dir) ? 0 : -1;
}

void unit_tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int unit_write_file(const char *dir, const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}

long long unit_query_int(struct db *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int main(void)
{
    size_t total = 0, failed = 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        const struct unit_group *g = groups[i];
        int rc = _cmocka_run_group_tests(g->name, g->tests, g->count, g->setup, g->teardown);
        total += g->count;
        /* A negative result means the group itself could not run. */
        failed += rc < 0 ? g->count : (size_t)rc;
    }
    printf("%zu passed, %zu failed\n", total - failed, failed);
    return failed ? 1 : 0;
}
