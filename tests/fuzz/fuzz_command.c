/*  fuzz_command: a request as it arrives on a service's api endpoint (the
    msgpack frame after the delimiter). What decodes names a known command
    and must survive the round trip (fuzz_oracle.c).
*/
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static oms_request_t request;
    oms_fault_t fault;

    int rc = oms_request_decode (data, size, &request, &fault);
    fuzz_check_fault (rc, &fault);
    if (rc)
        return 0;
    FUZZ_ASSERT (oms_command_type (request.cmd) != NULL, "decoded an unknown command");
    fuzz_request_round_trip (&request);
    return 0;
}
