/*  cli_scenario_ctl: a scenario's process steps (stop, kill, start,
    restart), run by scripts/oms-ctl with the scenario's configuration and
    home, so that a scenario drives the same cluster the scripts do.
*/
#include "cli_scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <czmq.h>

extern char **environ;

#define CTL_TIMEOUT_MS 120000 //  oms-ctl bounds its own waits well below this
#define CTL_OUTPUT_MAX 4096
#define VAR_MAX        (PATH_MAX + 16)

//  scripts/oms-ctl: $OMS_CTL, else next to the source tree the binary was
//  built in (<bin>/../../scripts/oms-ctl), else on PATH. `dir` is the
//  binary's directory, NULL when unknown.
static const char *
s_ctl_path (const char *dir, char *buf, size_t size)
{
    const char *env = getenv ("OMS_CTL");
    if (env && env[0])
        return env;
    snprintf (buf, size, "%s/../../scripts/oms-ctl", dir ? dir : "");
    return dir && access (buf, X_OK) == 0 ? buf : "oms-ctl";
}

//  The environment of oms-ctl: ours, with OMS_CONFIG and OMS_HOME naming
//  this scenario's cluster, and OMS_BIN_DIR the build this binary belongs
//  to (unless set), so that it starts the same programs. The variables set
//  here are written in `vars`. Caller frees the array.
static char **
s_environment (const cli_scenario_env_t *env, const char *dir, char (*vars)[VAR_MAX])
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = (char **) calloc (n + 4, sizeof (char *));
    if (!envp)
        return NULL;
    const char *bin_dir = getenv ("OMS_BIN_DIR");
    bool set_bin = !bin_dir || !bin_dir[0];
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (!(env->config_path && strncmp (environ[i], "OMS_CONFIG=", 11) == 0) &&
            strncmp (environ[i], "OMS_HOME=", 9) != 0 &&
            !(set_bin && strncmp (environ[i], "OMS_BIN_DIR=", 12) == 0))
            envp[at++] = environ[i];
    if (env->config_path)
        snprintf (envp[at++] = vars[0], VAR_MAX, "OMS_CONFIG=%s", env->config_path);
    snprintf (envp[at++] = vars[1], VAR_MAX, "OMS_HOME=%s", oms_config_str (env->config, "home"));
    char broker[PATH_MAX + 32];
    snprintf (broker, sizeof broker, "%s/../broker/oms-broker", dir ? dir : "");
    if (set_bin && dir && access (broker, X_OK) == 0)
        snprintf (envp[at++] = vars[2], VAR_MAX, "OMS_BIN_DIR=%s/..", dir);
    return envp;
}

//  Reads the child's output until it closes or the deadline passes, keeping
//  what fits in `output`. Returns false on the deadline.
static bool
s_read_output (int fd, char *output, size_t size, int64_t deadline)
{
    size_t at = 0;
    output[0] = '\0';
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd item = {fd, POLLIN, 0};
        int rc = poll (&item, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        char chunk[512];
        ssize_t got = read (fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return true;
        size_t keep = (size_t) got < size - 1 - at ? (size_t) got : size - 1 - at;
        memcpy (output + at, chunk, keep);
        at += keep;
        output[at] = '\0';
    }
}

int
cli_scenario_ctl (const cli_scenario_env_t *env, const char *action, const char *process,
                  char *detail, size_t size)
{
    char exe[PATH_MAX], path[PATH_MAX + 32], vars[3][VAR_MAX], output[CTL_OUTPUT_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    const char *dir = len > 0 ? (exe[len] = '\0', dirname (exe)) : NULL;
    const char *ctl = s_ctl_path (dir, path, sizeof path);
    char *argv[] = {(char *) ctl, (char *) action, (char *) process, NULL};
    int fds[2] = {-1, -1};
    pid_t pid;
    int rc = -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    char **envp = s_environment (env, dir, vars);
    if (!envp || pipe2 (fds, O_CLOEXEC) != 0) {
        oms_error_format (detail, size, "cannot run %s: %s", ctl, strerror (errno));
        goto leave;
    }
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2 (&actions, fds[1], 2);
    int err = posix_spawnp (&pid, ctl, &actions, NULL, argv, envp);
    close (fds[1]);
    fds[1] = -1;
    if (err != 0) {
        oms_error_format (detail, size, "cannot run %s: %s", ctl, strerror (err));
        goto leave;
    }
    bool finished = s_read_output (fds[0], output, sizeof output, zclock_mono () + CTL_TIMEOUT_MS);
    if (!finished)
        kill (pid, SIGKILL);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!finished)
        oms_error_format (detail, size, "%s did not finish within %d s", ctl,
                          CTL_TIMEOUT_MS / 1000);
    else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        //  The first line says what went wrong; the rest (a log's tail) goes to stderr.
        size_t first = strcspn (output, "\n");
        oms_error_format (detail, size, "oms-ctl exited %d: %.*s",
                          WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status),
                          (int) first, output);
        if (output[first] && output[first + 1])
            fprintf (stderr, "%s", output + first + 1);
    }
    else
        rc = 0;
leave:
    if (fds[0] >= 0)
        close (fds[0]);
    posix_spawn_file_actions_destroy (&actions);
    free (envp);
    return rc;
}
