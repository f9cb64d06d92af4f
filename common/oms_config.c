/*  oms_config: the cluster configuration, resolved once per process.

    s_keys[] below is the whole vocabulary: every key, its default, the form
    its value must have and what it means (docs/CONFIG.md mirrors it). The
    resolved values live in one zconfig tree that starts as the defaults and
    is overwritten by each later source in precedence order, so a lookup is
    a plain zconfig_get and never needs to know where a value came from.

    Every source goes through s_assign, which checks the value's form, so a
    wrong port or a typo in a key fails at start-up with the key named
    instead of surfacing later as a socket that binds somewhere unexpected.
*/
#include "oms_config.h"
#include "oms_proto.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const oms_service_names[OMS_SERVICES_COUNT] = {"order", "inventory", "payment",
                                                           "notification"};

typedef enum {
    S_STRING,   //  any text
    S_ENDPOINT, //  a ZeroMQ endpoint: tcp://, ipc:// or inproc://
    S_INT,      //  decimal, no sign, fits int64_t
    S_BOOL,     //  true/false, yes/no, 1/0
    S_LEVEL,    //  a log level name
} s_kind_t;

typedef struct {
    const char *key;
    const char *value; //  the default
    s_kind_t kind;
    bool optional; //  "" is allowed (and means "use the fallback")
    const char *meaning;
} s_key_t;

//  Each service's api port is 7410 + its index in oms_service_names.
// clang-format off
#define S_SERVICE_KEYS(name, port)                                                  \
    {"services/" name "/api", "tcp://127.0.0.1:" port, S_ENDPOINT, false,           \
     "where clients reach the " name " service's commands"},                        \
    {"services/" name "/api_bind", "", S_ENDPOINT, true,                            \
     "what the " name " service binds for its api; api when empty"},                \
    {"services/" name "/store", "", S_STRING, true,                                 \
     "directory of the " name " store; <home>/" name " when empty"},                \
    {"services/" name "/host", "localhost", S_STRING, false,                        \
     "the machine the " name " process runs on, for multi-machine deployments"},    \
    {"services/" name "/metrics", "", S_STRING, true,                               \
     "host:port of the " name " service's Prometheus endpoint; none when empty"}
//  Broker I (1 to OMS_BROKERS_MAX - 1) of a cluster with broker/count above
//  I; broker 0 is the broker/ keys. Its default ports are 7420 + 2 (I - 1)
//  and the next, so a local cluster needs no file.
#define S_BROKER_KEYS(index, frontend, backend)                                     \
    {"brokers/" index "/frontend", "tcp://127.0.0.1:" frontend, S_ENDPOINT, false,  \
     "where publishers connect to broker " index},                                  \
    {"brokers/" index "/frontend_bind", "", S_ENDPOINT, true,                       \
     "what broker " index "'s XSUB binds; its frontend when empty"},                \
    {"brokers/" index "/backend", "tcp://127.0.0.1:" backend, S_ENDPOINT, false,    \
     "where subscribers connect to broker " index},                                 \
    {"brokers/" index "/backend_bind", "", S_ENDPOINT, true,                        \
     "what broker " index "'s XPUB binds; its backend when empty"},                 \
    {"brokers/" index "/tap", "", S_ENDPOINT, true,                                 \
     "a PUB endpoint broker " index " binds that sees every event"},                \
    {"brokers/" index "/metrics", "", S_STRING, true,                               \
     "host:port of broker " index "'s Prometheus endpoint; none when empty"}
// clang-format on

