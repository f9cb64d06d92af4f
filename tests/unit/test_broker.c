/*  oms-broker, tested as a process: each test starts the real binary on its
    own free loopback ports, with its log in its own temporary directory, and
    talks to it over tcp like the services do.

    Nothing waits for a fixed time: a test publishes probes until its
    subscribers have seen one (the broker is up and the subscriptions have
    reached the publisher), and every wait has a deadline.
*/
#include <criterion/criterion.h>
#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "oms_clock.h"
#include "oms_proto.h"

extern char **environ;

#define DEADLINE_MS 10000
#define PROBE       "probe"

static pid_t s_broker = -1;
static char s_dir[PATH_MAX];
static char s_log[PATH_MAX + 16];
static char s_frontend[64];
static char s_backend[64];
static char s_tap[64];

// ---------------------------------------------------------------------------
//  The broker process

//  Picks `count` free loopback ports. The throwaway sockets stay open until
//  all are read, so that no two of the ports can be the same.
static void
s_free_ports (int *ports, int count)
{
    int fds[8];
    cr_assert_leq (count, 8);
    for (int index = 0; index < count; index++) {
        fds[index] = socket (AF_INET, SOCK_STREAM, 0);
        cr_assert_geq (fds[index], 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
        cr_assert_eq (bind (fds[index], (struct sockaddr *) &address, sizeof (address)), 0);
        socklen_t length = sizeof (address);
        cr_assert_eq (getsockname (fds[index], (struct sockaddr *) &address, &length), 0);
        ports[index] = ntohs (address.sin_port);
    }
    for (int index = 0; index < count; index++)
        close (fds[index]);
}

static void
s_setup (void)
{
    scratch_dir_make (s_dir, sizeof s_dir, "broker");
    snprintf (s_log, sizeof (s_log), "%s/broker.log", s_dir);
    int ports[3];
    s_free_ports (ports, 3);
    snprintf (s_frontend, sizeof (s_frontend), "tcp://127.0.0.1:%d", ports[0]);
    snprintf (s_backend, sizeof (s_backend), "tcp://127.0.0.1:%d", ports[1]);
    snprintf (s_tap, sizeof (s_tap), "tcp://127.0.0.1:%d", ports[2]);
}

static void
s_teardown (void)
{
    if (s_broker > 0) {
        kill (s_broker, SIGKILL);
        waitpid (s_broker, NULL, 0);
        s_broker = -1;
    }
    scratch_dir_remove (s_dir);
}

//  Starts oms-broker with `args` (NULL-terminated), stdout and stderr
//  appended to the test's log. The child gets no OMS_* variables, so only
//  the test's flags and files configure it.
static void
s_start (const char *const *args)
{
    const char *build = getenv ("OMS_BUILD_DIR");
    char program[PATH_MAX];
    snprintf (program, sizeof (program), "%s/broker/oms-broker", build && *build ? build : "build");

    char *argv[32];
    size_t argc = 0;
    argv[argc++] = program;
    for (; *args; args++) {
        cr_assert_lt (argc, 31);
        argv[argc++] = (char *) *args;
    }
    argv[argc] = NULL;

    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = (char **) calloc (n_env + 1, sizeof (char *));
    size_t kept = 0;
    for (size_t index = 0; index < n_env; index++)
        if (strncmp (environ[index], "OMS_", 4))
            envp[kept++] = environ[index];
    envp[kept] = NULL;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, s_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    //  Whatever the test runner blocks or ignores, the broker must see
    //  SIGTERM as it would in production.
    posix_spawnattr_t attr;
    posix_spawnattr_init (&attr);
    sigset_t none, defaults;
    sigemptyset (&none);
    sigemptyset (&defaults);
    sigaddset (&defaults, SIGINT);
    sigaddset (&defaults, SIGTERM);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &defaults);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    int rc = posix_spawn (&s_broker, program, &actions, &attr, argv, envp);
    posix_spawnattr_destroy (&attr);
    posix_spawn_file_actions_destroy (&actions);
    free (envp);
    cr_assert_eq (rc, 0, "cannot start %s: %s", program, strerror (rc));
}

//  The usual broker: the fixture's endpoints, a fast heartbeat.
static void
s_start_default (void)
{
    const char *args[] = {"--frontend", s_frontend, "--backend", s_backend,
                          "--tap",      s_tap,      "--set",     "runtime/heartbeat_ms=100",
                          NULL};
    s_start (args);
}

