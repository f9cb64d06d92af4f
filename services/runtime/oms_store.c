/*  oms_store: the one module that touches LMDB.

    A store is one environment with a fixed set of named sub-databases, all
    created in a single write transaction when the store opens, so a handle
    found by name is valid in every later transaction. LMDB's error codes
    collapse into three oms codes: OMS_E_NOTFOUND and OMS_E_FULL are normal
    outcomes a caller acts on; everything else is OMS_E_STORE, logged here
    with LMDB's own text because only here is that text known.

    The environment is opened without MDB_NOSYNC or MDB_NOMETASYNC: a top
    level commit returns after the data and the meta page are on disk. The
    service loop batches many events into one commit to pay for that once.

    A store is never made by accident. Taking a lost or empty data file as a
    new store would replay the cluster's history into it and charge old
    orders again, so a missing or empty data.mdb is refused unless the
    caller asked for a new store. A data file shorter than the pages its
    meta page says are in use is refused before any page is read: LMDB maps
    the file and would die of SIGBUS on the first page past its end. The
    store's identity (the epoch, random, made with the store) lives in its
    own sub-database, and the store holds an exclusive lock (flock on
    DIR/service.lock, which names the holder's pid) for as long as it is
    open, so two processes never write one store.
*/
#include "oms_store.h"
#include "oms_log.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <czmq.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

//  Durable by default (no MDB_NOSYNC, no MDB_NOMETASYNC: a commit returns
//  after the data and the meta page are on disk). MDB_NOMEMINIT skips
//  zeroing the unused tail of each page written: those bytes were never
//  read back, and that memset ranked high in the profiles (docs/BENCHMARKS.md).
#define S_ENV_FLAGS MDB_NOMEMINIT

//  The store's own sub-database, beside the caller's: its identity.
#define S_IDENTITY_DB "store"

struct _oms_store_t {
    MDB_env *env;
    size_t n_dbs;
    char **names;   //  sub-database names, owned
    MDB_dbi *dbis;  //  their handles, same order
    int lock_fd;    //  holds the flock on DIR/service.lock; -1 when none
    uint64_t epoch; //  made with the store, never 0
    char *path;
    size_t map_size_mb;
    char problem[320];        //  why the last write failed for want of room
    oms_log_limit_t full_log; //  a full disk fails every write: say so rarely
};

struct _oms_txn_t {
    oms_store_t *store;
    MDB_txn *txn;
};

struct _oms_cursor_t {
    oms_store_t *store;
    MDB_cursor *cursor;
};

//  Maps an LMDB result into the oms error space, logging what the caller
//  cannot explain to anyone: everything but "not found". `name` (a path or a
//  sub-database, may be NULL) says where. Out of room (a full map, a full
//  disk) is OMS_E_FULL, with the reason kept for oms_store_problem and
//  logged at most once per OMS_LOG_LIMIT_S: it recurs at every write.
static int
s_result (oms_store_t *store, int rc, const char *what, const char *name)
{
    if (rc == MDB_SUCCESS)
        return 0;
    if (rc == MDB_NOTFOUND)
        return OMS_E_NOTFOUND;
    const char *path = store && store->path ? store->path : name ? name : "";
    bool map_full = rc == MDB_MAP_FULL || rc == MDB_TXN_FULL;
    bool disk_full = rc == ENOSPC || rc == EDQUOT;
    if (!map_full && !disk_full) {
        oms_error ("store: %s%s%s: %s", what, name ? " " : "", name ? name : "", mdb_strerror (rc));
        return OMS_E_STORE;
    }
    char problem[sizeof store->problem];
    if (map_full)
        snprintf (problem, sizeof problem,
                  "the store at %s is full: its map of %zu MiB is used up (%s); raise "
                  "runtime/map_size_mb or shorten retention",
                  path, store ? store->map_size_mb : 0, mdb_strerror (rc));
    else
        snprintf (problem, sizeof problem, "the disk holding the store at %s is full (%s)", path,
                  strerror (rc));
    if (store) {
        memcpy (store->problem, problem, sizeof problem);
        oms_log_limited (&store->full_log, OMS_LOG_ERROR, "store: %s: %s", what, problem);
    }
    else
        oms_error ("store: %s: %s", what, problem);
    return OMS_E_FULL;
}

