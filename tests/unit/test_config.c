/*  Unit tests of oms_config: defaults, the precedence of file, environment
    and overrides, and the rejection of every malformed input a file or the
    environment can bring.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "oms_config.h"
#include "oms_proto.h"

extern char **environ;

static char s_dir[64];
static char s_error[512];

//  Every test starts without OMS_* variables, whatever the shell (or an
//  earlier test) left behind.
static void
s_clear_environment (void)
{
    char *names[256];
    size_t count = 0;
    for (char **entry = environ; *entry && count < 256; entry++) {
        if (strncmp (*entry, "OMS_", 4) == 0) {
            size_t length = strcspn (*entry, "=");
            names[count++] = strndup (*entry, length);
        }
    }
    for (size_t index = 0; index < count; index++) {
        unsetenv (names[index]);
        free (names[index]);
    }
}

static void
s_setup (void)
{
    s_clear_environment ();
    scratch_dir_make (s_dir, sizeof s_dir, "config");
    s_error[0] = '\0';
}

static void
s_teardown (void)
{
    scratch_dir_remove (s_dir);
    s_clear_environment ();
}

TestSuite (config, .init = s_setup, .fini = s_teardown);

//  Writes `text` to a file named `name` in the test's directory; returns
//  its path (a static buffer).
static const char *
s_write (const char *name, const char *text)
{
    static char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  Loads `text` as a config file and expects it to be refused with an error
//  that mentions each of the `needles`.
static void
s_expect_rejected (const char *text, const char *needle1, const char *needle2)
{
    const char *path = s_write ("bad.cfg", text);
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_null (config, "accepted: %s", text);
    cr_assert (strstr (s_error, needle1), "error \"%s\" does not name \"%s\"", s_error, needle1);
    if (needle2)
        cr_assert (strstr (s_error, needle2), "error \"%s\" does not name \"%s\"", s_error,
                   needle2);
}

Test (config, defaults_are_present_without_a_file)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "home"), "./var");
    cr_assert_str_eq (oms_config_str (config, "log/level"), "info");
    cr_assert_str_eq (oms_config_str (config, "broker/frontend"), "tcp://127.0.0.1:7400");
    cr_assert_str_eq (oms_config_str (config, "broker/backend"), "tcp://127.0.0.1:7401");
    cr_assert_str_eq (oms_config_str (config, "broker/frontend_bind"), "");
    cr_assert_str_eq (oms_config_str (config, "broker/tap"), "");
    cr_assert_eq (oms_config_int (config, "broker/hwm"), 100000);
    cr_assert_str_eq (oms_config_service (config, "order", "api"), "tcp://127.0.0.1:7410");
    cr_assert_str_eq (oms_config_service (config, "inventory", "api"), "tcp://127.0.0.1:7411");
    cr_assert_str_eq (oms_config_service (config, "payment", "api"), "tcp://127.0.0.1:7412");
    cr_assert_str_eq (oms_config_service (config, "notification", "api"), "tcp://127.0.0.1:7413");
    cr_assert_str_eq (oms_config_service (config, "payment", "api_bind"), "");
    cr_assert_str_eq (oms_config_service (config, "payment", "host"), "localhost");
    cr_assert_eq (oms_config_int (config, "runtime/hwm"), 100000);
    cr_assert_eq (oms_config_int (config, "runtime/batch"), 256);
    cr_assert_eq (oms_config_int (config, "runtime/heartbeat_ms"), 500);
    cr_assert_eq (oms_config_int (config, "runtime/replay_batch"), 512);
    cr_assert_eq (oms_config_int (config, "runtime/replay_timeout_ms"), 1000);
    cr_assert_eq (oms_config_int (config, "runtime/startup_catchup_ms"), 3000);
    cr_assert_eq (oms_config_int (config, "runtime/map_size_mb"), 4096);
    cr_assert_eq (oms_config_int (config, "runtime/retention_s"), 604800);
    cr_assert_eq (oms_config_int (config, "runtime/retention_events"), 10000000);
    cr_assert_eq (oms_config_int (config, "order/saga_timeout_ms"), 30000);
    cr_assert_eq (oms_config_int (config, "cli/timeout_ms"), 5000);
    oms_config_destroy (&config);
    cr_assert_null (config);
}

Test (config, every_service_has_its_keys)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    for (size_t index = 0; index < OMS_SERVICES_COUNT; index++) {
        const char *name = oms_service_names[index];
        cr_assert (oms_config_is_service (name));
        cr_assert_str_neq (oms_config_service (config, name, "api"), "");
        cr_assert_str_eq (oms_config_service (config, name, "store"), "");
        cr_assert_str_eq (oms_config_service (config, name, "host"), "localhost");
    }
    cr_assert_not (oms_config_is_service ("broker"));
    cr_assert_not (oms_config_is_service (""));
    oms_config_destroy (&config);
}

Test (config, file_overrides_defaults)
{
    const char *path = s_write ("oms.cfg", "home = /srv/oms\n"
                                           "broker\n"
                                           "    frontend = \"tcp://10.0.0.1:7400\"\n"
                                           "    hwm = 42\n"
                                           "services\n"
                                           "    order\n"
                                           "        api_bind = tcp://*:7410\n"
                                           "runtime\n"
                                           "    batch = 7\n");
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "home"), "/srv/oms");
    cr_assert_str_eq (oms_config_str (config, "broker/frontend"), "tcp://10.0.0.1:7400");
    cr_assert_eq (oms_config_int (config, "broker/hwm"), 42);
    cr_assert_str_eq (oms_config_service (config, "order", "api_bind"), "tcp://*:7410");
    cr_assert_eq (oms_config_int (config, "runtime/batch"), 7);
    //  Keys the file does not mention keep their defaults.
    cr_assert_str_eq (oms_config_str (config, "broker/backend"), "tcp://127.0.0.1:7401");
    cr_assert_eq (oms_config_int (config, "runtime/hwm"), 100000);
    oms_config_destroy (&config);
}

Test (config, file_may_name_keys_by_full_path)
{
    const char *path = s_write ("oms.cfg", "services/payment/api = ipc:///tmp/payment\n");
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_service (config, "payment", "api"), "ipc:///tmp/payment");
    oms_config_destroy (&config);
}

Test (config, env_overrides_file)
{
    const char *path = s_write ("oms.cfg", "home = /from/file\n"
                                           "broker\n"
                                           "    frontend = tcp://file:7400\n");
    setenv ("OMS_BROKER_FRONTEND", "tcp://env:7400", 1);
    setenv ("OMS_HOME", "/from/env", 1);
    setenv ("OMS_SERVICES_ORDER_API", "tcp://env:7410", 1);
    setenv ("OMS_RUNTIME_MAP_SIZE_MB", "16", 1);
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "broker/frontend"), "tcp://env:7400");
    cr_assert_str_eq (oms_config_str (config, "home"), "/from/env");
    cr_assert_str_eq (oms_config_service (config, "order", "api"), "tcp://env:7410");
    cr_assert_eq (oms_config_int (config, "runtime/map_size_mb"), 16);
    oms_config_destroy (&config);
}

Test (config, empty_env_counts_as_unset)
{
    setenv ("OMS_HOME", "", 1);
    setenv ("OMS_BROKER_HWM", "", 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "home"), "./var");
    cr_assert_eq (oms_config_int (config, "broker/hwm"), 100000);
    oms_config_destroy (&config);
}

Test (config, bad_env_value_is_rejected_and_named)
{
    setenv ("OMS_RUNTIME_BATCH", "lots", 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_null (config);
    cr_assert (strstr (s_error, "OMS_RUNTIME_BATCH"), "%s", s_error);
    cr_assert (strstr (s_error, "runtime/batch"), "%s", s_error);
}

Test (config, set_overrides_env)
{
    setenv ("OMS_BROKER_BACKEND", "tcp://env:7401", 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "broker/backend"), "tcp://env:7401");
    cr_assert_eq (
        oms_config_set (config, "broker/backend", "ipc:///tmp/backend", s_error, sizeof s_error), 0,
        "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "broker/backend"), "ipc:///tmp/backend");
    cr_assert_eq (oms_config_set (config, "log/level", "debug", s_error, sizeof s_error), 0);
    cr_assert_str_eq (oms_config_str (config, "log/level"), "debug");
    oms_config_destroy (&config);
}

Test (config, set_rejects_unknown_key)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_set (config, "broker/fronted", "tcp://x:1", s_error, sizeof s_error),
                  -1);
    cr_assert (strstr (s_error, "broker/fronted"), "%s", s_error);
    cr_assert_eq (
        oms_config_set (config, "services/shipping/api", "tcp://x:1", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "services/shipping/api"), "%s", s_error);
    oms_config_destroy (&config);
}

Test (config, set_rejects_bad_value_and_keeps_the_old_one)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_set (config, "runtime/batch", "-1", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "runtime/batch"), "%s", s_error);
    cr_assert_eq (oms_config_set (config, "log/level", "loud", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "log/level"), "%s", s_error);
    cr_assert_eq (oms_config_set (config, "broker/frontend", "", s_error, sizeof s_error), -1);
    cr_assert_eq (oms_config_int (config, "runtime/batch"), 256);
    cr_assert_str_eq (oms_config_str (config, "log/level"), "info");
    //  Optional keys may be emptied again.
    cr_assert_eq (oms_config_set (config, "broker/tap", "tcp://*:7402", s_error, sizeof s_error),
                  0);
    cr_assert_eq (oms_config_set (config, "broker/tap", "", s_error, sizeof s_error), 0);
    cr_assert_str_eq (oms_config_str (config, "broker/tap"), "");
    oms_config_destroy (&config);
}

Test (config, unknown_key_in_file_is_rejected_and_named)
{
    s_expect_rejected ("broker\n    frontnd = tcp://x:1\n", "broker/frontnd", "bad.cfg");
    s_expect_rejected ("colour = blue\n", "colour", "bad.cfg");
    s_expect_rejected ("services\n    shipping\n        api = tcp://x:1\n", "services/shipping",
                       "bad.cfg");
    s_expect_rejected ("runtime\n    batch\n        size = 3\n", "runtime/batch", NULL);
    s_expect_rejected ("broker = tcp://x:1\n    hwm = 1\n", "broker", NULL);
}

Test (config, bad_int_in_file_is_rejected_and_named)
{
    s_expect_rejected ("broker\n    hwm = lots\n", "broker/hwm", "bad.cfg");
    s_expect_rejected ("broker\n    hwm = -5\n", "broker/hwm", NULL);
    s_expect_rejected ("broker\n    hwm = +5\n", "broker/hwm", NULL);
    s_expect_rejected ("broker\n    hwm = 0x10\n", "broker/hwm", NULL);
    s_expect_rejected ("broker\n    hwm = \"\"\n", "broker/hwm", NULL);
    s_expect_rejected ("runtime\n    batch = 9223372036854775808\n", "runtime/batch", NULL);
    //  The largest int64 is the largest value accepted.
    const char *path = s_write ("max.cfg", "runtime\n    batch = 9223372036854775807\n");
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_int (config, "runtime/batch"), INT64_MAX);
    oms_config_destroy (&config);
}

Test (config, limits_default_to_what_the_codec_allows)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_gt (oms_config_int (config, "limits/max_message_bytes"), OMS_MSG_MAX);
    cr_assert_eq (oms_config_int (config, "limits/max_items"), OMS_ITEMS_MAX);
    cr_assert_eq (oms_config_int (config, "limits/max_qty"), OMS_QTY_MAX);
    cr_assert_gt (oms_config_int (config, "limits/requests_per_s"), 0);
    cr_assert_gt (oms_config_int (config, "limits/burst"), 0);
    cr_assert_gt (oms_config_int (config, "limits/clients"), 0);
    oms_config_destroy (&config);
}

Test (config, limits_out_of_range_are_rejected_and_named)
{
    s_expect_rejected ("limits\n    max_items = 65\n", "limits/max_items", "from 1 to 64");
    s_expect_rejected ("limits\n    max_items = 0\n", "limits/max_items", "bad.cfg");
    s_expect_rejected ("limits\n    max_qty = 1000001\n", "limits/max_qty", "from 1 to 1000000");
    s_expect_rejected ("limits\n    max_message_bytes = 1000\n", "limits/max_message_bytes",
                       "from 1048576");
    s_expect_rejected ("limits\n    burst = 0\n", "limits/burst", NULL);
    s_expect_rejected ("limits\n    clients = 0\n", "limits/clients", NULL);
    const char *path = s_write ("edge.cfg", "limits\n    max_items = 1\n    requests_per_s = 0\n"
                                            "    max_qty = 1000000\n");
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_int (config, "limits/max_items"), 1);
    cr_assert_eq (oms_config_int (config, "limits/requests_per_s"), 0);
    cr_assert_eq (oms_config_set (config, "limits/max_items", "100", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "limits/max_items"), "%s", s_error);
    cr_assert_eq (oms_config_int (config, "limits/max_items"), 1);
    oms_config_destroy (&config);
}

Test (config, bad_level_in_file_is_rejected_and_named)
{
    s_expect_rejected ("log\n    level = verbose\n", "log/level", "bad.cfg");
    s_expect_rejected ("log\n    level = INFO\n", "log/level", NULL);
}

Test (config, bad_endpoint_in_file_is_rejected_and_named)
{
    s_expect_rejected ("broker\n    backend = 127.0.0.1:7401\n", "broker/backend", "bad.cfg");
    s_expect_rejected ("broker\n    backend = \"\"\n", "broker/backend", NULL);
    s_expect_rejected ("broker\n    backend = tcp://\n", "broker/backend", NULL);
    s_expect_rejected ("broker\n    tap = udp://x:1\n", "broker/tap", NULL);
    s_expect_rejected ("services\n    inventory\n        api_bind = http://x\n",
                       "services/inventory/api_bind", NULL);
}

Test (config, malformed_zpl_is_rejected)
{
    s_expect_rejected ("broker\n        hwm = 1\n", "bad.cfg", NULL);
}

Test (config, missing_file_is_rejected_and_named)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/absent.cfg", s_dir);
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_null (config);
    cr_assert (strstr (s_error, path), "%s", s_error);
}

Test (config, oms_config_env_is_used_when_path_is_null)
{
    setenv ("OMS_CONFIG", s_write ("env.cfg", "cli\n    timeout_ms = 99\n"), 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_int (config, "cli/timeout_ms"), 99);
    oms_config_destroy (&config);

    //  An explicit path wins over $OMS_CONFIG.
    const char *path = s_write ("flag.cfg", "cli\n    timeout_ms = 7\n");
    config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_int (config, "cli/timeout_ms"), 7);
    oms_config_destroy (&config);
}

Test (config, missing_oms_config_file_is_rejected)
{
    setenv ("OMS_CONFIG", "/nonexistent/oms.cfg", 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_null (config);
    cr_assert (strstr (s_error, "/nonexistent/oms.cfg"), "%s", s_error);
}

Test (config, store_dir_defaults_under_home_and_can_be_overridden)
{
    setenv ("OMS_HOME", "/data/oms", 1);
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    char buf[PATH_MAX];
    cr_assert_str_eq (oms_config_store_dir (config, "order", buf, sizeof buf), "/data/oms/order");
    cr_assert_str_eq (oms_config_store_dir (config, "payment", buf, sizeof buf),
                      "/data/oms/payment");
    cr_assert_eq (
        oms_config_set (config, "services/order/store", "/fast/order", s_error, sizeof s_error), 0);
    cr_assert_str_eq (oms_config_store_dir (config, "order", buf, sizeof buf), "/fast/order");
    cr_assert_str_eq (oms_config_store_dir (config, "payment", buf, sizeof buf),
                      "/data/oms/payment");
    oms_config_destroy (&config);
}

Test (config, destroy_is_safe_twice)
{
    oms_config_t *config = oms_config_new (NULL, NULL, 0);
    cr_assert_not_null (config);
    oms_config_destroy (&config);
    oms_config_destroy (&config);
    cr_assert_null (config);
}

Test (config, set_flag_is_the_one_door_for_key_equals_value)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    cr_assert_eq (oms_config_set_flag (config, "cli/timeout_ms=2000", s_error, sizeof s_error), 0,
                  "%s", s_error);
    cr_assert_eq (oms_config_int (config, "cli/timeout_ms"), 2000);
    //  An empty value is a value: it clears an optional endpoint.
    cr_assert_eq (oms_config_set_flag (config, "broker/tap=", s_error, sizeof s_error), 0, "%s",
                  s_error);
    cr_assert_eq (oms_config_set_flag (config, "cli/timeout_ms", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "KEY=VALUE"), "%s", s_error);
    cr_assert_eq (oms_config_set_flag (config, "=5", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "KEY=VALUE"), "%s", s_error);
    cr_assert_eq (oms_config_set_flag (config, "cli/no_such=1", s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "unknown key"), "%s", s_error);
    cr_assert (strstr (s_error, "cli/no_such"), "%s", s_error);
    oms_config_destroy (&config);
}

Test (config, a_value_that_does_not_fit_is_refused_not_cut)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    char flag[OMS_CONFIG_VALUE_MAX + 64];
    int length = snprintf (flag, sizeof flag, "home=");
    memset (flag + length, 'x', OMS_CONFIG_VALUE_MAX + 1);
    flag[length + OMS_CONFIG_VALUE_MAX + 1] = '\0';
    cr_assert_eq (oms_config_set_flag (config, flag, s_error, sizeof s_error), -1);
    cr_assert (strstr (s_error, "longer than 4095 bytes"), "%s", s_error);
    cr_assert_str_eq (oms_config_str (config, "home"), "./var");
    //  One byte shorter fits.
    flag[length + OMS_CONFIG_VALUE_MAX] = '\0';
    cr_assert_eq (oms_config_set_flag (config, flag, s_error, sizeof s_error), 0, "%s", s_error);
    cr_assert_eq (strlen (oms_config_str (config, "home")), OMS_CONFIG_VALUE_MAX);
    oms_config_destroy (&config);
}

Test (config, one_broker_without_the_new_keys)
{
    oms_config_t *config = oms_config_new (NULL, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    char name[32];
    cr_assert_eq (oms_config_brokers (config), 1);
    cr_assert_str_eq (oms_config_broker (config, 0, "frontend"), "tcp://127.0.0.1:7400");
    cr_assert_str_eq (oms_config_broker (config, 0, "backend"), "tcp://127.0.0.1:7401");
    cr_assert_str_eq (oms_config_broker_name (config, 0, name, sizeof name), "broker");
    oms_config_destroy (&config);
}

Test (config, several_brokers_have_their_own_keys_and_names)
{
    const char *path = s_write ("several.cfg", "broker\n"
                                               "    count = 3\n"
                                               "brokers\n"
                                               "    2\n"
                                               "        frontend = tcp://10.0.0.3:7400\n"
                                               "        metrics = 10.0.0.3:9400\n");
    oms_config_t *config = oms_config_new (path, s_error, sizeof s_error);
    cr_assert_not_null (config, "%s", s_error);
    char name[32];
    cr_assert_eq (oms_config_brokers (config), 3);
    cr_assert_str_eq (oms_config_broker_name (config, 0, name, sizeof name), "broker.0");
    cr_assert_str_eq (oms_config_broker_name (config, 2, name, sizeof name), "broker.2");
    cr_assert_str_eq (oms_config_broker (config, 0, "frontend"), "tcp://127.0.0.1:7400");
    //  Broker I's default ports are 7420 + 2 (I - 1) and the next.
    cr_assert_str_eq (oms_config_broker (config, 1, "frontend"), "tcp://127.0.0.1:7420");
    cr_assert_str_eq (oms_config_broker (config, 1, "backend"), "tcp://127.0.0.1:7421");
    cr_assert_str_eq (oms_config_broker (config, 2, "frontend"), "tcp://10.0.0.3:7400");
    cr_assert_str_eq (oms_config_broker (config, 2, "backend"), "tcp://127.0.0.1:7423");
    cr_assert_str_eq (oms_config_broker (config, 2, "metrics"), "10.0.0.3:9400");
    cr_assert_str_eq (oms_config_broker (config, 2, "tap"), "");
    oms_config_destroy (&config);
}

Test (config, broker_count_out_of_range_is_refused)
{
    s_expect_rejected ("broker\n    count = 0\n", "broker/count", "bad.cfg");
    s_expect_rejected ("broker\n    count = 9\n", "broker/count", "bad.cfg");
    s_expect_rejected ("brokers\n    8\n        frontend = tcp://x:1\n", "brokers/8", "bad.cfg");
    s_expect_rejected ("brokers\n    1\n        frontend = nowhere\n", "brokers/1/frontend",
                       "bad.cfg");
}