//  Waits for the broker to exit; its wait status, or -1 past the deadline.
static int
s_wait_exit (int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int status;
        pid_t pid = waitpid (s_broker, &status, WNOHANG);
        if (pid == s_broker) {
            s_broker = -1;
            return status;
        }
        cr_assert_neq (pid, -1, "waitpid: %s", strerror (errno));
        if (zclock_mono () >= deadline)
            return -1;
        zclock_sleep (10);
    }
}

//  The log so far, for assertions and failure messages. Caller frees.
static char *
s_log_text (void)
{
    FILE *file = fopen (s_log, "r");
    if (!file)
        return strdup ("");
    char *text = (char *) calloc (1, 65536);
    size_t size = fread (text, 1, 65535, file);
    text[size] = '\0';
    fclose (file);
    return text;
}

// ---------------------------------------------------------------------------
//  Peers

static zsock_t *
s_sub (const char *endpoint, const char *topic)
{
    zsock_t *sub = zsock_new_sub (endpoint, topic);
    cr_assert_not_null (sub);
    return sub;
}

static void
s_publish (zsock_t *pub, const char *topic, const void *body, size_t size)
{
    void *handle = zsock_resolve (pub);
    cr_assert_eq (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE), (int) strlen (topic));
    cr_assert_eq (zmq_send (handle, body, size, 0), (int) size);
}

//  Publishes a probe on every topic of `topics` (NULL-terminated) until each
//  of `subs` has received something: then the broker is up and every
//  subscription has travelled up to the publisher.
static void
s_sync (zsock_t *pub, const char *const *topics, zsock_t **subs, size_t n_subs)
{
    zmq_pollitem_t items[8];
    bool seen[8] = {false};
    cr_assert_leq (n_subs, 8);
    for (size_t index = 0; index < n_subs; index++)
        items[index] = (zmq_pollitem_t){zsock_resolve (subs[index]), 0, ZMQ_POLLIN, 0};

    int64_t deadline = zclock_mono () + DEADLINE_MS;
    size_t n_seen = 0;
    while (n_seen < n_subs) {
        char *log = s_log_text ();
        cr_assert_lt (zclock_mono (), deadline, "subscribers never got a probe; broker log:\n%s",
                      log);
        free (log);
        for (const char *const *topic = topics; *topic; topic++)
            s_publish (pub, *topic, PROBE, strlen (PROBE));
        int ready = zmq_poll (items, (int) n_subs, 50);
        cr_assert_geq (ready, 0);
        for (size_t index = 0; index < n_subs; index++) {
            if (!(items[index].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *msg = zmsg_recv (subs[index]);
            zmsg_destroy (&msg);
            if (!seen[index]) {
                seen[index] = true;
                n_seen++;
            }
        }
    }
}

//  Receives on `sub` until a message whose first frame is `topic`, and
//  returns it whole; NULL past the deadline. Any message seen on the way
//  whose topic starts with `forbidden` (when not NULL) fails the test, as
//  does one that looks like a subscription (first byte 0 or 1).
static zmsg_t *
s_recv_topic (zsock_t *sub, const char *topic, const char *forbidden)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    zmsg_t *found = NULL;
    while (!found) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || !zpoller_wait (poller, (int) left))
            break;
        zmsg_t *msg = zmsg_recv (sub);
        cr_assert_not_null (msg);
        zframe_t *first = zmsg_first (msg);
        size_t size = zframe_size (first);
        const char *data = (const char *) zframe_data (first);
        cr_assert (size > 0 && data[0] != 0 && data[0] != 1,
                   "a subscription message reached a subscriber");
        if (forbidden)
            cr_assert (size < strlen (forbidden) || memcmp (data, forbidden, strlen (forbidden)),
                       "a %.*s message reached a subscriber that did not ask for it", (int) size,
                       data);
        if (zframe_streq (first, topic))
            found = msg;
        else
            zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return found;
}

static void
s_placed_event (oms_event_t *event)
{
    oms_item_t items[2] = {{"sku-1", 2}, {"sku-2", 5}};
    oms_event_order_placed (event, "o-17", "alice", items, 2, "card", "4242");
    event->version = OMS_PROTO_VERSION;
    snprintf (event->producer, sizeof (event->producer), "order");
    event->epoch = 7;
    event->seq = 7;
    snprintf (event->id, sizeof (event->id), "order/order.placed/7");
    event->ts_ns = oms_clock_wall_ns ();
    snprintf (event->correlation_id, sizeof (event->correlation_id), "o-17");
    snprintf (event->causation_id, sizeof (event->causation_id), "cmd/r-1");
}