static const s_key_t s_keys[] = {
    {"home", "./var", S_STRING, false, "directory under which each service keeps its store"},
    {"log/level", "info", S_LEVEL, false, "least severe level logged: error, warn, info, debug"},
    {"broker/frontend", "tcp://127.0.0.1:7400", S_ENDPOINT, false,
     "where publishers connect to the broker"},
    {"broker/frontend_bind", "", S_ENDPOINT, true,
     "what the broker's XSUB binds; broker/frontend when empty"},
    {"broker/backend", "tcp://127.0.0.1:7401", S_ENDPOINT, false,
     "where subscribers connect to the broker"},
    {"broker/backend_bind", "", S_ENDPOINT, true,
     "what the broker's XPUB binds; broker/backend when empty"},
    {"broker/tap", "", S_ENDPOINT, true, "a PUB endpoint the broker binds that sees every event"},
    {"broker/hwm", "100000", S_INT, false, "the broker's high-water mark, in messages"},
    {"broker/metrics", "", S_STRING, true,
     "host:port of the broker's Prometheus endpoint; none when empty"},
    {"broker/count", "1", S_INT, false,
     "how many brokers the cluster has; every process reaches all of them"},
    S_BROKER_KEYS ("1", "7420", "7421"),
    S_BROKER_KEYS ("2", "7422", "7423"),
    S_BROKER_KEYS ("3", "7424", "7425"),
    S_BROKER_KEYS ("4", "7426", "7427"),
    S_BROKER_KEYS ("5", "7428", "7429"),
    S_BROKER_KEYS ("6", "7430", "7431"),
    S_BROKER_KEYS ("7", "7432", "7433"),
    S_SERVICE_KEYS ("order", "7410"),
    S_SERVICE_KEYS ("inventory", "7411"),
    S_SERVICE_KEYS ("payment", "7412"),
    S_SERVICE_KEYS ("notification", "7413"),
    {"runtime/hwm", "100000", S_INT, false, "a service's socket high-water mark, in messages"},
    {"runtime/batch", "256", S_INT, false, "events and commands committed in one transaction"},
    {"runtime/heartbeat_ms", "500", S_INT, false, "interval between heartbeats"},
    {"runtime/replay_batch", "512", S_INT, false,
     "events asked for in one replay request, and the most one replay answer holds"},
    {"runtime/replay_timeout_ms", "1000", S_INT, false,
     "how long to wait for a replay answer before asking again"},
    {"runtime/startup_catchup_ms", "3000", S_INT, false,
     "how long start-up waits for each producer while catching up"},
    {"runtime/map_size_mb", "4096", S_INT, false, "the largest a store may grow, in MiB"},
    {"runtime/retention_s", "604800", S_INT, false, "outbox events older than this may be pruned"},
    {"runtime/retention_events", "10000000", S_INT, false, "outbox events kept per type at most"},
    {"order/saga_timeout_ms", "30000", S_INT, false,
     "an order not confirmed or cancelled by then is cancelled"},
    {"limits/max_message_bytes", "1114112", S_INT, false,
     "largest message frame any socket accepts from the network; a peer that sends more is "
     "disconnected"},
    {"limits/max_items", "64", S_INT, false, "most lines in one order"},
    {"limits/max_qty", "1000000", S_INT, false, "largest quantity of one order line"},
    {"limits/requests_per_s", "20000", S_INT, false,
     "requests a second each client may send to one api endpoint; 0 for no limit"},
    {"limits/burst", "20000", S_INT, false,
     "requests a client may send at once, above requests_per_s, after a quiet spell"},
    {"limits/clients", "1024", S_INT, false,
     "clients each api endpoint's rate limit remembers; the least recently seen is forgotten"},
    {"cli/timeout_ms", "5000", S_INT, false, "how long the CLI waits for a reply"},
    {"cli/identity", "cli", S_STRING, false,
     "the certificate name the CLI uses when security/curve is on"},
    {"security/curve", "false", S_BOOL, false,
     "CURVE encryption and authentication on every socket"},
    {"security/certs", "", S_STRING, true,
     "directory of the public certificates every server accepts; <home>/certs when empty"},
    {"security/keys", "", S_STRING, true,
     "directory of this machine's secret certificates, <name>.cert_secret; <home>/keys when empty"},
};

#define S_KEYS_COUNT (sizeof s_keys / sizeof s_keys[0])

//  Integer keys whose values must lie in a narrower range than 0 to 2^63-1.
//  A message cap below the codec's would cut off messages the protocol
//  allows; items and quantities cannot exceed what the codec accepts.
static const struct {
    const char *key;
    int64_t min, max;
} s_ranges[] = {
    {"limits/max_message_bytes", OMS_MSG_MAX, INT32_MAX},
    {"broker/count", 1, OMS_BROKERS_MAX},
    {"limits/max_items", 1, OMS_ITEMS_MAX},
    {"limits/max_qty", 1, OMS_QTY_MAX},
    {"limits/requests_per_s", 0, 1000000000},
    {"limits/burst", 1, 1000000000},
    {"limits/clients", 1, 1000000},
};

#define S_STR(x)  S_STR_ (x)
#define S_STR_(x) #x

//  Long enough for every key above with room to spare; a longer path in a
//  file cannot be a key.
#define S_PATH_MAX 128

