/*  scratch_dir: the private directory each unit suite works in. It is made
    with mkdtemp so suites running at once never share one, and removed whole
    with czmq rather than a shell, so no path is ever parsed by sh. czmq's
    zdir skips files whose names start with a dot, so a suite that leaves one
    behind fails its teardown rather than leaking the directory.
*/
#ifndef SCRATCH_DIR_H
#define SCRATCH_DIR_H

#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Makes $TMPDIR/oms-test-SUITE-XXXXXX (TMPDIR defaults to /tmp) and leaves
//  its path in `dir`.
static inline void
scratch_dir_make (char *dir, size_t size, const char *suite)
{
    const char *tmp = getenv ("TMPDIR");
    int length = snprintf (dir, size, "%s/oms-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", suite);
    cr_assert (length > 0 && (size_t) length < size, "%s: scratch path too long", suite);
    cr_assert_not_null (mkdtemp (dir), "%s: %s", dir, strerror (errno));
}

static inline void
scratch_dir_remove (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    cr_assert_not_null (dir, "%s: cannot be read", path);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    cr_assert_neq (access (path, F_OK), 0, "%s: still there after removal", path);
}

#endif
