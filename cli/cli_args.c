/*  cli_args: option parsing and the local checks of command values.
    The character sets and limits follow oms_proto.h, so a request that
    passes here is not refused by a service's decoder for its form.
*/
#include "cli_args.h"

#include <stdarg.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_CHARS   "[A-Za-z0-9._:@/-]"
#define NAME_CHARS "[a-z0-9._-]"

static const cli_opt_t *
s_find_opt (const cli_opt_t *const *tables, const char *name, size_t len)
{
    for (; *tables; tables++)
        for (const cli_opt_t *opt = *tables; opt->name; opt++)
            if (strlen (opt->name) == len && memcmp (opt->name, name, len) == 0)
                return opt;
    return NULL;
}

static bool
s_is_option (const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0' && !isdigit ((unsigned char) arg[1]);
}

static int
s_add_given (cli_args_t *self, const cli_opt_t *opt, const char *value, char *error, size_t size)
{
    if (!opt->repeatable && cli_args_has (self, opt->name)) {
        snprintf (error, size, "%s given twice", opt->name);
        return -1;
    }
    self->given[self->n_given].opt = opt;
    self->given[self->n_given].value = value;
    self->n_given++;
    return 0;
}

int
cli_args_parse (cli_args_t *self, int argc, char **argv, const cli_opt_t *const *tables,
                char *error, size_t size)
{
    memset (self, 0, sizeof *self);
    if (argc > CLI_ARGS_MAX) {
        snprintf (error, size, "too many arguments (at most %d)", CLI_ARGS_MAX);
        return -1;
    }
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || !s_is_option (arg)) {
            self->positional[self->n_positional++] = arg;
            continue;
        }
        if (strcmp (arg, "--") == 0) {
            options_done = true;
            continue;
        }
        const char *eq = strncmp (arg, "--", 2) == 0 ? strchr (arg, '=') : NULL;
        size_t name_len = eq ? (size_t) (eq - arg) : strlen (arg);
        const cli_opt_t *opt = s_find_opt (tables, arg, name_len);
        char shown[64];
        if (!opt) {
            snprintf (error, size, "unknown option: %.*s", (int) name_len,
                      cli_printable (arg, shown, sizeof shown));
            return -1;
        }
        const char *value = NULL;
        if (opt->has_value) {
            if (eq)
                value = eq + 1;
            else if (opt->has_value == CLI_VALUE_OPTIONAL) {
                if (i + 1 < argc && isdigit ((unsigned char) argv[i + 1][0]))
                    value = argv[++i];
            }
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                snprintf (error, size, "%s needs a value", opt->name);
                return -1;
            }
        }
        else if (eq) {
            snprintf (error, size, "%s takes no value", opt->name);
            return -1;
        }
        if (s_add_given (self, opt, value, error, size))
            return -1;
    }
    return 0;
}

const char *
cli_args_value (const cli_args_t *self, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < self->n_given; i++)
        if (strcmp (self->given[i].opt->name, name) == 0)
            value = self->given[i].value;
    return value;
}

bool
cli_args_has (const cli_args_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_given; i++)
        if (strcmp (self->given[i].opt->name, name) == 0)
            return true;
    return false;
}

size_t
cli_args_values (const cli_args_t *self, const char *name, const char **values, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < self->n_given; i++)
        if (strcmp (self->given[i].opt->name, name) == 0) {
            if (count < max)
                values[count] = self->given[i].value;
            count++;
        }
    return count;
}

const char *
cli_printable (const char *text, char *buf, size_t size)
{
    //  Room is kept for "..." and the NUL; callers pass at least 16 bytes.
    size_t room = size - 4;
    size_t at = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        char piece[5];
        if (*p < 0x20 || *p >= 0x7f)
            snprintf (piece, sizeof piece, "\\x%02x", *p);
        else {
            piece[0] = (char) *p;
            piece[1] = '\0';
        }
        size_t len = strlen (piece);
        if (at + len > room) {
            memcpy (buf + at, "...", 4);
            return buf;
        }
        memcpy (buf + at, piece, len);
        at += len;
    }
    buf[at] = '\0';
    return buf;
}

static bool
s_is_id_char (int c)
{
    return isalnum (c) || strchr ("._:@/-", c) != NULL;
}

static bool
s_is_name_char (int c)
{
    return (c >= 'a' && c <= 'z') || isdigit (c) || strchr ("._-", c) != NULL;
}

