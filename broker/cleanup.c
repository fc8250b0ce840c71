/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUB: to be replaced by the real implementation. */
#include "config.h"
#include "cleanup.h"
#include "broker-error.h"

gboolean
cleanup_validate_path (const char *path, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "not implemented");
  return FALSE;
}

gboolean
cleanup_remove_beneath_locald (const char *path, uid_t caller_uid, guint64 *ret_removed, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "not implemented");
  return FALSE;
}
