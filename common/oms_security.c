/*  oms_security: CURVE for every socket, in one place.

    The design is deliberately small. A certificate is a czmq zcert file; its
    name (metadata "name", else the file name without ".cert") is an
    identity. security/certs is the allow-list every server accepts, handed
    whole to czmq's zauth ("CURVE <dir>"), which re-reads it when it changes.
    zauth gives every message of an accepted connection the property
    "User-Id", the client's public key in Z85; this module keeps its own map
    from those keys to names, read from the same directory, so that the
    broker and the services can ask who sent a message.
*/
#include "oms_security.h"
#include "oms_log.h"
#include "oms_proto.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  zcert_load appends "_secret" to a path in a 256-byte buffer: keep paths
//  well under it.
#define S_PATH_MAX 240

#define S_ZAP_DOMAIN   "oms"
#define S_KEY_TXT      40 //  a Z85 key
#define S_RELOAD_MS    1000
#define S_LOG_EVERY_MS 1000
#define S_NO_SECRET    "0000000000000000000000000000000000000000"

struct _oms_security_t {
    bool enabled;
    char name[OMS_NAME_MAX + 1];
    char certs[S_PATH_MAX + 1];
    zcert_t *cert;     //  this process's, with its secret key
    zactor_t *auth;    //  started with the first server socket
    zhash_t *peers;    //  Z85 public key -> certificate name
    zhash_t *servers;  //  process name -> its Z85 public key
    int64_t loaded_ms; //  when peers was last read
    uint64_t refused;
    uint64_t unlogged; //  refusals not logged since the last line
    int64_t logged_ms;
};

//  security/<key>, else <home>/<fallback>, into buf. -1 when too long.
static int
s_dir (oms_config_t *config, const char *key, const char *fallback, char *buf, size_t size)
{
    const char *value = oms_config_str (config, key);
    int length = *value ? snprintf (buf, size, "%s", value)
                        : snprintf (buf, size, "%s/%s", oms_config_str (config, "home"), fallback);
    return length < 0 || (size_t) length >= size ? -1 : 0;
}

//  Checks that `path` names a directory we can list.
static int
s_check_dir (const char *key, const char *path, char *error, size_t size)
{
    DIR *dir = opendir (path);
    if (!dir) {
        oms_error_format (error, size, "%s %s: %s", key, path, strerror (errno));
        return -1;
    }
    closedir (dir);
    return 0;
}

//  Loads a certificate file after checking it can be read, so that the
//  error says why. NULL with `error` filled.
static zcert_t *
s_load (const char *path, char *error, size_t size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        oms_error_format (error, size, "certificate %s: %s", path, strerror (errno));
        return NULL;
    }
    fclose (file);
    zcert_t *cert = zcert_load (path);
    if (!cert)
        oms_error_format (error, size,
                          "certificate %s: not a certificate (no 40-character public-key)", path);
    return cert;
}

//  The identity a certificate file stands for: its metadata name, else the
//  file name without ".cert" or ".cert_secret".
static void
s_cert_name (zcert_t *cert, const char *file, char *name, size_t size)
{
    const char *meta = zcert_meta (cert, "name");
    if (meta && oms_security_valid_name (meta)) {
        snprintf (name, size, "%s", meta);
        return;
    }
    size_t length = strlen (file);
    const char *dot = strstr (file, ".cert");
    if (dot && (strcmp (dot, ".cert") == 0 || strcmp (dot, ".cert_secret") == 0))
        length = (size_t) (dot - file);
    if (length >= size)
        length = size - 1;
    memcpy (name, file, length);
    name[length] = '\0';
}

//  Reads every certificate in the allow-list into the peer map, as zauth's
//  certificate store does: every regular file whose name does not start
//  with a dot. Files that are not certificates are skipped.
static void
s_load_peers (oms_security_t *self)
{
    zhash_t *peers = zhash_new ();
    zhash_autofree (peers);
    DIR *dir = opendir (self->certs);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        char path[S_PATH_MAX * 2];
        struct stat info;
        if (entry->d_name[0] == '.')
            continue;
        int length = snprintf (path, sizeof path, "%s/%s", self->certs, entry->d_name);
        if (length < 0 || length >= S_PATH_MAX || stat (path, &info) || !S_ISREG (info.st_mode))
            continue;
        zcert_t *cert = zcert_load (path);
        if (!cert)
            continue;
        char name[OMS_NAME_MAX + 1];
        s_cert_name (cert, entry->d_name, name, sizeof name);
        zhash_update (peers, zcert_public_txt (cert), name);
        zcert_destroy (&cert);
    }
    if (dir)
        closedir (dir);
    zhash_destroy (&self->peers);
    self->peers = peers;
    self->loaded_ms = zclock_mono ();
}

