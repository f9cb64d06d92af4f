/*  cli_json: msgpack to JSON for --json output, the human value form, and
    HTML text for the console.

    UTF-8 is checked byte by byte (RFC 3629: no overlongs, no surrogates,
    nothing above U+10FFFF); each byte that does not start a valid sequence
    is written as U+FFFD, so the output is always valid JSON (or HTML)
    whatever a peer sent. In HTML, control bytes become U+FFFD too, and
    & < > " ' become entities, so a value can never open a tag or end an
    attribute.
*/
#include "cli_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

//  Length of the valid UTF-8 sequence at s (at most `left` bytes), 0 if none.
static size_t
s_utf8_len (const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t min;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    }
    else
        return 0;
    if (len > left)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

//  Writes text, valid UTF-8 only, escaped for a JSON string or for HTML.
static void
s_print_text (FILE *out, const char *str, size_t len, bool html)
{
    const unsigned char *s = (const unsigned char *) str;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        const char *entity = !html       ? NULL
                             : c == '&'  ? "&amp;"
                             : c == '<'  ? "&lt;"
                             : c == '>'  ? "&gt;"
                             : c == '"'  ? "&quot;"
                             : c == '\'' ? "&#39;"
                                         : NULL;
        size_t n = c < 0x20 || c == 0x7f ? 0 : s_utf8_len (s + i, len - i);
        if (entity)
            fputs (entity, out);
        else if (!html && (c == '"' || c == '\\'))
            fprintf (out, "\\%c", c);
        else if (!html && (c < 0x20 || c == 0x7f))
            fprintf (out, "\\u%04x", c);
        else if (n == 0)
            fputs (html ? "\xef\xbf\xbd" : "\\ufffd", out);
        else
            fwrite (s + i, 1, n, out);
        i += n > 0 && !entity ? n : 1;
    }
}

void
cli_json_print_text (FILE *out, const char *str, size_t len)
{
    s_print_text (out, str, len, false);
}

void
cli_html_print_text (FILE *out, const char *str, size_t len)
{
    s_print_text (out, str, len, true);
}

void
cli_html_print (FILE *out, const msgpack_object *obj)
{
    if (!obj)
        return;
    if (obj->type == MSGPACK_OBJECT_STR) {
        cli_html_print_text (out, obj->via.str.ptr, obj->via.str.size);
        return;
    }
    char *json = NULL;
    size_t size = 0;
    FILE *text = open_memstream (&json, &size);
    if (!text)
        return;
    cli_json_print (text, obj);
    if (fclose (text) == 0)
        cli_html_print_text (out, json, size);
    free (json);
}

void
cli_json_print_str (FILE *out, const char *str, size_t len)
{
    fputc ('"', out);
    cli_json_print_text (out, str, len);
    fputc ('"', out);
}

//  Bytes as a quoted base64 string (RFC 4648, padded).
static void
s_print_base64 (FILE *out, const char *data, size_t size)
{
    zarmour_t *armour = zarmour_new ();
    char *text = armour ? zarmour_encode (armour, (const byte *) data, size) : NULL;
    fprintf (out, "\"%s\"", text ? text : "");
    zstr_free (&text);
    zarmour_destroy (&armour);
}

//  The shortest text that reads back as the same double.
static void
s_print_double (FILE *out, double value)
{
    if (!isfinite (value)) {
        fputs ("null", out); //  JSON has no NaN or infinity
        return;
    }
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf (text, sizeof text, "%.*g", digits, value);
        if (strtod (text, NULL) == value)
            break;
    }
    //  Keep it a JSON number that reads back as a float, not an integer.
    if (!strpbrk (text, ".eE"))
        strcat (text, ".0");
    fputs (text, out);
}

void
cli_json_print_key (FILE *out, const msgpack_object *key)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        cli_json_print_str (out, key->via.str.ptr, key->via.str.size);
        return;
    }
    //  JSON keys are strings: write the key's JSON text as one.
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream (&text, &size);
    if (mem) {
        cli_json_print (mem, key);
        fclose (mem);
    }
    if (text)
        cli_json_print_str (out, text, size);
    else
        fputs ("\"\"", out);
    free (text);
}

void
cli_json_print_entries (FILE *out, const msgpack_object *map, const char *const *skip, bool lead)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const char *const *key = skip;
        while (*key && !cli_str_eq (&kv->key, *key))
            key++;
        if (*key)
            continue;
        if (lead)
            fputs (", ", out);
        lead = true;
        cli_json_print_key (out, &kv->key);
        fputs (": ", out);
        cli_json_print (out, &kv->val);
    }
}

void
cli_json_print_map (FILE *out, const msgpack_object *map, const char *skip)
{
    const char *const keys[] = {skip, NULL};
    fputc ('{', out);
    cli_json_print_entries (out, map, keys, false);
    fputc ('}', out);
}