static void
s_publish_event (zsock_t *pub, const oms_event_t *event)
{
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    int rc = oms_event_encode (event, &body);
    cr_assert_eq (rc, OMS_OK, "encode: %s", oms_strerror (rc));
    s_publish (pub, event->type, body.data, body.size);
    msgpack_sbuffer_destroy (&body);
}

static void
s_decode (zmsg_t *msg, const char *topic, oms_event_t *event)
{
    cr_assert_not_null (msg);
    cr_assert_eq (zmsg_size (msg), 2, "expected topic and body, got %zu frames", zmsg_size (msg));
    zframe_t *body = zmsg_last (msg);
    oms_fault_t fault = {0};
    int rc = oms_event_decode (zframe_data (body), zframe_size (body), topic, event, &fault);
    char reason[128];
    cr_assert_eq (rc, OMS_OK, "decode: %s", oms_fault_str (&fault, reason, sizeof (reason)));
}

static void
s_assert_same_placed (const oms_event_t *got, const oms_event_t *sent)
{
    cr_assert_eq (got->version, sent->version);
    cr_assert_str_eq (got->id, sent->id);
    cr_assert_str_eq (got->type, "order.placed");
    cr_assert_str_eq (got->producer, sent->producer);
    cr_assert_eq (got->seq, sent->seq);
    cr_assert_eq (got->ts_ns, sent->ts_ns);
    cr_assert_str_eq (got->correlation_id, sent->correlation_id);
    cr_assert_str_eq (got->causation_id, sent->causation_id);
    cr_assert_str_eq (got->data.order_id, sent->data.order_id);
    cr_assert_str_eq (got->data.customer, sent->data.customer);
    cr_assert_eq (got->data.n_items, sent->data.n_items);
    for (uint32_t index = 0; index < sent->data.n_items; index++) {
        cr_assert_str_eq (got->data.items[index].sku, sent->data.items[index].sku);
        cr_assert_eq (got->data.items[index].qty, sent->data.items[index].qty);
    }
    cr_assert_str_eq (got->data.method, sent->data.method);
    cr_assert_str_eq (got->data.card_last4, sent->data.card_last4);
}

// ---------------------------------------------------------------------------

