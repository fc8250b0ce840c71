/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUB: to be replaced by the real implementation. */
#include "config.h"
#include "cgroup.h"
#include "broker-error.h"

void
cgroup_layout_clear (CgroupLayout *layout)
{
  g_clear_pointer (&layout->mount, g_free);
  g_clear_pointer (&layout->root, g_free);
}

gboolean
cgroup_find_v2_mount (const char *mountinfo_path, char **ret_mount, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED, "not implemented");
  return FALSE;
}

gboolean
cgroup_validate_root (const char *root, GError **error)
{
  return TRUE;
}

gboolean
cgroup_validate_relative (const char *cgroup, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "not implemented");
  return FALSE;
}

char *
cgroup_user_path (const CgroupLayout *layout, uid_t uid)
{
  return g_strdup_printf ("/%s/user-%u", layout->root, (unsigned) uid);
}

gboolean
cgroup_direct_setup (const CgroupLayout *layout, uid_t uid, char **ret_cgroup_path, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "not implemented");
  return FALSE;
}

gboolean
cgroup_direct_kill (const CgroupLayout *layout, uid_t uid, const char *cgroup_rel, guint timeout_ms,
                    CgroupKillFlags flags, guint32 *ret_killed, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "not implemented");
  return FALSE;
}
