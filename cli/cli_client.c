/*  cli_client: one DEALER per service, one request in flight at a time.
    A retry closes the socket and opens a new one, so the reply that arrives
    is always an answer to the bytes just sent; requests that change state
    carry a request id the service deduplicates by. Subscriptions are made
    here too, so that every socket of the CLI follows one security setting.

    A subscription connects to every broker (broker/count); with more than
    one, each event arrives once per live broker and cli_event_recv hands
    on only the first copy (cli_seen), so no command sees a duplicate.
*/
#include "cli_client.h"
#include "cli_args.h"
#include "cli_json.h"
#include "cli_seen.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

struct _cli_client_t {
    char *service;
    char *endpoint;
    zsock_t *sock;
    zchunk_t *request; //  the last request sent, for retries
};

struct _cli_reply_t {
    zframe_t *body; //  the unpacked objects point into it
    msgpack_unpacked unpacked;
    bool ok;
};

//  Every socket of the process follows one configuration's security keys;
//  the certificate is loaded with the first socket, so commands that open
//  none (keygen) never need one.
static struct {
    oms_config_t *config;
    oms_security_t *security;
} s_secure;

//  The duplicate filters of the subscriptions made with several brokers,
//  by socket. A slot whose socket was destroyed is taken again by the next
//  subscription (and reset when the new socket has the old one's address).
#define S_FILTERS 8
static struct {
    zsock_t *sock;
    cli_seen_t seen;
} s_filters[S_FILTERS];
static size_t s_filters_next;

static void
s_filter_add (zsock_t *sock)
{
    size_t slot = s_filters_next++ % S_FILTERS;
    for (size_t i = 0; i < S_FILTERS; i++)
        if (s_filters[i].sock == sock) {
            slot = i;
            break;
        }
    memset (&s_filters[slot], 0, sizeof s_filters[slot]);
    s_filters[slot].sock = sock;
}

static cli_seen_t *
s_filter (zsock_t *sock)
{
    for (size_t i = 0; i < S_FILTERS; i++)
        if (s_filters[i].sock == sock)
            return &s_filters[i].seen;
    return NULL;
}

void
cli_client_secure (oms_config_t *config)
{
    s_secure.config = config;
}

int
cli_client_curve (zsock_t *sock, const char *server, char *error, size_t size)
{
    if (!s_secure.config || !oms_config_bool (s_secure.config, "security/curve"))
        return 0;
    if (!s_secure.security) {
        char why[512];
        s_secure.security = oms_security_new (
            s_secure.config, oms_config_str (s_secure.config, "cli/identity"), why, sizeof why);
        if (!s_secure.security) {
            snprintf (error, size, "cli/identity %s: %s",
                      oms_config_str (s_secure.config, "cli/identity"), why);
            return -1;
        }
    }
    return oms_security_client (s_secure.security, sock, server, error, size);
}

int
cli_client_max_bytes (void)
{
    if (!s_secure.config)
        return OMS_MSG_MAX;
    return (int) oms_config_int (s_secure.config, "limits/max_message_bytes");
}

