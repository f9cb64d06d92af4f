/*  order_index: the order record, its indexes by time, status and customer,
    and the listing that walks them (see order_index.h for the key layout).

    The one position every index ends in is be64 (UINT64_MAX - created_ns)
    then the order id, which sorts newest first and is unique per order. A
    page token carries that position (as created_ns in hex and the id), so
    it means the same in any index: a listing of several statuses keeps one
    cursor per status and always takes the smallest position among them.
*/
#include "order_index.h"
#include "oms_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oms_field_t s_order_fields[] = {
    OMS_STR (order_t, order_id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (order_t, status, OMS_C_ID, 15, true),
    OMS_STR (order_t, customer, OMS_C_ID, OMS_ID_MAX, true),
    OMS_ITEMS (order_t, items, n_items, 1, true),
    OMS_INT (order_t, total_cents, 0, OMS_CENTS_MAX, true),
    OMS_STR (order_t, reason, OMS_C_ANY, OMS_TEXT_MAX, false),
    OMS_STR (order_t, method, OMS_C_NAME, OMS_NAME_MAX, true),
    OMS_STR (order_t, card_last4, OMS_C_DIGITS, 4, false),
    OMS_UINT (order_t, created_ns, 0, UINT64_MAX, true),
    OMS_UINT (order_t, deadline_ns, 0, UINT64_MAX, false),
};
const oms_schema_t order_schema = OMS_SCHEMA (order_t, "order", s_order_fields);

static const oms_field_t s_summary_fields[] = {
    OMS_STR (order_summary_t, order_id, OMS_C_ID, OMS_ID_MAX, true),
    OMS_STR (order_summary_t, status, OMS_C_ID, 15, true),
    OMS_STR (order_summary_t, customer, OMS_C_ID, OMS_ID_MAX, true),
    OMS_INT (order_summary_t, total_cents, 0, OMS_CENTS_MAX, true),
    OMS_UINT (order_summary_t, created_ns, 0, UINT64_MAX, true),
    OMS_STR (order_summary_t, reason, OMS_C_ANY, OMS_TEXT_MAX, false),
};
const oms_schema_t order_summary_schema =
    OMS_SCHEMA (order_summary_t, "order summary", s_summary_fields);

// ---------------------------------------------------------------------------
//  Keys

//  The position of an order in every index: 8 + length of the id bytes.
static size_t
s_position (uint8_t *out, uint64_t created_ns, const char *order_id)
{
    size_t length = strlen (order_id);
    oms_be64_put (out, UINT64_MAX - created_ns);
    memcpy (out + 8, order_id, length);
    return 8 + length;
}

size_t
order_index_key (uint8_t *key, const char *prefix, uint64_t created_ns, const char *order_id)
{
    size_t length = 0;
    if (prefix) {
        length = strlen (prefix);
        memcpy (key, prefix, length);
        key[length++] = 0;
    }
    return length + s_position (key + length, created_ns, order_id);
}

//  One index entry of an order, for whichever index `which` names.
typedef enum { S_BY_TIME, S_BY_STATUS, S_BY_CUSTOMER, S_INDEXES } s_index_t;

static oms_db_t
s_db (const order_dbs_t *dbs, s_index_t which)
{
    return which == S_BY_TIME     ? dbs->by_time
           : which == S_BY_STATUS ? dbs->by_status
                                  : dbs->by_customer;
}

static size_t
s_entry (uint8_t *key, s_index_t which, const order_t *order)
{
    const char *prefix = which == S_BY_TIME     ? NULL
                         : which == S_BY_STATUS ? order->status
                                                : order->customer;
    return order_index_key (key, prefix, order->created_ns, order->order_id);
}