//  The name of a sub-database handle, for messages.
static const char *
s_db_name (oms_store_t *self, MDB_dbi dbi)
{
    for (size_t index = 0; index < self->n_dbs; index++)
        if (self->dbis[index] == dbi)
            return self->names[index];
    return "(unknown db)";
}

//  Keys may be binary (be64 sequences, \0 separators): show them printable
//  when they are, as hex when not, and never at unbounded length.
static const char *
s_key_str (const void *key, size_t key_size, char *buf, size_t size)
{
    assert (size >= 8);
    const uint8_t *bytes = key;
    bool printable = key_size > 0;
    for (size_t index = 0; index < key_size && printable; index++)
        printable = isprint (bytes[index]) != 0;

    //  Room for the quotes or "0x", a trailing "..." and the NUL.
    size_t room = size - 6;
    size_t used = 0;
    size_t index = 0;
    if (printable) {
        buf[used++] = '"';
        for (; index < key_size && used < room; index++)
            buf[used++] = (char) bytes[index];
        buf[used++] = '"';
    }
    else {
        buf[used++] = '0';
        buf[used++] = 'x';
        for (; index < key_size && used + 2 <= room; index++) {
            snprintf (buf + used, 3, "%02x", bytes[index]);
            used += 2;
        }
    }
    if (index < key_size) {
        memcpy (buf + used, "...", 3);
        used += 3;
    }
    buf[used] = '\0';
    return buf;
}

static MDB_val
s_mdb_val (const void *data, size_t size)
{
    MDB_val val = {.mv_size = size, .mv_data = (void *) data};
    return val;
}

static void
s_oms_val (const MDB_val *from, oms_val_t *to)
{
    if (to) {
        to->data = from->mv_data;
        to->size = from->mv_size;
    }
}

//  --------------------------------------------------------------------------
//  Store

//  Takes the exclusive lock on the store directory, or says who holds it.
static int
s_lock (oms_store_t *self, const char *path)
{
    char name[PATH_MAX];
    snprintf (name, sizeof name, "%s/service.lock", path);
    self->lock_fd = open (name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->lock_fd < 0) {
        oms_error ("store: cannot open %s: %s", name, strerror (errno));
        return -1;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        int error = errno;
        char pid[32] = "";
        ssize_t size = pread (self->lock_fd, pid, sizeof pid - 1, 0);
        pid[size > 0 ? size : 0] = '\0';
        pid[strcspn (pid, "\n")] = '\0';
        if (error == EWOULDBLOCK)
            oms_error ("already running (pid %s) on store %s", *pid ? pid : "unknown", path);
        else
            oms_error ("store: cannot lock %s: %s", name, strerror (error));
        close (self->lock_fd);
        self->lock_fd = -1;
        return -1;
    }
    char pid[32];
    int size = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (self->lock_fd, 0) || pwrite (self->lock_fd, pid, (size_t) size, 0) != size)
        oms_warn ("store: cannot write pid to %s: %s", name, strerror (errno));
    return 0;
}

//  Whether DIR holds a data file with something in it: 1 yes, 0 missing or
//  empty, -1 when it cannot be told.
static int
s_has_data (const char *path)
{
    char name[PATH_MAX];
    snprintf (name, sizeof name, "%s/data.mdb", path);
    struct stat info;
    if (stat (name, &info) == 0)
        return info.st_size > 0;
    if (errno == ENOENT)
        return 0;
    oms_error ("store: cannot read %s: %s", name, strerror (errno));
    return -1;
}

