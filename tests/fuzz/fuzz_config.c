/*  fuzz_config: a configuration file, the one input oms_config_new reads
    from disk. oms_config_new takes a path, so each input is written to an
    in-memory file (memfd) and passed as /proc/self/fd/N: no disk traffic
    and nothing left behind.

    zconfig logs each syntax error through zsys, on stdout; the fuzz test
    closes stdout (-close_fd_mask=1), which hides no report.

    A file must be refused with a message or accepted; an accepted one must
    answer every lookup a process makes at start-up (the accessors assert
    that each value has its key's form).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "oms_config.h"

extern char **environ;

static int s_fd = -1;
static char s_path[64];

static const char *const s_int_keys[] = {
    "broker/hwm",
    "runtime/hwm",
    "runtime/batch",
    "runtime/heartbeat_ms",
    "runtime/replay_batch",
    "runtime/replay_timeout_ms",
    "runtime/startup_catchup_ms",
    "runtime/map_size_mb",
    "runtime/retention_s",
    "runtime/retention_events",
    "order/saga_timeout_ms",
    "cli/timeout_ms",
};

static const char *const s_str_keys[] = {
    "home",           "log/level",           "broker/frontend", "broker/frontend_bind",
    "broker/backend", "broker/backend_bind", "broker/tap",      "broker/metrics",
};

static const char *const s_service_keys[] = {"api", "api_bind", "store", "host", "metrics"};

//  The environment overrides the file: clear OMS_* so that only the input
//  decides.
static void
s_clear_environment (void)
{
    for (;;) {
        char **entry = environ;
        while (*entry && strncmp (*entry, "OMS_", 4) != 0)
            entry++;
        if (!*entry)
            return;
        char name[256];
        size_t length = strcspn (*entry, "=");
        snprintf (name, sizeof name, "%.*s", (int) length, *entry);
        if (unsetenv (name))
            return;
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_clear_environment ();
    //  zconfig logs through zsys, which would otherwise take SIGINT and
    //  SIGTERM from libFuzzer.
    zsys_handler_set (NULL);
    s_fd = memfd_create ("fuzz_config", 0);
    FUZZ_ASSERT (s_fd >= 0, "memfd_create");
    snprintf (s_path, sizeof s_path, "/proc/self/fd/%d", s_fd);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FUZZ_ASSERT (ftruncate (s_fd, 0) == 0, "ftruncate");
    FUZZ_ASSERT (pwrite (s_fd, data, size, 0) == (ssize_t) size, "pwrite");

    char error[512] = "";
    oms_config_t *config = oms_config_new (s_path, error, sizeof error);
    if (!config) {
        FUZZ_ASSERT (memchr (error, 0, sizeof error) && *error, "refused without a reason");
        return 0;
    }
    for (size_t i = 0; i < sizeof s_int_keys / sizeof s_int_keys[0]; i++)
        FUZZ_ASSERT (oms_config_int (config, s_int_keys[i]) >= 0, "a negative int");
    for (size_t i = 0; i < sizeof s_str_keys / sizeof s_str_keys[0]; i++)
        FUZZ_ASSERT (oms_config_str (config, s_str_keys[i]) != NULL, "a NULL value");
    for (size_t i = 0; i < OMS_SERVICES_COUNT; i++) {
        const char *name = oms_service_names[i];
        for (size_t k = 0; k < sizeof s_service_keys / sizeof s_service_keys[0]; k++)
            FUZZ_ASSERT (oms_config_service (config, name, s_service_keys[k]) != NULL,
                         "a NULL service value");
        char dir[4096];
        FUZZ_ASSERT (*oms_config_store_dir (config, name, dir, sizeof dir), "an empty store dir");
    }
    oms_config_destroy (&config);
    oms_config_destroy (&config);
    FUZZ_ASSERT (config == NULL, "destroy did not clear the pointer");
    return 0;
}
