/*  bench_order_index: what an orders.list costs at a million orders.

    Fills a scratch order store through order_save (the service's own write
    path: record and three index entries) with N synthetic orders, one every
    100 ms of created_ns, committing every 10,000, then times listings of
    each kind and the rebuild an older store gets at start-up. Prints one
    line per query: mean and worst time over its repetitions, the orders
    found and the index entries visited. docs/BENCHMARKS.md has the figures.

    usage: bench_order_index [ORDERS [DIR]]   (default 1000000, a new
    directory under $TMPDIR, removed at the end)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#include "oms_clock.h"
#include "order_index.h"

#define STEP_NS   100000000ull //  one order every 100 ms
#define COMMIT    10000
#define CUSTOMERS 10000
#define REPEAT    200

static const char *const s_names[] = {ORDER_DB_NAMES, NULL};

//  Statuses: 89% CONFIRMED, 10% CANCELLED, 0.1% stuck PENDING spread over
//  the whole history, and the newest 300 in flight (younger than 30 s).
static const char *
s_status (uint64_t i, uint64_t n)
{
    if (i >= n - 300)
        return i % 2 ? "RESERVED" : "PENDING";
    if (i % 1000 == 7)
        return "PENDING";
    return i % 10 == 3 ? "CANCELLED" : "CONFIRMED";
}

//  Spreads orders over customers so that each has every status.
static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static double
s_seconds (uint64_t since)
{
    return (double) (oms_clock_steady_ns () - since) / 1e9;
}

//  Fills through order_save, or (indexed false) by writing the records
//  alone, as the service did before the indexes: the difference is what
//  the indexes cost each write.
static int
s_fill (oms_store_t *store, const order_dbs_t *dbs, uint64_t n, uint64_t base, bool indexed)
{
    order_t order;
    memset (&order, 0, sizeof order);
    snprintf (order.items[0].sku, sizeof order.items[0].sku, "SKU-1");
    order.items[0].qty = 1;
    order.n_items = 1;
    snprintf (order.method, sizeof order.method, "cod");
    oms_txn_t *txn = NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (!txn && oms_store_begin (store, true, &txn))
            return -1;
        snprintf (order.order_id, sizeof order.order_id, "o-%llu", (unsigned long long) i + 1);
        snprintf (order.customer, sizeof order.customer, "c%llu",
                  (unsigned long long) (s_mix (i) % CUSTOMERS));
        snprintf (order.status, sizeof order.status, "%s", s_status (i, n));
        order.total_cents = (int64_t) (i % 5000) + 100;
        order.created_ns = base + i * STEP_NS;
        if (indexed ? order_save (txn, dbs, &order)
                    : oms_txn_put_record (txn, dbs->orders, order.order_id, strlen (order.order_id),
                                          &order_schema, &order))
            return -1;
        if ((i + 1) % COMMIT == 0 || i + 1 == n)
            if (oms_txn_commit (&txn))
                return -1;
    }
    return 0;
}

static void
s_dbs (oms_store_t *store, order_dbs_t *dbs)
{
    oms_store_db (store, "orders", &dbs->orders);
    oms_store_db (store, "by_time", &dbs->by_time);
    oms_store_db (store, "by_status", &dbs->by_status);
    oms_store_db (store, "by_customer", &dbs->by_customer);
}

typedef struct {
    const char *name;
    const char *status;
    const char *customer;
    uint64_t since_ns, older_than_ns, limit;
    bool deep; //  start at a page token halfway through the history
} s_case_t;

static int
s_time (oms_store_t *store, const order_dbs_t *dbs, const s_case_t *c, uint64_t now,
        uint64_t middle_ns)
{
    oms_request_t request;
    memset (&request, 0, sizeof request);
    snprintf (request.status, sizeof request.status, "%s", c->status ? c->status : "");
    snprintf (request.customer, sizeof request.customer, "%s", c->customer ? c->customer : "");
    if (c->deep)
        snprintf (request.page, sizeof request.page, "%016llxo-", (unsigned long long) middle_ns);
    request.since_ns = c->since_ns;
    request.older_than_ns = c->older_than_ns;
    request.limit = c->limit;
    order_query_t query;
    char error[256];
    if (order_query_make (&query, &request, now, error, sizeof error)) {
        fprintf (stderr, "%s: %s\n", c->name, error);
        return -1;
    }
    order_summary_t *orders = calloc (query.limit, sizeof *orders);
    order_page_t page;
    double total = 0, worst = 0;
    for (int r = 0; r < REPEAT; r++) {
        oms_txn_t *txn;
        uint64_t start = oms_clock_steady_ns ();
        if (oms_store_begin (store, false, &txn))
            return -1;
        int rc = order_index_list (txn, dbs, &query, orders, &page);
        oms_txn_abort (&txn);
        double took = s_seconds (start);
        if (rc)
            return -1;
        total += took;
        worst = took > worst ? took : worst;
    }
    printf ("%-44s %9.1f %9.1f %7u %8llu %5s\n", c->name, total / REPEAT * 1e6, worst * 1e6,
            page.count, (unsigned long long) page.visited, page.more ? "yes" : "no");
    free (orders);
    return 0;
}

int
main (int argc, char *argv[])
{
    uint64_t n = argc > 1 ? strtoull (argv[1], NULL, 10) : 1000000;
    char dir[256];
    const char *tmp = getenv ("TMPDIR");
    if (argc > 2)
        snprintf (dir, sizeof dir, "%s", argv[2]);
    else {
        snprintf (dir, sizeof dir, "%s/oms-bench-index-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp (dir))
            return 1;
    }
    if (n < 1000) {
        fprintf (stderr, "at least 1000 orders\n");
        return 1;
    }
    oms_store_t *store = oms_store_new (dir, s_names, 4096, true);
    if (!store)
        return 1;
    order_dbs_t dbs;
    s_dbs (store, &dbs);

    uint64_t base = oms_clock_wall_ns () - n * STEP_NS;
    //  First the records alone, then (emptied) through order_save.
    uint64_t start = oms_clock_steady_ns ();
    if (s_fill (store, &dbs, n, base, false)) {
        fprintf (stderr, "fill failed\n");
        return 1;
    }
    double bare = s_seconds (start);
    printf ("wrote %llu records alone (no index) in %.1f s (%.2f µs per order)\n",
            (unsigned long long) n, bare, bare / (double) n * 1e6);
    oms_store_destroy (&store);
    char data[300];
    snprintf (data, sizeof data, "%s/data.mdb", dir);
    remove (data);
    store = oms_store_new (dir, s_names, 4096, true);
    if (!store)
        return 1;
    s_dbs (store, &dbs);
    start = oms_clock_steady_ns ();
    if (s_fill (store, &dbs, n, base, true)) {
        fprintf (stderr, "fill failed\n");
        return 1;
    }
    double fill = s_seconds (start);
    printf ("filled %llu orders through order_save in %.1f s (%.2f µs per order, a commit every "
            "%d)\n",
            (unsigned long long) n, fill, fill / (double) n * 1e6, COMMIT);
    printf ("store: %.0f MiB in use for records and indexes\n",
            (double) zsys_file_size (data) / (1024 * 1024));
    uint64_t now = base + n * STEP_NS + 1000000000ull;
    uint64_t middle = base + (n / 2 - 1) * STEP_NS;

    static const s_case_t cases[] = {
        {"newest 50", NULL, NULL, 0, 0, 0, false},
        {"newest 1000", NULL, NULL, 0, 0, 1000, false},
        {"page 50 from the middle (token)", NULL, NULL, 0, 0, 0, true},
        {"stuck: PENDING,RESERVED older than 30s", "PENDING,RESERVED", NULL, 0, 30000000000ull, 0,
         false},
        {"stuck, 1000", "PENDING,RESERVED", NULL, 0, 30000000000ull, 1000, false},
        {"CANCELLED, 50", "CANCELLED", NULL, 0, 0, 0, false},
        {"all four statuses merged, 50", "PENDING,RESERVED,CONFIRMED,CANCELLED", NULL, 0, 0, 0,
         false},
        {"customer c42, 50", NULL, "c42", 0, 0, 0, false},
        {"customer c42, CANCELLED (filtered)", "CANCELLED", "c42", 0, 0, 0, false},
        {"customer c42, PENDING (rare, walks all)", "PENDING", "c42", 0, 0, 0, false},
        {"since 1h, 1000", NULL, NULL, 3600000000000ull, 0, 1000, false},
        {"older than 1d, 50", NULL, NULL, 0, 86400000000000ull, 0, false},
    };
    printf ("%-44s %9s %9s %7s %8s %5s\n", "query", "mean µs", "worst µs", "orders", "visited",
            "more");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (s_time (store, &dbs, &cases[i], now, middle))
            return 1;

    oms_txn_t *txn;
    uint64_t count = 0;
    start = oms_clock_steady_ns ();
    if (oms_store_begin (store, true, &txn) || order_index_rebuild (txn, &dbs, &count) ||
        oms_txn_commit (&txn)) {
        fprintf (stderr, "rebuild failed\n");
        return 1;
    }
    printf ("rebuilt the indexes of %llu orders in one transaction in %.1f s\n",
            (unsigned long long) count, s_seconds (start));
    oms_store_destroy (&store);
    if (argc <= 2) {
        zdir_t *scratch = zdir_new (dir, NULL);
        if (scratch) {
            zdir_remove (scratch, true);
            zdir_destroy (&scratch);
        }
    }
    return 0;
}
