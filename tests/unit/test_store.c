/*  Unit tests of oms_store: durability across reopening, transaction and
    nested transaction semantics, cursors over be64 keys, records, and the
    failures a full map or a damaged value bring.
*/
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "oms_store.h"

static char s_dir[64];
static const char *const s_dbs[] = {"alpha", "beta", NULL};

static void
s_setup (void)
{
    scratch_dir_make (s_dir, sizeof s_dir, "store");
}

static void
s_teardown (void)
{
    scratch_dir_remove (s_dir);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

//  A record type of the tests' own, so these tests do not depend on what
//  the services keep.
typedef struct {
    char name[17];
    int64_t qty;
    char note[33];
} s_widget_t;

static const oms_field_t s_widget_fields[] = {
    {.key = "name",
     .type = OMS_T_STR,
     .offset = offsetof (s_widget_t, name),
     .required = true,
     .chars = OMS_C_ID,
     .max = 16},
    {.key = "qty",
     .type = OMS_T_INT,
     .offset = offsetof (s_widget_t, qty),
     .required = true,
     .min = -1000,
     .max = 1000},
    {.key = "note", .type = OMS_T_STR, .offset = offsetof (s_widget_t, note), .max = 32},
};

static const oms_schema_t s_widget_schema = {
    .name = "widget",
    .fields = s_widget_fields,
    .n_fields = sizeof s_widget_fields / sizeof s_widget_fields[0],
    .size = sizeof (s_widget_t),
};

static oms_store_t *
s_open (size_t map_size_mb)
{
    oms_store_t *store = oms_store_new (s_dir, s_dbs, map_size_mb, true);
    cr_assert_not_null (store);
    return store;
}

static oms_db_t
s_db (oms_store_t *store, const char *name)
{
    oms_db_t db;
    cr_assert_eq (oms_store_db (store, name, &db), 0);
    return db;
}

static void
s_put_str (oms_txn_t *txn, oms_db_t db, const char *key, const char *value)
{
    cr_assert_eq (oms_txn_put (txn, db, key, strlen (key), value, strlen (value)), 0);
}

//  Asserts `key` holds `expected`, or is absent when expected is NULL.
static void
s_expect (oms_txn_t *txn, oms_db_t db, const char *key, const char *expected)
{
    oms_val_t value;
    int rc = oms_txn_get (txn, db, key, strlen (key), &value);
    if (!expected) {
        cr_assert_eq (rc, OMS_E_NOTFOUND, "key %s: %d", key, rc);
        return;
    }
    cr_assert_eq (rc, 0, "key %s: %d", key, rc);
    cr_assert_eq (value.size, strlen (expected));
    cr_assert_eq (memcmp (value.data, expected, value.size), 0);
}

Test (store, committed_writes_survive_reopening)
{
    oms_store_t *store = s_open (16);
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    s_put_str (txn, s_db (store, "alpha"), "k1", "one");
    s_put_str (txn, s_db (store, "beta"), "k1", "uno");
    cr_assert_eq (oms_txn_commit (&txn), 0);
    cr_assert_null (txn);
    oms_store_destroy (&store);

    store = s_open (16);
    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    s_expect (txn, s_db (store, "alpha"), "k1", "one");
    s_expect (txn, s_db (store, "beta"), "k1", "uno");
    s_expect (txn, s_db (store, "alpha"), "k2", NULL);
    oms_txn_abort (&txn);
    cr_assert_null (txn);
    oms_store_destroy (&store);
}

Test (store, abort_discards_writes)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    s_put_str (txn, alpha, "k1", "one");
    oms_txn_abort (&txn);
    oms_txn_abort (&txn);

    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    s_expect (txn, alpha, "k1", NULL);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, nested_abort_discards_only_the_inner_writes)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_txn_t *outer, *inner;
    cr_assert_eq (oms_store_begin (store, true, &outer), 0);
    s_put_str (outer, alpha, "outer", "kept");
    cr_assert_eq (oms_txn_begin_nested (outer, &inner), 0);
    s_put_str (inner, alpha, "inner", "dropped");
    s_put_str (inner, alpha, "outer", "changed");
    s_expect (inner, alpha, "inner", "dropped");
    oms_txn_abort (&inner);
    cr_assert_null (inner);
    s_expect (outer, alpha, "inner", NULL);
    s_expect (outer, alpha, "outer", "kept");
    cr_assert_eq (oms_txn_commit (&outer), 0);

    cr_assert_eq (oms_store_begin (store, false, &outer), 0);
    s_expect (outer, alpha, "outer", "kept");
    s_expect (outer, alpha, "inner", NULL);
    oms_txn_abort (&outer);
    oms_store_destroy (&store);
}

