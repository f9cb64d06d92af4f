/*  oms_store: a service's LMDB environment, its named sub-databases and a
    small transaction API. Only this module touches LMDB.

    One environment per service, opened with default durability: a write
    transaction's commit returns after fdatasync, so a caller may say
    "accepted" once oms_txn_commit returned 0. Values handed out (oms_val_t)
    are borrowed from the map and valid until the end of their transaction.
    Threading: one store per process, used from one thread.
*/
#ifndef OMS_STORE_H
#define OMS_STORE_H

#include "oms_proto.h"

typedef struct _oms_store_t oms_store_t;
typedef struct _oms_txn_t oms_txn_t;
typedef struct _oms_cursor_t oms_cursor_t;

//  A sub-database handle, from oms_store_db; valid as long as the store.
typedef unsigned int oms_db_t;

typedef struct {
    const void *data;
    size_t size;
} oms_val_t;

//  Opens the environment in directory `path` with the NULL-terminated list
//  of sub-database names; map_size_mb caps its size. A missing or empty
//  data file is made into a new store (with a new epoch) only when `create`
//  is true, and refused otherwise; a damaged or truncated one is refused.
//  Holds an exclusive lock on the directory until destroyed: a second open,
//  from any process, fails with "already running (pid N)". Returns NULL on
//  failure, after logging why. Caller owns the store.
oms_store_t *oms_store_new (const char *path, const char *const *db_names, size_t map_size_mb,
                            bool create);

//  Why the last write that failed with OMS_E_FULL failed, naming the path
//  and whether the map or the disk is full; "" before any such failure.
const char *oms_store_problem (oms_store_t *self);

//  The store's identity: a random non-zero number made with the store and
//  kept for its life. A store made anew has a new epoch, so whoever saw
//  (epoch, seq) pairs from the old one can tell its history restarted.
uint64_t oms_store_epoch (oms_store_t *self);

//  Closes the environment; safe with *self_p NULL. Nulls the pointer.
void oms_store_destroy (oms_store_t **self_p);

//  Finds a sub-database by name. 0, or OMS_E_NOTFOUND if it was not listed.
int oms_store_db (oms_store_t *self, const char *name, oms_db_t *db);

//  Starts a transaction: write or read-only. Only one write transaction is
//  open at a time. 0 or OMS_E_STORE.
int oms_store_begin (oms_store_t *self, bool write, oms_txn_t **txn_p);

//  Starts a nested write transaction inside `parent`: its writes become part
//  of the parent when committed, and vanish when aborted.
int oms_txn_begin_nested (oms_txn_t *parent, oms_txn_t **txn_p);

//  Commits and frees the transaction, nulling *txn_p. For a top-level write
//  transaction the data is on disk when this returns 0. OMS_E_FULL when the
//  map or the disk is full (oms_store_problem says which), else OMS_E_STORE;
//  the transaction is gone either way.
int oms_txn_commit (oms_txn_t **txn_p);

//  Aborts and frees the transaction; safe with *txn_p NULL.
void oms_txn_abort (oms_txn_t **txn_p);

//  0 and the value, or OMS_E_NOTFOUND.
int oms_txn_get (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size, oms_val_t *value);
int oms_txn_put (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size, const void *value,
                 size_t value_size);
//  0, or OMS_E_NOTFOUND if there was nothing to delete.
int oms_txn_del (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size);

//  Records: a value that is a msgpack map described by `schema`. Stored bytes
//  are untrusted on the way back in and decoded totally; a record that fails
//  to decode is logged and reported as OMS_E_STORE.
int oms_txn_get_record (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size,
                        const oms_schema_t *schema, void *record);
int oms_txn_put_record (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size,
                        const oms_schema_t *schema, const void *record);

//  Cursors walk keys in byte order. A cursor belongs to its transaction and
//  must be closed before the transaction ends.
int oms_cursor_open (oms_txn_t *txn, oms_db_t db, oms_cursor_t **cursor_p);
void oms_cursor_close (oms_cursor_t **cursor_p);
//  Positions at the first key >= `key` (the first key at all when key_size
//  is 0). 0 with key and value, or OMS_E_NOTFOUND past the end.
int oms_cursor_seek (oms_cursor_t *self, const void *key, size_t key_size, oms_val_t *key_out,
                     oms_val_t *value_out);
//  Moves to the next key. 0, or OMS_E_NOTFOUND past the end.
int oms_cursor_next (oms_cursor_t *self, oms_val_t *key_out, oms_val_t *value_out);
//  Deletes the entry under the cursor.
int oms_cursor_del (oms_cursor_t *self);

//  Number of entries in a sub-database.
int oms_txn_count (oms_txn_t *txn, oms_db_t db, uint64_t *count);

//  Big-endian uint64 keys sort numerically.
void oms_be64_put (uint8_t out[8], uint64_t value);
uint64_t oms_be64_get (const uint8_t in[8]);

#endif
