/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fast path (try, then delegate): the caller removes what it may and
 * asks the broker only for the rest. It runs the broker's own functions
 * without privilege (CGROUP_KILL_UNPRIVILEGED, the _unprivileged cleanup
 * walk), so validation, symlink and mount rules, error names, messages and
 * counts are the broker's by construction. Where those functions report
 * G_IO_ERROR_PERMISSION_DENIED the kernel refused this caller, which means
 * "the broker's turn", never a failure of the call. */
#include "config.h"

#include "client/locald-fastpath-private.h"

#include "client/locald-error-private.h"
#include "broker/broker-error.h"
#include "broker/bus-text.h"
#include "broker/cgroup.h"
#include "broker/cleanup.h"

#include <gio/gio.h>
#include <unistd.h>

struct _Fastpath
{
  GMutex lock;
  gboolean systemd_scopes;
  char *root;         /* CgroupRoot without its leading '/'; NULL: no cgroup2 */
  gboolean looked_up; /* the mount below was looked for */
  char *mount;        /* the caller's cgroup2 mount, NULL if none */
};

Fastpath *
_locald_fastpath_new (const char *strategy, const char *cgroup_root)
{
  Fastpath *fp = g_new0 (Fastpath, 1);

  g_mutex_init (&fp->lock);
  fp->systemd_scopes = g_strcmp0 (strategy, "systemd") == 0;
  if (cgroup_root != NULL && cgroup_root[0] == '/' && cgroup_root[1] != '\0')
    fp->root = g_strdup (cgroup_root + 1);
  return fp;
}

void
_locald_fastpath_free (Fastpath *fp)
{
  if (fp == NULL)
    return;
  g_mutex_clear (&fp->lock);
  g_free (fp->root);
  g_free (fp->mount);
  g_free (fp);
}

/* The broker's error as the broker path would have delivered it: its
 * D-Bus name, and its text as the broker puts it on the bus. */
static void
propagate_as_broker (GError *error, GError **ret)
{
  g_autoptr (GError) owned = error;
  g_autofree char *text = broker_bus_text (owned->message);

  g_propagate_error (ret, _locald_error_new_remote (broker_error_to_dbus_name (owned), text));
}

/* What the broker's function said, as an outcome: done, or (the kernel
 * refused this caller) the broker's turn. Takes error. */
static FastpathOutcome
outcome (gboolean ok, GError *error, const char *method, const char *arg, GError **ret)
{
  if (ok)
    return FASTPATH_DONE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    {
      g_debug ("%s %s: %s; asking the broker for the rest", method, arg, error->message);
      g_error_free (error);
      return FASTPATH_DELEGATE;
    }
  propagate_as_broker (error, ret);
  return FASTPATH_DONE;
}

/* The layout as the broker has it, with the mount from this process's
 * mountinfo (found once). FALSE when there is none to work on. */
static gboolean
fastpath_layout (Fastpath *fp, CgroupLayout *ret)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&fp->lock);

  if (fp->root == NULL)
    return FALSE;
  if (!fp->looked_up)
    {
      fp->looked_up = TRUE;
      if (!cgroup_find_v2_mount ("/proc/self/mountinfo", &fp->mount, NULL))
        fp->mount = NULL;
    }
  if (fp->mount == NULL)
    return FALSE;
  ret->mount = g_strdup (fp->mount);
  ret->root = g_strdup (fp->root);
  ret->systemd_scopes = fp->systemd_scopes;
  return TRUE;
}

FastpathOutcome
_locald_fastpath_kill (Fastpath *fp, const char *cgroup, guint *ret_killed, GError **error)
{
  g_auto (CgroupLayout) layout = { NULL, NULL, FALSE };
  g_autoptr (GError) local_error = NULL;
  guint32 killed = 0;
  gboolean ok;

  g_return_val_if_fail (fp != NULL && cgroup != NULL && ret_killed != NULL, FASTPATH_DELEGATE);

  *ret_killed = 0;
  /* The broker validates before anything else; so does this. */
  if (!cgroup_validate_relative (cgroup, &local_error))
    {
      propagate_as_broker (g_steal_pointer (&local_error), error);
      return FASTPATH_DONE;
    }
  if (!fastpath_layout (fp, &layout))
    return FASTPATH_DELEGATE; /* no cgroup2 here: the broker says what it sees */

  ok = cgroup_direct_kill (&layout, geteuid (), cgroup, CGROUP_KILL_DEFAULT_TIMEOUT_MS,
                           CGROUP_KILL_UNPRIVILEGED, &killed, &local_error);
  *ret_killed = killed;
  return outcome (ok, g_steal_pointer (&local_error), "KillCgroup", cgroup, error);
}

/* This process's groups, primary first, as the bus reports a caller's. */
static GArray *
own_groups (void)
{
  GArray *gids = g_array_new (FALSE, FALSE, sizeof (gid_t));
  gid_t primary = getegid ();
  int n = getgroups (0, NULL);

  g_array_append_val (gids, primary);
  if (n > 0)
    {
      g_autofree gid_t *list = g_new (gid_t, n);

      n = getgroups (n, list);
      for (int i = 0; i < n; i++)
        if (list[i] != primary)
          g_array_append_val (gids, list[i]);
    }
  return gids;
}

FastpathOutcome
_locald_fastpath_cleanup (Fastpath *fp, const char *path, guint64 *ret_removed, GError **error)
{
  g_autoptr (GArray) gids = own_groups ();
  g_autoptr (GError) local_error = NULL;
  guint64 removed = 0;
  gboolean ok;

  g_return_val_if_fail (fp != NULL && path != NULL && ret_removed != NULL, FASTPATH_DELEGATE);

  /* Validation comes first inside, as in the broker. */
  ok = cleanup_remove_beneath_locald_full (path, geteuid (), (const gid_t *) (gpointer) gids->data, gids->len,
                                           CLEANUP_TREE_UNPRIVILEGED, &removed, &local_error);
  *ret_removed = removed;
  return outcome (ok, g_steal_pointer (&local_error), "CleanupPath", path, error);
}