//  After the environment is open and before any page is read: the data
//  file holds every page the newest meta page says is in use.
static int
s_check_size (oms_store_t *self, const char *path)
{
    MDB_envinfo info;
    MDB_stat stat;
    mdb_filehandle_t fd;
    struct stat file;
    if (mdb_env_info (self->env, &info) || mdb_env_stat (self->env, &stat) ||
        mdb_env_get_fd (self->env, &fd) || fstat (fd, &file)) {
        oms_error ("store: %s/data.mdb: cannot read its size", path);
        return -1;
    }
    uint64_t needed = ((uint64_t) info.me_last_pgno + 1) * stat.ms_psize;
    if ((uint64_t) file.st_size < needed) {
        oms_error ("store: %s/data.mdb is truncated: %lld bytes where its last page ends at %llu; "
                   "refusing to open it. Restore the store from a backup (docs/OPERATIONS.md, "
                   "\"Backup and restore\")",
                   path, (long long) file.st_size, (unsigned long long) needed);
        return -1;
    }
    return 0;
}

//  Reads the store's epoch, making one when the store is new.
static int
s_identity (oms_store_t *self, MDB_txn *txn, const char *path, bool is_new)
{
    MDB_dbi dbi;
    int rc = mdb_dbi_open (txn, S_IDENTITY_DB, MDB_CREATE, &dbi);
    if (rc)
        return s_result (self, rc, "open db", S_IDENTITY_DB);
    MDB_val key = s_mdb_val ("epoch", 5), value;
    rc = mdb_get (txn, dbi, &key, &value);
    if (rc == 0 && value.mv_size == 8) {
        self->epoch = oms_be64_get (value.mv_data);
        if (self->epoch)
            return 0;
    }
    if (rc != MDB_NOTFOUND) {
        oms_error (
            "store: %s has an invalid epoch: a damaged or foreign store; refusing to open it",
            path);
        return rc ? s_result (self, rc, "get", S_IDENTITY_DB) : OMS_E_STORE;
    }
    uint8_t bytes[8];
    do {
        if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes) {
            oms_error ("store: %s: no random bytes for the epoch: %s", path, strerror (errno));
            return OMS_E_STORE;
        }
        self->epoch = oms_be64_get (bytes);
    } while (self->epoch == 0);
    oms_be64_put (bytes, self->epoch);
    value = s_mdb_val (bytes, 8);
    //  A store written before stores had epochs gets one now, once.
    if (!is_new)
        oms_warn ("store: %s had no epoch; it is %016llx from now on", path,
                  (unsigned long long) self->epoch);
    return s_result (self, mdb_put (txn, dbi, &key, &value, 0), "put", S_IDENTITY_DB);
}

