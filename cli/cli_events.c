/*  cli_events: `oms events`, the events a service published, and `oms
    resync`, which skips a subscriber past the events its producer's
    retention dropped (docs/OPERATIONS.md).

    `events` reads a service's outbox through its replay endpoint, the same
    way subscribers catch up, one batch per type at a time, and merges the
    types by timestamp.
*/
#include "cli.h"

#include <inttypes.h>
#include <string.h>
#include <czmq.h>

#define EVENTS_BATCH   256
#define FOLLOW_POLL_MS 250

const cli_opt_t cli_events_opts[] = {{"--from", true, false},
                                     {"--topic", true, false},
                                     {"--follow", false, false},
                                     {NULL, false, false}};
const cli_opt_t cli_resync_opts[] = {{"--to", true, false}, {NULL, false, false}};

//  One type of the outbox.
typedef struct {
    char topic[OMS_NAME_MAX + 1];
    uint64_t cursor;              //  the seq of the next event wanted
    cli_reply_t *batch;           //  the last replay answer
    const msgpack_object *bodies; //  its events (borrowed from batch)
    uint32_t next;                //  index in bodies of the next event
    bool drained;                 //  the last replay had nothing new
    bool ready;                   //  event and raw hold the next event
    oms_event_t event;
    msgpack_unpacked raw;
} s_stream_t;

typedef struct {
    cli_t *cli;
    const char *service;
    cli_client_t *client;
    bool follow;
    s_stream_t *streams;
    size_t n_streams;
    size_t undecodable;
} s_events_t;

//  Asks for the next batch of one type. 0 (stream->drained when nothing
//  new), 1 no answer yet while following, -1 failed (printed).
static int
s_stream_fetch (s_events_t *self, s_stream_t *stream)
{
    char error[512];
    uint64_t start = 0;
    oms_request_t req;
    cli_request_init (&req, "replay");
    snprintf (req.topic, sizeof req.topic, "%s", stream->topic);
    req.from = stream->cursor;
    req.max = EVENTS_BATCH;
    cli_reply_destroy (&stream->batch);
    stream->bodies = NULL;
    stream->next = 0;
    int rc = cli_client_call (self->client, &req, self->cli->timeout_ms, 1, &stream->batch, error,
                              sizeof error);
    if (rc == OMS_E_TIMEOUT && self->follow)
        return 1; //  it may be restarting: ask again at the next poll
    const msgpack_object *map = rc == 0 ? cli_reply_map (stream->batch) : NULL;
    if (rc != 0)
        rc = cli_fail ("%s", error);
    else if (!cli_reply_ok (stream->batch))
        rc = cli_fail ("%s", cli_reply_error (stream->batch, error, sizeof error));
    else if (cli_map_uint (map, "start", &start) != 0 || start < stream->cursor)
        rc = cli_malformed (self->service, "start");
    else if (!(stream->bodies = cli_map_array (map, "events")))
        rc = cli_malformed (self->service, "events");
    if (rc != 0)
        return -1; //  the command ends: the batch goes with the stream
    //  Events the producer pruned meanwhile are skipped: start is the
    //  oldest it still had.
    if (stream->bodies->via.array.size > 0)
        stream->cursor = start;
    stream->drained = stream->bodies->via.array.size == 0;
    return 0;
}

//  Makes the next event of a stream ready when there is one. 1 ready,
//  0 none for now, -1 failed.
static int
s_stream_peek (s_events_t *self, s_stream_t *stream)
{
    while (!stream->ready) {
        if (stream->bodies && stream->next < stream->bodies->via.array.size) {
            const msgpack_object *body = &stream->bodies->via.array.ptr[stream->next];
            char error[512];
            msgpack_unpacked_destroy (&stream->raw);
            msgpack_unpacked_init (&stream->raw);
            if (body->type != MSGPACK_OBJECT_BIN)
                snprintf (error, sizeof error, "undecodable event on topic %s: not a bin",
                          stream->topic);
            else if (cli_event_decode (stream->topic, (const uint8_t *) body->via.bin.ptr,
                                       body->via.bin.size, &stream->event, &stream->raw, error,
                                       sizeof error) == 0) {
                stream->ready = true;
                break;
            }
            fprintf (stderr, "oms: %s\n", error);
            self->undecodable++;
            stream->next++;
            stream->cursor++;
        }
        else if (stream->drained)
            return 0;
        else {
            int rc = s_stream_fetch (self, stream);
            if (rc != 0)
                return rc > 0 ? 0 : -1;
        }
    }
    return 1;
}

