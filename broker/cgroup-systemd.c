/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUB: to be replaced by the real implementation. */
#include "config.h"
#include "cgroup-systemd.h"
#include "broker-error.h"

gboolean
cgroup_systemd_detect (char **ret_reason)
{
  *ret_reason = g_strdup ("stub");
  return FALSE;
}

gboolean
cgroup_systemd_setup (uid_t uid, pid_t caller_pid, char **ret_cgroup_path, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "not implemented");
  return FALSE;
}