// ---------------------------------------------------------------------------
//  Constructor and destructor

oms_security_t *
oms_security_new (oms_config_t *config, const char *name, char *error, size_t size)
{
    assert (config);
    assert (name);
    oms_security_t *self = (oms_security_t *) calloc (1, sizeof *self);
    if (!self) {
        oms_error_format (error, size, "security: out of memory");
        return NULL;
    }
    self->enabled = oms_config_bool (config, "security/curve");
    if (!self->enabled)
        return self;

    char keys[S_PATH_MAX + 1], path[S_PATH_MAX + 1];
    if (!oms_security_valid_name (name)) {
        oms_error_format (error, size,
                          "security: \"%.64s\" cannot name a certificate (use letters, digits, "
                          "'.', '_', '-')",
                          name);
        goto fail;
    }
    snprintf (self->name, sizeof self->name, "%s", name);
    if (!zsys_has_curve ()) {
        oms_error_format (error, size, "security/curve is on but this libzmq has no CURVE support");
        goto fail;
    }
    if (s_dir (config, "security/certs", "certs", self->certs, sizeof self->certs) ||
        s_dir (config, "security/keys", "keys", keys, sizeof keys)) {
        oms_error_format (error, size, "security/certs or security/keys: path longer than %d bytes",
                          S_PATH_MAX);
        goto fail;
    }
    if (s_check_dir ("security/certs", self->certs, error, size) ||
        s_check_dir ("security/keys", keys, error, size))
        goto fail;
    int length = snprintf (path, sizeof path, "%s/%s.cert_secret", keys, name);
    if (length < 0 || (size_t) length >= sizeof path) {
        oms_error_format (error, size, "security/keys: path longer than %d bytes", S_PATH_MAX);
        goto fail;
    }
    self->cert = s_load (path, error, size);
    if (!self->cert)
        goto fail;
    if (strcmp (zcert_secret_txt (self->cert), S_NO_SECRET) == 0) {
        oms_error_format (error, size, "certificate %s: has no secret-key (a public certificate?)",
                          path);
        goto fail;
    }
    self->servers = zhash_new ();
    zhash_autofree (self->servers);
    s_load_peers (self);
    if (!zhash_lookup (self->peers, zcert_public_txt (self->cert)))
        oms_warn ("security: %s's own public key is not in %s; peers will refuse it", name,
                  self->certs);
    return self;

fail:
    oms_security_destroy (&self);
    return NULL;
}

void
oms_security_destroy (oms_security_t **self_p)
{
    assert (self_p);
    oms_security_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->auth);
    zcert_destroy (&self->cert);
    zhash_destroy (&self->peers);
    zhash_destroy (&self->servers);
    free (self);
    *self_p = NULL;
}

bool
oms_security_enabled (oms_security_t *self)
{
    return self && self->enabled;
}

// ---------------------------------------------------------------------------
//  Sockets

int
oms_security_server (oms_security_t *self, zsock_t *sock)
{
    assert (sock);
    if (!oms_security_enabled (self))
        return 0;
    if (!self->auth) {
        //  One authenticator per process: it answers ZAP for every socket.
        self->auth = zactor_new (zauth, NULL);
        if (!self->auth) {
            oms_error ("security: cannot start the authenticator");
            return -1;
        }
        zstr_sendx (self->auth, "CURVE", self->certs, NULL);
        zsock_wait (self->auth);
    }
    zcert_apply (self->cert, zsock_resolve (sock));
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, S_ZAP_DOMAIN);
    return 0;
}

int
oms_security_client (oms_security_t *self, zsock_t *sock, const char *server, char *error,
                     size_t size)
{
    assert (sock);
    assert (server);
    if (!oms_security_enabled (self))
        return 0;
    const char *key = (const char *) zhash_lookup (self->servers, server);
    if (!key) {
        char path[S_PATH_MAX * 2];
        snprintf (path, sizeof path, "%s/%s.cert", self->certs, server);
        zcert_t *cert = s_load (path, error, size);
        if (!cert)
            return -1;
        zhash_update (self->servers, server, (void *) zcert_public_txt (cert));
        zcert_destroy (&cert);
        key = (const char *) zhash_lookup (self->servers, server);
    }
    zcert_apply (self->cert, zsock_resolve (sock));
    zsock_set_curve_serverkey (sock, key);
    return 0;
}