Test (store, nested_commit_keeps_the_inner_writes)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_txn_t *outer, *inner;
    cr_assert_eq (oms_store_begin (store, true, &outer), 0);
    cr_assert_eq (oms_txn_begin_nested (outer, &inner), 0);
    s_put_str (inner, alpha, "inner", "kept");
    cr_assert_eq (oms_txn_commit (&inner), 0);
    cr_assert_null (inner);
    s_expect (outer, alpha, "inner", "kept");
    cr_assert_eq (oms_txn_commit (&outer), 0);

    cr_assert_eq (oms_store_begin (store, false, &outer), 0);
    s_expect (outer, alpha, "inner", "kept");
    oms_txn_abort (&outer);
    oms_store_destroy (&store);
}

Test (store, be64_round_trips_and_sorts_numerically)
{
    uint8_t small[8], large[8];
    oms_be64_put (small, 255);
    oms_be64_put (large, 256);
    cr_assert_lt (memcmp (small, large, 8), 0);
    cr_assert_eq (oms_be64_get (small), 255);
    oms_be64_put (large, UINT64_MAX - 1);
    cr_assert_eq (oms_be64_get (large), UINT64_MAX - 1);
    cr_assert_eq (large[0], 0xff);
    cr_assert_eq (large[7], 0xfe);
}

