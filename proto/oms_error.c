/*  oms_error: the one error space shared by the codec, the store and the
    runtime, and its texts. The texts end up in replies to clients and in logs,
    so each code has its own wording.
*/
#include <stdarg.h>
#include <stdio.h>

#include "oms_proto.h"

static const char *s_texts[] = {
    "success",                                          //  OMS_OK
    "not msgpack",                                      //  OMS_E_MALFORMED
    "message ends before its last value",               //  OMS_E_TRUNCATED
    "bytes after the message",                          //  OMS_E_TRAILING
    "wrong type",                                       //  OMS_E_TYPE
    "required field missing",                           //  OMS_E_MISSING
    "unknown field",                                    //  OMS_E_UNKNOWN
    "field given twice",                                //  OMS_E_DUPLICATE
    "string too long",                                  //  OMS_E_TOO_LONG
    "too many elements",                                //  OMS_E_TOO_MANY
    "value out of range",                               //  OMS_E_RANGE
    "value not allowed",                                //  OMS_E_INVALID
    "unsupported protocol version",                     //  OMS_E_VERSION
    "event type unknown, or not its topic or producer", //  OMS_E_TOPIC
    "wrong number of frames",                           //  OMS_E_FRAMES
    "message too big",                                  //  OMS_E_TOO_BIG
    "nesting too deep",                                 //  OMS_E_DEPTH
    "not found",                                        //  OMS_E_NOTFOUND
    "store failure",                                    //  OMS_E_STORE
    "store full",                                       //  OMS_E_FULL
    "rejected",                                         //  OMS_E_REJECTED
    "out of memory",                                    //  OMS_E_NOMEM
    "events no longer retained",                        //  OMS_E_GONE
    "permission denied",                                //  OMS_E_DENIED
    "limit exceeded",                                   //  OMS_E_LIMIT
    "timed out",                                        //  OMS_E_TIMEOUT
};

_Static_assert(sizeof s_texts / sizeof s_texts[0] == -OMS_E_LAST, "one text per oms_error_t code");

const char *
oms_strerror (int code)
{
    if (code > 0 || code <= OMS_E_LAST)
        return "unknown error";
    return s_texts[-code];
}

void
oms_error_format (char *error, size_t size, const char *format, ...)
{
    if (!error || size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (error, size, format, args);
    va_end (args);
}

const char *
oms_fault_str (const oms_fault_t *fault, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!fault)
        snprintf (buf, size, "%s", oms_strerror (OMS_OK));
    else if (fault->field[0])
        snprintf (buf, size, "%.*s: %s", (int) sizeof fault->field, fault->field,
                  oms_strerror (fault->code));
    else
        snprintf (buf, size, "%s", oms_strerror (fault->code));
    return buf;
}

int
oms_fault_set (oms_fault_t *fault, int code, const char *field)
{
    if (fault) {
        fault->code = code;
        snprintf (fault->field, sizeof fault->field, "%s", field ? field : "");
    }
    return code;
}
