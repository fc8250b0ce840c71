/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-calls.h"
#include "client/locald-names.h"

/* Generous: a SelfCheck behind a slow polkitd must still be measured, not
 * dropped, and a hang should end the run rather than stall it forever. */
#define BENCH_CALL_TIMEOUT_MS 30000

GVariant *
bench_broker_call (GDBusConnection *conn,
                   const char *iface,
                   const char *method,
                   GVariant *params,
                   const char *reply_type,
                   GError **error)
{
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (conn), NULL);

  return g_dbus_connection_call_sync (conn, BENCH_BROKER_NAME, BENCH_BROKER_PATH, iface, method, params,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                                      BENCH_CALL_TIMEOUT_MS, NULL, error);
}

gboolean
bench_ping (GDBusConnection *conn, GError **error)
{
  g_autoptr (GVariant) reply
      = bench_broker_call (conn, "org.freedesktop.DBus.Peer", "Ping", NULL, "()", error);

  return reply != NULL;
}

gboolean
bench_get_api_version (GDBusConnection *conn, guint32 *ret_version, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;

  reply = bench_broker_call (conn, "org.freedesktop.DBus.Properties", "Get",
                             g_variant_new ("(ss)", BENCH_BROKER_IFACE, "ApiVersion"), "(v)", error);
  if (!reply)
    return FALSE;
  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "ApiVersion has type %s, expected u",
                   g_variant_get_type_string (value));
      return FALSE;
    }
  if (ret_version)
    *ret_version = g_variant_get_uint32 (value);
  return TRUE;
}

gboolean
bench_self_check (GDBusConnection *conn, char **ret_mode, GError **error)
{
  g_autoptr (GVariant) reply = NULL;

  reply = bench_broker_call (conn, BENCH_BROKER_IFACE, "SelfCheck", NULL, "(sssa(sssa{ss}s)a{ss})", error);
  if (!reply)
    return FALSE;
  if (ret_mode)
    g_variant_get_child (reply, 2, "s", ret_mode);
  return TRUE;
}

gboolean
bench_kill_cgroup (GDBusConnection *conn, const char *cgroup, guint32 *ret_killed, GError **error)
{
  g_autoptr (GVariant) reply = NULL;

  reply = bench_broker_call (conn, BENCH_BROKER_IFACE, "KillCgroup", g_variant_new ("(s)", cgroup), "(u)",
                             error);
  if (!reply)
    return FALSE;
  if (ret_killed)
    g_variant_get (reply, "(u)", ret_killed);
  return TRUE;
}

gboolean
bench_setup_cgroup_root (GDBusConnection *conn, char **ret_cgroup, GError **error)
{
  g_autoptr (GVariant) reply = NULL;

  reply = bench_broker_call (conn, BENCH_BROKER_IFACE, "SetupCgroupRoot", NULL, "(s)", error);
  if (!reply)
    return FALSE;
  if (ret_cgroup)
    g_variant_get (reply, "(s)", ret_cgroup);
  return TRUE;
}

guint32
bench_broker_pid (GDBusConnection *conn, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  guint32 pid = 0;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (conn), 0);

  reply = g_dbus_connection_call_sync (conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", BENCH_BROKER_NAME), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, BENCH_CALL_TIMEOUT_MS, NULL, error);
  if (reply)
    g_variant_get (reply, "(u)", &pid);
  return pid;
}

gboolean
bench_polkit_check (GDBusConnection *conn, const char *action_id, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  GVariantBuilder subject_details;
  gboolean authorized = FALSE;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (conn), FALSE);

  g_variant_builder_init (&subject_details, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&subject_details, "{sv}", "name",
                         g_variant_new_string (g_dbus_connection_get_unique_name (conn)));
  reply = g_dbus_connection_call_sync (
      conn, LOCALD_POLKIT_BUS_NAME, LOCALD_POLKIT_AUTHORITY_PATH, LOCALD_POLKIT_AUTHORITY_INTERFACE,
      "CheckAuthorization",
      g_variant_new ("((sa{sv})s@a{ss}us)", "system-bus-name", &subject_details, action_id,
                     g_variant_new_array (G_VARIANT_TYPE ("{ss}"), NULL, 0), 0, ""),
      G_VARIANT_TYPE ("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE, BENCH_CALL_TIMEOUT_MS, NULL, error);
  if (!reply)
    return FALSE;
  g_variant_get (reply, "((bb@a{ss}))", &authorized, NULL, NULL);
  if (!authorized)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "polkit does not authorize %s for this client", action_id);
      return FALSE;
    }
  return TRUE;
}