TestSuite (broker, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (broker, forwards_an_event_to_every_matching_subscriber)
{
    s_start_default ();
    zsock_t *pub = zsock_new_pub (NULL);
    cr_assert_eq (zsock_connect (pub, "%s", s_frontend), 0);
    zsock_t *sub_a = s_sub (s_backend, "order.");
    zsock_t *sub_b = s_sub (s_backend, "order.placed");
    zsock_t *sub_stock = s_sub (s_backend, "stock.");
    zsock_t *subs[] = {sub_a, sub_b, sub_stock};
    const char *probes[] = {"order.placed.probe", "stock.probe", NULL};
    s_sync (pub, probes, subs, 3);

    oms_event_t sent;
    s_placed_event (&sent);
    s_publish_event (pub, &sent);
    //  Published after the event on the same path, so once the stock
    //  subscriber has it, the event would have arrived before it.
    s_publish (pub, "stock.sentinel", PROBE, strlen (PROBE));

    zsock_t *matching[] = {sub_a, sub_b};
    for (size_t index = 0; index < 2; index++) {
        zmsg_t *msg = s_recv_topic (matching[index], "order.placed", NULL);
        cr_assert_not_null (msg, "subscriber %zu did not get order.placed", index);
        oms_event_t got;
        s_decode (msg, "order.placed", &got);
        s_assert_same_placed (&got, &sent);
        zmsg_destroy (&msg);
    }
    zmsg_t *sentinel = s_recv_topic (sub_stock, "stock.sentinel", "order.");
    cr_assert_not_null (sentinel, "the stock subscriber did not get its own topic");
    zmsg_destroy (&sentinel);

    zsock_destroy (&sub_stock);
    zsock_destroy (&sub_b);
    zsock_destroy (&sub_a);
    zsock_destroy (&pub);
}

Test (broker, copies_events_to_the_tap)
{
    s_start_default ();
    zsock_t *pub = zsock_new_pub (NULL);
    cr_assert_eq (zsock_connect (pub, "%s", s_frontend), 0);
    //  The tap sees what flows to subscribers, so one must ask for orders.
    zsock_t *sub = s_sub (s_backend, "order.");
    zsock_t *tap = s_sub (s_tap, "");
    zsock_t *subs[] = {sub, tap};
    const char *probes[] = {"order.placed.probe", NULL};
    s_sync (pub, probes, subs, 2);

    oms_event_t sent;
    s_placed_event (&sent);
    s_publish_event (pub, &sent);

    zmsg_t *msg = s_recv_topic (tap, "order.placed", NULL);
    cr_assert_not_null (msg, "the tap did not get order.placed");
    oms_event_t got;
    s_decode (msg, "order.placed", &got);
    s_assert_same_placed (&got, &sent);
    zmsg_destroy (&msg);

    zsock_destroy (&tap);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
}

Test (broker, publishes_its_heartbeat)
{
    s_start_default ();
    zsock_t *sub = s_sub (s_backend, "heartbeat.broker");
    zsock_t *tap = s_sub (s_tap, "heartbeat.");

    uint64_t previous_seq = 0;
    for (int count = 0; count < 2; count++) {
        zmsg_t *msg = s_recv_topic (sub, "heartbeat.broker", NULL);
        char *log = s_log_text ();
        cr_assert_not_null (msg, "no heartbeat.broker; broker log:\n%s", log);
        free (log);
        oms_event_t got;
        s_decode (msg, "heartbeat.broker", &got);
        zmsg_destroy (&msg);

        cr_assert_str_eq (got.type, "heartbeat.broker");
        cr_assert_str_eq (got.producer, "broker");
        cr_assert_geq (got.seq, 1);
        if (previous_seq)
            cr_assert_eq (got.seq, previous_seq + 1, "heartbeat seqs must be dense");
        previous_seq = got.seq;
        char id[OMS_ID_MAX + 1];
        snprintf (id, sizeof (id), "broker/heartbeat.broker/%" PRIu64, got.seq);
        cr_assert_str_eq (got.id, id);
        cr_assert_str_eq (got.data.name, "broker");
        cr_assert_str_eq (got.data.version, OMS_VERSION);
        char pid[24];
        snprintf (pid, sizeof (pid), ":%ld", (long) s_broker);
        size_t length = strlen (got.data.instance);
        cr_assert (length > strlen (pid) &&
                       !strcmp (got.data.instance + length - strlen (pid), pid),
                   "instance '%s' should end with the pid '%s'", got.data.instance, pid);
        cr_assert_eq (got.data.n_heads, 0);
        uint64_t now = oms_clock_wall_ns ();
        cr_assert (got.ts_ns > now - UINT64_C (60000000000) && got.ts_ns <= now,
                   "ts_ns %" PRIu64 " is not now", got.ts_ns);
    }

    zmsg_t *msg = s_recv_topic (tap, "heartbeat.broker", NULL);
    cr_assert_not_null (msg, "the tap did not get heartbeat.broker");
    oms_event_t got;
    s_decode (msg, "heartbeat.broker", &got);
    zmsg_destroy (&msg);

    zsock_destroy (&tap);
    zsock_destroy (&sub);
}

Test (broker, stops_cleanly_on_sigterm_and_logs_its_endpoints)
{
    //  Endpoints from a file this time, the heartbeat from a flag.
    char config[PATH_MAX + 16];
    snprintf (config, sizeof (config), "%s/oms.cfg", s_dir);
    FILE *file = fopen (config, "w");
    cr_assert_not_null (file);
    fprintf (file, "broker\n    frontend = \"%s\"\n    backend = \"%s\"\n", s_frontend, s_backend);
    fclose (file);
    const char *args[] = {"-c", config, "--set", "runtime/heartbeat_ms=100", "-v", NULL};
    s_start (args);

    //  A heartbeat proves the loop is running, hence the start-up line written.
    zsock_t *sub = s_sub (s_backend, "heartbeat.broker");
    zmsg_t *msg = s_recv_topic (sub, "heartbeat.broker", NULL);
    char *log = s_log_text ();
    cr_assert_not_null (msg, "the broker never came up; log:\n%s", log);
    free (log);
    zmsg_destroy (&msg);
    zsock_destroy (&sub);

    cr_assert_eq (kill (s_broker, SIGTERM), 0);
    int status = s_wait_exit (5000);
    log = s_log_text ();
    cr_assert_neq (status, -1, "still running 5 s after SIGTERM; log:\n%s", log);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "exit status %d after SIGTERM; log:\n%s", status, log);

    char expected[256];
    snprintf (expected, sizeof (expected), "frontend=%s backend=%s tap=- hwm=", s_frontend,
              s_backend);
    cr_assert_not_null (strstr (log, expected), "no start-up line '%s' in:\n%s", expected, log);
    cr_assert_not_null (strstr (log, "events="), "no counts logged at exit in:\n%s", log);
    free (log);
}

