/*  fuzz_event: an event body (envelope and data) as it arrives in the
    second frame of a bus message; the input is the body alone.

    Each input is decoded three ways: without a topic, as the runtime's
    replay and tools do; with the topic the event names, as the bus does;
    and with a topic that differs. A topic only adds a check, so the three
    must agree: all fail, or the first two give the same event and the third
    fails with OMS_E_TOPIC on "type". What decodes must survive the round
    trip (fuzz_oracle.c), as this build's minor when it came as a newer one.
*/
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static oms_event_t event, again; //  large: keep them off the stack
    oms_fault_t fault;

    int rc = oms_event_decode (data, size, NULL, &event, &fault);
    fuzz_check_fault (rc, &fault);
    if (rc) {
        rc = oms_event_decode (data, size, "order.placed", &again, &fault);
        fuzz_check_fault (rc, &fault);
        FUZZ_ASSERT (rc != 0, "a topic made a refused body acceptable");
        return 0;
    }
    FUZZ_ASSERT (oms_event_type (event.type) != NULL, "decoded an unknown event type");
    FUZZ_ASSERT (event.version == OMS_PROTO_VERSION, "decoded another version");

    rc = oms_event_decode (data, size, event.type, &again, &fault);
    fuzz_check_fault (rc, &fault);
    FUZZ_ASSERT (rc == 0, "refused under its own topic");
    FUZZ_ASSERT (memcmp (&event, &again, sizeof again) == 0, "the topic changed the event");

    char other[OMS_NAME_MAX + 3];
    snprintf (other, sizeof other, "%s.x", event.type);
    rc = oms_event_decode (data, size, other, &again, &fault);
    fuzz_check_fault (rc, &fault);
    FUZZ_ASSERT (rc == OMS_E_TOPIC && strcmp (fault.field, "type") == 0,
                 "accepted under another topic");

    //  An event of a newer minor is not written again as that minor (its
    //  skipped keys are lost); what this build knows of it round trips.
    if (event.minor > OMS_EVENT_MINOR) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        FUZZ_ASSERT (oms_event_encode (&event, &out) == OMS_E_VERSION,
                     "wrote a newer minor it does not know");
        msgpack_sbuffer_destroy (&out);
        event.minor = OMS_EVENT_MINOR;
    }
    fuzz_event_round_trip (&event);
    return 0;
}
