/*  oms_outbox: append, bounds, read and prune of the per-type event log.

    Layout of one entry:
        key   = type bytes, 0x00, be64 seq     (sorts by type, then seq)
        value = be64 ts_ns, then the event body as published
    The timestamp prefix lets retention judge age without decoding bodies.
    `heads` maps a type to its newest seq (be64).
*/
#include "oms_outbox.h"
#include <stdio.h>
#include <string.h>

#define KEY_MAX (OMS_NAME_MAX + 1 + 8)

static size_t
s_key (uint8_t *key, const char *type, uint64_t seq)
{
    size_t len = strlen (type);
    memcpy (key, type, len);
    key[len] = 0;
    oms_be64_put (key + len + 1, seq);
    return len + 9;
}

//  Whether `key` belongs to `type`; if so, its seq.
static bool
s_key_seq (const oms_val_t *key, const char *type, uint64_t *seq)
{
    size_t len = strlen (type);
    if (key->size != len + 9 || memcmp (key->data, type, len) != 0 ||
        ((const uint8_t *) key->data)[len] != 0)
        return false;
    *seq = oms_be64_get ((const uint8_t *) key->data + len + 1);
    return true;
}

static int
s_head (oms_txn_t *txn, oms_db_t heads, const char *type, uint64_t *head)
{
    oms_val_t value;
    int rc = oms_txn_get (txn, heads, type, strlen (type), &value);
    *head = 0;
    if (rc == OMS_E_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (value.size != 8)
        return OMS_E_STORE;
    *head = oms_be64_get (value.data);
    return 0;
}

int
oms_outbox_append (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_event_t *event,
                   msgpack_sbuffer *body)
{
    uint64_t head;
    int rc = s_head (txn, heads, event->type, &head);
    if (rc)
        return rc;
    event->seq = head + 1;
    snprintf (event->id, sizeof event->id, "%.16s/%.24s/%llu", event->producer, event->type,
              (unsigned long long) event->seq);
    msgpack_sbuffer_clear (body);
    uint8_t stamp[8];
    oms_be64_put (stamp, event->ts_ns);
    msgpack_sbuffer_write (body, (const char *) stamp, 8);
    rc = oms_event_encode (event, body);
    if (rc)
        return rc;

    uint8_t key[KEY_MAX];
    rc = oms_txn_put (txn, db, key, s_key (key, event->type, event->seq), body->data, body->size);
    if (rc == 0) {
        uint8_t value[8];
        oms_be64_put (value, event->seq);
        rc = oms_txn_put (txn, heads, event->type, strlen (event->type), value, 8);
    }
    return rc;
}

//  Opens a cursor on `db` at the first event of `type` from seq `from`.
//  The cursor is left open whatever the seek found; the caller closes it
//  (it is NULL when it could not be opened).
static int
s_seek (oms_txn_t *txn, oms_db_t db, const char *type, uint64_t from, oms_cursor_t **cursor,
        oms_val_t *k, oms_val_t *v)
{
    int rc = oms_cursor_open (txn, db, cursor);
    if (rc)
        return rc;
    uint8_t key[KEY_MAX];
    return oms_cursor_seek (*cursor, key, s_key (key, type, from), k, v);
}

int
oms_outbox_bounds (oms_txn_t *txn, oms_db_t db, oms_db_t heads, const char *type, uint64_t *first,
                   uint64_t *head)
{
    *first = 0;
    int rc = s_head (txn, heads, type, head);
    if (rc || *head == 0)
        return rc;
    oms_cursor_t *cursor;
    oms_val_t k, v;
    rc = s_seek (txn, db, type, 1, &cursor, &k, &v);
    if (rc == 0 && !s_key_seq (&k, type, first))
        *first = 0;
    oms_cursor_close (&cursor);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

int
oms_outbox_read (oms_txn_t *txn, oms_db_t db, const char *type, uint64_t from, size_t max,
                 size_t max_bytes, oms_outbox_fn *fn, void *arg)
{
    oms_cursor_t *cursor;
    oms_val_t k, v;
    size_t count = 0, bytes = 0;
    uint64_t seq;
    int rc = s_seek (txn, db, type, from, &cursor, &k, &v);
    while (rc == 0 && count < max && (count == 0 || bytes + v.size <= max_bytes) &&
           s_key_seq (&k, type, &seq)) {
        if (v.size <= 8) {
            rc = OMS_E_STORE;
            break;
        }
        rc = fn (arg, seq, (const uint8_t *) v.data + 8, v.size - 8);
        if (rc)
            break;
        count++;
        bytes += v.size;
        rc = oms_cursor_next (cursor, &k, &v);
    }
    oms_cursor_close (&cursor);
    if (rc && rc != OMS_E_NOTFOUND)
        return rc;
    return (int) count;
}

int
oms_outbox_prune (oms_txn_t *txn, oms_db_t db, oms_db_t heads, const char *type, uint64_t min_ts_ns,
                  uint64_t keep, size_t budget, uint64_t *pruned)
{
    *pruned = 0;
    uint64_t head;
    int rc = s_head (txn, heads, type, &head);
    if (rc || head == 0)
        return rc;
    //  Whatever the age, the newest `keep` stay.
    uint64_t keep_from = head >= keep ? head - keep + 1 : 1;
    oms_cursor_t *cursor;
    oms_val_t k, v;
    uint64_t seq;
    rc = s_seek (txn, db, type, 1, &cursor, &k, &v);
    while (rc == 0 && *pruned < budget && s_key_seq (&k, type, &seq) && seq < head) {
        bool old = v.size >= 8 && oms_be64_get (v.data) < min_ts_ns;
        if (!old && seq >= keep_from)
            break;
        rc = oms_cursor_del (cursor);
        if (rc == 0) {
            (*pruned)++;
            //  LMDB leaves a cursor on the entry after the deleted one.
            rc = oms_cursor_next (cursor, &k, &v);
        }
    }
    oms_cursor_close (&cursor);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}