Test (broker, refuses_a_bad_flag)
{
    const char *args[] = {"--frontend", s_frontend, "--bogus", NULL};
    s_start (args);
    int status = s_wait_exit (5000);
    char *log = s_log_text ();
    cr_assert_neq (status, -1, "still running with a bad flag");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "exit status %d", status);
    cr_assert_not_null (strstr (log, "bogus"), "the message does not name the flag:\n%s", log);
    free (log);
}

Test (broker, refuses_an_unknown_config_key)
{
    const char *args[] = {"--set", "broker/no_such_key=1", NULL};
    s_start (args);
    int status = s_wait_exit (5000);
    char *log = s_log_text ();
    cr_assert_neq (status, -1, "still running with a bad key");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "exit status %d", status);
    cr_assert_not_null (strstr (log, "no_such_key"), "the message does not name the key:\n%s", log);
    free (log);
}

Test (broker, exits_1_naming_an_endpoint_it_cannot_bind)
{
    //  Hold the frontend port with a listening socket of our own.
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    cr_assert_eq (bind (fd, (struct sockaddr *) &address, sizeof (address)), 0);
    cr_assert_eq (listen (fd, 1), 0);
    socklen_t length = sizeof (address);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &address, &length), 0);
    char taken[64];
    snprintf (taken, sizeof (taken), "tcp://127.0.0.1:%d", ntohs (address.sin_port));

    const char *args[] = {"--frontend", taken, "--backend", s_backend, NULL};
    s_start (args);
    int status = s_wait_exit (5000);
    close (fd);
    char *log = s_log_text ();
    cr_assert_neq (status, -1, "still running without its frontend");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "exit status %d; log:\n%s", status,
               log);
    cr_assert_not_null (strstr (log, taken), "the message does not name %s:\n%s", taken, log);
    free (log);
}

Test (broker, one_of_several_has_its_own_keys_and_heartbeat)
{
    //  --frontend and --backend after --index 1 set brokers/1/..., so the
    //  broker binds them, not broker 0's defaults.
    const char *args[] = {
        "--set",    "broker/count=2", "--index", "1",     "--frontend",
        s_frontend, "--backend",      s_backend, "--set", "runtime/heartbeat_ms=100",
        NULL};
    s_start (args);
    zsock_t *sub = s_sub (s_backend, "heartbeat.");
    zmsg_t *msg = s_recv_topic (sub, "heartbeat.broker.1", NULL);
    char *log = s_log_text ();
    cr_assert_not_null (msg, "no heartbeat.broker.1; broker log:\n%s", log);
    cr_assert (strstr (log, "name=broker.1"), "log:\n%s", log);
    free (log);
    oms_event_t got;
    s_decode (msg, "heartbeat.broker.1", &got);
    zmsg_destroy (&msg);
    cr_assert_str_eq (got.producer, "broker.1");
    cr_assert_str_eq (got.data.name, "broker.1");
    char id[OMS_ID_MAX + 1];
    snprintf (id, sizeof (id), "broker.1/heartbeat.broker.1/%" PRIu64, got.seq);
    cr_assert_str_eq (got.id, id);
    zsock_destroy (&sub);
}

Test (broker, an_index_the_count_does_not_have_is_refused)
{
    const char *args[] = {"--index", "1", NULL};
    s_start (args);
    int status = s_wait_exit (10000);
    cr_assert (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 2, "status %d",
               status);
    char *log = s_log_text ();
    cr_assert (strstr (log, "--index 1: the cluster has 1 broker (broker/count)"), "log:\n%s", log);
    free (log);
}
