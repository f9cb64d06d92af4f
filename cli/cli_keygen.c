/*  cli_keygen: key pairs are made by oms_security, which also reads them, so
    that the format written is the format loaded.
*/
#include "cli_keygen.h"
#include "cli_json.h"
#include "oms_security.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

const cli_opt_t cli_keygen_opts[] = {{"--dir", true, false}, {NULL, false, false}};

int
cli_keygen (const cli_args_t *args, bool json)
{
    char error[512];
    if (args->n_positional != 1) {
        fprintf (stderr, "oms: %s; usage: oms keygen NAME [--dir DIR]\n",
                 args->n_positional ? "too many arguments" : "missing argument");
        return 1;
    }
    const char *name = args->positional[0];
    const char *dir = cli_args_value (args, "--dir");
    if (!dir)
        dir = ".";
    if (oms_security_keygen (dir, name, error, sizeof error)) {
        fprintf (stderr, "oms: keygen: %s\n", error);
        return 1;
    }
    char path[1024];
    snprintf (path, sizeof path, "%s/%s.cert", dir, name);
    zcert_t *cert = zcert_load (path);
    const char *key = cert ? zcert_public_txt (cert) : "";
    if (json) {
        printf ("{\"name\": ");
        cli_json_print_str (stdout, name, strlen (name));
        printf (", \"public\": ");
        cli_json_print_str (stdout, path, strlen (path));
        printf (", \"secret\": ");
        snprintf (path, sizeof path, "%s/%s.cert_secret", dir, name);
        cli_json_print_str (stdout, path, strlen (path));
        printf (", \"public_key\": ");
        cli_json_print_str (stdout, key, strlen (key));
        printf ("}\n");
    }
    else
        printf ("%s/%s.cert\n%s/%s.cert_secret\npublic-key %s\n", dir, name, dir, name, key);
    zcert_destroy (&cert);
    return 0;
}