//  Prints events in timestamp order until every type is drained. 0, or 1
//  failed.
static int
s_events_drain (s_events_t *self)
{
    for (;;) {
        s_stream_t *earliest = NULL;
        for (size_t i = 0; i < self->n_streams; i++) {
            s_stream_t *stream = &self->streams[i];
            int rc = s_stream_peek (self, stream);
            if (rc < 0)
                return 1;
            if (rc > 0 && (!earliest || stream->event.ts_ns < earliest->event.ts_ns))
                earliest = stream;
        }
        if (!earliest)
            return 0;
        cli_event_print (earliest->topic, &earliest->event, &earliest->raw.data, self->cli->json);
        putchar ('\n');
        earliest->ready = false;
        earliest->next++;
        earliest->cursor++;
        if (cli_stop_requested ())
            return 0;
    }
}

//  Picks the types matching --topic from the service's heads and where each
//  starts: --from, or the oldest event it still retains; then connects for
//  the replays. 0, or 1 failed.
static int
s_events_open (s_events_t *self, const char *prefix, uint64_t from, bool from_given)
{
    char error[256];
    oms_request_t req;
    cli_request_init (&req, "status");
    cli_reply_t *reply = cli_call (self->cli, self->service, &req, 1);
    if (!reply)
        return 1;
    const msgpack_object *heads = cli_map_array (cli_reply_map (reply), "heads");
    int rc = heads ? 0 : cli_malformed (self->service, "heads");
    size_t n_heads = heads && heads->via.array.size > 0 ? heads->via.array.size : 1;
    self->streams = (s_stream_t *) zmalloc (n_heads * sizeof (s_stream_t));
    for (uint32_t i = 0; rc == 0 && i < heads->via.array.size; i++) {
        const msgpack_object *head = &heads->via.array.ptr[i];
        s_stream_t *stream = &self->streams[self->n_streams];
        uint64_t first = 0, seq = 0;
        if (cli_map_copy (head, "topic", stream->topic, sizeof stream->topic) != 0 ||
            cli_map_uint (head, "first", &first) != 0 || cli_map_uint (head, "seq", &seq) != 0)
            rc = cli_malformed (self->service, "heads");
        if (rc != 0 || strncmp (stream->topic, prefix, strlen (prefix)) != 0)
            continue;
        stream->cursor = from;
        //  first is 0 when nothing is retained; then everything up to the head is gone.
        uint64_t oldest = first > 0 ? first : seq + 1;
        if (from < oldest && seq > 0) {
            if (from_given)
                fprintf (stderr, "oms: %s retains %s from %" PRIu64 " only\n", self->service,
                         stream->topic, oldest);
            stream->cursor = oldest;
        }
        msgpack_unpacked_init (&stream->raw);
        self->n_streams++;
    }
    if (rc == 0 && self->n_streams == 0)
        rc = cli_fail ("%s publishes no topic starting with \"%s\"", self->service, prefix);
    const char *endpoint = oms_config_service (self->cli->config, self->service, "api");
    if (rc == 0 && !(self->client = cli_client_new (self->service, endpoint, error, sizeof error)))
        rc = cli_fail ("%s", error);
    cli_reply_destroy (&reply);
    return rc;
}

int
cli_cmd_events (cli_t *self)
{
    char error[256];
    const char *from_text = cli_args_value (&self->args, "--from");
    const char *prefix = cli_args_value (&self->args, "--topic");
    int64_t from = 1;
    if (cli_expect (self, 1, 1) || cli_check_service (cli_arg (self, 0)))
        return 1;
    if (from_text &&
        cli_check (cli_parse_int ("--from", from_text, 1, INT64_MAX, &from, error, sizeof error),
                   error))
        return 1;
    if (prefix && strlen (prefix) > OMS_NAME_MAX)
        return cli_fail ("topic prefix longer than %d characters", OMS_NAME_MAX);
    s_events_t events = {.cli = self,
                         .service = cli_arg (self, 0),
                         .follow = cli_args_has (&self->args, "--follow")};
    int rc = s_events_open (&events, prefix ? prefix : "", (uint64_t) from, from_text != NULL);
    if (rc == 0 && events.follow)
        cli_catch_stop_signals ();
    while (rc == 0) {
        rc = s_events_drain (&events);
        fflush (stdout);
        if (rc != 0 || !events.follow || cli_stop_requested ())
            break;
        zmq_poll (NULL, 0, FOLLOW_POLL_MS);
        if (cli_stop_requested ())
            break;
        for (size_t i = 0; i < events.n_streams; i++)
            events.streams[i].drained = false;
    }
    if (events.undecodable > 0)
        fprintf (stderr, "oms: %zu undecodable event%s skipped\n", events.undecodable,
                 events.undecodable == 1 ? "" : "s");
    for (size_t i = 0; i < events.n_streams; i++) {
        msgpack_unpacked_destroy (&events.streams[i].raw);
        cli_reply_destroy (&events.streams[i].batch);
    }
    free (events.streams);
    cli_client_destroy (&events.client);
    return rc;
}

