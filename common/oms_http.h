/*  oms_http: the one way an oms program serves HTTP (libmicrohttpd, one
    thread of its own): the metrics endpoints and the operator's console.

    Only GET is answered (405 otherwise). A page is a function that writes
    its body into a FILE and returns the HTTP status; it runs on the HTTP
    thread, one request at a time, so it must only touch what that thread
    may touch. Every response says what it is (Content-Type) and, for HTML,
    that it loads nothing from anywhere (a Content-Security-Policy that
    allows no script and no remote asset).
*/
#ifndef OMS_HTTP_H
#define OMS_HTTP_H

#include <stddef.h>
#include <stdio.h>

typedef struct _oms_http_t oms_http_t;
typedef struct _oms_http_request_t oms_http_request_t;

//  Writes the body of the page for `path` into `body`, sets *content_type
//  (a string literal) and returns the HTTP status (200, 404...).
typedef unsigned (*oms_http_page_fn) (void *arg, const oms_http_request_t *request, FILE *body,
                                      const char **content_type);

//  Serves `page` on `address`, "host:port" ("*:port" for every interface).
//  NULL with `error` filled when the address is malformed or cannot be
//  bound. Caller owns the server.
oms_http_t *oms_http_new (const char *address, oms_http_page_fn page, void *arg, char *error,
                          size_t size);
//  Stops serving; safe with *self_p NULL. Nulls the pointer.
void oms_http_destroy (oms_http_t **self_p);

//  The path of the request, without its query ("/orders").
const char *oms_http_path (const oms_http_request_t *request);
//  A query argument ("?status=PENDING"), decoded, or NULL. Untrusted:
//  borrowed for the duration of the page.
const char *oms_http_arg (const oms_http_request_t *request, const char *name);

#endif