Test (store, cursor_walks_be64_keys_in_numeric_order)
{
    oms_store_t *store = s_open (16);
    oms_db_t beta = s_db (store, "beta");
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    //  Inserted out of order, and straddling a byte boundary, where a
    //  little-endian or textual key would sort wrongly.
    const uint64_t seqs[] = {300, 2, 256, 1, 255, 70000};
    for (size_t index = 0; index < 6; index++) {
        uint8_t key[8];
        oms_be64_put (key, seqs[index]);
        cr_assert_eq (oms_txn_put (txn, beta, key, 8, &seqs[index], sizeof seqs[index]), 0);
    }
    cr_assert_eq (oms_txn_commit (&txn), 0);

    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    oms_cursor_t *cursor;
    cr_assert_eq (oms_cursor_open (txn, beta, &cursor), 0);
    const uint64_t sorted[] = {1, 2, 255, 256, 300, 70000};
    oms_val_t key, value;
    int rc = oms_cursor_seek (cursor, NULL, 0, &key, &value);
    for (size_t index = 0; index < 6; index++) {
        cr_assert_eq (rc, 0);
        cr_assert_eq (key.size, 8);
        cr_assert_eq (oms_be64_get (key.data), sorted[index]);
        cr_assert_eq (value.size, sizeof (uint64_t));
        rc = oms_cursor_next (cursor, &key, &value);
    }
    cr_assert_eq (rc, OMS_E_NOTFOUND);

    //  Seeking between keys lands on the next one; past the end, nothing.
    uint8_t probe[8];
    oms_be64_put (probe, 257);
    cr_assert_eq (oms_cursor_seek (cursor, probe, 8, &key, NULL), 0);
    cr_assert_eq (oms_be64_get (key.data), 300);
    oms_be64_put (probe, 256);
    cr_assert_eq (oms_cursor_seek (cursor, probe, 8, &key, NULL), 0);
    cr_assert_eq (oms_be64_get (key.data), 256);
    oms_be64_put (probe, 70001);
    cr_assert_eq (oms_cursor_seek (cursor, probe, 8, &key, NULL), OMS_E_NOTFOUND);
    oms_cursor_close (&cursor);
    oms_cursor_close (&cursor);
    cr_assert_null (cursor);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, cursor_on_an_empty_db_finds_nothing)
{
    oms_store_t *store = s_open (16);
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    oms_cursor_t *cursor;
    cr_assert_eq (oms_cursor_open (txn, s_db (store, "alpha"), &cursor), 0);
    oms_val_t key;
    cr_assert_eq (oms_cursor_seek (cursor, NULL, 0, &key, NULL), OMS_E_NOTFOUND);
    cr_assert_eq (oms_cursor_seek (cursor, "a", 1, &key, NULL), OMS_E_NOTFOUND);
    oms_cursor_close (&cursor);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, cursor_delete_removes_entries_while_walking)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    for (uint64_t seq = 1; seq <= 10; seq++) {
        uint8_t key[8];
        oms_be64_put (key, seq);
        cr_assert_eq (oms_txn_put (txn, alpha, key, 8, "", 0), 0);
    }
    //  Delete the even keys in one pass: after a delete, next is the entry
    //  that followed the deleted one.
    oms_cursor_t *cursor;
    cr_assert_eq (oms_cursor_open (txn, alpha, &cursor), 0);
    oms_val_t key;
    uint64_t visited = 0;
    int rc = oms_cursor_seek (cursor, NULL, 0, &key, NULL);
    while (rc == 0) {
        uint64_t seq = oms_be64_get (key.data);
        visited++;
        if (seq % 2 == 0)
            cr_assert_eq (oms_cursor_del (cursor), 0);
        rc = oms_cursor_next (cursor, &key, NULL);
    }
    cr_assert_eq (rc, OMS_E_NOTFOUND);
    cr_assert_eq (visited, 10);
    oms_cursor_close (&cursor);
    cr_assert_eq (oms_txn_commit (&txn), 0);

    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    uint64_t count = 0;
    cr_assert_eq (oms_txn_count (txn, alpha, &count), 0);
    cr_assert_eq (count, 5);
    cr_assert_eq (oms_cursor_open (txn, alpha, &cursor), 0);
    uint64_t expected = 1;
    for (rc = oms_cursor_seek (cursor, NULL, 0, &key, NULL); rc == 0;
         rc = oms_cursor_next (cursor, &key, NULL), expected += 2)
        cr_assert_eq (oms_be64_get (key.data), expected);
    cr_assert_eq (expected, 11);
    oms_cursor_close (&cursor);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, delete_of_a_missing_key_is_notfound)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    s_put_str (txn, alpha, "k", "v");
    cr_assert_eq (oms_txn_del (txn, alpha, "k", 1), 0);
    cr_assert_eq (oms_txn_del (txn, alpha, "k", 1), OMS_E_NOTFOUND);
    s_expect (txn, alpha, "k", NULL);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, record_round_trips)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    s_widget_t widget = {.name = "bolt-7", .qty = -42, .note = "left-handed"};
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    cr_assert_eq (oms_txn_put_record (txn, alpha, "w1", 2, &s_widget_schema, &widget), 0);
    cr_assert_eq (oms_txn_commit (&txn), 0);

    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    s_widget_t copy;
    memset (&copy, 0xaa, sizeof copy);
    cr_assert_eq (oms_txn_get_record (txn, alpha, "w1", 2, &s_widget_schema, &copy), 0);
    cr_assert_str_eq (copy.name, "bolt-7");
    cr_assert_eq (copy.qty, -42);
    cr_assert_str_eq (copy.note, "left-handed");
    cr_assert_eq (oms_txn_get_record (txn, alpha, "w2", 2, &s_widget_schema, &copy),
                  OMS_E_NOTFOUND);
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, garbage_read_as_a_record_is_a_store_error)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    //  Not msgpack; msgpack but not a map; a map of the wrong shape; a map
    //  claiming more entries than it holds; a valid map with trailing bytes.
    static const struct {
        const char *key;
        const char *bytes;
        size_t size;
    } cases[] = {
        {"not-msgpack", "\xc1\xc1\xc1", 3},
        {"not-a-map", "\x92\x01\x02", 3},
        {"wrong-type", "\x82\xa4name\x05\xa3qty\x01", 12},
        {"truncated", "\x8f\xa4name", 6},
        {"trailing", "\x82\xa4name\xa1x\xa3qty\x01\xff", 14},
        {"binary\x01key", "", 0},
    };
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert_eq (oms_txn_put (txn, alpha, cases[index].key, strlen (cases[index].key),
                                   cases[index].bytes, cases[index].size),
                      0);
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        s_widget_t widget;
        cr_assert_eq (oms_txn_get_record (txn, alpha, cases[index].key, strlen (cases[index].key),
                                          &s_widget_schema, &widget),
                      OMS_E_STORE, "case %s", cases[index].key);
    }
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, tiny_map_fills_up_and_stays_usable)
{
    oms_store_t *store = s_open (1);
    oms_db_t alpha = s_db (store, "alpha");
    static uint8_t blob[4000];
    memset (blob, 0x5a, sizeof blob);
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    int rc = 0;
    uint64_t seq;
    for (seq = 0; seq < 100000 && rc == 0; seq++) {
        uint8_t key[8];
        oms_be64_put (key, seq);
        rc = oms_txn_put (txn, alpha, key, 8, blob, sizeof blob);
    }
    cr_assert_eq (rc, OMS_E_FULL, "rc %d after %llu puts", rc, (unsigned long long) seq);
    oms_txn_abort (&txn);

    //  Nothing of the failed transaction remains, and small writes work.
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    uint64_t count = 1;
    cr_assert_eq (oms_txn_count (txn, alpha, &count), 0);
    cr_assert_eq (count, 0);
    s_put_str (txn, alpha, "after", "full");
    cr_assert_eq (oms_txn_commit (&txn), 0);
    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    s_expect (txn, alpha, "after", "full");
    oms_txn_abort (&txn);
    oms_store_destroy (&store);
}

