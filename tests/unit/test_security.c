/*  Unit tests of oms_security: the policy tables, key generation, loading a
    process's identity (and the errors when it cannot be), and CURVE between
    two sockets set up by the module, with the peer's name found from the
    message's User-Id.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "oms_config.h"
#include "oms_log.h"
#include "oms_security.h"

static char s_dir[64];
static char s_keys[128];
static char s_certs[128];
static char s_error[512];

static void
s_setup (void)
{
    unsetenv ("OMS_CONFIG");
    unsetenv ("OMS_SECURITY_CURVE");
    unsetenv ("OMS_SECURITY_CERTS");
    unsetenv ("OMS_SECURITY_KEYS");
    oms_log_init ("test", "error");
    scratch_dir_make (s_dir, sizeof s_dir, "security");
    snprintf (s_keys, sizeof s_keys, "%s/keys", s_dir);
    snprintf (s_certs, sizeof s_certs, "%s/certs", s_dir);
    s_error[0] = '\0';
}

static void
s_teardown (void)
{
    scratch_dir_remove (s_dir);
}

TestSuite (security, .init = s_setup, .fini = s_teardown);

static void
s_copy (const char *from, const char *to)
{
    zchunk_t *chunk = zchunk_slurp (from, 0);
    cr_assert (chunk, "cannot read %s", from);
    FILE *file = fopen (to, "wb");
    cr_assert (file && zchunk_write (chunk, file) == 0, "cannot write %s", to);
    fclose (file);
    zchunk_destroy (&chunk);
}

//  Makes `name`'s key pair in keys/ and, when `listed`, copies its public
//  certificate into certs/.
static void
s_identity (const char *name, bool listed)
{
    cr_assert_eq (oms_security_keygen (s_keys, name, s_error, sizeof s_error), 0, "%s", s_error);
    if (listed) {
        char from[512], to[512];
        snprintf (from, sizeof from, "%s/%s.cert", s_keys, name);
        snprintf (to, sizeof to, "%s/%s.cert", s_certs, name);
        cr_assert_eq (zsys_dir_create ("%s", s_certs), 0);
        s_copy (from, to);
    }
}

static oms_config_t *
s_config (bool curve)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_set (config, "home", s_dir, NULL, 0), 0);
    cr_assert_eq (oms_config_set (config, "security/curve", curve ? "true" : "false", NULL, 0), 0);
    return config;
}

static const char *
s_public (const char *name)
{
    static char key[41];
    char path[256];
    snprintf (path, sizeof path, "%s/%s.cert", s_keys, name);
    zcert_t *cert = zcert_load (path);
    cr_assert_not_null (cert);
    snprintf (key, sizeof key, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return key;
}

// ---------------------------------------------------------------------------
//  Policy

Test (security, a_topic_may_be_published_only_by_its_owner)
{
    static const struct {
        const char *publisher, *topic;
        bool allowed;
    } cases[] = {
        {"order", "order.confirmed", true},
        {"payment", "order.confirmed", false},
        {"inventory", "stock.reserved", true},
        {"order", "stock.reserved", false},
        {"payment", "payment.refunded", true},
        {"notification", "notification.sent", true},
        {"payment", "heartbeat.payment", true},
        {"payment", "heartbeat.order", false},
        {"broker", "heartbeat.broker", true},
        {"cli", "order.placed", false},
        {"cli", "heartbeat.cli", false},
        {"order", "order.unknown", false},
        {"order", "", false},
        {NULL, "order.placed", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq (oms_security_may_publish (cases[i].publisher, cases[i].topic),
                      cases[i].allowed, "%s publishing %s", cases[i].publisher, cases[i].topic);
}

Test (security, only_operators_run_commands_that_change_state)
{
    static const char *const reads[] = {"get",      "stock.get",   "wallet.get", "notifications",
                                        "status",   "replay",      "metrics",    "dlq.list",
                                        "dlq.show", "orders.list", "trace"};
    static const char *const writes[] = {"place",         "cancel",      "stock.set",
                                         "wallet.credit", "channel.set", "position.set",
                                         "dlq.retry",     "dlq.drop",    "not.a.command"};
    static const char *const processes[] = {"broker", "order", "inventory", "payment",
                                            "notification"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        cr_assert (oms_security_read_only (reads[i]), "%s", reads[i]);
        cr_assert (oms_security_may_command ("payment", reads[i]), "%s", reads[i]);
        cr_assert (oms_security_may_command ("cli", reads[i]), "%s", reads[i]);
        cr_assert_not (oms_security_may_command (NULL, reads[i]), "%s", reads[i]);
    }
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        cr_assert_not (oms_security_read_only (writes[i]), "%s", writes[i]);
        cr_assert (oms_security_may_command ("cli", writes[i]), "%s", writes[i]);
        cr_assert (oms_security_may_command ("alice", writes[i]), "%s", writes[i]);
        for (size_t p = 0; p < sizeof processes / sizeof processes[0]; p++)
            cr_assert_not (oms_security_may_command (processes[p], writes[i]), "%s by %s",
                           writes[i], processes[p]);
    }
}

Test (security, names_are_checked)
{
    cr_assert (oms_security_valid_name ("cli"));
    cr_assert (oms_security_valid_name ("ops-Alice_2.b"));
    cr_assert_not (oms_security_valid_name (""));
    cr_assert_not (oms_security_valid_name (NULL));
    cr_assert_not (oms_security_valid_name (".hidden"));
    cr_assert_not (oms_security_valid_name ("a/b"));
    cr_assert_not (oms_security_valid_name ("a b"));
    cr_assert_not (oms_security_valid_name ("abcdefghijklmnopqrstuvwxyz0123456"));
}

// ---------------------------------------------------------------------------
//  Keys

Test (security, keygen_writes_a_pair_and_never_overwrites)
{
    s_identity ("alice", false);
    char path[256];
    struct stat info;
    snprintf (path, sizeof path, "%s/alice.cert_secret", s_keys);
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0600);
    zcert_t *cert = zcert_load (path);
    cr_assert_not_null (cert);
    cr_assert_str_eq (zcert_meta (cert, "name"), "alice");
    cr_assert_str_eq (zcert_public_txt (cert), s_public ("alice"));
    zcert_destroy (&cert);

    cr_assert_eq (oms_security_keygen (s_keys, "alice", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "not overwritten"), "%s", s_error);
    cr_assert_eq (oms_security_keygen (s_keys, "../x", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "cannot name"), "%s", s_error);
}

Test (security, off_does_nothing_and_needs_no_keys)
{
    oms_config_t *config = s_config (false);
    oms_security_t *security = oms_security_new (config, "order", s_error, sizeof s_error);
    cr_assert_not_null (security, "%s", s_error);
    cr_assert_not (oms_security_enabled (security));
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_eq (oms_security_server (security, sock), 0);
    cr_assert_eq (oms_security_client (security, sock, "broker", s_error, sizeof s_error), 0);
    cr_assert_eq (zsock_curve_server (sock), 0);
    cr_assert_null (oms_security_peer (security, "0123456789012345678901234567890123456789"));
    zsock_destroy (&sock);
    oms_security_destroy (&security);
    oms_security_destroy (&security);
    cr_assert_not (oms_security_enabled (NULL));
    oms_config_destroy (&config);
}

Test (security, loading_fails_clearly)
{
    oms_config_t *config = s_config (true);
    cr_assert_null (oms_security_new (config, "order", s_error, sizeof s_error));
    cr_assert (strstr (s_error, "security/certs") && strstr (s_error, "No such file"), "%s",
               s_error);

    s_identity ("cli", true);
    cr_assert_null (oms_security_new (config, "order", s_error, sizeof s_error));
    cr_assert (strstr (s_error, "order.cert_secret") && strstr (s_error, "No such file"), "%s",
               s_error);

    //  A public certificate where the secret one should be.
    char from[512], to[512];
    snprintf (from, sizeof from, "%s/cli.cert", s_keys);
    snprintf (to, sizeof to, "%s/order.cert_secret", s_keys);
    s_copy (from, to);
    cr_assert_null (oms_security_new (config, "order", s_error, sizeof s_error));
    cr_assert (strstr (s_error, "no secret-key"), "%s", s_error);

    cr_assert_null (oms_security_new (config, "../cli", s_error, sizeof s_error));
    cr_assert (strstr (s_error, "cannot name"), "%s", s_error);

    oms_security_t *security = oms_security_new (config, "cli", s_error, sizeof s_error);
    cr_assert_not_null (security, "%s", s_error);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_eq (oms_security_client (security, sock, "payment", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "certs/payment.cert"), "%s", s_error);
    zsock_destroy (&sock);
    oms_security_destroy (&security);
    oms_config_destroy (&config);
}

Test (security, peers_are_named_by_their_certificates)
{
    s_identity ("order", true);
    s_identity ("cli", true);
    s_identity ("mallory", false);
    oms_config_t *config = s_config (true);
    oms_security_t *security = oms_security_new (config, "order", s_error, sizeof s_error);
    cr_assert_not_null (security, "%s", s_error);
    cr_assert_str_eq (oms_security_peer (security, s_public ("cli")), "cli");
    cr_assert_str_eq (oms_security_peer (security, s_public ("order")), "order");
    cr_assert_null (oms_security_peer (security, s_public ("mallory")));
    cr_assert_null (oms_security_peer (security, NULL));
    cr_assert_null (oms_security_peer (security, "short"));
    oms_security_destroy (&security);
    oms_config_destroy (&config);
}

// ---------------------------------------------------------------------------
//  CURVE between two sockets

//  Sends one request from a DEALER set up as `name` to a ROUTER set up as
//  order. Returns the name the server finds for it, "" when nothing came.
static const char *
s_exchange (oms_security_t *server, const char *name, int wait_ms)
{
    static char found[64];
    found[0] = '\0';
    oms_config_t *config = s_config (true);
    oms_security_t *client = oms_security_new (config, name, s_error, sizeof s_error);
    cr_assert_not_null (client, "%s", s_error);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (oms_security_server (server, router), 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert_eq (oms_security_client (client, dealer, "order", s_error, sizeof s_error), 0, "%s",
                  s_error);
    cr_assert_eq (zsock_connect (dealer, "tcp://127.0.0.1:%d", port), 0);
    zstr_send (dealer, "hello");
    zpoller_t *poller = zpoller_new (router, NULL);
    if (zpoller_wait (poller, wait_ms) == router) {
        zmsg_t *msg = zmsg_recv (router);
        const char *peer = oms_security_peer (server, zframe_meta (zmsg_last (msg), "User-Id"));
        snprintf (found, sizeof found, "%s", peer ? peer : "(unknown)");
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    oms_security_destroy (&client);
    oms_config_destroy (&config);
    return found;
}

Test (security, a_listed_client_is_named_and_an_unlisted_one_refused)
{
    s_identity ("order", true);
    s_identity ("cli", true);
    s_identity ("mallory", false);
    oms_config_t *config = s_config (true);
    oms_security_t *server = oms_security_new (config, "order", s_error, sizeof s_error);
    cr_assert_not_null (server, "%s", s_error);
    cr_assert_str_eq (s_exchange (server, "cli", 5000), "cli");
    cr_assert_str_eq (s_exchange (server, "mallory", 500), "");
    oms_security_destroy (&server);
    oms_config_destroy (&config);
}