static zsock_t *
s_connect (const char *service, const char *endpoint, char *error, size_t size)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock) {
        snprintf (error, size, "cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_linger (sock, 0);
    zsock_set_maxmsgsize (sock, cli_client_max_bytes ());
    zsock_set_sndtimeo (sock, 0);
    if (cli_client_curve (sock, service, error, size) != 0)
        zsock_destroy (&sock);
    else if (zsock_connect (sock, "%s", endpoint) != 0) {
        snprintf (error, size, "cannot connect to %s service at %s: %s", service, endpoint,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

cli_client_t *
cli_client_new (const char *service, const char *endpoint, char *error, size_t size)
{
    zsock_t *sock = s_connect (service, endpoint, error, size);
    if (!sock)
        return NULL;
    cli_client_t *self = (cli_client_t *) zmalloc (sizeof (cli_client_t));
    self->service = strdup (service);
    self->endpoint = strdup (endpoint);
    self->sock = sock;
    return self;
}

void
cli_client_destroy (cli_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_client_t *self = *self_p;
    zsock_destroy (&self->sock);
    zchunk_destroy (&self->request);
    free (self->service);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

const char *
cli_client_endpoint (cli_client_t *self)
{
    return self->endpoint;
}

zsock_t *
cli_client_socket (cli_client_t *self)
{
    return self->sock;
}

static int
s_send_request (cli_client_t *self, char *error, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, zchunk_data (self->request), zchunk_size (self->request));
    if (zmsg_send (&msg, self->sock) != 0) {
        //  A connecting DEALER queues; failing here means the queue is full.
        snprintf (error, size, "cannot send to %s service at %s: %s", self->service, self->endpoint,
                  zmq_strerror (zmq_errno ()));
        zmsg_destroy (&msg);
        return OMS_E_TIMEOUT;
    }
    return 0;
}

int
cli_client_send (cli_client_t *self, const oms_request_t *req, char *error, size_t size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = oms_request_encode (req, &buffer);
    if (rc == 0) {
        zchunk_destroy (&self->request);
        self->request = zchunk_new (buffer.data, buffer.size);
    }
    msgpack_sbuffer_destroy (&buffer);
    if (rc != 0) {
        snprintf (error, size, "cannot encode the %s request: %s", req->cmd, oms_strerror (rc));
        return rc;
    }
    return s_send_request (self, error, size);
}

static int
s_malformed (cli_client_t *self, const char *why, char *error, size_t size)
{
    snprintf (error, size, "%s service at %s sent a malformed reply: %s", self->service,
              self->endpoint, why);
    return OMS_E_MALFORMED;
}

int
cli_client_recv (cli_client_t *self, cli_reply_t **reply_p, char *error, size_t size)
{
    zmsg_t *msg = zmsg_recv (self->sock);
    if (!msg) {
        snprintf (error, size, "cannot receive from %s service at %s: %s", self->service,
                  self->endpoint, zmq_strerror (zmq_errno ()));
        return OMS_E_TIMEOUT;
    }
    if (zmsg_size (msg) != 2 || zframe_size (zmsg_first (msg)) != 0) {
        zmsg_destroy (&msg);
        return s_malformed (self, "expected an empty frame and a body", error, size);
    }
    zframe_t *delimiter = zmsg_pop (msg);
    zframe_destroy (&delimiter);
    cli_reply_t *reply = (cli_reply_t *) zmalloc (sizeof (cli_reply_t));
    reply->body = zmsg_pop (msg);
    zmsg_destroy (&msg);
    msgpack_unpacked_init (&reply->unpacked);

    oms_fault_t fault = {0};
    char why[128];
    int rc = oms_msgpack_parse (zframe_data (reply->body), zframe_size (reply->body),
                                &reply->unpacked, &fault);
    if (rc != 0) {
        if (fault.code == 0)
            fault.code = rc;
        oms_fault_str (&fault, why, sizeof why);
    }
    else {
        int found = cli_map_bool (&reply->unpacked.data, "ok", &reply->ok);
        if (found != 0) {
            snprintf (why, sizeof why, "ok: %s", found > 0 ? "missing" : "not a boolean");
            rc = OMS_E_MALFORMED;
        }
    }
    if (rc != 0) {
        cli_reply_destroy (&reply);
        return s_malformed (self, why, error, size);
    }
    *reply_p = reply;
    return 0;
}

//  Waits for the socket to be readable until `deadline` (zclock_mono ms).
//  Returns true when a reply is waiting.
static bool
s_wait_readable (zsock_t *sock, int64_t deadline)
{
    zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        if (left < 0)
            left = 0;
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return true;
        if (rc == 0 || zmq_errno () != EINTR || left == 0)
            return false;
    }
}

//  Replaces the socket with a new connection, dropping whatever the old one
//  had queued or would still receive.
static int
s_reconnect (cli_client_t *self, char *error, size_t size)
{
    zsock_t *sock = s_connect (self->service, self->endpoint, error, size);
    if (!sock)
        return OMS_E_INVALID;
    zsock_destroy (&self->sock);
    self->sock = sock;
    return 0;
}

int
cli_client_call (cli_client_t *self, const oms_request_t *req, int timeout_ms, int attempts,
                 cli_reply_t **reply_p, char *error, size_t size)
{
    int rc = cli_client_send (self, req, error, size);
    if (rc != 0 && rc != OMS_E_TIMEOUT)
        return rc;
    for (int attempt = 1;; attempt++) {
        if (rc == 0 && s_wait_readable (self->sock, zclock_mono () + timeout_ms))
            return cli_client_recv (self, reply_p, error, size);
        //  Leave a fresh socket behind even after the last attempt, so that
        //  a late reply cannot answer the caller's next request.
        if (s_reconnect (self, error, size) != 0)
            return OMS_E_INVALID;
        if (attempt >= attempts)
            break;
        rc = s_send_request (self, error, size);
    }
    snprintf (error, size, "%s service at %s did not answer within %d ms", self->service,
              self->endpoint, timeout_ms);
    return OMS_E_TIMEOUT;
}

void
cli_reply_destroy (cli_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_reply_t *self = *self_p;
    msgpack_unpacked_destroy (&self->unpacked);
    zframe_destroy (&self->body);
    free (self);
    *self_p = NULL;
}

const msgpack_object *
cli_reply_map (cli_reply_t *self)
{
    return &self->unpacked.data;
}

bool
cli_reply_ok (cli_reply_t *self)
{
    return self->ok;
}

const char *
cli_reply_error (cli_reply_t *self, char *buf, size_t size)
{
    const char *text = NULL;
    size_t len = 0;
    if (cli_map_str (&self->unpacked.data, "error", &text, &len) != 0 || len == 0) {
        snprintf (buf, size, "the request was refused");
        return buf;
    }
    char copy[OMS_TEXT_MAX + 1];
    if (len > OMS_TEXT_MAX)
        len = OMS_TEXT_MAX;
    memcpy (copy, text, len);
    copy[len] = '\0';
    return cli_printable (copy, buf, size);
}

zsock_t *
cli_subscribe (const char *const *prefixes, size_t n, int hwm, char *error, size_t size)
{
    int brokers = oms_config_brokers (s_secure.config);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub) {
        snprintf (error, size, "cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_linger (sub, 0);
    zsock_set_rcvtimeo (sub, 0);
    zsock_set_maxmsgsize (sub, cli_client_max_bytes ());
    if (hwm > 0)
        zsock_set_rcvhwm (sub, hwm);
    if (n == 0)
        zsock_set_subscribe (sub, "");
    for (size_t i = 0; i < n; i++)
        zsock_set_subscribe (sub, prefixes[i]);
    if (cli_client_curve (sub, "broker", error, size) != 0)
        zsock_destroy (&sub);
    for (int index = 0; sub && index < brokers; index++) {
        const char *endpoint = oms_config_broker (s_secure.config, index, "backend");
        if (zsock_connect (sub, "%s", endpoint) != 0) {
            snprintf (error, size, "cannot connect to the broker at %s: %s", endpoint,
                      zmq_strerror (zmq_errno ()));
            zsock_destroy (&sub);
        }
    }
    if (sub && brokers > 1)
        s_filter_add (sub);
    return sub;
}

int
cli_poll (zsock_t *sock, int64_t timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
    return zmq_poll (&item, 1, (long) timeout_ms) > 0 ? 1 : 0;
}

static int s_event_recv (zsock_t *sub, cli_event_t *self, char *error, size_t size);

int
cli_event_recv (zsock_t *sub, cli_event_t *self, char *error, size_t size)
{
    cli_seen_t *seen = s_filter (sub);
    int rc = s_event_recv (sub, self, error, size);
    //  A copy from another broker is passed over, as if it never came.
    while (rc == 0 && seen &&
           !cli_seen_first (seen, self->topic, self->event.epoch, self->event.seq)) {
        cli_event_release (self);
        self->topic[0] = '\0'; //  as when nothing was waiting
        rc = s_event_recv (sub, self, error, size);
    }
    return rc;
}

static int
s_event_recv (zsock_t *sub, cli_event_t *self, char *error, size_t size)
{
    msgpack_unpacked_init (&self->raw);
    self->msg = zmsg_recv (sub);
    if (!self->msg)
        return 1;
    if (zmsg_size (self->msg) != 2) {
        snprintf (error, size, "undecodable message: %zu frames instead of 2",
                  zmsg_size (self->msg));
        return -1;
    }
    zframe_t *topic = zmsg_first (self->msg);
    zframe_t *body = zmsg_next (self->msg);
    size_t topic_size = zframe_size (topic);
    if (topic_size > OMS_NAME_MAX || memchr (zframe_data (topic), 0, topic_size)) {
        snprintf (error, size, "undecodable message: the topic frame is not an event type");
        return -1;
    }
    memcpy (self->topic, zframe_data (topic), topic_size);
    self->topic[topic_size] = '\0';
    return cli_event_decode (self->topic, zframe_data (body), zframe_size (body), &self->event,
                             &self->raw, error, size);
}

void
cli_event_release (cli_event_t *self)
{
    msgpack_unpacked_destroy (&self->raw);
    zmsg_destroy (&self->msg);
}

int
cli_event_decode (const char *topic, const uint8_t *data, size_t size, oms_event_t *event,
                  msgpack_unpacked *raw, char *error, size_t error_size)
{
    oms_fault_t fault = {0};
    int rc = oms_event_decode (data, size, topic, event, &fault);
    //  Decoded already, so this parse cannot fail; it gives the raw map.
    if (rc == 0)
        rc = oms_msgpack_parse (data, size, raw, &fault);
    if (rc != 0) {
        char why[128];
        char shown[64];
        if (fault.code == 0)
            fault.code = rc;
        snprintf (error, error_size, "undecodable event on topic %s: %s",
                  topic ? cli_printable (topic, shown, sizeof shown) : "(any)",
                  oms_fault_str (&fault, why, sizeof why));
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t s_stopping = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stopping = 1;
}

//  Installs the stop handlers without SA_RESTART, so a blocked poll returns.
void
cli_catch_stop_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

bool
cli_stop_requested (void)
{
    return s_stopping != 0;
}