static int
s_check_chars (const char *what, const char *value, size_t min, size_t max, bool (*ok) (int),
               const char *chars, char *error, size_t size)
{
    size_t len = strlen (value);
    bool good = len >= min && len <= max;
    for (size_t i = 0; good && i < len; i++)
        good = isascii ((unsigned char) value[i]) && ok ((unsigned char) value[i]);
    if (good)
        return 0;
    char shown[96];
    snprintf (error, size, "%s must be %zu to %zu characters from %s: %s", what, min, max, chars,
              cli_printable (value, shown, sizeof shown));
    return -1;
}

int
cli_check_id (const char *what, const char *value, size_t max, char *error, size_t size)
{
    return s_check_chars (what, value, 1, max, s_is_id_char, ID_CHARS, error, size);
}

int
cli_check_name (const char *what, const char *value, size_t max, char *error, size_t size)
{
    return s_check_chars (what, value, 1, max, s_is_name_char, NAME_CHARS, error, size);
}

int
cli_check_method (const char *value, char *error, size_t size)
{
    char names[128] = "";
    size_t used = 0;
    for (const char *const *name = oms_payment_methods; *name; name++) {
        if (strcmp (*name, value) == 0)
            return 0;
        int n = snprintf (names + used, sizeof names - used, "%s%s", used ? ", " : "", *name);
        if (n > 0 && (size_t) n < sizeof names - used)
            used += (size_t) n;
    }
    char shown[96];
    snprintf (error, size, "payment method must be one of %s: %s", names,
              cli_printable (value, shown, sizeof shown));
    return -1;
}

static bool
s_is_digit (int c)
{
    return isdigit (c) != 0;
}

int
cli_check_card (const char *value, char *error, size_t size)
{
    return s_check_chars ("card number", value, 12, OMS_CARD_MAX, s_is_digit, "[0-9]", error, size);
}

