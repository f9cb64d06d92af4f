/*  fuzz_replay: a replay answer as a consumer receives it from a producer,
    {"ok", "topic", "epoch", "start", "first", "head", "events": [bin, ...]} or
    {"ok": false, "error"}; the input is the msgpack frame.

    The runtime reads these with oms_replay_answer_decode, then decodes each
    bin as an event body under the answer's topic and compares its seq with
    start + i; so does this target. Decoded events go through the round trip.

    The target also holds oms_msgpack_check to its promise: bytes it accepts
    are exactly one object that msgpack-c unpacks whole.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

//  What the parser may return for bytes the structure check accepted.
static void
s_check_parse (const uint8_t *data, size_t size, int rc)
{
    if (size > OMS_MSG_MAX) {
        FUZZ_ASSERT (rc == OMS_E_TOO_BIG, "parse accepted more than OMS_MSG_MAX bytes");
        return;
    }
    int checked = oms_msgpack_check (data, size);
    if (checked) {
        FUZZ_ASSERT (rc == checked, "parse and check disagree on refused bytes");
        return;
    }
    FUZZ_ASSERT (rc == 0 || rc == OMS_E_TYPE, "checked bytes that msgpack-c cannot unpack");
}

//  The body is copied to a buffer of its own size, so that AddressSanitizer
//  sees a read past its end rather than into the rest of the answer.
static void
s_apply (const char *type, const uint8_t *body, size_t size, uint64_t expected)
{
    static oms_event_t event;
    oms_fault_t fault;
    uint8_t *copy = malloc (size ? size : 1);
    FUZZ_ASSERT (copy, "out of memory");
    if (size)
        memcpy (copy, body, size);
    int rc = oms_event_decode (copy, size, type, &event, &fault);
    free (copy);
    fuzz_check_fault (rc, &fault);
    if (rc)
        return;
    FUZZ_ASSERT (strcmp (event.type, type) == 0, "a replayed event of another type");
    if (event.seq != expected)
        return; //  the runtime counts it as rejected
    fuzz_event_round_trip (&event);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    oms_fault_t fault = {0};
    int rc = oms_msgpack_parse (data, size, &result, &fault);
    fuzz_check_fault (rc, &fault);
    s_check_parse (data, size, rc);
    msgpack_unpacked_destroy (&result);

    oms_replay_answer_t answer;
    rc = oms_replay_answer_decode (data, size, &result, &answer, &fault);
    fuzz_check_fault (rc, &fault);
    //  A consumer subscribes to kept types only.
    const oms_event_type_t *entry = rc ? NULL : oms_event_type (answer.topic);
    if (entry && entry->durable && answer.ok)
        for (uint32_t i = 0; i < answer.n_events; i++) {
            const msgpack_object *body = &answer.events[i];
            FUZZ_ASSERT (body->type == MSGPACK_OBJECT_BIN, "a replayed body that is not bin");
            s_apply (answer.topic, (const uint8_t *) body->via.bin.ptr, body->via.bin.size,
                     answer.start + i);
        }
    msgpack_unpacked_destroy (&result);
    return 0;
}