const char *
oms_security_peer (oms_security_t *self, const char *user_id)
{
    if (!oms_security_enabled (self) || !user_id || strlen (user_id) != S_KEY_TXT)
        return NULL;
    const char *name = (const char *) zhash_lookup (self->peers, user_id);
    if (!name && zclock_mono () - self->loaded_ms >= S_RELOAD_MS) {
        s_load_peers (self);
        name = (const char *) zhash_lookup (self->peers, user_id);
    }
    return name;
}

uint64_t
oms_security_refuse (oms_security_t *self, const char *format, ...)
{
    assert (self);
    self->refused++;
    int64_t now = zclock_mono ();
    if (self->logged_ms && now - self->logged_ms < S_LOG_EVERY_MS) {
        self->unlogged++;
        return self->refused;
    }
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    oms_warn ("security: %s (refused=%llu, not logged since the last line=%llu)", text,
              (unsigned long long) self->refused, (unsigned long long) self->unlogged);
    self->logged_ms = now;
    self->unlogged = 0;
    return self->refused;
}

uint64_t
oms_security_refused (oms_security_t *self)
{
    return self ? self->refused : 0;
}

// ---------------------------------------------------------------------------
//  Policy

bool
oms_security_is_process (const char *name)
{
    return name && (strcmp (name, "broker") == 0 || oms_config_is_service (name));
}

bool
oms_security_may_publish (const char *publisher, const char *topic)
{
    const oms_event_type_t *type = oms_event_type (topic);
    if (!oms_security_is_process (publisher) || !type)
        return false;
    const char *owner = type->owner ? type->owner : topic + strlen (OMS_HEARTBEAT_PREFIX);
    return strcmp (owner, publisher) == 0;
}

bool
oms_security_read_only (const char *cmd)
{
    const oms_command_type_t *type = cmd ? oms_command_type (cmd) : NULL;
    return type && type->read_only;
}

bool
oms_security_may_command (const char *peer, const char *cmd)
{
    return peer && (oms_security_read_only (cmd) || !oms_security_is_process (peer));
}

bool
oms_security_valid_name (const char *name)
{
    size_t length = name ? strlen (name) : 0;
    if (length == 0 || length > OMS_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
//  Key generation

//  Creates `path` empty with `mode`, failing when it exists, so that a key
//  is never overwritten and a secret is never readable by others, even for
//  a moment. zcert then writes into it.
static int
s_create (const char *path, mode_t mode, char *error, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        oms_error_format (error, size, "%s: %s%s", path, strerror (errno),
                          errno == EEXIST ? " (not overwritten)" : "");
        return -1;
    }
    close (fd);
    return 0;
}

int
oms_security_keygen (const char *dir, const char *name, char *error, size_t size)
{
    assert (dir);
    assert (name);
    if (!oms_security_valid_name (name)) {
        oms_error_format (error, size,
                          "\"%.64s\" cannot name a certificate (use letters, digits, '.', "
                          "'_', '-'; at most %d)",
                          name, OMS_NAME_MAX);
        return -1;
    }
    char public_path[S_PATH_MAX + 1], secret_path[S_PATH_MAX + 1];
    int length = snprintf (secret_path, sizeof secret_path, "%s/%s.cert_secret", dir, name);
    if (length < 0 || (size_t) length >= sizeof secret_path) {
        oms_error_format (error, size, "%s: path longer than %d bytes", dir, S_PATH_MAX);
        return -1;
    }
    snprintf (public_path, sizeof public_path, "%s/%s.cert", dir, name);
    if (zsys_dir_create ("%s", dir) != 0) {
        oms_error_format (error, size, "%s: cannot create the directory: %s", dir,
                          strerror (errno));
        return -1;
    }
    if (s_create (public_path, 0644, error, size))
        return -1;
    if (s_create (secret_path, 0600, error, size)) {
        unlink (public_path);
        return -1;
    }
    int rc = -1;
    zcert_t *cert = zcert_new ();
    if (!cert)
        oms_error_format (error, size, "cannot make a key pair");
    else {
        zcert_set_meta (cert, "name", "%s", name);
        if (zcert_save_public (cert, public_path) || zcert_save_secret (cert, secret_path))
            oms_error_format (error, size, "%s: cannot write the certificate: %s", dir,
                              strerror (errno));
        else
            rc = 0;
    }
    zcert_destroy (&cert);
    if (rc) {
        unlink (public_path);
        unlink (secret_path);
    }
    return rc;
}