// ---------------------------------------------------------------------------
//  resync

//  The entry of `topic` in a [{topic, ...}] list of a reply; NULL if none.
static const msgpack_object *
s_entry (const msgpack_object *list, const char *topic)
{
    for (uint32_t i = 0; list && i < list->via.array.size; i++)
        if (cli_str_eq (cli_map_get (&list->via.array.ptr[i], "topic"), topic))
            return &list->via.array.ptr[i];
    return NULL;
}

int
cli_cmd_resync (cli_t *self)
{
    char error[256], shown[64];
    const char *to_text = cli_args_value (&self->args, "--to");
    int64_t to = 0;
    uint64_t position = 0, first = 0, head = 0;
    if (cli_expect (self, 2, 2) || cli_check_service (cli_arg (self, 0)))
        return 1;
    const char *service = cli_arg (self, 0), *topic = cli_arg (self, 1);
    const oms_event_type_t *type = oms_event_type (topic);
    if (!type || !type->durable)
        return cli_fail ("not an event type: %s", cli_printable (topic, shown, sizeof shown));
    if (to_text &&
        cli_check (cli_parse_int ("--to", to_text, 0, INT64_MAX, &to, error, sizeof error), error))
        return 1;
    const char *producer = type->owner;
    oms_request_t req;
    cli_request_init (&req, "status");
    cli_reply_t *subscriber = cli_call (self, service, &req, 1), *set = NULL;
    cli_reply_t *owner = subscriber ? cli_call (self, producer, &req, 1) : NULL;
    if (!owner) {
        cli_reply_destroy (&subscriber);
        return 1;
    }
    const msgpack_object *entry =
        s_entry (cli_map_array (cli_reply_map (subscriber), "positions"), topic);
    const msgpack_object *retained =
        s_entry (cli_map_array (cli_reply_map (owner), "heads"), topic);
    bool retains =
        cli_map_uint (retained, "first", &first) == 0 && cli_map_uint (retained, "seq", &head) == 0;
    //  first is 0 when the producer retains nothing: skipping to its head then.
    uint64_t target = to_text ? (uint64_t) to : first > 0 ? first - 1 : head;
    cli_request_init (&req, "position.set");
    snprintf (req.topic, sizeof req.topic, "%s", topic);
    req.seq = target;
    int rc = 1;
    if (!entry)
        cli_fail ("%s does not subscribe to %s", service, topic);
    else if (cli_map_uint (entry, "seq", &position) != 0)
        cli_malformed (service, "positions[].seq");
    else if (!retains)
        cli_malformed (producer, "heads");
    else if (target > head)
        cli_fail ("%s has published %s up to %" PRIu64 " only; %s would ignore what comes next",
                  producer, topic, head, to_text ? "--to" : "resync");
    else if (target < position && to_text)
        cli_fail ("%s has applied %s up to %" PRIu64 "; going back to %" PRIu64
                  " would apply events again",
                  service, topic, position, target);
    //  Printed when there was nothing to skip, or once the position is set.
    else if (target <= position || (set = cli_call (self, service, &req, 1))) {
        uint64_t skipped = target > position ? target - position : 0;
        if (self->json)
            printf ("{\"service\": \"%s\", \"topic\": \"%s\", \"producer\": \"%s\", \"from\": "
                    "%" PRIu64 ", \"to\": %" PRIu64 ", \"skipped\": %" PRIu64
                    ", \"first\": %" PRIu64 ", \"head\": %" PRIu64 "}\n",
                    service, topic, producer, position, target > position ? target : position,
                    skipped, first, head);
        else if (skipped == 0)
            printf ("%s %s: nothing to skip; it has applied up to %" PRIu64 " and %s retains from "
                    "%" PRIu64 "\n",
                    service, topic, position, producer, first > 0 ? first : head + 1);
        else
            printf ("%s %s: position %" PRIu64 " -> %" PRIu64 ", skipped %" PRIu64
                    " event%s (%" PRIu64 "..%" PRIu64 ")\n",
                    service, topic, position, target, skipped, skipped == 1 ? "" : "s",
                    position + 1, target);
        rc = 0;
    }
    cli_reply_destroy (&set);
    cli_reply_destroy (&subscriber);
    cli_reply_destroy (&owner);
    return rc;
}