void
cli_json_print (FILE *out, const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        fputs ("null", out);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs (obj->via.boolean ? "true" : "false", out);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf (out, "%" PRIu64, obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf (out, "%" PRId64, obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        s_print_double (out, obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        cli_json_print_str (out, obj->via.str.ptr, obj->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        s_print_base64 (out, obj->via.bin.ptr, obj->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        s_print_base64 (out, obj->via.ext.ptr, obj->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc ('[', out);
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            if (i > 0)
                fputs (", ", out);
            cli_json_print (out, &obj->via.array.ptr[i]);
        }
        fputc (']', out);
        break;
    case MSGPACK_OBJECT_MAP:
        cli_json_print_map (out, obj, NULL);
        break;
    default:
        fputs ("null", out);
        break;
    }
}

static bool
s_is_bare (const char *str, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) str[i];
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=')
            return false;
    }
    return true;
}

void
cli_text_print (FILE *out, const msgpack_object *obj)
{
    if (obj->type == MSGPACK_OBJECT_STR && s_is_bare (obj->via.str.ptr, obj->via.str.size))
        fwrite (obj->via.str.ptr, 1, obj->via.str.size, out);
    else
        cli_json_print (out, obj);
}

bool
cli_str_eq (const msgpack_object *obj, const char *text)
{
    size_t len = strlen (text);
    return obj && obj->type == MSGPACK_OBJECT_STR && obj->via.str.size == len &&
           memcmp (obj->via.str.ptr, text, len) == 0;
}

const msgpack_object *
cli_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (cli_str_eq (&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

//  The value of `key` when it has `type`, in *found: the typed look-ups' 0,
//  1 or -1.
static int
s_map_typed (const msgpack_object *map, const char *key, msgpack_object_type type,
             const msgpack_object **found)
{
    *found = cli_map_get (map, key);
    return !*found ? 1 : (*found)->type == type ? 0 : -1;
}

int
cli_map_str (const msgpack_object *map, const char *key, const char **str, size_t *len)
{
    const msgpack_object *found = NULL;
    int rc = s_map_typed (map, key, MSGPACK_OBJECT_STR, &found);
    if (rc == 0) {
        *str = found->via.str.ptr;
        *len = found->via.str.size;
    }
    return rc;
}

int
cli_map_int (const msgpack_object *map, const char *key, int64_t *value)
{
    const msgpack_object *found = cli_map_get (map, key);
    if (!found)
        return 1;
    if (found->type == MSGPACK_OBJECT_POSITIVE_INTEGER && found->via.u64 <= INT64_MAX)
        *value = (int64_t) found->via.u64;
    else if (found->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *value = found->via.i64;
    else
        return -1;
    return 0;
}

int
cli_map_bool (const msgpack_object *map, const char *key, bool *value)
{
    const msgpack_object *found = NULL;
    int rc = s_map_typed (map, key, MSGPACK_OBJECT_BOOLEAN, &found);
    if (rc == 0)
        *value = found->via.boolean;
    return rc;
}

int
cli_map_uint (const msgpack_object *map, const char *key, uint64_t *value)
{
    const msgpack_object *found = NULL;
    int rc = s_map_typed (map, key, MSGPACK_OBJECT_POSITIVE_INTEGER, &found);
    if (rc == 0)
        *value = found->via.u64;
    return rc;
}

int
cli_map_copy (const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const char *str = NULL;
    size_t len = 0;
    int rc = cli_map_str (map, key, &str, &len);
    if (rc != 0)
        return rc;
    if (len >= size || memchr (str, 0, len))
        return -1;
    memcpy (buf, str, len);
    buf[len] = '\0';
    return 0;
}

const msgpack_object *
cli_map_array (const msgpack_object *map, const char *key)
{
    const msgpack_object *found = cli_map_get (map, key);
    return found && found->type == MSGPACK_OBJECT_ARRAY ? found : NULL;
}

const char *
cli_age (uint64_t ns, char *buf, size_t size)
{
    uint64_t s = ns / 1000000000u;
    if (s < 120)
        snprintf (buf, size, "%" PRIu64 "s", s);
    else if (s < 7200)
        snprintf (buf, size, "%" PRIu64 "m", s / 60);
    else if (s < 172800)
        snprintf (buf, size, "%" PRIu64 "h", s / 3600);
    else
        snprintf (buf, size, "%" PRIu64 "d", s / 86400);
    return buf;
}

//  Writes `"key": value` from the raw envelope, or the decoded value when the
//  encoder left the field out.
static void
s_print_envelope_str (const msgpack_object *raw, const char *key, const char *decoded)
{
    const msgpack_object *value = cli_map_get (raw, key);
    printf (", \"%s\": ", key);
    if (value)
        cli_json_print (stdout, value);
    else
        cli_json_print_str (stdout, decoded, strlen (decoded));
}

static void
s_print_envelope_uint (const msgpack_object *raw, const char *key, uint64_t decoded)
{
    const msgpack_object *value = cli_map_get (raw, key);
    printf (", \"%s\": ", key);
    if (value)
        cli_json_print (stdout, value);
    else
        printf ("%" PRIu64, decoded);
}

void
cli_event_print (const char *topic, const oms_event_t *event, const msgpack_object *raw, bool json)
{
    const msgpack_object *data = cli_map_get (raw, "data");
    if (json) {
        printf ("{\"topic\": ");
        cli_json_print_str (stdout, topic, strlen (topic));
        s_print_envelope_str (raw, "id", event->id);
        s_print_envelope_str (raw, "type", event->type);
        s_print_envelope_str (raw, "producer", event->producer);
        s_print_envelope_uint (raw, "seq", event->seq);
        s_print_envelope_uint (raw, "ts_ns", event->ts_ns);
        s_print_envelope_str (raw, "correlation_id", event->correlation_id);
        s_print_envelope_str (raw, "causation_id", event->causation_id);
        printf (", \"data\": ");
    }
    else
        printf ("%s seq=%" PRIu64 " producer=%s corr=%s data=", event->type, event->seq,
                event->producer, event->correlation_id);
    if (data)
        cli_json_print (stdout, data);
    else
        printf ("{}");
    if (json)
        putchar ('}');
}