//  A configuration file is a page of text; anything far larger is a mistake.
#define S_FILE_MAX (1024 * 1024)

struct _oms_config_t {
    zconfig_t *values; //  every key of s_keys, resolved
};

static const s_key_t *
s_find (const char *key)
{
    for (size_t index = 0; index < S_KEYS_COUNT; index++)
        if (strcmp (s_keys[index].key, key) == 0)
            return &s_keys[index];
    return NULL;
}

//  Whether `path` names a section that holds keys, e.g. "services/order".
static bool
s_is_section (const char *path)
{
    size_t length = strlen (path);
    for (size_t index = 0; index < S_KEYS_COUNT; index++)
        if (strncmp (s_keys[index].key, path, length) == 0 && s_keys[index].key[length] == '/')
            return true;
    return false;
}

//  "broker/frontend" is OMS_BROKER_FRONTEND.
static const char *
s_env_name (const char *key, char *buf, size_t size)
{
    size_t used = (size_t) snprintf (buf, size, "OMS_");
    for (; *key && used + 1 < size; key++)
        buf[used++] = (*key == '/' || *key == '-') ? '_' : (char) toupper ((unsigned char) *key);
    buf[used] = '\0';
    return buf;
}

static bool
s_parse_int (const char *value, int64_t *result)
{
    if (!*value)
        return false;
    for (const char *digit = value; *digit; digit++)
        if (!isdigit ((unsigned char) *digit))
            return false;
    errno = 0;
    long long number = strtoll (value, NULL, 10);
    if (errno == ERANGE)
        return false;
    *result = number;
    return true;
}

static bool
s_parse_bool (const char *value, bool *result)
{
    static const char *const truths[] = {"true", "yes", "1"};
    static const char *const lies[] = {"false", "no", "0"};
    for (size_t index = 0; index < 3; index++) {
        if (strcmp (value, truths[index]) == 0 || strcmp (value, lies[index]) == 0) {
            *result = strcmp (value, truths[index]) == 0;
            return true;
        }
    }
    return false;
}

static bool
s_is_endpoint (const char *value)
{
    static const char *const transports[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t index = 0; index < 3; index++) {
        size_t length = strlen (transports[index]);
        if (strncmp (value, transports[index], length) == 0 && value[length] != '\0')
            return true;
    }
    return false;
}

//  NULL when `number` is in the range of `key`, else why not (in `why`).
static const char *
s_out_of_range (const char *key, int64_t number, char *why, size_t size)
{
    for (size_t index = 0; index < sizeof s_ranges / sizeof s_ranges[0]; index++) {
        if (strcmp (s_ranges[index].key, key) == 0 &&
            (number < s_ranges[index].min || number > s_ranges[index].max)) {
            snprintf (why, size, "is not from %" PRId64 " to %" PRId64, s_ranges[index].min,
                      s_ranges[index].max);
            return why;
        }
    }
    return NULL;
}

//  Checks `value` against the form of `def`; NULL when it fits, else why not
//  (a constant text, or one written into `why`).
static const char *
s_check (const s_key_t *def, const char *value, char *why, size_t size)
{
    if (strlen (value) > OMS_CONFIG_VALUE_MAX)
        return "is longer than " S_STR (OMS_CONFIG_VALUE_MAX) " bytes";
    if (*value == '\0')
        return def->optional ? NULL : "must not be empty";
    int64_t number;
    bool flag;
    switch (def->kind) {
    case S_STRING:
        return NULL;
    case S_ENDPOINT:
        return s_is_endpoint (value) ? NULL : "is not an endpoint (tcp://, ipc:// or inproc://)";
    case S_INT:
        if (!s_parse_int (value, &number))
            return "is not a decimal integer from 0 to 2^63-1";
        return s_out_of_range (def->key, number, why, size);
    case S_BOOL:
        return s_parse_bool (value, &flag) ? NULL : "is not true, false, yes, no, 1 or 0";
    case S_LEVEL:
        return (strcmp (value, "error") == 0 || strcmp (value, "warn") == 0 ||
                strcmp (value, "info") == 0 || strcmp (value, "debug") == 0)
                   ? NULL
                   : "is not a log level (error, warn, info, debug)";
    }
    return "has an unknown kind";
}