int
order_save (oms_txn_t *txn, const order_dbs_t *dbs, const order_t *order)
{
    order_t *stored = malloc (sizeof *stored);
    if (!stored)
        return OMS_E_NOMEM;
    int rc = oms_txn_get_record (txn, dbs->orders, order->order_id, strlen (order->order_id),
                                 &order_schema, stored);
    bool known = rc == 0;
    if (rc == OMS_E_NOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = oms_txn_put_record (txn, dbs->orders, order->order_id, strlen (order->order_id),
                                 &order_schema, order);
    for (s_index_t which = 0; rc == 0 && which < S_INDEXES; which++) {
        uint8_t key[ORDER_KEY_MAX], old[ORDER_KEY_MAX];
        size_t size = s_entry (key, which, order);
        size_t old_size = known ? s_entry (old, which, stored) : 0;
        if (known && old_size == size && memcmp (old, key, size) == 0)
            continue;
        if (known) {
            rc = oms_txn_del (txn, s_db (dbs, which), old, old_size);
            if (rc == OMS_E_NOTFOUND)
                rc = 0;
        }
        if (rc == 0)
            rc = oms_txn_put (txn, s_db (dbs, which), key, size, "", 0);
    }
    free (stored);
    return rc;
}

int
order_index_stale (oms_txn_t *txn, const order_dbs_t *dbs, bool *stale)
{
    uint64_t orders = 0, indexed = 0;
    int rc = oms_txn_count (txn, dbs->orders, &orders);
    if (rc == 0)
        rc = oms_txn_count (txn, dbs->by_time, &indexed);
    *stale = rc == 0 && orders != indexed;
    return rc;
}

static int
s_empty (oms_txn_t *txn, oms_db_t db)
{
    oms_cursor_t *cursor;
    int rc = oms_cursor_open (txn, db, &cursor);
    if (rc)
        return rc;
    oms_val_t key, value;
    while ((rc = oms_cursor_seek (cursor, NULL, 0, &key, &value)) == 0)
        if ((rc = oms_cursor_del (cursor)) != 0)
            break;
    oms_cursor_close (&cursor);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

int
order_index_rebuild (oms_txn_t *txn, const order_dbs_t *dbs, uint64_t *count)
{
    *count = 0;
    int rc = 0;
    for (s_index_t which = 0; rc == 0 && which < S_INDEXES; which++)
        rc = s_empty (txn, s_db (dbs, which));
    oms_cursor_t *cursor = NULL;
    if (rc == 0)
        rc = oms_cursor_open (txn, dbs->orders, &cursor);
    order_t *order = rc == 0 ? malloc (sizeof *order) : NULL;
    if (rc == 0 && !order)
        rc = OMS_E_NOMEM;
    oms_val_t key, value;
    if (rc == 0)
        rc = oms_cursor_seek (cursor, NULL, 0, &key, &value);
    while (rc == 0) {
        rc = oms_txn_get_record (txn, dbs->orders, key.data, key.size, &order_schema, order);
        for (s_index_t which = 0; rc == 0 && which < S_INDEXES; which++) {
            uint8_t entry[ORDER_KEY_MAX];
            rc = oms_txn_put (txn, s_db (dbs, which), entry, s_entry (entry, which, order), "", 0);
        }
        if (rc == 0) {
            (*count)++;
            rc = oms_cursor_next (cursor, &key, &value);
        }
    }
    free (order);
    oms_cursor_close (&cursor);
    return rc == OMS_E_NOTFOUND ? 0 : rc;
}

// ---------------------------------------------------------------------------
//  Parsing a request

int
order_parse_statuses (const char *text, unsigned *mask, char *error, size_t size)
{
    *mask = 0;
    const char *p = text;
    for (;;) {
        size_t length = strcspn (p, ",");
        int found = -1;
        for (int i = 0; oms_order_statuses[i] && found < 0; i++)
            if (strlen (oms_order_statuses[i]) == length &&
                memcmp (oms_order_statuses[i], p, length) == 0)
                found = i;
        if (found < 0) {
            oms_error_format (error, size,
                              "unknown status \"%.*s\": give one or more of PENDING, RESERVED, "
                              "CONFIRMED, CANCELLED, separated by commas",
                              (int) (length > 40 ? 40 : length), p);
            return -1;
        }
        *mask |= 1u << found;
        if (p[length] == 0)
            return 0;
        p += length + 1;
    }
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

//  A page token into its position; -1 if it is not one.
static int
s_parse_token (const char *token, uint8_t *start, size_t *start_size)
{
    size_t length = strlen (token);
    if (length <= 16 || length > ORDER_TOKEN_MAX)
        return -1;
    uint64_t created = 0;
    for (int i = 0; i < 16; i++) {
        int digit = s_hex (token[i]);
        if (digit < 0)
            return -1;
        created = created << 4 | (uint64_t) digit;
    }
    *start_size = s_position (start, created, token + 16);
    return 0;
}

//  The token of a position (as s_position wrote it).
static void
s_format_token (char *token, const uint8_t *position, size_t size)
{
    snprintf (token, ORDER_TOKEN_MAX + 1, "%016llx%.*s",
              (unsigned long long) (UINT64_MAX - oms_be64_get (position)), (int) (size - 8),
              (const char *) position + 8);
}

int
order_query_make (order_query_t *query, const oms_request_t *request, uint64_t now_ns, char *error,
                  size_t size)
{
    memset (query, 0, sizeof *query);
    query->newest_ns = UINT64_MAX;
    query->limit = request->limit ? (uint32_t) request->limit : ORDER_LIST_DEFAULT;
    query->visit_max = ORDER_VISIT_MAX;
    if (request->limit > ORDER_LIST_MAX) {
        oms_error_format (error, size, "limit must be from 1 to %d", ORDER_LIST_MAX);
        return -1;
    }
    if (request->status[0] && order_parse_statuses (request->status, &query->statuses, error, size))
        return -1;
    snprintf (query->customer, sizeof query->customer, "%s", request->customer);
    if (request->since_ns)
        query->oldest_ns = request->since_ns < now_ns ? now_ns - request->since_ns : 0;
    if (request->older_than_ns == 0)
        ; //  no upper bound: also orders stamped ahead of this clock
    else if (request->older_than_ns <= now_ns)
        query->newest_ns = now_ns - request->older_than_ns;
    else {
        //  Older than the clock itself: nothing can be, an empty range.
        query->newest_ns = 0;
        query->oldest_ns = 1;
    }
    if (request->page[0] && s_parse_token (request->page, query->start, &query->start_size)) {
        oms_error_format (error, size, "page: not a page token this service gave");
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
//  The walk

//  One cursor over the entries of one prefix, at its current position.
typedef struct {
    oms_cursor_t *cursor;
    uint8_t prefix[OMS_ID_MAX + 1];
    size_t prefix_size;
    uint8_t position[8 + OMS_ID_MAX]; //  of the entry under the cursor
    size_t position_size;
    bool live; //  an entry under the cursor, within the prefix and the bounds
} s_source_t;

//  Takes the entry under the cursor (rc from the seek or next that moved
//  it): live when it is of the source's prefix and not older than the
//  query's oldest_ns.
static int
s_take (s_source_t *source, const order_query_t *query, int rc, const oms_val_t *key)
{
    source->live = false;
    if (rc == OMS_E_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    const uint8_t *data = key->data;
    if (key->size < source->prefix_size + 8 || key->size > source->prefix_size + 8 + OMS_ID_MAX ||
        memcmp (data, source->prefix, source->prefix_size) != 0)
        return 0;
    source->position_size = key->size - source->prefix_size;
    memcpy (source->position, data + source->prefix_size, source->position_size);
    source->live = UINT64_MAX - oms_be64_get (source->position) >= query->oldest_ns;
    return 0;
}

//  Byte order of two positions, as LMDB sorts keys: <0, 0 or >0.
static int
s_compare (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size)
{
    int order = memcmp (a, b, a_size < b_size ? a_size : b_size);
    return order ? order : a_size < b_size ? -1 : a_size > b_size;
}

//  Where a walk starts: the later (in index order) of the page token and
//  the older-than bound.
static size_t
s_start (const order_query_t *query, uint8_t *start)
{
    oms_be64_put (start, UINT64_MAX - query->newest_ns);
    if (query->start_size == 0 || s_compare (query->start, query->start_size, start, 8) <= 0)
        return 8;
    memcpy (start, query->start, query->start_size);
    return query->start_size;
}

static int
s_open (oms_txn_t *txn, oms_db_t db, const char *prefix, const uint8_t *start, size_t start_size,
        const order_query_t *query, s_source_t *source)
{
    memset (source, 0, sizeof *source);
    if (prefix) {
        source->prefix_size = strlen (prefix) + 1;
        memcpy (source->prefix, prefix, source->prefix_size);
    }
    int rc = oms_cursor_open (txn, db, &source->cursor);
    if (rc)
        return rc;
    uint8_t key[ORDER_KEY_MAX];
    memcpy (key, source->prefix, source->prefix_size);
    memcpy (key + source->prefix_size, start, start_size);
    oms_val_t found, value;
    rc = oms_cursor_seek (source->cursor, key, source->prefix_size + start_size, &found, &value);
    return s_take (source, query, rc, &found);
}

//  The live source with the smallest position; NULL when none is left.
static s_source_t *
s_next_source (s_source_t *sources, size_t n)
{
    s_source_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        s_source_t *source = &sources[i];
        if (!source->live)
            continue;
        if (!best)
            best = source;
        else {
            size_t common = source->position_size < best->position_size ? source->position_size
                                                                        : best->position_size;
            int order = memcmp (source->position, best->position, common);
            if (order < 0 || (order == 0 && source->position_size < best->position_size))
                best = source;
        }
    }
    return best;
}

//  The order an entry names, and whether it passes the filters the index
//  did not apply. An entry whose record is gone is skipped (and logged):
//  the indexes are written with the record, so it is a damaged store.
static int
s_visit (oms_txn_t *txn, const order_dbs_t *dbs, const order_query_t *query,
         const s_source_t *source, order_t *order, bool *match)
{
    char order_id[OMS_ID_MAX + 1];
    snprintf (order_id, sizeof order_id, "%.*s", (int) (source->position_size - 8),
              (const char *) source->position + 8);
    *match = false;
    int rc =
        oms_txn_get_record (txn, dbs->orders, order_id, strlen (order_id), &order_schema, order);
    if (rc == OMS_E_NOTFOUND) {
        oms_warn ("order index names order %s, which is not stored; skipped", order_id);
        return 0;
    }
    if (rc)
        return rc;
    bool status_ok = !query->statuses;
    for (int i = 0; !status_ok && oms_order_statuses[i]; i++)
        status_ok =
            (query->statuses & (1u << i)) && strcmp (order->status, oms_order_statuses[i]) == 0;
    *match = status_ok && (!query->customer[0] || strcmp (order->customer, query->customer) == 0);
    return 0;
}

int
order_index_list (oms_txn_t *txn, const order_dbs_t *dbs, const order_query_t *query,
                  order_summary_t *orders, order_page_t *page)
{
    memset (page, 0, sizeof *page);
    uint8_t start[8 + OMS_ID_MAX];
    size_t start_size = s_start (query, start);
    s_source_t sources[ORDER_STATUSES];
    size_t n = 0;
    int rc = 0;
    if (query->customer[0])
        rc = s_open (txn, dbs->by_customer, query->customer, start, start_size, query,
                     &sources[n++]);
    else if (query->statuses)
        for (int i = 0; rc == 0 && oms_order_statuses[i]; i++) {
            if (query->statuses & (1u << i))
                rc = s_open (txn, dbs->by_status, oms_order_statuses[i], start, start_size, query,
                             &sources[n++]);
        }
    else
        rc = s_open (txn, dbs->by_time, NULL, start, start_size, query, &sources[n++]);

    order_t *order = rc == 0 ? malloc (sizeof *order) : NULL;
    if (rc == 0 && !order)
        rc = OMS_E_NOMEM;
    s_source_t *source = NULL;
    while (rc == 0 && (source = s_next_source (sources, n))) {
        //  Out of visits, or one match past the limit: the next page starts
        //  at this entry.
        if (page->visited == query->visit_max) {
            page->more = true;
            break;
        }
        page->visited++;
        bool match = false;
        rc = s_visit (txn, dbs, query, source, order, &match);
        if (rc == 0 && match && page->count == query->limit) {
            page->more = true;
            break;
        }
        if (rc == 0 && match) {
            order_summary_t *summary = &orders[page->count++];
            memset (summary, 0, sizeof *summary);
            snprintf (summary->order_id, sizeof summary->order_id, "%s", order->order_id);
            snprintf (summary->status, sizeof summary->status, "%s", order->status);
            snprintf (summary->customer, sizeof summary->customer, "%s", order->customer);
            summary->total_cents = order->total_cents;
            summary->created_ns = order->created_ns;
            snprintf (summary->reason, sizeof summary->reason, "%s", order->reason);
        }
        oms_val_t key, value;
        if (rc == 0)
            rc = s_take (source, query, oms_cursor_next (source->cursor, &key, &value), &key);
    }
    if (rc == 0 && page->more)
        s_format_token (page->next, source->position, source->position_size);
    free (order);
    for (size_t i = 0; i < n; i++)
        oms_cursor_close (&sources[i].cursor);
    return rc;
}
