/*  oms_limit: token buckets in a bounded table.

    Clients live in one array allocated up front. A chained hash (bucket
    heads and `chain` links are array indices) finds a client in a step or
    two; a doubly linked list through `newer` and `older` keeps them in
    order of last use, so the client to forget is always at its tail. The
    hash is seeded per limiter, so chosen keys cannot be made to collide on
    purpose; even then a chain is never longer than the table.

    A bucket is kept as one time, in whole nanoseconds (the generic cell
    rate algorithm): `due_ns` is when the bucket would be full again. Each
    granted request pushes it one interval (1 s / rate) later, and a request
    is refused when that would put it more than burst intervals ahead of
    now. This is a token bucket without fractions, so no rounding ever
    grants or withholds a request.
*/
#include "oms_limit.h"
#include "oms_clock.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_NONE UINT32_MAX

typedef struct {
    uint8_t key[OMS_LIMIT_KEY_MAX];
    size_t size;
    uint32_t hash;
    uint32_t chain;        //  next client in the same hash bucket
    uint32_t newer, older; //  neighbours in order of last use
    uint64_t due_ns;       //  when the bucket is full again
} s_client_t;

struct _oms_limit_t {
    uint64_t interval_ns;  //  1 s / rate; 0: no limit
    uint64_t tolerance_ns; //  (burst - 1) intervals
    s_client_t *clients;
    uint32_t capacity, count;
    uint32_t *buckets; //  first client of each hash bucket
    uint32_t mask;     //  number of buckets - 1 (a power of two)
    uint32_t newest, oldest;
    uint32_t seed;
    uint64_t evicted;
};

oms_limit_t *
oms_limit_new (uint64_t rate, uint64_t burst, size_t clients)
{
    if (clients < 1 || clients > UINT32_MAX / 4)
        return NULL;
    oms_limit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (rate > 0) {
        self->interval_ns = rate < 1000000000u ? 1000000000u / rate : 1;
        self->tolerance_ns = (burst > 1 ? burst - 1 : 0) * self->interval_ns;
    }
    self->capacity = (uint32_t) clients;
    uint32_t n_buckets = 1;
    while (n_buckets < 2 * self->capacity)
        n_buckets *= 2;
    self->mask = n_buckets - 1;
    self->clients = calloc (clients, sizeof *self->clients);
    self->buckets = malloc (n_buckets * sizeof *self->buckets);
    if (!self->clients || !self->buckets) {
        oms_limit_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < n_buckets; i++)
        self->buckets[i] = S_NONE;
    self->newest = self->oldest = S_NONE;
    self->seed = (uint32_t) oms_clock_steady_ns () ^ (uint32_t) (uintptr_t) self;
    return self;
}

void
oms_limit_destroy (oms_limit_t **self_p)
{
    assert (self_p);
    oms_limit_t *self = *self_p;
    if (!self)
        return;
    free (self->clients);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

//  FNV-1a, started from the limiter's seed.
static uint32_t
s_hash (const oms_limit_t *self, const uint8_t *key, size_t size)
{
    uint32_t hash = 2166136261u ^ self->seed;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ key[i]) * 16777619u;
    return hash;
}

static uint32_t
s_find (const oms_limit_t *self, const uint8_t *key, size_t size, uint32_t hash)
{
    uint32_t index = self->buckets[hash & self->mask];
    while (index != S_NONE) {
        const s_client_t *client = &self->clients[index];
        if (client->hash == hash && client->size == size && memcmp (client->key, key, size) == 0)
            return index;
        index = client->chain;
    }
    return S_NONE;
}

//  Takes a client out of the order of use.
static void
s_unlink (oms_limit_t *self, uint32_t index)
{
    s_client_t *client = &self->clients[index];
    if (client->newer != S_NONE)
        self->clients[client->newer].older = client->older;
    else
        self->newest = client->older;
    if (client->older != S_NONE)
        self->clients[client->older].newer = client->newer;
    else
        self->oldest = client->newer;
}

//  Makes a client the most recently used.
static void
s_push (oms_limit_t *self, uint32_t index)
{
    s_client_t *client = &self->clients[index];
    client->newer = S_NONE;
    client->older = self->newest;
    if (self->newest != S_NONE)
        self->clients[self->newest].newer = index;
    self->newest = index;
    if (self->oldest == S_NONE)
        self->oldest = index;
}

//  Forgets the least recently used client; returns its slot.
static uint32_t
s_evict (oms_limit_t *self)
{
    uint32_t index = self->oldest;
    s_client_t *client = &self->clients[index];
    uint32_t *link = &self->buckets[client->hash & self->mask];
    while (*link != index)
        link = &self->clients[*link].chain;
    *link = client->chain;
    s_unlink (self, index);
    self->evicted++;
    return index;
}

static uint32_t
s_insert (oms_limit_t *self, const uint8_t *key, size_t size, uint32_t hash, uint64_t now_ns)
{
    uint32_t index = self->count < self->capacity ? self->count++ : s_evict (self);
    s_client_t *client = &self->clients[index];
    memcpy (client->key, key, size);
    client->size = size;
    client->hash = hash;
    client->due_ns = now_ns;
    uint32_t *head = &self->buckets[hash & self->mask];
    client->chain = *head;
    *head = index;
    s_push (self, index);
    return index;
}

bool
oms_limit_take (oms_limit_t *self, const void *key, size_t size, uint64_t now_ns)
{
    assert (self);
    assert (key || size == 0);
    if (self->interval_ns == 0)
        return true;
    if (size > OMS_LIMIT_KEY_MAX)
        size = OMS_LIMIT_KEY_MAX;
    const uint8_t *bytes = key;
    uint32_t hash = s_hash (self, bytes, size);
    uint32_t index = s_find (self, bytes, size, hash);
    if (index == S_NONE)
        index = s_insert (self, bytes, size, hash, now_ns);
    else {
        s_unlink (self, index);
        s_push (self, index);
    }
    s_client_t *client = &self->clients[index];
    uint64_t due = client->due_ns > now_ns ? client->due_ns : now_ns;
    if (due - now_ns > self->tolerance_ns)
        return false;
    client->due_ns = due + self->interval_ns;
    return true;
}

size_t
oms_limit_clients (oms_limit_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
oms_limit_evicted (oms_limit_t *self)
{
    assert (self);
    return self->evicted;
}
