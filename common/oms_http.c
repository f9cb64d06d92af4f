/*  oms_http: see oms_http.h. The body is written into a memory stream and
    handed to libmicrohttpd, which frees it after sending.
*/
#include "oms_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONNECTIONS_MAX 16U
#define IDLE_TIMEOUT_S  10U

struct _oms_http_t {
    struct MHD_Daemon *daemon;
    oms_http_page_fn page;
    void *arg;
};

struct _oms_http_request_t {
    struct MHD_Connection *connection;
    const char *path;
};

const char *
oms_http_path (const oms_http_request_t *request)
{
    return request->path;
}

const char *
oms_http_arg (const oms_http_request_t *request, const char *name)
{
    return MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) state;
    oms_http_t *self = cls;
    oms_http_request_t request = {connection, url};
    const char *content_type = "text/plain; charset=utf-8";
    char *body = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&body, &size);
    if (!out)
        return MHD_NO;
    unsigned status = MHD_HTTP_METHOD_NOT_ALLOWED;
    if (strcmp (method, "GET") == 0)
        status = self->page (self->arg, &request, out, &content_type);
    else
        fputs ("only GET is served here\n", out);
    if (fclose (out) != 0) {
        free (body);
        return MHD_NO;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", content_type);
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    if (strncmp (content_type, "text/html", 9) == 0)
        MHD_add_response_header (response, "Content-Security-Policy",
                                 "default-src 'none'; style-src 'unsafe-inline'; "
                                 "form-action 'self'");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

oms_http_t *
oms_http_new (const char *address, oms_http_page_fn page, void *arg, char *error, size_t size)
{
    char host[128];
    const char *colon = strrchr (address, ':');
    if (!colon || colon == address || (size_t) (colon - address) >= sizeof host) {
        snprintf (error, size, "address must be host:port, not \"%.64s\"", address);
        return NULL;
    }
    snprintf (host, sizeof host, "%.*s", (int) (colon - address), address);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found = NULL;
    if (getaddrinfo (strcmp (host, "*") == 0 ? "0.0.0.0" : host, colon + 1, &hints, &found) ||
        !found) {
        snprintf (error, size, "cannot resolve %.128s", address);
        return NULL;
    }
    oms_http_t *self = (oms_http_t *) calloc (1, sizeof (oms_http_t));
    if (self) {
        self->page = page;
        self->arg = arg;
        self->daemon = MHD_start_daemon (
            MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_answer, self, MHD_OPTION_SOCK_ADDR,
            found->ai_addr, MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX,
            MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, MHD_OPTION_END);
    }
    freeaddrinfo (found);
    if (!self || !self->daemon) {
        snprintf (error, size, "cannot serve HTTP on %.128s", address);
        free (self);
        return NULL;
    }
    return self;
}

void
oms_http_destroy (oms_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    MHD_stop_daemon ((*self_p)->daemon);
    free (*self_p);
    *self_p = NULL;
}
