/*  oms_outbox: append, bounds, read and prune of the per-type event log.

    Layout of one entry:
        key   = type bytes, 0x00, be64 seq     (sorts by type, then seq)
        value = be64 ts_ns, then the event body as published
    The timestamp prefix lets retention judge age without decoding bodies.
    `heads` maps a type to its newest seq (be64).

    `by_order` holds one empty-valued key per event about an order (its
    correlation_id: data.order_id, else its cause's, so the stock.updated
    that reserving an order's lines caused is about that order too):
        key   = order_id, 0x00, type, 0x00, be64 seq
    so an order's events are one range of keys. The entry is put with the
    event and deleted with it; pruning learns the order id by decoding the
    body it deletes. Were an entry ever left behind (a body that no longer
    decodes), readers skip an entry whose event is gone.
*/
#include "oms_outbox.h"
#include <stdio.h>
#include <stdlib.h>
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
oms_outbox_append (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_db_t by_order,
                   oms_event_t *event, msgpack_sbuffer *body)
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
    if (rc == 0 && event->correlation_id[0]) {
        uint8_t index[OMS_OUTBOX_ORDER_KEY_MAX];
        size_t size = oms_outbox_order_key (index, event->correlation_id, event->type, event->seq);
        rc = size ? oms_txn_put (txn, by_order, index, size, "", 0) : OMS_E_TOO_LONG;
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

//  Deletes the `by_order` entry of a stored value (stamp and body) of
//  `type` `seq`, if it is about an order. A body that does not decode keeps
//  its entry, which readers then skip.
static int
s_unindex (oms_txn_t *txn, oms_db_t by_order, const char *type, uint64_t seq, const oms_val_t *v,
           oms_event_t *event)
{
    oms_fault_t fault;
    if (v->size <= OMS_OUTBOX_STAMP ||
        oms_event_decode ((const uint8_t *) v->data + OMS_OUTBOX_STAMP, v->size - OMS_OUTBOX_STAMP,
                          type, event, &fault) ||
        !event->correlation_id[0])
        return 0;
    uint8_t key[OMS_OUTBOX_ORDER_KEY_MAX];
    size_t size = oms_outbox_order_key (key, event->correlation_id, type, seq);
    int rc = size ? oms_txn_del (txn, by_order, key, size) : 0;
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

int
oms_outbox_prune (oms_txn_t *txn, oms_db_t db, oms_db_t heads, oms_db_t by_order, const char *type,
                  uint64_t min_ts_ns, uint64_t keep, size_t budget, uint64_t *pruned)
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
    oms_event_t *event = malloc (sizeof *event);
    if (!event)
        return OMS_E_NOMEM;
    rc = s_seek (txn, db, type, 1, &cursor, &k, &v);
    while (rc == 0 && *pruned < budget && s_key_seq (&k, type, &seq) && seq < head) {
        bool old = v.size >= 8 && oms_be64_get (v.data) < min_ts_ns;
        if (!old && seq >= keep_from)
            break;
        rc = s_unindex (txn, by_order, type, seq, &v, event);
        if (rc == 0)
            rc = oms_cursor_del (cursor);
        if (rc == 0) {
            (*pruned)++;
            //  LMDB leaves a cursor on the entry after the deleted one.
            rc = oms_cursor_next (cursor, &k, &v);
        }
    }
    oms_cursor_close (&cursor);
    free (event);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

// ---------------------------------------------------------------------------
//  The per-order index

size_t
oms_outbox_order_key (uint8_t *key, const char *order_id, const char *type, uint64_t seq)
{
    size_t id = strlen (order_id), len = strlen (type);
    if (id == 0 || id > OMS_ID_MAX || len == 0 || len > OMS_NAME_MAX)
        return 0;
    memcpy (key, order_id, id);
    key[id] = 0;
    return id + 1 + s_key (key + id + 1, type, seq);
}

bool
oms_outbox_order_key_parse (const void *key, size_t size, const char *order_id, char *type,
                            uint64_t *seq)
{
    const uint8_t *bytes = key;
    size_t id = strlen (order_id);
    //  order_id \0, then at least one byte of type, \0 and be64 seq
    if (size < id + 1 + 1 + 9 || memcmp (bytes, order_id, id) != 0 || bytes[id] != 0)
        return false;
    const uint8_t *name = bytes + id + 1;
    size_t len = size - id - 1 - 9;
    if (len > OMS_NAME_MAX || name[len] != 0 || memchr (name, 0, len))
        return false;
    memcpy (type, name, len);
    type[len] = 0;
    *seq = oms_be64_get (name + len + 1);
    return true;
}

int
oms_outbox_order_read (oms_txn_t *txn, oms_db_t db, oms_db_t by_order, const char *order_id,
                       size_t max, size_t max_bytes, oms_outbox_fn *fn, void *arg, bool *more)
{
    *more = false;
    size_t id = strlen (order_id);
    if (id == 0 || id > OMS_ID_MAX)
        return OMS_E_INVALID;
    uint8_t prefix[OMS_ID_MAX + 1];
    memcpy (prefix, order_id, id);
    prefix[id] = 0;
    oms_cursor_t *cursor;
    int rc = oms_cursor_open (txn, by_order, &cursor);
    if (rc)
        return rc;
    size_t count = 0, bytes = 0;
    oms_val_t k, v;
    rc = oms_cursor_seek (cursor, prefix, id + 1, &k, &v);
    while (rc == 0 && k.size > id && memcmp (k.data, prefix, id + 1) == 0) {
        char type[OMS_NAME_MAX + 1];
        uint64_t seq;
        uint8_t key[KEY_MAX];
        oms_val_t event;
        if (oms_outbox_order_key_parse (k.data, k.size, order_id, type, &seq) &&
            (rc = oms_txn_get (txn, db, key, s_key (key, type, seq), &event)) == 0) {
            if (count >= max || (count > 0 && bytes + event.size > max_bytes)) {
                *more = true;
                break;
            }
            if (event.size <= OMS_OUTBOX_STAMP) {
                rc = OMS_E_STORE;
                break;
            }
            rc = fn (arg, seq, (const uint8_t *) event.data + OMS_OUTBOX_STAMP,
                     event.size - OMS_OUTBOX_STAMP);
            if (rc)
                break;
            count++;
            bytes += event.size;
        }
        else if (rc && rc != OMS_E_NOTFOUND)
            break;
        rc = oms_cursor_next (cursor, &k, &v);
    }
    oms_cursor_close (&cursor);
    if (rc && rc != OMS_E_NOTFOUND)
        return rc;
    return (int) count;
}

int
oms_outbox_index (oms_txn_t *txn, oms_db_t db, oms_db_t by_order, uint64_t *indexed)
{
    *indexed = 0;
    oms_event_t *event = malloc (sizeof *event);
    if (!event)
        return OMS_E_NOMEM;
    oms_cursor_t *cursor = NULL;
    int rc = oms_cursor_open (txn, db, &cursor);
    oms_val_t k, v;
    if (rc == 0)
        rc = oms_cursor_seek (cursor, NULL, 0, &k, &v);
    while (rc == 0) {
        //  key = type \0 be64 seq
        const uint8_t *key = k.data;
        char type[OMS_NAME_MAX + 1];
        oms_fault_t fault;
        if (k.size >= 10 && k.size - 9 <= OMS_NAME_MAX && key[k.size - 9] == 0 &&
            !memchr (key, 0, k.size - 9) && v.size > OMS_OUTBOX_STAMP) {
            memcpy (type, key, k.size - 9);
            type[k.size - 9] = 0;
            uint64_t seq = oms_be64_get (key + k.size - 8);
            if (oms_event_decode ((const uint8_t *) v.data + OMS_OUTBOX_STAMP,
                                  v.size - OMS_OUTBOX_STAMP, type, event, &fault) == 0 &&
                event->correlation_id[0]) {
                uint8_t index[OMS_OUTBOX_ORDER_KEY_MAX];
                size_t size = oms_outbox_order_key (index, event->correlation_id, type, seq);
                if (size && (rc = oms_txn_put (txn, by_order, index, size, "", 0)) != 0)
                    break;
                *indexed += size ? 1 : 0;
            }
        }
        rc = oms_cursor_next (cursor, &k, &v);
    }
    oms_cursor_close (&cursor);
    free (event);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}
