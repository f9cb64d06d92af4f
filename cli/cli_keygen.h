/*  cli_keygen: `oms keygen NAME [--dir DIR]`, a CURVE certificate for a
    process or an operator (see docs/SECURITY.md).
*/
#ifndef CLI_KEYGEN_H
#define CLI_KEYGEN_H

#include <stdbool.h>
#include "cli_args.h"

//  The options of `oms keygen`, besides the global ones; ends with a NULL name.
extern const cli_opt_t cli_keygen_opts[];

//  Writes NAME.cert (public: copy it into every machine's security/certs)
//  and NAME.cert_secret (mode 0600: keep it in security/keys of the machine
//  NAME runs on) into --dir, default ".", creating the directory. Never
//  overwrites. Prints the two paths and the public key (a JSON object with
//  `json`). Returns the exit code: 0, or 1 with a message on stderr.
int cli_keygen (const cli_args_t *args, bool json);

#endif