oms_store_t *
oms_store_new (const char *path, const char *const *db_names, size_t map_size_mb, bool create)
{
    assert (path);
    bool ok = false;
    int rc = 0;
    MDB_txn *txn = NULL;
    oms_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        oms_error ("store: %s: out of memory", path);
        goto leave;
    }
    self->lock_fd = -1;
    self->map_size_mb = map_size_mb;
    if (!(self->path = strdup (path))) {
        oms_error ("store: %s: out of memory", path);
        goto leave;
    }
    if (map_size_mb == 0 || map_size_mb > SIZE_MAX / (1024 * 1024)) {
        oms_error ("store: %s: a map size of %zu MiB is not usable", path, map_size_mb);
        goto leave;
    }
    while (db_names && db_names[self->n_dbs])
        self->n_dbs++;
    self->names = calloc (self->n_dbs + 1, sizeof *self->names);
    self->dbis = calloc (self->n_dbs + 1, sizeof *self->dbis);
    if (!self->names || !self->dbis) {
        oms_error ("store: %s: out of memory", path);
        goto leave;
    }
    for (size_t index = 0; index < self->n_dbs; index++) {
        self->names[index] = strdup (db_names[index]);
        if (!self->names[index]) {
            oms_error ("store: %s: out of memory", path);
            goto leave;
        }
    }
    if (!create && !zsys_file_exists (path)) {
        oms_error ("store: no store at %s: refusing to make a new one unasked. If it was lost, "
                   "restore it from a backup; a new store starts with --init",
                   path);
        goto leave;
    }
    if (zsys_dir_create ("%s", path)) {
        oms_error ("store: cannot create directory %s: %s", path, strerror (errno));
        goto leave;
    }
    if (s_lock (self, path))
        goto leave;
    int has_data = s_has_data (path);
    if (has_data < 0)
        goto leave;
    if (!has_data && !create) {
        oms_error ("store: %s/data.mdb is missing or empty: refusing to take it as a new store "
                   "(it would apply the cluster's history again). If it was lost, restore it from "
                   "a backup; a new store starts with --init",
                   path);
        goto leave;
    }
    //  One more sub-database than the caller's: the store's identity.
    if ((rc = mdb_env_create (&self->env)) ||
        (rc = mdb_env_set_maxdbs (self->env, (MDB_dbi) self->n_dbs + 1)) ||
        (rc = mdb_env_set_mapsize (self->env, map_size_mb * 1024 * 1024))) {
        s_result (self, rc, "open", path);
        goto leave;
    }
    if ((rc = mdb_env_open (self->env, path, S_ENV_FLAGS, 0644))) {
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == ENOENT)
            oms_error (
                "store: %s/data.mdb is not a usable LMDB file (%s): refusing to open it. "
                "Restore the store from a backup (docs/OPERATIONS.md, \"Backup and restore\")",
                path, mdb_strerror (rc));
        else
            s_result (self, rc, "open", path);
        goto leave;
    }
    if (has_data && s_check_size (self, path))
        goto leave;
    //  A process that died inside a read transaction leaves its reader slot
    //  pinning old pages; free such slots before they keep the map growing.
    int dead = 0;
    if ((rc = mdb_reader_check (self->env, &dead))) {
        s_result (self, rc, "reader check", path);
        goto leave;
    }
    if (dead > 0)
        oms_warn ("store: %s: cleared %d stale reader slots", path, dead);

    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn))) {
        s_result (self, rc, "begin", path);
        goto leave;
    }
    if (s_identity (self, txn, path, !has_data))
        goto leave;
    for (size_t index = 0; index < self->n_dbs; index++) {
        if ((rc = mdb_dbi_open (txn, self->names[index], MDB_CREATE, &self->dbis[index]))) {
            s_result (self, rc, "open db", self->names[index]);
            goto leave;
        }
    }
    rc = mdb_txn_commit (txn);
    txn = NULL;
    if (rc) {
        s_result (self, rc, "commit", path);
        goto leave;
    }
    if (!has_data)
        oms_info ("store: made a new store at %s (epoch %016llx)", path,
                  (unsigned long long) self->epoch);
    ok = true;

leave:
    if (txn)
        mdb_txn_abort (txn);
    if (!ok)
        oms_store_destroy (&self);
    return self;
}

const char *
oms_store_problem (oms_store_t *self)
{
    assert (self);
    return self->problem;
}

uint64_t
oms_store_epoch (oms_store_t *self)
{
    assert (self);
    return self->epoch;
}