Test (store, map_filled_by_commits_stays_readable_and_deletes_make_room)
{
    oms_store_t *store = s_open (1);
    oms_db_t alpha = s_db (store, "alpha");
    static uint8_t blob[4000];
    memset (blob, 0x5a, sizeof blob);
    int rc = 0;
    uint64_t stored = 0;
    while (rc == 0 && stored < 100000) {
        oms_txn_t *txn;
        cr_assert_eq (oms_store_begin (store, true, &txn), 0);
        uint8_t key[8];
        oms_be64_put (key, stored);
        rc = oms_txn_put (txn, alpha, key, 8, blob, sizeof blob);
        if (rc == 0)
            rc = oms_txn_commit (&txn);
        else
            oms_txn_abort (&txn);
        if (rc == 0)
            stored++;
    }
    cr_assert_eq (rc, OMS_E_FULL);
    cr_assert_gt (stored, 0);

    //  Everything committed is still readable.
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, false, &txn), 0);
    uint64_t count = 0;
    cr_assert_eq (oms_txn_count (txn, alpha, &count), 0);
    cr_assert_eq (count, stored);
    oms_txn_abort (&txn);

    //  Deleting, one small transaction at a time, frees room for new writes.
    for (uint64_t seq = 0; seq < 8; seq++) {
        cr_assert_eq (oms_store_begin (store, true, &txn), 0);
        uint8_t key[8];
        oms_be64_put (key, seq);
        cr_assert_eq (oms_txn_del (txn, alpha, key, 8), 0);
        cr_assert_eq (oms_txn_commit (&txn), 0, "delete %llu", (unsigned long long) seq);
    }
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    s_put_str (txn, alpha, "after", "full");
    cr_assert_eq (oms_txn_commit (&txn), 0);
    oms_store_destroy (&store);
}

Test (store, unknown_db_name_is_notfound)
{
    oms_store_t *store = s_open (16);
    oms_db_t db = 12345;
    cr_assert_eq (oms_store_db (store, "gamma", &db), OMS_E_NOTFOUND);
    cr_assert_eq (db, 12345);
    cr_assert_eq (oms_store_db (store, "", &db), OMS_E_NOTFOUND);
    oms_store_destroy (&store);
}

Test (store, destroy_is_safe_twice)
{
    oms_store_t *store = s_open (16);
    oms_store_destroy (&store);
    cr_assert_null (store);
    oms_store_destroy (&store);
    cr_assert_null (store);
}

Test (store, new_creates_missing_directories)
{
    char path[128];
    snprintf (path, sizeof path, "%s/a/b/c", s_dir);
    oms_store_t *store = oms_store_new (path, s_dbs, 16, true);
    cr_assert_not_null (store);
    oms_store_destroy (&store);
}

