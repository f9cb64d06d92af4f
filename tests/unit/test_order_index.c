/*  Unit tests of order_index: the key layout, the indexes kept in step by
    order_save, the rebuild of a store made before them, and the listing
    walk (filters, the merge of several statuses, bounds, pages, the visit
    budget), on a scratch store.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "scratch_dir.h"
#include "order_index.h"

static char s_dir[64];
static oms_store_t *s_store;
static order_dbs_t s_dbs;
static const char *const s_names[] = {ORDER_DB_NAMES, NULL};

static void
s_setup (void)
{
    scratch_dir_make (s_dir, sizeof s_dir, "order-index");
    s_store = oms_store_new (s_dir, s_names, 64, true);
    cr_assert_not_null (s_store);
    cr_assert_eq (oms_store_db (s_store, "orders", &s_dbs.orders), 0);
    cr_assert_eq (oms_store_db (s_store, "by_time", &s_dbs.by_time), 0);
    cr_assert_eq (oms_store_db (s_store, "by_status", &s_dbs.by_status), 0);
    cr_assert_eq (oms_store_db (s_store, "by_customer", &s_dbs.by_customer), 0);
}

static void
s_teardown (void)
{
    oms_store_destroy (&s_store);
    scratch_dir_remove (s_dir);
}

TestSuite (order_index, .init = s_setup, .fini = s_teardown);

static order_t
s_order (unsigned n, const char *status, const char *customer, uint64_t created_ns)
{
    order_t order;
    memset (&order, 0, sizeof order);
    snprintf (order.order_id, sizeof order.order_id, "o-%u", n);
    snprintf (order.status, sizeof order.status, "%s", status);
    snprintf (order.customer, sizeof order.customer, "%s", customer);
    snprintf (order.items[0].sku, sizeof order.items[0].sku, "SKU-1");
    order.items[0].qty = 1;
    order.n_items = 1;
    order.total_cents = 100 * n;
    snprintf (order.method, sizeof order.method, "cod");
    order.created_ns = created_ns;
    return order;
}

static oms_txn_t *
s_begin (bool write)
{
    oms_txn_t *txn;
    cr_assert_eq (oms_store_begin (s_store, write, &txn), 0);
    return txn;
}

static void
s_commit (oms_txn_t **txn)
{
    cr_assert_eq (oms_txn_commit (txn), 0);
}

static uint64_t
s_count (oms_txn_t *txn, oms_db_t db)
{
    uint64_t count = 0;
    cr_assert_eq (oms_txn_count (txn, db, &count), 0);
    return count;
}

static bool
s_has (oms_txn_t *txn, oms_db_t db, const char *prefix, const order_t *order)
{
    uint8_t key[ORDER_KEY_MAX];
    oms_val_t value;
    size_t size = order_index_key (key, prefix, order->created_ns, order->order_id);
    return oms_txn_get (txn, db, key, size, &value) == 0;
}

//  Orders o-1 .. o-20 created at 1001 .. 1020 ns: odd ones PENDING, every
//  fourth CANCELLED, the others CONFIRMED; customers c0 and c1 alternate.
static void
s_fill (void)
{
    oms_txn_t *txn = s_begin (true);
    for (unsigned n = 1; n <= 20; n++) {
        const char *status = n % 2 ? "PENDING" : n % 4 == 0 ? "CANCELLED" : "CONFIRMED";
        order_t order = s_order (n, status, n % 2 ? "c1" : "c0", 1000 + n);
        cr_assert_eq (order_save (txn, &s_dbs, &order), 0);
    }
    s_commit (&txn);
}

//  Lists with `query`, and the page's ids joined with spaces into `ids`.
static order_page_t
s_list (const order_query_t *query, char *ids, size_t size)
{
    order_summary_t orders[ORDER_LIST_MAX];
    order_page_t page;
    oms_txn_t *txn = s_begin (false);
    cr_assert_eq (order_index_list (txn, &s_dbs, query, orders, &page), 0);
    oms_txn_abort (&txn);
    ids[0] = 0;
    for (uint32_t i = 0; i < page.count; i++)
        snprintf (ids + strlen (ids), size - strlen (ids), "%s%s", i ? " " : "",
                  orders[i].order_id);
    return page;
}

static order_query_t
s_query (const char *status, const char *customer, uint64_t since_ns, uint64_t older_than_ns,
         const char *token, uint64_t limit, uint64_t now_ns)
{
    oms_request_t request;
    memset (&request, 0, sizeof request);
    snprintf (request.status, sizeof request.status, "%s", status ? status : "");
    snprintf (request.customer, sizeof request.customer, "%s", customer ? customer : "");
    snprintf (request.page, sizeof request.page, "%s", token ? token : "");
    request.since_ns = since_ns;
    request.older_than_ns = older_than_ns;
    request.limit = limit;
    order_query_t query;
    char error[256] = "";
    cr_assert_eq (order_query_make (&query, &request, now_ns, error, sizeof error), 0, "%s", error);
    return query;
}

Test (order_index, keys_sort_newest_first_then_by_id)
{
    uint8_t newer[ORDER_KEY_MAX], older[ORDER_KEY_MAX], twin[ORDER_KEY_MAX];
    size_t newer_size = order_index_key (newer, NULL, 2000, "o-2");
    size_t older_size = order_index_key (older, NULL, 1000, "o-1");
    size_t twin_size = order_index_key (twin, NULL, 2000, "o-3");
    cr_assert_eq (newer_size, 8 + 3);
    cr_assert_eq (oms_be64_get (newer), UINT64_MAX - 2000);
    cr_assert_eq (memcmp (newer + 8, "o-2", 3), 0);
    cr_assert_lt (memcmp (newer, older, 8), 0, "the newer order sorts first");
    cr_assert_lt (memcmp (newer, twin, newer_size), 0, "same time: by order id");
    (void) older_size;
    (void) twin_size;
}

Test (order_index, keys_with_a_prefix_put_it_and_a_zero_first)
{
    uint8_t key[ORDER_KEY_MAX];
    size_t size = order_index_key (key, "PENDING", 5, "o-9");
    cr_assert_eq (size, 8 + 8 + 3);
    cr_assert_eq (memcmp (key, "PENDING\0", 8), 0);
    cr_assert_eq (oms_be64_get (key + 8), UINT64_MAX - 5);
    cr_assert_eq (memcmp (key + 16, "o-9", 3), 0);
}

Test (order_index, save_keeps_every_index_in_step_with_the_status)
{
    order_t order = s_order (1, "PENDING", "alice", 1234);
    oms_txn_t *txn = s_begin (true);
    cr_assert_eq (order_save (txn, &s_dbs, &order), 0);
    cr_assert (s_has (txn, s_dbs.by_time, NULL, &order));
    cr_assert (s_has (txn, s_dbs.by_status, "PENDING", &order));
    cr_assert (s_has (txn, s_dbs.by_customer, "alice", &order));
    snprintf (order.status, sizeof order.status, "CONFIRMED");
    cr_assert_eq (order_save (txn, &s_dbs, &order), 0);
    cr_assert (s_has (txn, s_dbs.by_status, "CONFIRMED", &order));
    cr_assert_not (s_has (txn, s_dbs.by_status, "PENDING", &order), "the old status entry goes");
    cr_assert_eq (order_save (txn, &s_dbs, &order), 0, "saving unchanged is fine");
    cr_assert_eq (s_count (txn, s_dbs.by_time), 1);
    cr_assert_eq (s_count (txn, s_dbs.by_status), 1);
    cr_assert_eq (s_count (txn, s_dbs.by_customer), 1);
    bool stale = true;
    cr_assert_eq (order_index_stale (txn, &s_dbs, &stale), 0);
    cr_assert_not (stale);
    s_commit (&txn);
}

Test (order_index, a_store_without_indexes_is_stale_and_rebuilt_whole)
{
    oms_txn_t *txn = s_begin (true);
    //  Records written as a store made before the indexes kept them, and a
    //  stray entry the rebuild must not keep.
    for (unsigned n = 1; n <= 5; n++) {
        order_t order = s_order (n, n == 3 ? "CANCELLED" : "CONFIRMED", "bob", 100 * n);
        cr_assert_eq (oms_txn_put_record (txn, s_dbs.orders, order.order_id,
                                          strlen (order.order_id), &order_schema, &order),
                      0);
    }
    order_t ghost = s_order (99, "PENDING", "nobody", 7);
    uint8_t key[ORDER_KEY_MAX];
    cr_assert_eq (oms_txn_put (txn, s_dbs.by_status, key,
                               order_index_key (key, "PENDING", 7, ghost.order_id), "", 0),
                  0);
    bool stale = false;
    cr_assert_eq (order_index_stale (txn, &s_dbs, &stale), 0);
    cr_assert (stale, "5 orders, no time index entries");
    uint64_t count = 0;
    cr_assert_eq (order_index_rebuild (txn, &s_dbs, &count), 0);
    cr_assert_eq (count, 5);
    cr_assert_eq (s_count (txn, s_dbs.by_time), 5);
    cr_assert_eq (s_count (txn, s_dbs.by_status), 5, "the stray entry is gone");
    cr_assert_eq (s_count (txn, s_dbs.by_customer), 5);
    cr_assert_eq (order_index_stale (txn, &s_dbs, &stale), 0);
    cr_assert_not (stale);
    s_commit (&txn);

    char ids[512];
    order_query_t query = s_query ("CANCELLED", NULL, 0, 0, NULL, 0, 10000);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-3");
    query = s_query (NULL, "bob", 0, 0, NULL, 0, 10000);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-5 o-4 o-3 o-2 o-1");
}

Test (order_index, rebuild_of_an_empty_store_indexes_nothing)
{
    oms_txn_t *txn = s_begin (true);
    bool stale = true;
    uint64_t count = 1;
    cr_assert_eq (order_index_stale (txn, &s_dbs, &stale), 0);
    cr_assert_not (stale, "a new store needs no rebuild");
    cr_assert_eq (order_index_rebuild (txn, &s_dbs, &count), 0);
    cr_assert_eq (count, 0);
    s_commit (&txn);
}

Test (order_index, lists_newest_first_and_pages_through_everything)
{
    s_fill ();
    char ids[512], all[1024] = "";
    order_query_t query = s_query (NULL, NULL, 0, 0, NULL, 0, 5000);
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_eq (page.count, 20, "the default limit is 50");
    cr_assert_not (page.more);
    cr_assert_str_eq (page.next, "");
    cr_assert_str_eq (ids, "o-20 o-19 o-18 o-17 o-16 o-15 o-14 o-13 o-12 o-11 o-10 o-9 o-8 o-7 "
                           "o-6 o-5 o-4 o-3 o-2 o-1");

    char token[ORDER_TOKEN_MAX + 1] = "";
    unsigned pages = 0;
    do {
        query = s_query (NULL, NULL, 0, 0, token[0] ? token : NULL, 7, 5000);
        page = s_list (&query, ids, sizeof ids);
        snprintf (all + strlen (all), sizeof all - strlen (all), "%s%s", pages ? " " : "", ids);
        snprintf (token, sizeof token, "%s", page.next);
        pages++;
        cr_assert_lt (pages, 10);
    } while (page.more);
    cr_assert_eq (pages, 3, "7 + 7 + 6");
    cr_assert_eq (page.count, 6);
    cr_assert_str_eq (all, "o-20 o-19 o-18 o-17 o-16 o-15 o-14 o-13 o-12 o-11 o-10 o-9 o-8 o-7 "
                           "o-6 o-5 o-4 o-3 o-2 o-1");
}

Test (order_index, the_token_names_the_first_order_of_the_next_page)
{
    s_fill ();
    char ids[512];
    order_query_t query = s_query (NULL, NULL, 0, 0, NULL, 2, 5000);
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-20 o-19");
    cr_assert (page.more);
    cr_assert_str_eq (page.next, "00000000000003fao-18", "created_ns 1018 in hex, then the id");
    cr_assert_eq (page.visited, 3, "limit + 1 entries");
}

Test (order_index, merges_several_statuses_newest_first)
{
    s_fill ();
    char ids[512];
    order_query_t query = s_query ("CANCELLED,PENDING", NULL, 0, 0, NULL, 6, 5000);
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-20 o-19 o-17 o-16 o-15 o-13");
    cr_assert (page.more);
    query = s_query ("CANCELLED,PENDING", NULL, 0, 0, page.next, 6, 5000);
    page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-12 o-11 o-9 o-8 o-7 o-5");
    query = s_query ("CANCELLED,PENDING", NULL, 0, 0, page.next, 6, 5000);
    page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-4 o-3 o-1");
    cr_assert_not (page.more);
    cr_assert_eq (page.visited, 3, "the status index visits only matching orders");
}

Test (order_index, filters_a_customer_by_status)
{
    s_fill ();
    char ids[512];
    order_query_t query = s_query ("CONFIRMED", "c0", 0, 0, NULL, 0, 5000);
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-18 o-14 o-10 o-6 o-2");
    cr_assert_eq (page.visited, 10, "every order of c0 is visited once");
    query = s_query ("PENDING", "c0", 0, 0, NULL, 0, 5000);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "", "c0's orders are all even");
    query = s_query (NULL, "nobody", 0, 0, NULL, 0, 5000);
    page = s_list (&query, ids, sizeof ids);
    cr_assert_eq (page.count, 0);
    cr_assert_eq (page.visited, 0);
}

Test (order_index, since_and_older_than_bound_the_walk)
{
    s_fill ();
    char ids[512];
    //  now 1020: older than 15 ns is created at most 1005; since 3 ns is at least 1017.
    order_query_t query = s_query (NULL, NULL, 0, 15, NULL, 0, 1020);
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-5 o-4 o-3 o-2 o-1");
    cr_assert_eq (page.visited, 5, "the walk starts at the bound");
    query = s_query (NULL, NULL, 3, 0, NULL, 0, 1020);
    page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-20 o-19 o-18 o-17");
    cr_assert_eq (page.visited, 4, "and stops at the other");
    query = s_query ("PENDING,RESERVED", NULL, 0, 10, NULL, 0, 1020);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-9 o-7 o-5 o-3 o-1", "the stuck-order report");
    query = s_query (NULL, NULL, 10, 12, NULL, 0, 1020);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "", "since 10 ns but older than 12 ns: an empty window");
    query = s_query (NULL, NULL, 12, 10, NULL, 0, 1020);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-10 o-9 o-8", "created between 1008 and 1010");
    query = s_query (NULL, NULL, 0, 5000, NULL, 0, 1020);
    s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "", "older than the clock: nothing");
    query = s_query (NULL, NULL, 5000, 0, NULL, 0, 1020);
    s_list (&query, ids, sizeof ids);
    cr_assert (strlen (ids) > 0, "since before the clock began: everything");
}

Test (order_index, the_visit_budget_ends_a_page_where_it_stopped)
{
    s_fill ();
    char ids[512];
    order_query_t query = s_query ("CANCELLED", "c0", 0, 0, NULL, 0, 5000);
    query.visit_max = 3;
    order_page_t page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-20 o-16", "o-20, o-18, o-16 visited");
    cr_assert (page.more);
    cr_assert_str_eq (page.next, "00000000000003f6o-14");
    query = s_query ("CANCELLED", "c0", 0, 0, page.next, 0, 5000);
    query.visit_max = 3;
    page = s_list (&query, ids, sizeof ids);
    cr_assert_str_eq (ids, "o-12");
}

Test (order_index, parses_status_lists)
{
    unsigned mask = 0;
    char error[256];
    cr_assert_eq (order_parse_statuses ("PENDING,RESERVED", &mask, error, sizeof error), 0);
    cr_assert_eq (mask, 3u);
    cr_assert_eq (order_parse_statuses ("CANCELLED", &mask, error, sizeof error), 0);
    cr_assert_eq (mask, 8u);
    static const char *const bad[] = {"",        "SHIPPED",           "PENDING,",        ",PENDING",
                                      "pending", "PENDING,,RESERVED", "PENDING RESERVED"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        error[0] = 0;
        cr_assert_eq (order_parse_statuses (bad[i], &mask, error, sizeof error), -1, "%s", bad[i]);
        cr_assert (strstr (error, "unknown status"), "%s: %s", bad[i], error);
    }
}

Test (order_index, refuses_a_bad_token_or_limit)
{
    static const char *const tokens[] = {"abc", "00000000000003f6", "00000000000003Fao-1",
                                         "zz000000000003f6o-1"};
    oms_request_t request;
    order_query_t query;
    char error[256];
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        memset (&request, 0, sizeof request);
        snprintf (request.page, sizeof request.page, "%s", tokens[i]);
        cr_assert_eq (order_query_make (&query, &request, 100, error, sizeof error), -1, "%s",
                      tokens[i]);
        cr_assert (strstr (error, "page"), "%s", error);
    }
    memset (&request, 0, sizeof request);
    request.limit = ORDER_LIST_MAX + 1;
    cr_assert_eq (order_query_make (&query, &request, 100, error, sizeof error), -1);
    cr_assert (strstr (error, "limit"), "%s", error);
    snprintf (request.status, sizeof request.status, "LOST");
    request.limit = 0;
    cr_assert_eq (order_query_make (&query, &request, 100, error, sizeof error), -1);
    cr_assert (strstr (error, "LOST"), "%s", error);
}
