/*  oms_bus: the one event bus of a process.

    State is static on purpose: a service process has one PUB and one SUB
    socket to the broker, and its runtime (oms_service, the runtime commands)
    reaches them the same way. The CLI has no bus; it opens its own sockets.

    With several brokers (broker/count) the PUB connects to every frontend,
    so libzmq sends each event to all of them, and the SUB to every backend,
    so each event arrives once per live broker: the copies are dropped by
    the inbox, by (producer, seq), like any other duplicate. No broker is
    primary, so losing one loses nothing and leaves no gap to repair.
*/
#include "oms_bus.h"
#include "oms_log.h"
#include "oms_proto.h"
#include <assert.h>
#include <czmq.h>
#include <string.h>

#define HANDLERS_MAX 32

typedef struct {
    char prefix[OMS_NAME_MAX + 1];
    size_t length;
    oms_bus_fn *handler;
    void *arg;
} s_handler_t;

static struct {
    bool started;
    zsock_t *pub;
    zsock_t *sub;
    s_handler_t handlers[HANDLERS_MAX];
    size_t n_handlers;
    oms_bus_stats_t stats;
    int max_bytes; //  limits/max_message_bytes, for every socket
} s_bus;

//  A socket connected to `key` (frontend or backend) of every broker.
static zsock_t *
s_socket (int type, oms_config_t *config, const char *key, int hwm, oms_security_t *security)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    zsock_set_sndhwm (sock, hwm);
    zsock_set_rcvhwm (sock, hwm);
    zsock_set_maxmsgsize (sock, s_bus.max_bytes);
    zsock_set_linger (sock, 0);
    char error[256];
    if (oms_security_client (security, sock, "broker", error, sizeof error)) {
        oms_error ("bus: %s", error);
        zsock_destroy (&sock);
    }
    for (int index = 0; sock && index < oms_config_brokers (config); index++) {
        const char *endpoint = oms_config_broker (config, index, key);
        if (zsock_connect (sock, "%s", endpoint)) {
            oms_error ("bus: cannot connect to %s: %s", endpoint, zmq_strerror (zmq_errno ()));
            zsock_destroy (&sock);
        }
    }
    return sock;
}

int
oms_bus_start (oms_config_t *config, oms_security_t *security, bool publish, bool subscribe)
{
    assert (!s_bus.started);
    int hwm = (int) oms_config_int (config, "runtime/hwm");
    s_bus.max_bytes = (int) oms_config_int (config, "limits/max_message_bytes");
    if (publish) {
        s_bus.pub = s_socket (ZMQ_PUB, config, "frontend", hwm, security);
        if (!s_bus.pub)
            return -1;
    }
    if (subscribe) {
        s_bus.sub = s_socket (ZMQ_SUB, config, "backend", hwm, security);
        if (!s_bus.sub) {
            zsock_destroy (&s_bus.pub);
            return -1;
        }
    }
    s_bus.started = true;
    return 0;
}

void
oms_bus_stop (void)
{
    zsock_destroy (&s_bus.pub);
    zsock_destroy (&s_bus.sub);
    memset (&s_bus, 0, sizeof s_bus);
}

int
oms_bus_subscribe (const char *prefix, oms_bus_fn *handler, void *arg)
{
    assert (s_bus.sub);
    size_t length = strlen (prefix);
    if (s_bus.n_handlers == HANDLERS_MAX || length > OMS_NAME_MAX)
        return -1;
    s_handler_t *entry = &s_bus.handlers[s_bus.n_handlers++];
    memcpy (entry->prefix, prefix, length + 1);
    entry->length = length;
    entry->handler = handler;
    entry->arg = arg;
    zsock_set_subscribe (s_bus.sub, prefix);
    return 0;
}

int
oms_bus_publish (const char *topic, const void *body, size_t size)
{
    assert (s_bus.pub);
    void *handle = zsock_resolve (s_bus.pub);
    if (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        s_bus.stats.dropped++;
        return -1;
    }
    //  Once the first frame is queued, the second always is (atomic message).
    zmq_send (handle, body, size, ZMQ_DONTWAIT);
    s_bus.stats.published++;
    return 0;
}

void *
oms_bus_sub_handle (void)
{
    return s_bus.sub ? zsock_resolve (s_bus.sub) : NULL;
}

static const s_handler_t *
s_route (const char *topic, size_t length)
{
    const s_handler_t *best = NULL;
    for (size_t i = 0; i < s_bus.n_handlers; i++) {
        const s_handler_t *entry = &s_bus.handlers[i];
        if (entry->length <= length && memcmp (entry->prefix, topic, entry->length) == 0 &&
            (!best || entry->length > best->length))
            best = entry;
    }
    return best;
}

//  Reads the remaining frames of a message so the next read starts clean.
static void
s_drain (void *handle, zmq_msg_t *msg)
{
    while (zmq_msg_more (msg) && zmq_msg_recv (msg, handle, 0) >= 0)
        ;
}

int
oms_bus_dispatch (size_t max)
{
    void *handle = oms_bus_sub_handle ();
    size_t count = 0;
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    zmq_msg_init (&body);
    while (count < max && zmq_msg_recv (&topic, handle, ZMQ_DONTWAIT) >= 0) {
        count++;
        s_bus.stats.received++;
        size_t length = zmq_msg_size (&topic);
        if (!zmq_msg_more (&topic) || length == 0 || length > OMS_NAME_MAX) {
            s_bus.stats.malformed++;
            s_drain (handle, &topic);
            continue;
        }
        if (zmq_msg_recv (&body, handle, 0) < 0)
            break;
        if (zmq_msg_more (&body)) {
            s_bus.stats.malformed++;
            s_drain (handle, &body);
            continue;
        }
        char name[OMS_NAME_MAX + 1];
        memcpy (name, zmq_msg_data (&topic), length);
        name[length] = 0;
        if (strlen (name) != length) { //  a NUL inside the topic
            s_bus.stats.malformed++;
            continue;
        }
        const s_handler_t *entry = s_route (name, length);
        if (entry)
            entry->handler (entry->arg, name, zmq_msg_data (&body), zmq_msg_size (&body));
        else
            s_bus.stats.unrouted++;
    }
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    return (int) count;
}

void
oms_bus_stats (oms_bus_stats_t *stats)
{
    *stats = s_bus.stats;
}
