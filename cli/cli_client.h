/*  cli_client: the sockets of the CLI: request/reply with one service's
    api endpoint, and the subscription to the event bus.

    A DEALER connected to services/<name>/api sends an empty delimiter frame
    and the msgpack request; the reply is an empty frame and one msgpack map,
    {"ok": true, ...} or {"ok": false, "error": text}. Replies are untrusted:
    they are checked with oms_msgpack_parse and must carry a boolean "ok".
*/
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include "oms_config.h"
#include "oms_proto.h"
#include "oms_security.h"

typedef struct _cli_client_t cli_client_t;
typedef struct _cli_reply_t cli_reply_t;

//  Makes every socket this process opens from now on follow the security/
//  keys of `config` (borrowed: it must outlive them). With security/curve on
//  the first socket loads the certificate named by cli/identity, and fails
//  with the reason when it cannot.
void cli_client_secure (oms_config_t *config);
//  Makes `sock` a CURVE client of the process `server` ("broker" or a
//  service) when the configuration says so; call it before connecting.
//  0, or -1 with `error` filled.
int cli_client_curve (zsock_t *sock, const char *server, char *error, size_t size);
//  The largest frame a socket of this process may accept: limits/max_message_bytes
//  of the configuration given to cli_client_secure, else OMS_MSG_MAX.
int cli_client_max_bytes (void);

//  Connects to `endpoint` on behalf of `service` (used in messages). NULL
//  with `error` filled when the endpoint is refused. Caller owns the client.
cli_client_t *cli_client_new (const char *service, const char *endpoint, char *error, size_t size);
void cli_client_destroy (cli_client_t **self_p);

const char *cli_client_endpoint (cli_client_t *self);

//  Sends `req` and waits up to timeout_ms for the reply. When none comes, the
//  same bytes are sent again on a fresh connection (a late answer to an
//  abandoned attempt is never taken for the next one), `attempts` times in
//  all. Returns 0 with *reply_p set (caller owns it; the reply may still be
//  a refusal, see cli_reply_ok), else a negative oms_error_t with `error`
//  filled: OMS_E_TIMEOUT "<service> service at <endpoint> did not answer
//  within N ms", or the reason the request or reply was refused.
int cli_client_call (cli_client_t *self, const oms_request_t *req, int timeout_ms, int attempts,
                     cli_reply_t **reply_p, char *error, size_t size);

//  The parts of a call, for waiting on several clients at once: send, poll
//  the socket for input, then receive the reply that is ready.
int cli_client_send (cli_client_t *self, const oms_request_t *req, char *error, size_t size);
zsock_t *cli_client_socket (cli_client_t *self);
int cli_client_recv (cli_client_t *self, cli_reply_t **reply_p, char *error, size_t size);

void cli_reply_destroy (cli_reply_t **self_p);
//  The reply map. Borrowed: valid until the reply is destroyed.
const msgpack_object *cli_reply_map (cli_reply_t *self);
//  Whether the service accepted the request ("ok": true).
bool cli_reply_ok (cli_reply_t *self);
//  The "error" text of a refusal, made printable, in buf; returns buf.
const char *cli_reply_error (cli_reply_t *self, char *buf, size_t size);

//  A SUB socket on the bus (the backend of every broker of the configuration given to
//  cli_client_secure) for every topic starting with one of `prefixes`
//  (every topic when n is 0), keeping up to `hwm` messages queued (0: the
//  default). Receiving never blocks: poll it first. NULL with `error`
//  filled when it cannot be made. Caller owns the socket.
zsock_t *cli_subscribe (const char *const *prefixes, size_t n, int hwm, char *error, size_t size);

//  Waits up to `timeout_ms` (-1: forever) for `sock` to be readable: 1
//  readable, 0 not (the time passed, or a signal came).
int cli_poll (zsock_t *sock, int64_t timeout_ms);

//  One message from the bus, decoded.
typedef struct {
    char topic[OMS_NAME_MAX + 1];
    oms_event_t event;
    msgpack_unpacked raw; //  the body as a map; points into msg
    zmsg_t *msg;
} cli_event_t;

//  Reads the next message of `sub` into `self` (which the caller destroys
//  with cli_event_release whatever this returns). 0 decoded, 1 nothing was
//  waiting, -1 undecodable with `error` filled.
int cli_event_recv (zsock_t *sub, cli_event_t *self, char *error, size_t size);
void cli_event_release (cli_event_t *self);

//  Decodes an event body of type `topic` (of any type when NULL): into
//  `event`, and as the msgpack map it is into `raw` (which the caller
//  initialises and destroys whatever this returns; its objects point into
//  `data`). 0, or -1 with `error`
//  filled: "undecodable event on topic T: <field>: <reason>".
int cli_event_decode (const char *topic, const uint8_t *data, size_t size, oms_event_t *event,
                      msgpack_unpacked *raw, char *error, size_t error_size);

//  Makes SIGINT and SIGTERM set a flag instead of ending the process, for
//  commands that run until interrupted. Call it after creating the first
//  socket, so that it replaces czmq's own handlers. Blocking polls and
//  sleeps return early when a signal comes.
void cli_catch_stop_signals (void);
//  Whether SIGINT or SIGTERM came since cli_catch_stop_signals.
bool cli_stop_requested (void);

#endif
