/*  fuzz: what the libFuzzer targets in this folder share.

    Each target feeds untrusted bytes to one decoder. Beyond "never crash",
    the codec targets check oracles: a decode fails with a code from the
    error space and a NUL terminated field path, and whatever decodes also
    encodes, decodes again to the same struct and encodes to the same bytes.
    A broken oracle aborts, which libFuzzer reports as a crash.
*/
#ifndef OMS_FUZZ_H
#define OMS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "oms_proto.h"

//  libFuzzer's entry points.
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Aborts with `what` when `condition` is false; unlike assert, never
//  compiled out.
#define FUZZ_ASSERT(condition, what)                                                               \
    ((condition) ? (void) 0 : fuzz_fail (__FILE__, __LINE__, (what)))

void fuzz_fail (const char *file, int line, const char *what) __attribute__ ((noreturn));

//  Checks what a decoder returned: 0, or a code of oms_error_t that `fault`
//  repeats, with a NUL terminated field path and a text from oms_strerror.
void fuzz_check_fault (int rc, const oms_fault_t *fault);

//  Encodes a decoded event, decodes the bytes (with its type as the topic),
//  expects the same struct, encodes again and expects the same bytes.
void fuzz_event_round_trip (const oms_event_t *event);

//  The same for a decoded request.
void fuzz_request_round_trip (const oms_request_t *request);

#endif