Test (store, new_fails_cleanly_on_an_unusable_path)
{
    char path[128];
    snprintf (path, sizeof path, "%s/file", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fclose (file);
    cr_assert_null (oms_store_new (path, s_dbs, 16, true));
    cr_assert_null (oms_store_new (s_dir, s_dbs, 0, true));
}

Test (store, count_follows_puts_and_deletes)
{
    oms_store_t *store = s_open (16);
    oms_db_t alpha = s_db (store, "alpha");
    oms_db_t beta = s_db (store, "beta");
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    s_put_str (txn, alpha, "a", "1");
    s_put_str (txn, alpha, "b", "2");
    s_put_str (txn, alpha, "b", "3");
    s_put_str (txn, alpha, "c", "4");
    cr_assert_eq (oms_txn_del (txn, alpha, "a", 1), 0);
    uint64_t count = 0;
    cr_assert_eq (oms_txn_count (txn, alpha, &count), 0);
    cr_assert_eq (count, 2);
    cr_assert_eq (oms_txn_count (txn, beta, &count), 0);
    cr_assert_eq (count, 0);
    cr_assert_eq (oms_txn_commit (&txn), 0);
    oms_store_destroy (&store);
}

//  Identity, locking and damaged files: a store is never made or shared by
//  accident, and a damaged data file is refused with a message, not SIGBUS.

static void
s_data_file (char *buf, size_t size)
{
    snprintf (buf, size, "%s/data.mdb", s_dir);
}

//  Fills the store with enough records to span many pages.
static void
s_fill (oms_store_t *store, int records)
{
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (store, true, &txn), 0);
    char key[32], value[200];
    memset (value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < records; i++) {
        snprintf (key, sizeof key, "key-%06d", i);
        s_put_str (txn, s_db (store, "alpha"), key, value);
    }
    cr_assert_eq (oms_txn_commit (&txn), 0);
}

Test (store, a_missing_store_is_made_only_when_asked)
{
    char path[128];
    snprintf (path, sizeof path, "%s/lost", s_dir);
    cr_assert_null (oms_store_new (path, s_dbs, 16, false), "no directory");
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, false), "a directory with no data file");
    oms_store_t *store = oms_store_new (s_dir, s_dbs, 16, true);
    cr_assert_not_null (store);
    oms_store_destroy (&store);
    store = oms_store_new (s_dir, s_dbs, 16, false);
    cr_assert_not_null (store, "an existing store opens without being asked to make one");
    oms_store_destroy (&store);
}

Test (store, an_empty_data_file_is_not_taken_as_a_new_store)
{
    oms_store_t *store = s_open (16);
    s_fill (store, 10);
    oms_store_destroy (&store);
    char data[128];
    s_data_file (data, sizeof data);
    cr_assert_eq (truncate (data, 0), 0);
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, false));
}

Test (store, the_epoch_is_kept_and_a_new_store_has_a_new_one)
{
    oms_store_t *store = s_open (16);
    uint64_t epoch = oms_store_epoch (store);
    cr_assert_neq (epoch, 0);
    oms_store_destroy (&store);
    store = s_open (16);
    cr_assert_eq (oms_store_epoch (store), epoch);
    oms_store_destroy (&store);

    char data[128];
    s_data_file (data, sizeof data);
    cr_assert_eq (unlink (data), 0);
    store = s_open (16);
    cr_assert_neq (oms_store_epoch (store), epoch);
    oms_store_destroy (&store);
}

Test (store, a_truncated_data_file_is_refused_before_it_is_read)
{
    oms_store_t *store = s_open (16);
    s_fill (store, 2000);
    oms_store_destroy (&store);
    char data[128];
    s_data_file (data, sizeof data);
    struct stat info;
    cr_assert_eq (stat (data, &info), 0);
    cr_assert_gt (info.st_size, 64 * 1024);
    cr_assert_eq (truncate (data, info.st_size / 2), 0);
    //  Reaching past the end of the file would have killed this process.
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, false));
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, true), "asking for a new store is no excuse");
    cr_assert_eq (truncate (data, 100), 0);
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, false), "shorter than its meta pages");
}

Test (store, a_second_open_is_refused_while_the_first_holds_the_store)
{
    oms_store_t *store = s_open (16);
    cr_assert_null (oms_store_new (s_dir, s_dbs, 16, true));
    oms_store_destroy (&store);
    store = s_open (16);
    cr_assert_not_null (store, "the lock goes with the store that held it");
    oms_store_destroy (&store);
}
