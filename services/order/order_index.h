/*  order_index: the order record and the three indexes the order service
    keeps beside it, so that listing orders (orders.list) never scans them
    all.

    Every index key ends in the same position: be64 (UINT64_MAX - created_ns)
    then the order id, so byte order is newest first and a cursor, which only
    walks forward, reads orders from the newest. The indexes are

        by_time      be64 inverted created_ns, order_id
        by_status    status \0 be64 inverted created_ns, order_id
        by_customer  customer \0 be64 inverted created_ns, order_id

    all with empty values: an entry names an order of `orders`. order_save
    writes a record and moves its index entries in the caller's transaction,
    so an index is never out of step with what was committed.

    A listing picks one index (the customer's if a customer is given, else
    one cursor per status asked for, merged newest first, else the time
    index), seeks to its start (the page token, or the --older-than bound),
    and walks forward until it has found limit + 1 orders, passed the --since
    bound, or visited ORDER_VISIT_MAX entries. Its cost is one seek per
    cursor and one record read per entry visited.
*/
#ifndef ORDER_INDEX_H
#define ORDER_INDEX_H

#include "oms_proto.h"
#include "oms_store.h"

typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char status[16];
    char customer[OMS_ID_MAX + 1];
    oms_item_t items[OMS_ITEMS_MAX];
    uint32_t n_items;
    int64_t total_cents;
    char reason[OMS_TEXT_MAX + 1];
    char method[OMS_NAME_MAX + 1];
    char card_last4[5];
    uint64_t created_ns;
    uint64_t deadline_ns;
} order_t;

//  The record as `orders` keeps it (docs/ARCHITECTURE.md, "Stores").
extern const oms_schema_t order_schema;

//  A set of statuses is a bit mask over oms_order_statuses (bit i for
//  oms_order_statuses[i]).
#define ORDER_STATUSES 4

//  The sub-databases of the record and its indexes.
typedef struct {
    oms_db_t orders, by_time, by_status, by_customer;
} order_dbs_t;

//  The names order_dbs_t's handles are found by, in its order.
#define ORDER_DB_NAMES "orders", "by_time", "by_status", "by_customer"

//  The longest index key: a prefix of an id and \0, be64, an id.
#define ORDER_KEY_MAX (OMS_ID_MAX + 1 + 8 + OMS_ID_MAX)

//  Writes an index key into `key` (ORDER_KEY_MAX bytes): `prefix` and \0
//  when prefix is not NULL (a status or a customer), then the position of
//  (created_ns, order_id). Returns its length.
size_t order_index_key (uint8_t *key, const char *prefix, uint64_t created_ns,
                        const char *order_id);

//  Writes the record and keeps the indexes in step: a new order gets its
//  three entries; one whose status (or customer, or created_ns) changed
//  loses its old entry and gets the new one. Reads the stored record first.
//  0, or the store's error.
int order_save (oms_txn_t *txn, const order_dbs_t *dbs, const order_t *order);

//  Whether the indexes must be built: the time index does not hold one entry
//  per order (a store made before the indexes existed, or written by a
//  version that did not keep them). 0 with *stale set, or the store's error.
int order_index_stale (oms_txn_t *txn, const order_dbs_t *dbs, bool *stale);

//  Empties the three indexes and builds them from every record of `orders`,
//  in the caller's (write) transaction; *count is the number of orders
//  indexed. A record that does not decode fails the whole rebuild.
int order_index_rebuild (oms_txn_t *txn, const order_dbs_t *dbs, uint64_t *count);

// ---------------------------------------------------------------------------
//  Listing

#define ORDER_LIST_DEFAULT 50
#define ORDER_LIST_MAX     OMS_LIST_MAX
//  Entries one listing visits at most; past that it stops with a next token
//  where it stopped, so a customer with many orders but few matching the
//  status asked for cannot make one request walk them all.
#define ORDER_VISIT_MAX 10000

//  A page token: 16 lowercase hex digits of created_ns, then the order id,
//  of the first order the next page starts with. Clients treat it as
//  opaque.
#define ORDER_TOKEN_MAX (16 + OMS_ID_MAX)

typedef struct {
    unsigned statuses;             //  bit mask over order_statuses; 0: any
    char customer[OMS_ID_MAX + 1]; //  "": any
    uint64_t newest_ns;            //  created_ns <= this (--older-than)
    uint64_t oldest_ns;            //  created_ns >= this (--since)
    uint8_t start[8 + OMS_ID_MAX]; //  position to start at (the page token), or
    size_t start_size;             //  0 for the newest
    uint32_t limit;                //  1..ORDER_LIST_MAX
    uint32_t visit_max;            //  ORDER_VISIT_MAX unless a test says otherwise
} order_query_t;

//  What a listing shows of an order.
typedef struct {
    char order_id[OMS_ID_MAX + 1];
    char status[16];
    char customer[OMS_ID_MAX + 1];
    int64_t total_cents;
    uint64_t created_ns;
    char reason[OMS_TEXT_MAX + 1];
} order_summary_t;

//  Its reply layout: {order_id, status, customer, total_cents, created_ns,
//  reason?}.
extern const oms_schema_t order_summary_schema;

typedef struct {
    uint32_t count;                 //  orders found, at most limit
    bool more;                      //  there may be more: next holds the token
    char next[ORDER_TOKEN_MAX + 1]; //  "" when no more
    uint64_t visited;               //  index entries read
} order_page_t;

//  "PENDING,RESERVED" into a status mask. 0, or -1 with `error` naming the
//  status that is not one.
int order_parse_statuses (const char *text, unsigned *mask, char *error, size_t size);

//  Makes a query from a request's fields (status, customer, since_ns,
//  older_than_ns, page, limit), `now_ns` being the service's clock. 0, or -1
//  with `error` saying which field is wrong.
int order_query_make (order_query_t *query, const oms_request_t *request, uint64_t now_ns,
                      char *error, size_t size);

//  Walks the index the query picks: fills orders[0..page->count) (an array
//  of query->limit), newest first, and `page`. 0, or the store's error.
int order_index_list (oms_txn_t *txn, const order_dbs_t *dbs, const order_query_t *query,
                      order_summary_t *orders, order_page_t *page);

#endif
