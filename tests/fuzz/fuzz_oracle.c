/*  fuzz_oracle: the checks the codec targets run on what they decoded.

    The round trip is the codec's own promise (oms_schema.c: "whatever we
    write we can read"): a struct the decoder filled must pass the encoder's
    validation, and the encoder's output, which is canonical (table order,
    shortest formats, optional zeros left out), must decode to the same
    struct and encode to the same bytes. Decoders zero whole records first,
    so the structs compare with memcmp, padding included.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void
fuzz_fail (const char *file, int line, const char *what)
{
    fprintf (stderr, "%s:%d: oracle broken: %s\n", file, line, what);
    abort ();
}

void
fuzz_check_fault (int rc, const oms_fault_t *fault)
{
    FUZZ_ASSERT (rc <= 0 && rc > OMS_E_LAST, "return code outside oms_error_t");
    FUZZ_ASSERT (fault->code == rc, "fault code differs from the return code");
    FUZZ_ASSERT (memchr (fault->field, 0, sizeof fault->field), "fault field not terminated");
    FUZZ_ASSERT (oms_strerror (rc) && *oms_strerror (rc), "no text for an error code");
    char text[128];
    FUZZ_ASSERT (oms_fault_str (fault, text, sizeof text) == text, "oms_fault_str");
    FUZZ_ASSERT (memchr (text, 0, sizeof text), "fault text not terminated");
}

static void
s_same_bytes (const msgpack_sbuffer *one, const msgpack_sbuffer *two)
{
    FUZZ_ASSERT (one->size == two->size, "re-encoding changed the size");
    FUZZ_ASSERT (memcmp (one->data, two->data, one->size) == 0, "re-encoding changed the bytes");
}

void
fuzz_event_round_trip (const oms_event_t *event)
{
    static oms_event_t again; //  large: keep it off the stack
    msgpack_sbuffer one, two;
    msgpack_sbuffer_init (&one);
    msgpack_sbuffer_init (&two);
    oms_fault_t fault;

    FUZZ_ASSERT (oms_event_encode (event, &one) == 0, "a decoded event does not encode");
    int rc = oms_event_decode ((const uint8_t *) one.data, one.size, event->type, &again, &fault);
    fuzz_check_fault (rc, &fault);
    FUZZ_ASSERT (rc == 0, "an encoded event does not decode");
    FUZZ_ASSERT (memcmp (event, &again, sizeof again) == 0, "the round trip changed the event");
    FUZZ_ASSERT (oms_event_encode (&again, &two) == 0, "a re-decoded event does not encode");
    s_same_bytes (&one, &two);

    msgpack_sbuffer_destroy (&one);
    msgpack_sbuffer_destroy (&two);
}

void
fuzz_request_round_trip (const oms_request_t *request)
{
    static oms_request_t again;
    msgpack_sbuffer one, two;
    msgpack_sbuffer_init (&one);
    msgpack_sbuffer_init (&two);
    oms_fault_t fault;

    FUZZ_ASSERT (oms_request_encode (request, &one) == 0, "a decoded request does not encode");
    int rc = oms_request_decode ((const uint8_t *) one.data, one.size, &again, &fault);
    fuzz_check_fault (rc, &fault);
    FUZZ_ASSERT (rc == 0, "an encoded request does not decode");
    FUZZ_ASSERT (memcmp (request, &again, sizeof again) == 0, "the round trip changed the request");
    FUZZ_ASSERT (oms_request_encode (&again, &two) == 0, "a re-decoded request does not encode");
    s_same_bytes (&one, &two);

    msgpack_sbuffer_destroy (&one);
    msgpack_sbuffer_destroy (&two);
}
