/*  cli_keygen: `oms keygen NAME [--dir DIR]`, a CURVE certificate for a
    process or an operator (docs/SECURITY.md): NAME.cert (public: copy it
    into every machine's security/certs) and NAME.cert_secret (mode 0600:
    keep it in security/keys of the machine NAME runs on), never
    overwritten. The pair is made by oms_security, which also reads it, so
    that the format written is the format loaded.
*/
#include "cli.h"
#include "oms_security.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

const cli_opt_t cli_keygen_opts[] = {{"--dir", true, false}, {NULL, false, false}};

int
cli_cmd_keygen (cli_t *self)
{
    char error[512];
    if (cli_expect (self, 1, 1))
        return 1;
    const char *name = cli_arg (self, 0);
    const char *dir = cli_args_value (&self->args, "--dir");
    if (!dir)
        dir = ".";
    if (oms_security_keygen (dir, name, error, sizeof error))
        return cli_fail ("keygen: %s", error);
    char path[1024];
    snprintf (path, sizeof path, "%s/%s.cert", dir, name);
    zcert_t *cert = zcert_load (path);
    const char *key = cert ? zcert_public_txt (cert) : "";
    if (self->json) {
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
