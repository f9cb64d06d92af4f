/*  cli_args: the command line of one oms command, and the checks its values
    must pass before anything is sent.

    Options may appear anywhere after the command name, as "--name value" or
    "--name=value"; "--" ends them. A token starting with '-' and a digit is
    a positional (so "-5" reaches the range check that rejects it). Every
    check fills `error` with a message naming the value and returns -1.
*/
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "oms_proto.h"

//  One option a command accepts. Tables end with an entry whose name is NULL.
typedef struct {
    const char *name; //  "--item", or "-h"
    int has_value;    //  false: a flag; true: needs a value; CLI_VALUE_OPTIONAL
    bool repeatable;
} cli_opt_t;

//  An option whose value may be left out ("--watch" or "--watch 2"): it is
//  then given as "--name=VALUE" or as a next argument that starts with a digit.
#define CLI_VALUE_OPTIONAL 2

#define CLI_ARGS_MAX 256

typedef struct {
    const char *positional[CLI_ARGS_MAX];
    size_t n_positional;
    struct {
        const cli_opt_t *opt;
        const char *value; //  NULL for a flag
    } given[CLI_ARGS_MAX];
    size_t n_given;
} cli_args_t;

//  Parses argv[0..argc) against the option tables (NULL terminated list of
//  tables). Values point into argv. Rejects unknown options, a missing value
//  and a non-repeatable option given twice.
int cli_args_parse (cli_args_t *self, int argc, char **argv, const cli_opt_t *const *tables,
                    char *error, size_t size);

//  The value of an option (the last one for a repeatable option), or NULL.
const char *cli_args_value (const cli_args_t *self, const char *name);
//  Whether an option (flag or valued) was given.
bool cli_args_has (const cli_args_t *self, const char *name);
//  Fills `values` with every value of `name`, in order; returns how many were
//  given (which may exceed `max`; only `max` are stored).
size_t cli_args_values (const cli_args_t *self, const char *name, const char **values, size_t max);

//  An identifier: 1..max characters from [A-Za-z0-9._:@/-]. `what` names it
//  in the message ("customer", "order id").
int cli_check_id (const char *what, const char *value, size_t max, char *error, size_t size);
//  A name: 1..max characters from [a-z0-9._-].
int cli_check_name (const char *what, const char *value, size_t max, char *error, size_t size);
//  A payment method: one of oms_payment_methods.
int cli_check_method (const char *value, char *error, size_t size);
//  A card number: 12..19 digits.
int cli_check_card (const char *value, char *error, size_t size);

//  A decimal integer in [min, max], digits only (no sign, no spaces).
int cli_parse_int (const char *what, const char *text, int64_t min, int64_t max, int64_t *value,
                   char *error, size_t size);
//  A number of seconds, decimal with an optional fraction, in [0, max].
int cli_parse_seconds (const char *what, const char *text, double max, double *value, char *error,
                       size_t size);

//  A duration, exact to the nanosecond: a decimal number with an optional
//  fraction of at most 9 digits, then a unit s, m, h or d (none: seconds),
//  e.g. 30s, 1.5h, 2d, 90. More than 0 and at most CLI_DURATION_MAX_NS.
#define CLI_DURATION_MAX_NS (UINT64_C (3650) * 86400 * 1000000000) //  3650d
int cli_parse_duration (const char *what, const char *text, uint64_t *ns, char *error, size_t size);

//  A comma-separated list of order statuses (oms_order_statuses, in any
//  case) into `out` upper-cased, at most `max` bytes. 0, or -1 naming the
//  status that is not one.
int cli_parse_statuses (const char *text, char *out, size_t max, char *error, size_t size);

//  "SKU:QTY" lines of an order: 1..OMS_ITEMS_MAX, distinct SKUs, quantities
//  in 1..OMS_QTY_MAX. The SKU is what precedes the last ':'.
int cli_parse_items (const char *const *texts, size_t n, oms_item_t *items, uint32_t *n_items,
                     char *error, size_t size);

//  Writes `text` into buf for a message: control and non-ASCII bytes as \xNN,
//  cut to fit. Returns buf.
const char *cli_printable (const char *text, char *buf, size_t size);

//  Prints "oms: <message>" on stderr; returns 1, the CLI's error exit code.
int cli_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#endif
