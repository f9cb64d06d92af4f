/*  oms_bus: the process's one event bus (Singleton) and its topic table
    (Observer).

    A PUB socket connected to every broker's frontend and a SUB socket
    connected to every broker's backend (broker/count of them). Handlers subscribe to topic
   prefixes; oms_bus_dispatch reads what is ready and calls the handler of the longest matching
   prefix. The bus moves bytes only: decoding and ordering are its users' business.
*/
#ifndef OMS_BUS_H
#define OMS_BUS_H

#include "oms_config.h"
#include "oms_security.h"
#include <stddef.h>
#include <stdint.h>

//  Called with a borrowed topic and body, valid during the call.
typedef void (oms_bus_fn) (void *arg, const char *topic, const uint8_t *body, size_t size);

//  Creates the process's bus from config (broker/count and each broker's
//  frontend and backend, runtime/hwm, limits/max_message_bytes). `publish` opens the PUB side,
//  `subscribe` the SUB side, each a CURVE client of the broker when
//  `security` says so (it may be NULL). 0, or -1 after logging why.
//  Starting twice is a programmer error.
int oms_bus_start (oms_config_t *config, oms_security_t *security, bool publish, bool subscribe);

//  Closes the bus; safe when it was never started.
void oms_bus_stop (void);

//  Adds a handler for topics starting with `prefix` ("" for all).
int oms_bus_subscribe (const char *prefix, oms_bus_fn *handler, void *arg);

//  Sends one event: topic frame and body frame. Never blocks: when the
//  high-water mark is reached the event is dropped (and counted); the
//  outbox and replay recover it. 0, or -1 when dropped.
int oms_bus_publish (const char *topic, const void *body, size_t size);

//  The libzmq handle of the SUB socket, for zmq_poll.
void *oms_bus_sub_handle (void);

//  Receives up to `max` ready messages without blocking and dispatches each.
//  Returns how many were received. Malformed frame sequences are counted and
//  dropped.
int oms_bus_dispatch (size_t max);

typedef struct {
    uint64_t received;
    uint64_t published;
    uint64_t dropped;   //  publish refused at the high-water mark
    uint64_t malformed; //  wrong frame count or oversize topic
    uint64_t unrouted;  //  no handler matched
} oms_bus_stats_t;

void oms_bus_stats (oms_bus_stats_t *stats);

#endif