void
oms_store_destroy (oms_store_t **self_p)
{
    assert (self_p);
    oms_store_t *self = *self_p;
    if (!self)
        return;
    if (self->env)
        mdb_env_close (self->env);
    //  Closing the descriptor drops the lock; the file stays, naming no one.
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    for (size_t index = 0; self->names && index < self->n_dbs; index++)
        free (self->names[index]);
    free (self->names);
    free (self->dbis);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
oms_store_db (oms_store_t *self, const char *name, oms_db_t *db)
{
    assert (self);
    assert (name);
    assert (db);
    for (size_t index = 0; index < self->n_dbs; index++) {
        if (strcmp (self->names[index], name) == 0) {
            *db = self->dbis[index];
            return 0;
        }
    }
    return OMS_E_NOTFOUND;
}

//  --------------------------------------------------------------------------
//  Transactions

static int
s_txn_begin (oms_store_t *store, MDB_txn *parent, unsigned int flags, oms_txn_t **txn_p)
{
    assert (txn_p);
    *txn_p = NULL;
    oms_txn_t *self = calloc (1, sizeof *self);
    if (!self) {
        oms_error ("store: begin: out of memory");
        return OMS_E_NOMEM;
    }
    int rc = mdb_txn_begin (store->env, parent, flags, &self->txn);
    if (rc) {
        free (self);
        return s_result (store, rc, parent ? "begin nested" : "begin", NULL);
    }
    self->store = store;
    *txn_p = self;
    return 0;
}

int
oms_store_begin (oms_store_t *self, bool write, oms_txn_t **txn_p)
{
    assert (self);
    return s_txn_begin (self, NULL, write ? 0 : MDB_RDONLY, txn_p);
}

int
oms_txn_begin_nested (oms_txn_t *parent, oms_txn_t **txn_p)
{
    assert (parent);
    return s_txn_begin (parent->store, parent->txn, 0, txn_p);
}

int
oms_txn_commit (oms_txn_t **txn_p)
{
    assert (txn_p);
    oms_txn_t *self = *txn_p;
    assert (self);
    int rc = mdb_txn_commit (self->txn);
    oms_store_t *store = self->store;
    free (self);
    *txn_p = NULL;
    return s_result (store, rc, "commit", NULL);
}

void
oms_txn_abort (oms_txn_t **txn_p)
{
    assert (txn_p);
    oms_txn_t *self = *txn_p;
    if (!self)
        return;
    mdb_txn_abort (self->txn);
    free (self);
    *txn_p = NULL;
}

//  --------------------------------------------------------------------------
//  Values

int
oms_txn_get (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size, oms_val_t *value)
{
    assert (txn);
    assert (key || key_size == 0);
    MDB_val mkey = s_mdb_val (key, key_size);
    MDB_val mvalue;
    int rc = mdb_get (txn->txn, db, &mkey, &mvalue);
    if (rc == 0)
        s_oms_val (&mvalue, value);
    return s_result (txn->store, rc, "get", s_db_name (txn->store, db));
}

int
oms_txn_put (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size, const void *value,
             size_t value_size)
{
    assert (txn);
    assert (key || key_size == 0);
    assert (value || value_size == 0);
    MDB_val mkey = s_mdb_val (key, key_size);
    MDB_val mvalue = s_mdb_val (value, value_size);
    return s_result (txn->store, mdb_put (txn->txn, db, &mkey, &mvalue, 0), "put",
                     s_db_name (txn->store, db));
}

int
oms_txn_del (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size)
{
    assert (txn);
    assert (key || key_size == 0);
    MDB_val mkey = s_mdb_val (key, key_size);
    return s_result (txn->store, mdb_del (txn->txn, db, &mkey, NULL), "del",
                     s_db_name (txn->store, db));
}

int
oms_txn_get_record (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size,
                    const oms_schema_t *schema, void *record)
{
    assert (schema);
    assert (record);
    oms_val_t value;
    int rc = oms_txn_get (txn, db, key, key_size, &value);
    if (rc)
        return rc;

    oms_fault_t fault = {0};
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    rc = oms_msgpack_parse (value.data, value.size, &unpacked, &fault);
    if (rc == 0)
        rc = oms_schema_unpack (schema, &unpacked.data, record, "", &fault);
    msgpack_unpacked_destroy (&unpacked);
    if (rc) {
        //  A record that does not decode is a damaged or foreign file, not a
        //  missing record: say which one so it can be inspected.
        char key_text[128];
        char fault_text[160];
        if (fault.code == 0)
            fault.code = rc;
        oms_error ("store: record %s key=%s does not decode: %s", schema->name ? schema->name : "?",
                   s_key_str (key, key_size, key_text, sizeof key_text),
                   oms_fault_str (&fault, fault_text, sizeof fault_text));
        return OMS_E_STORE;
    }
    return 0;
}

int
oms_txn_put_record (oms_txn_t *txn, oms_db_t db, const void *key, size_t key_size,
                    const oms_schema_t *schema, const void *record)
{
    assert (schema);
    assert (record);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    int rc = oms_schema_pack (schema, record, &packer);
    if (rc == 0)
        rc = oms_txn_put (txn, db, key, key_size, buffer.data, buffer.size);
    else {
        char key_text[128];
        oms_error ("store: record %s key=%s does not encode: %s", schema->name ? schema->name : "?",
                   s_key_str (key, key_size, key_text, sizeof key_text), oms_strerror (rc));
    }
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

int
oms_txn_count (oms_txn_t *txn, oms_db_t db, uint64_t *count)
{
    assert (txn);
    assert (count);
    MDB_stat stat;
    int rc = mdb_stat (txn->txn, db, &stat);
    if (rc == 0)
        *count = stat.ms_entries;
    return s_result (txn->store, rc, "stat", s_db_name (txn->store, db));
}

//  --------------------------------------------------------------------------
//  Cursors

int
oms_cursor_open (oms_txn_t *txn, oms_db_t db, oms_cursor_t **cursor_p)
{
    assert (txn);
    assert (cursor_p);
    *cursor_p = NULL;
    oms_cursor_t *self = calloc (1, sizeof *self);
    if (!self) {
        oms_error ("store: cursor: out of memory");
        return OMS_E_NOMEM;
    }
    self->store = txn->store;
    int rc = mdb_cursor_open (txn->txn, db, &self->cursor);
    if (rc) {
        free (self);
        return s_result (txn->store, rc, "cursor open", s_db_name (txn->store, db));
    }
    *cursor_p = self;
    return 0;
}

void
oms_cursor_close (oms_cursor_t **cursor_p)
{
    assert (cursor_p);
    oms_cursor_t *self = *cursor_p;
    if (!self)
        return;
    mdb_cursor_close (self->cursor);
    free (self);
    *cursor_p = NULL;
}

static int
s_cursor_get (oms_cursor_t *self, MDB_val *mkey, MDB_cursor_op op, oms_val_t *key_out,
              oms_val_t *value_out)
{
    MDB_val mvalue;
    int rc = mdb_cursor_get (self->cursor, mkey, &mvalue, op);
    if (rc == 0) {
        s_oms_val (mkey, key_out);
        s_oms_val (&mvalue, value_out);
    }
    return s_result (self->store, rc, "cursor get", NULL);
}

int
oms_cursor_seek (oms_cursor_t *self, const void *key, size_t key_size, oms_val_t *key_out,
                 oms_val_t *value_out)
{
    assert (self);
    assert (key || key_size == 0);
    //  LMDB refuses an empty key for MDB_SET_RANGE; the first key is what
    //  "every key >= the empty key" means.
    MDB_val mkey = s_mdb_val (key, key_size);
    return s_cursor_get (self, &mkey, key_size ? MDB_SET_RANGE : MDB_FIRST, key_out, value_out);
}

int
oms_cursor_next (oms_cursor_t *self, oms_val_t *key_out, oms_val_t *value_out)
{
    assert (self);
    MDB_val mkey = {0};
    return s_cursor_get (self, &mkey, MDB_NEXT, key_out, value_out);
}

int
oms_cursor_del (oms_cursor_t *self)
{
    assert (self);
    return s_result (self->store, mdb_cursor_del (self->cursor, 0), "cursor del", NULL);
}

//  --------------------------------------------------------------------------
//  Keys

void
oms_be64_put (uint8_t out[8], uint64_t value)
{
    for (int index = 7; index >= 0; index--) {
        out[index] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
}

uint64_t
oms_be64_get (const uint8_t in[8])
{
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | in[index];
    return value;
}
