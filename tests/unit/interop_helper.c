/*  interop_helper: the C side of test_interop.py, which checks our wire format
    against an independent msgpack implementation.

    interop_helper events   writes one event of every type to stdout, each as
                            be32 topic size, topic, be32 body size, body
    interop_helper command  decodes the msgpack request on stdin; prints the
                            decoded fields as one JSON line and exits 0, or
                            prints "field: reason" and exits 1
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oms_proto.h"
#include "sample_events.h"

static void
s_put_frame (const void *data, size_t size)
{
    uint8_t be[4] = {(uint8_t) (size >> 24), (uint8_t) (size >> 16), (uint8_t) (size >> 8),
                     (uint8_t) size};
    fwrite (be, 1, 4, stdout);
    fwrite (data, 1, size, stdout);
}

static int
s_events (void)
{
    static oms_event_t events[SAMPLE_EVENTS];
    sample_events_build (events);
    for (size_t i = 0; i < SAMPLE_EVENTS; i++) {
        sample_event_stamp (&events[i], 1);
        msgpack_sbuffer body;
        msgpack_sbuffer_init (&body);
        int rc = oms_event_encode (&events[i], &body);
        if (rc) {
            fprintf (stderr, "interop_helper: %s does not encode: %s\n", events[i].type,
                     oms_strerror (rc));
            msgpack_sbuffer_destroy (&body);
            return 1;
        }
        s_put_frame (events[i].type, strlen (events[i].type));
        s_put_frame (body.data, body.size);
        msgpack_sbuffer_destroy (&body);
    }
    return fflush (stdout) == 0 ? 0 : 1;
}

static void
s_json_str (const char *s)
{
    putchar ('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            printf ("\\%c", c);
        else if (c < 0x20)
            printf ("\\u%04x", c);
        else
            putchar (c);
    }
    putchar ('"');
}

//  Prints the fields the command's schema names, leaving out the optional
//  ones that are absent, as oms_schema_pack would.
static void
s_print_request (const oms_request_t *req)
{
    const oms_schema_t *schema = oms_command_type (req->cmd)->schema;
    const char *record = (const char *) req;
    const char *sep = "";
    putchar ('{');
    for (size_t i = 0; i < schema->n_fields; i++) {
        const oms_field_t *f = &schema->fields[i];
        const void *at = record + f->offset;
        if (f->type == OMS_T_STR && !f->required && !*(const char *) at)
            continue;
        if ((f->type == OMS_T_INT || f->type == OMS_T_UINT) && !f->required &&
            *(const uint64_t *) at == 0)
            continue;
        printf ("%s", sep);
        s_json_str (f->key);
        putchar (':');
        if (f->type == OMS_T_STR)
            s_json_str (at);
        else if (f->type == OMS_T_INT)
            printf ("%lld", (long long) *(const int64_t *) at);
        else if (f->type == OMS_T_UINT)
            printf ("%llu", (unsigned long long) *(const uint64_t *) at);
        else if (f->type == OMS_T_ITEMS) {
            const oms_item_t *items = at;
            uint32_t n = *(const uint32_t *) (record + f->count_offset);
            putchar ('[');
            for (uint32_t j = 0; j < n; j++) {
                printf ("%s{\"sku\":", j ? "," : "");
                s_json_str (items[j].sku);
                printf (",\"qty\":%lld}", (long long) items[j].qty);
            }
            putchar (']');
        }
        else
            printf ("null");
        sep = ",";
    }
    printf ("}\n");
}

static int
s_command (void)
{
    //  One byte more than the limit, so that an oversized request is seen as one.
    size_t capacity = OMS_MSG_MAX + 1;
    uint8_t *data = malloc (capacity);
    if (!data)
        return 2;
    size_t size = fread (data, 1, capacity, stdin);

    oms_request_t req;
    oms_fault_t fault;
    int rc = oms_request_decode (data, size, &req, &fault);
    free (data);
    if (rc) {
        char text[160];
        printf ("%s\n", oms_fault_str (&fault, text, sizeof text));
        return 1;
    }
    s_print_request (&req);
    return 0;
}

int
main (int argc, char *argv[])
{
    if (argc == 2 && strcmp (argv[1], "events") == 0)
        return s_events ();
    if (argc == 2 && strcmp (argv[1], "command") == 0)
        return s_command ();
    fprintf (stderr, "usage: interop_helper events | command\n");
    return 2;
}
