/*  oms_config: one cluster configuration, as a ZPL file (czmq's zconfig).

    Every key has a default in code, so no file is needed for a local
    cluster. Precedence, lowest first: defaults, the file, environment
    variables, explicit overrides (command-line flags). A key's environment
    variable is OMS_ and its path upper-cased with '/' as '_':
    "broker/frontend" is OMS_BROKER_FRONTEND, "home" is OMS_HOME.
    A file is untrusted input: unknown keys and values of the wrong form are
    rejected with the key named, never silently ignored.

    The key list, with defaults and meaning, is in docs/CONFIG.md and in
    s_keys[] in oms_config.c.
*/
#ifndef OMS_CONFIG_H
#define OMS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _oms_config_t oms_config_t;

//  The service names, in a fixed order (index = service id).
#define OMS_SERVICES_COUNT 4
extern const char *const oms_service_names[OMS_SERVICES_COUNT];

//  Loads defaults, then `path` when not NULL (else $OMS_CONFIG when set),
//  then the environment. On failure returns NULL and writes the reason to
//  `error` (size bytes). Caller owns the config.
oms_config_t *oms_config_new (const char *path, char *error, size_t size);
void oms_config_destroy (oms_config_t **self_p);

//  Overrides one key, e.g. from a flag. 0, or -1 with `error` filled when the
//  key is unknown or the value has the wrong form.
int oms_config_set (oms_config_t *self, const char *key, const char *value, char *error,
                    size_t size);

//  The longest value any key takes, from any source (a file, the
//  environment or a flag); a longer one is refused, never cut short.
#define OMS_CONFIG_VALUE_MAX 4095

//  Applies one "KEY=VALUE" flag (--set), the way every program takes them.
//  0, or -1 with `error` filled: not KEY=VALUE, an unknown key, or a value
//  of the wrong form or too long.
int oms_config_set_flag (oms_config_t *self, const char *flag, char *error, size_t size);

//  The value of a known key, never NULL (an unset optional key is "").
//  Asking for an unknown key is a programmer error (asserts).
const char *oms_config_str (oms_config_t *self, const char *key);
int64_t oms_config_int (oms_config_t *self, const char *key);
bool oms_config_bool (oms_config_t *self, const char *key);

//  Per-service keys, e.g. oms_config_service (cfg, "order", "api").
const char *oms_config_service (oms_config_t *self, const char *service, const char *key);

//  The directory of a service's store: services/<name>/store, else <home>/<name>.
//  Writes into buf and returns it.
const char *oms_config_store_dir (oms_config_t *self, const char *service, char *buf, size_t size);

//  The most brokers a cluster may have (broker/count).
#define OMS_BROKERS_MAX 8

//  How many brokers the cluster has: broker/count, 1 to OMS_BROKERS_MAX.
int oms_config_brokers (oms_config_t *self);

//  A key of broker `index` (0 to OMS_BROKERS_MAX - 1): broker/<key> for
//  broker 0, brokers/<index>/<key> for the others; `key` is frontend,
//  frontend_bind, backend, backend_bind, tap or metrics.
const char *oms_config_broker (oms_config_t *self, int index, const char *key);

//  The process name of broker `index`: "broker" when the cluster has one,
//  else "broker.<index>". Writes into buf and returns it.
const char *oms_config_broker_name (oms_config_t *self, int index, char *buf, size_t size);

//  Whether `name` is one of oms_service_names.
bool oms_config_is_service (const char *name);

#endif
