/* unit.h: the groups of the unit test binary (one per cgi-bin module) and the
 * helpers they share. test_main.c runs every group and prints the summary. */
#ifndef TUTURU_UNIT_H
#define TUTURU_UNIT_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A group: its tests and optional group fixtures, run by test_main.c. */
struct unit_group {
    const char *name;
    const struct CMUnitTest *tests;
    size_t count;
    CMFixtureFunction setup, teardown;
};

#define UNIT_GROUP(var, label, table, su, td) \
    const struct unit_group var = {label, table, sizeof table / sizeof table[0], su, td}

extern const struct unit_group unit_validate, unit_crypto, unit_buf, unit_config, unit_store,
    unit_turn, unit_clock, unit_park, unit_beat;

/* Make a fresh directory under $TMPDIR (or /tmp) into dir (>= 64 chars).
 * Returns 0 or -1. */
int unit_tmpdir(char *dir, size_t len);

/* Remove the files directly inside dir, then dir itself. */
void unit_tmpdir_remove(const char *dir);

struct db;
/* One integer from a query on db's connection; -1 when it fails or gives no
 * row. */
long long unit_query_int(struct db *db, const char *sql);

/* Write text to dir/name, the full path into path. Returns 0 or -1. */
int unit_write_file(const char *dir, const char *name, const char *text, char *path, size_t len);

#endif