//  Digits only, any number of leading zeros. 0, -1 when not digits, 1 when
//  the value does not fit in 63 bits.
static int
s_parse_decimal (const char *text, uint64_t *value)
{
    if (*text == '\0')
        return -1;
    for (const char *p = text; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return -1;
    while (text[0] == '0' && text[1] != '\0')
        text++;
    if (strlen (text) > 19)
        return 1;
    errno = 0;
    unsigned long long parsed = strtoull (text, NULL, 10);
    if (errno == ERANGE || parsed > INT64_MAX)
        return 1;
    *value = parsed;
    return 0;
}

int
cli_parse_int (const char *what, const char *text, int64_t min, int64_t max, int64_t *value,
               char *error, size_t size)
{
    char shown[64];
    uint64_t parsed = 0;
    if (s_parse_decimal (text, &parsed) != 0 || (int64_t) parsed < min || (int64_t) parsed > max) {
        snprintf (error, size, "%s must be an integer from %" PRId64 " to %" PRId64 ": %s", what,
                  min, max, cli_printable (text, shown, sizeof shown));
        return -1;
    }
    *value = (int64_t) parsed;
    return 0;
}

int
cli_parse_seconds (const char *what, const char *text, double max, double *value, char *error,
                   size_t size)
{
    char shown[64];
    char *end = NULL;
    bool form = isdigit ((unsigned char) text[0]) != 0;
    for (const char *p = text; form && *p; p++)
        form = isdigit ((unsigned char) *p) || *p == '.';
    double parsed = form ? strtod (text, &end) : -1;
    if (!form || *end != '\0' || !isfinite (parsed) || parsed < 0 || parsed > max) {
        snprintf (error, size, "%s must be a number of seconds from 0 to %.0f: %s", what, max,
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    *value = parsed;
    return 0;
}

int
cli_parse_duration (const char *what, const char *text, uint64_t *ns, char *error, size_t size)
{
    static const struct {
        char unit;
        uint64_t ns;
    } units[] = {{'s', 1000000000ull},
                 {'m', 60000000000ull},
                 {'h', 3600000000000ull},
                 {'d', 86400000000000ull}};
    char shown[64];
    const char *p = text;
    uint64_t whole = 0, fraction = 0, scale = 1, unit = units[0].ns;
    size_t digits = 0, fraction_digits = 0;
    bool good = true;
    for (; isdigit ((unsigned char) *p); p++, digits++)
        if (digits < 12)
            whole = whole * 10 + (uint64_t) (*p - '0');
        else
            good = false; //  more days than anyone means
    if (*p == '.') {
        for (p++; isdigit ((unsigned char) *p); p++, fraction_digits++)
            if (fraction_digits < 9) {
                fraction = fraction * 10 + (uint64_t) (*p - '0');
                scale *= 10;
            }
            else
                good = false; //  finer than a nanosecond
        good = good && fraction_digits > 0;
    }
    good = good && digits > 0;
    if (good && *p) {
        good = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (*p == units[i].unit && p[1] == '\0') {
                unit = units[i].ns;
                good = true;
            }
    }
    //  unit is a whole number of seconds, so unit / scale is exact.
    uint64_t total =
        good && whole <= CLI_DURATION_MAX_NS / unit ? whole * unit + fraction * (unit / scale) : 0;
    if (!good || total == 0 || total > CLI_DURATION_MAX_NS) {
        snprintf (error, size,
                  "%s must be a duration like 30s, 5m, 2h or 1d (a number, with a fraction if "
                  "wanted, then s, m, h or d; no unit means seconds), more than 0 and at most "
                  "3650d: %s",
                  what, cli_printable (text, shown, sizeof shown));
        return -1;
    }
    *ns = total;
    return 0;
}

int
cli_parse_statuses (const char *text, char *out, size_t max, char *error, size_t size)
{
    char word_text[48], shown[96];
    size_t length = 0;
    const char *p = text;
    for (;;) {
        size_t word = strcspn (p, ",");
        const char *found = NULL;
        for (const char *const *status = oms_order_statuses; *status && !found; status++)
            if (strlen (*status) == word && strncasecmp (*status, p, word) == 0)
                found = *status;
        if (!found) {
            snprintf (word_text, sizeof word_text, "%.*s", (int) (word < 40 ? word : 40), p);
            snprintf (error, size,
                      "unknown status \"%s\": --status takes PENDING, RESERVED, CONFIRMED or "
                      "CANCELLED, several separated by commas",
                      cli_printable (word_text, shown, sizeof shown));
            return -1;
        }
        if (length + strlen (found) + 1 > max) {
            snprintf (error, size, "--status lists too many statuses");
            return -1;
        }
        length += (size_t) sprintf (out + length, "%s%s", length ? "," : "", found);
        if (p[word] == '\0')
            return 0;
        p += word + 1;
    }
}

static int
s_parse_item (const char *text, oms_item_t *item, char *error, size_t size)
{
    char shown[96];
    const char *colon = strrchr (text, ':');
    if (!colon) {
        snprintf (error, size, "item must be SKU:QTY: %s",
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    size_t sku_len = (size_t) (colon - text);
    bool good = sku_len > 0 && sku_len <= OMS_SKU_MAX;
    for (size_t i = 0; good && i < sku_len; i++)
        good = isascii ((unsigned char) text[i]) && s_is_id_char ((unsigned char) text[i]);
    if (!good) {
        snprintf (error, size, "SKU must be 1 to %d characters from " ID_CHARS ": %s", OMS_SKU_MAX,
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    uint64_t qty = 0;
    int rc = s_parse_decimal (colon + 1, &qty);
    if (rc < 0 || (rc == 0 && qty == 0)) {
        snprintf (error, size, "quantity must be a positive integer: %s",
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    if (rc > 0 || qty > OMS_QTY_MAX) {
        snprintf (error, size, "quantity must be at most %d: %s", OMS_QTY_MAX,
                  cli_printable (text, shown, sizeof shown));
        return -1;
    }
    memcpy (item->sku, text, sku_len);
    item->sku[sku_len] = '\0';
    item->qty = (int64_t) qty;
    return 0;
}

int
cli_parse_items (const char *const *texts, size_t n, oms_item_t *items, uint32_t *n_items,
                 char *error, size_t size)
{
    if (n == 0) {
        snprintf (error, size, "at least one --item SKU:QTY is required");
        return -1;
    }
    if (n > OMS_ITEMS_MAX) {
        snprintf (error, size, "too many items: %zu (at most %d)", n, OMS_ITEMS_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s_parse_item (texts[i], &items[i], error, size))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp (items[j].sku, items[i].sku) == 0) {
                char shown[64];
                snprintf (error, size, "SKU given twice: %s",
                          cli_printable (items[i].sku, shown, sizeof shown));
                return -1;
            }
    }
    *n_items = (uint32_t) n;
    return 0;
}

int
cli_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("oms: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return 1;
}
