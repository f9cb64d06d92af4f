/*  scratch_dir: the private directory each unit suite works in. It is made
    with mkdtemp so suites running at once never share one, and removed whole
    with czmq rather than a shell, so no path is ever parsed by sh.
*/
#ifndef SCRATCH_DIR_H
#define SCRATCH_DIR_H

#include <criterion/criterion.h>
#include <czmq.h>
#include <unistd.h>

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
