/*  oms_security: CURVE on every socket, and who may do what.

    When security/curve is on, every process has a name (broker, order,
    inventory, payment, notification, or an operator's cli/identity) and a
    secret certificate <security/keys>/<name>.cert_secret. Every server side
    (the broker's sockets, each service's api) accepts only the public keys
    found in security/certs, checked by one zauth actor per process; every
    client side knows its server's public key from <security/certs>/<server>.cert.
    When it is off, every call here does nothing and every peer is allowed.

    Authorisation on top of that uses the certificate name of a peer, found
    from the "User-Id" property zauth gives each message (the client's public
    key, Z85): a process may publish only the topics it owns, and only
    operators (names that are not processes) may run commands that change
    state. See docs/SECURITY.md.
*/
#ifndef OMS_SECURITY_H
#define OMS_SECURITY_H

#include "oms_config.h"
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _oms_security_t oms_security_t;

//  Loads the identity of process `name`: when security/curve is on, its
//  secret certificate from security/keys and the allow-list from
//  security/certs. NULL with `error` filled when either cannot be read (a
//  missing file, a directory that is not there, a certificate without a
//  secret key). Caller owns the result.
oms_security_t *oms_security_new (oms_config_t *config, const char *name, char *error, size_t size);
//  Stops the authenticator, if one was started. Destroy it after the
//  sockets it guards.
void oms_security_destroy (oms_security_t **self_p);

//  Whether security/curve is on. False for a NULL object.
bool oms_security_enabled (oms_security_t *self);

//  Makes `sock` a CURVE server with this process's certificate, before it
//  binds; starts the process's authenticator on first use. 0 or -1 (logged).
//  Does nothing when curve is off or `self` is NULL.
int oms_security_server (oms_security_t *self, zsock_t *sock);

//  Makes `sock` a CURVE client of the process named `server`, before it
//  connects. 0, or -1 with `error` filled when <certs>/<server>.cert cannot
//  be read. Does nothing when curve is off or `self` is NULL.
int oms_security_client (oms_security_t *self, zsock_t *sock, const char *server, char *error,
                         size_t size);

//  The certificate name of the peer whose message carried `user_id` (its
//  "User-Id" property), or NULL when it is not in security/certs. A key not
//  seen before makes the directory be read again, at most once a second, so
//  a certificate added while running is known. Borrowed: valid until the
//  next call.
const char *oms_security_peer (oms_security_t *self, const char *user_id);

//  Counts a refusal and logs it, at most one line a second (the next line
//  says how many were not logged). Returns the number of refusals so far.
uint64_t oms_security_refuse (oms_security_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Refusals counted so far.
uint64_t oms_security_refused (oms_security_t *self);

// ---------------------------------------------------------------------------
//  Policy: plain functions of names, the same whether curve is on or off

//  Whether `name` is a process of the cluster (the broker or a service),
//  as opposed to an operator.
bool oms_security_is_process (const char *name);

//  Whether `publisher` owns `topic`: the owner in oms_event_type, or <x> for
//  heartbeat.<x>. Operators own nothing. False for a NULL publisher or an
//  unknown topic.
bool oms_security_may_publish (const char *publisher, const char *topic);

//  Whether `cmd` only reads (get, stock.get, wallet.get, notifications,
//  status, replay, metrics, dlq.list, dlq.show). Every other command
//  changes state.
bool oms_security_read_only (const char *cmd);

//  Whether `peer` may run `cmd`: read-only commands any listed peer, the
//  others operators only. False for a NULL peer.
bool oms_security_may_command (const char *peer, const char *cmd);

//  Whether `name` can name a certificate: 1 to OMS_NAME_MAX characters of
//  [A-Za-z0-9._-], not starting with '.'.
bool oms_security_valid_name (const char *name);

//  Writes a new key pair as <dir>/<name>.cert (public) and
//  <dir>/<name>.cert_secret (mode 0600), with metadata name = `name`.
//  Refuses to overwrite either. 0, or -1 with `error` filled.
int oms_security_keygen (const char *dir, const char *name, char *error, size_t size);

#endif