//  Checks and stores one value; `source` names where it came from in the
//  error ("config file x.cfg", "environment OMS_HOME", or NULL for a flag).
static int
s_assign (oms_config_t *self, const char *key, const char *value, const char *source, char *error,
          size_t size)
{
    const char *prefix = source ? source : "";
    const char *separator = source ? ": " : "";
    const s_key_t *def = s_find (key);
    if (!def) {
        oms_error_format (error, size, "%s%sunknown key \"%s\"", prefix, separator, key);
        return -1;
    }
    char buffer[64];
    const char *why = s_check (def, value, buffer, sizeof buffer);
    if (why) {
        oms_error_format (error, size, "%s%s%s: \"%.64s\" %s", prefix, separator, key, value, why);
        return -1;
    }
    zconfig_put (self->values, key, value);
    return 0;
}

//  Applies the ZPL tree under `node`, whose path is `prefix` ("" at the
//  root). Sections must lead to keys and leaves must be keys: nothing in a
//  file is ignored, so a misspelt key cannot silently leave its default.
static int
s_apply_tree (oms_config_t *self, zconfig_t *node, const char *prefix, const char *source,
              char *error, size_t size)
{
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        char path[S_PATH_MAX];
        const char *name = zconfig_name (child) ? zconfig_name (child) : "";
        int length = snprintf (path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", name);
        if (length < 0 || (size_t) length >= sizeof path) {
            oms_error_format (error, size, "%s: unknown key \"%.*s...\"", source, 64, path);
            return -1;
        }
        const char *value = zconfig_value (child) ? zconfig_value (child) : "";
        if (zconfig_child (child)) {
            if (!s_is_section (path)) {
                oms_error_format (error, size, "%s: unknown section \"%s\"", source, path);
                return -1;
            }
            if (*value) {
                oms_error_format (error, size, "%s: section \"%s\" cannot have a value", source,
                                  path);
                return -1;
            }
            if (s_apply_tree (self, child, path, source, error, size))
                return -1;
        }
        else if (s_find (path)) {
            if (s_assign (self, path, value, source, error, size))
                return -1;
        }
        else if (!(s_is_section (path) && *value == '\0')) {
            oms_error_format (error, size, "%s: unknown key \"%s\"", source, path);
            return -1;
        }
    }
    return 0;
}

static int
s_apply_file (oms_config_t *self, const char *path, char *error, size_t size)
{
    char source[S_PATH_MAX + 256];
    snprintf (source, sizeof source, "config file %s", path);
    //  Read here rather than by zconfig_load, which neither says why a file
    //  could not be opened nor frees everything when a file does not parse.
    FILE *file = fopen (path, "r");
    if (!file) {
        oms_error_format (error, size, "%s: %s", source, strerror (errno));
        return -1;
    }
    char *text = malloc (S_FILE_MAX + 1);
    size_t length = text ? fread (text, 1, S_FILE_MAX + 1, file) : 0;
    bool failed = ferror (file) != 0;
    fclose (file);

    int rc = -1;
    zconfig_t *tree = NULL;
    if (!text)
        oms_error_format (error, size, "%s: out of memory", source);
    else if (failed)
        oms_error_format (error, size, "%s: cannot be read", source);
    else if (length > S_FILE_MAX)
        oms_error_format (error, size, "%s: larger than %d bytes", source, S_FILE_MAX);
    else if (memchr (text, '\0', length))
        oms_error_format (error, size, "%s: contains a NUL byte", source);
    else {
        text[length] = '\0';
        tree = zconfig_str_load (text);
        if (!tree)
            oms_error_format (error, size, "%s: not valid ZPL (the line is logged above)", source);
        else
            rc = s_apply_tree (self, tree, "", source, error, size);
    }
    zconfig_destroy (&tree);
    free (text);
    return rc;
}

