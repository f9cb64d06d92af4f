/*  Unit tests of cli_args' checks that orders uses: durations (exact to the
    nanosecond, units s, m, h, d, none meaning seconds) and status lists.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "cli_args.h"

Test (duration, reads_a_number_and_a_unit)
{
    static const struct {
        const char *text;
        uint64_t ns;
    } cases[] = {
        {"30s", 30000000000ull},   {"5m", 300000000000ull},        {"2h", 7200000000000ull},
        {"1d", 86400000000000ull}, {"90", 90000000000ull},         {"1.5", 1500000000ull},
        {"0.000000001", 1},        {"0.25h", 900000000000ull},     {"1.5d", 129600000000000ull},
        {"007s", 7000000000ull},   {"3650d", CLI_DURATION_MAX_NS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ns = 0;
        char error[512] = "";
        cr_assert_eq (cli_parse_duration ("--since", cases[i].text, &ns, error, sizeof error), 0,
                      "%s: %s", cases[i].text, error);
        cr_assert_eq (ns, cases[i].ns, "%s: %llu", cases[i].text, (unsigned long long) ns);
    }
}

Test (duration, refuses_what_is_not_one)
{
    static const char *const bad[] = {
        "",
        "s",
        "0",
        "0s",
        "0.0h",
        "-5s",
        "+5s",
        "5 s",
        " 5s",
        "5x",
        "5ms",
        "5sec",
        "1h30m",
        "5S",
        "5.",
        ".5s",
        "1e3",
        "5ss",
        "5.s",
        "3650.1d",
        "3651d",
        "0.0000000001s",
        "9999999999999999999d",
        "18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ns = 42;
        char error[512] = "";
        cr_assert_eq (cli_parse_duration ("--older-than", bad[i], &ns, error, sizeof error), -1,
                      "\"%s\" accepted as %llu", bad[i], (unsigned long long) ns);
        cr_assert (strstr (error, "--older-than must be a duration like 30s"), "%s", error);
        cr_assert_eq (ns, 42, "%s: untouched", bad[i]);
    }
}

Test (statuses, are_checked_and_upper_cased)
{
    char out[OMS_STATUS_LIST_MAX + 1];
    char error[512];
    cr_assert_eq (
        cli_parse_statuses ("pending,Reserved", out, OMS_STATUS_LIST_MAX, error, sizeof error), 0);
    cr_assert_str_eq (out, "PENDING,RESERVED");
    cr_assert_eq (cli_parse_statuses ("PENDING,RESERVED,CONFIRMED,CANCELLED", out,
                                      OMS_STATUS_LIST_MAX, error, sizeof error),
                  0);
    static const char *const bad[] = {
        "",           "SHIPPED", "PENDING,", ",PENDING", "PENDING,,CANCELLED", "PENDING;RESERVED",
        "PENDING\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        error[0] = 0;
        cr_assert_eq (cli_parse_statuses (bad[i], out, OMS_STATUS_LIST_MAX, error, sizeof error),
                      -1, "%s", bad[i]);
        cr_assert (strstr (error, "unknown status"), "%s: %s", bad[i], error);
    }
}
