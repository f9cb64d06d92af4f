/*  cli_json: msgpack objects as JSON text, and as the one-line "key=value"
    form of human output; typed look-ups in the maps of replies and events.

    Objects come from replies and events, so they are untrusted: strings are
    escaped (", \ and control characters as \u00XX; bytes that are not UTF-8
    become U+FFFD), bin and ext values are base64 strings, map keys that are
    not strings are written as the JSON text of the key. Nesting is bounded
    by oms_msgpack_parse (OMS_DEPTH_MAX), which every object here went through.
*/
#ifndef CLI_JSON_H
#define CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>
#include "oms_proto.h"

//  Writes `obj` as JSON (no newline).
void cli_json_print (FILE *out, const msgpack_object *obj);
//  Writes a map as a JSON object without the entry named `skip` (may be NULL).
void cli_json_print_map (FILE *out, const msgpack_object *map, const char *skip);
//  Writes a map's entries as `"key": value` separated by ", ", without the
//  braces and without the keys listed in `skip` (NULL terminated); `lead`
//  puts a ", " before the first entry too, to follow other entries.
void cli_json_print_entries (FILE *out, const msgpack_object *map, const char *const *skip,
                             bool lead);
//  Writes a map key as a JSON string: a string key as itself, any other key
//  as its JSON text in a string.
void cli_json_print_key (FILE *out, const msgpack_object *key);
//  Writes bytes as a JSON string, quoted.
void cli_json_print_str (FILE *out, const char *str, size_t len);
//  Writes the inside of a JSON string (no quotes): free text on one line.
void cli_json_print_text (FILE *out, const char *str, size_t len);

//  Writes bytes as HTML text, safe inside an element or a quoted attribute.
void cli_html_print_text (FILE *out, const char *str, size_t len);
//  Writes a value as HTML text: a string as itself, anything else as its
//  JSON text; nothing for NULL.
void cli_html_print (FILE *out, const msgpack_object *obj);

//  Writes a value for a human line: a string as is when it is made of
//  printable ASCII without spaces, quotes, '=' or '\', else as a JSON string;
//  other values as JSON.
void cli_text_print (FILE *out, const msgpack_object *obj);

//  The value of `key` in a map, or NULL when absent or `map` is not a map.
//  Borrowed: lives as long as the object it was found in.
const msgpack_object *cli_map_get (const msgpack_object *map, const char *key);

//  Typed look-ups: 0 found with the type asked for, 1 absent, -1 present with
//  another type (or an integer out of int64_t's range).
int cli_map_str (const msgpack_object *map, const char *key, const char **str, size_t *len);
int cli_map_int (const msgpack_object *map, const char *key, int64_t *value);
int cli_map_bool (const msgpack_object *map, const char *key, bool *value);
int cli_map_uint (const msgpack_object *map, const char *key, uint64_t *value);
//  A string copied into buf with a terminating NUL; -1 also when it does not
//  fit or holds a NUL byte. buf is untouched unless 0 is returned.
int cli_map_copy (const msgpack_object *map, const char *key, char *buf, size_t size);
//  The array value of `key`, or NULL when absent or of another type.
//  Borrowed, as cli_map_get's.
const msgpack_object *cli_map_array (const msgpack_object *map, const char *key);

//  How long `ns` is, for humans, rounded down: "45s" under 2 minutes, "12m"
//  under 2 hours, "3h" under 2 days, else "2d". Returns buf.
const char *cli_age (uint64_t ns, char *buf, size_t size);

//  Whether a string object equals `text`; false when `obj` is NULL (so the
//  result of cli_map_get can be given as it is).
bool cli_str_eq (const msgpack_object *obj, const char *text);

//  Writes an event to stdout as `oms tail` does, without a newline: the line
//  "TYPE seq=N producer=P corr=C data={...}", or with json the object
//  {"topic", "id", "type", "producer", "seq", "ts_ns", "correlation_id",
//  "causation_id", "data"}. `raw` is the body's map, `event` the same body
//  decoded (see cli_event_decode).
void cli_event_print (const char *topic, const oms_event_t *event, const msgpack_object *raw,
                      bool json);

#endif