static int
s_apply_environment (oms_config_t *self, char *error, size_t size)
{
    for (size_t index = 0; index < S_KEYS_COUNT; index++) {
        char name[S_PATH_MAX];
        s_env_name (s_keys[index].key, name, sizeof name);
        //  An empty variable counts as unset, as it does for OMS_CONFIG, so
        //  `OMS_HOME= oms ...` falls back instead of failing.
        const char *value = getenv (name);
        if (!value || !*value)
            continue;
        char source[S_PATH_MAX + 16];
        snprintf (source, sizeof source, "environment %s", name);
        if (s_assign (self, s_keys[index].key, value, source, error, size))
            return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Constructor and destructor

oms_config_t *
oms_config_new (const char *path, char *error, size_t size)
{
    oms_config_t *self = calloc (1, sizeof *self);
    if (self)
        self->values = zconfig_new ("root", NULL);
    if (!self || !self->values) {
        oms_error_format (error, size, "config: out of memory");
        goto fail;
    }
    for (size_t index = 0; index < S_KEYS_COUNT; index++)
        zconfig_put (self->values, s_keys[index].key, s_keys[index].value);

    if (!path) {
        const char *from_env = getenv ("OMS_CONFIG");
        if (from_env && *from_env)
            path = from_env;
    }
    if (path && s_apply_file (self, path, error, size))
        goto fail;
    if (s_apply_environment (self, error, size))
        goto fail;
    return self;

fail:
    oms_config_destroy (&self);
    return NULL;
}

void
oms_config_destroy (oms_config_t **self_p)
{
    assert (self_p);
    oms_config_t *self = *self_p;
    if (!self)
        return;
    zconfig_destroy (&self->values);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Access

int
oms_config_set (oms_config_t *self, const char *key, const char *value, char *error, size_t size)
{
    assert (self);
    assert (key);
    assert (value);
    return s_assign (self, key, value, NULL, error, size);
}

int
oms_config_set_flag (oms_config_t *self, const char *flag, char *error, size_t size)
{
    assert (self);
    assert (flag);
    const char *equals = strchr (flag, '=');
    char key[S_PATH_MAX];
    if (!equals || equals == flag) {
        oms_error_format (error, size, "--set needs KEY=VALUE, got \"%.64s\"", flag);
        return -1;
    }
    if ((size_t) (equals - flag) >= sizeof key) {
        oms_error_format (error, size, "--set: unknown key \"%.64s...\"", flag);
        return -1;
    }
    memcpy (key, flag, (size_t) (equals - flag));
    key[equals - flag] = '\0';
    return s_assign (self, key, equals + 1, "--set", error, size);
}

const char *
oms_config_str (oms_config_t *self, const char *key)
{
    assert (self);
    assert (key);
    const s_key_t *def = s_find (key);
    assert (def);
    (void) def;
    return zconfig_get (self->values, key, "");
}

int64_t
oms_config_int (oms_config_t *self, const char *key)
{
    const char *value = oms_config_str (self, key);
    assert (s_find (key)->kind == S_INT);
    int64_t number = 0;
    //  Every value was checked on the way in.
    bool valid = s_parse_int (value, &number);
    assert (valid);
    (void) valid;
    return number;
}

bool
oms_config_bool (oms_config_t *self, const char *key)
{
    const char *value = oms_config_str (self, key);
    assert (s_find (key)->kind == S_BOOL);
    bool flag = false;
    bool valid = s_parse_bool (value, &flag);
    assert (valid);
    (void) valid;
    return flag;
}

const char *
oms_config_service (oms_config_t *self, const char *service, const char *key)
{
    assert (service);
    assert (key);
    char path[S_PATH_MAX];
    snprintf (path, sizeof path, "services/%s/%s", service, key);
    return oms_config_str (self, path);
}

const char *
oms_config_store_dir (oms_config_t *self, const char *service, char *buf, size_t size)
{
    assert (buf);
    assert (size > 0);
    const char *store = oms_config_service (self, service, "store");
    if (*store)
        snprintf (buf, size, "%s", store);
    else
        snprintf (buf, size, "%s/%s", oms_config_str (self, "home"), service);
    return buf;
}

int
oms_config_brokers (oms_config_t *self)
{
    return (int) oms_config_int (self, "broker/count");
}

const char *
oms_config_broker (oms_config_t *self, int index, const char *key)
{
    assert (index >= 0 && index < OMS_BROKERS_MAX);
    assert (key);
    char path[S_PATH_MAX];
    if (index == 0)
        snprintf (path, sizeof path, "broker/%s", key);
    else
        snprintf (path, sizeof path, "brokers/%d/%s", index, key);
    return oms_config_str (self, path);
}

const char *
oms_config_broker_name (oms_config_t *self, int index, char *buf, size_t size)
{
    assert (buf);
    if (oms_config_brokers (self) == 1)
        snprintf (buf, size, "broker");
    else
        snprintf (buf, size, "broker.%d", index);
    return buf;
}

bool
oms_config_is_service (const char *name)
{
    for (size_t index = 0; name && index < OMS_SERVICES_COUNT; index++)
        if (strcmp (name, oms_service_names[index]) == 0)
            return true;
    return false;
}
