/*  oms_limit: a per-client request rate limit for an api endpoint.

    Each client, named by a key of bytes (its ZeroMQ routing id, or the
    User-Id its authentication gave it), has a token bucket that holds at
    most `burst` tokens and refills at `rate` tokens a second. A request
    takes one token; a client whose bucket is empty is refused until it has
    refilled, and other clients are not affected.

    The table of clients is bounded: when it is full, the client seen least
    recently is forgotten to make room (it starts again with a full bucket
    if it comes back), so a crowd of one-shot clients cannot grow memory.
    Not thread-safe: one limiter belongs to the thread that reads its socket.
*/
#ifndef OMS_LIMIT_H
#define OMS_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _oms_limit_t oms_limit_t;

//  Bytes of a key that count; a longer key is cut to this length. ZeroMQ
//  routing ids are at most this long.
#define OMS_LIMIT_KEY_MAX 255

//  A limiter of `rate` requests a second per client (0: no limit) with
//  buckets of `burst` tokens (at least 1), remembering at most `clients`
//  clients (at least 1). NULL when `clients` is out of range or memory is
//  short. Caller owns it.
oms_limit_t *oms_limit_new (uint64_t rate, uint64_t burst, size_t clients);

//  Destroys the limiter and nulls *self_p; safe when it is already NULL.
void oms_limit_destroy (oms_limit_t **self_p);

//  Takes one token from the bucket of the client named by `key` (`size`
//  bytes) at `now_ns`, a monotonic clock in nanoseconds. true when the
//  request may go on, false when the client is over its limit. A client not
//  in the table is added with a full bucket.
bool oms_limit_take (oms_limit_t *self, const void *key, size_t size, uint64_t now_ns);

//  How many clients the table holds.
size_t oms_limit_clients (oms_limit_t *self);

//  How many clients were forgotten to make room, since the limiter was made.
uint64_t oms_limit_evicted (oms_limit_t *self);

#endif
