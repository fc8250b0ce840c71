/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-sdbus.h"

#include "client/locald-names.h"

#include <gio/gio.h>

/* Generous: a SelfCheck behind a slow polkitd must still be measured, not
 * dropped, and a hang should end the run rather than stall it forever. */
#define CALL_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

/* A message reference dropped at the end of its scope. */
#define AutoMessage __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *

static gboolean
fail_r (GError **error, int r, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "%s: %s", what, g_strerror (-r));
  return FALSE;
}

sd_bus *
bench_sdbus_open (GError **error)
{
  sd_bus *bus = NULL;
  int r = sd_bus_open_system (&bus);

  if (r < 0)
    {
      fail_r (error, r, "connecting to the system bus");
      return NULL;
    }
  return bus;
}

/* Sends m and waits; the reply (or NULL with error set). */
static sd_bus_message *
call (sd_bus *bus, sd_bus_message *m, GError **error)
{
  sd_bus_error e = SD_BUS_ERROR_NULL;
  sd_bus_message *reply = NULL;
  int r = sd_bus_call (bus, m, CALL_TIMEOUT_USEC, &e, &reply);

  if (r < 0)
    {
      /* Busy (the broker's call limits) is retried by the caller. */
      g_set_error (error, G_IO_ERROR,
                   sd_bus_error_has_name (&e, LOCALD_DBUS_ERROR_BUSY) ? G_IO_ERROR_BUSY : G_IO_ERROR_FAILED,
                   "%s: %s: %s", sd_bus_message_get_member (m), e.name ? e.name : "error",
                   e.message ? e.message : g_strerror (-r));
      sd_bus_error_free (&e);
      return NULL;
    }
  return reply;
}

static sd_bus_message *
broker_method (sd_bus *bus, const char *iface, const char *member, GError **error)
{
  sd_bus_message *m = NULL;
  int r = sd_bus_message_new_method_call (bus, &m, LOCALD_BROKER_BUS_NAME, LOCALD_BROKER_OBJECT_PATH, iface,
                                          member);

  if (r < 0)
    fail_r (error, r, member);
  return m;
}

gboolean
bench_sdbus_ping (sd_bus *bus, GError **error)
{
  AutoMessage m = broker_method (bus, "org.freedesktop.DBus.Peer", "Ping", error);
  AutoMessage reply = NULL;

  return m != NULL && (reply = call (bus, m, error)) != NULL;
}

static gboolean
get_property (sd_bus *bus, const char *name, char type, void *ret, GError **error)
{
  AutoMessage m = broker_method (bus, "org.freedesktop.DBus.Properties", "Get", error);
  AutoMessage reply = NULL;
  const char sig[2] = { type, '\0' };
  int r;

  if (m == NULL)
    return FALSE;
  r = sd_bus_message_append (m, "ss", LOCALD_BROKER_INTERFACE, name);
  if (r < 0)
    return fail_r (error, r, "Get");
  if ((reply = call (bus, m, error)) == NULL)
    return FALSE;
  r = sd_bus_message_read (reply, "v", sig, ret);
  return r < 0 ? fail_r (error, r, name) : TRUE;
}

gboolean
bench_sdbus_get_api_version (sd_bus *bus, GError **error)
{
  guint32 v = 0;
  return get_property (bus, "ApiVersion", 'u', &v, error);
}

gboolean
bench_sdbus_get_cgroup_root (sd_bus *bus, char **ret_root, GError **error)
{
  const char *root = NULL;

  /* The string lives in the reply: copy it before that goes. */
  {
    AutoMessage m = broker_method (bus, "org.freedesktop.DBus.Properties", "Get", error);
    AutoMessage reply = NULL;
    int r;

    if (m == NULL)
      return FALSE;
    r = sd_bus_message_append (m, "ss", LOCALD_BROKER_INTERFACE, "CgroupRoot");
    if (r < 0)
      return fail_r (error, r, "Get");
    if ((reply = call (bus, m, error)) == NULL)
      return FALSE;
    r = sd_bus_message_read (reply, "v", "s", &root);
    if (r < 0)
      return fail_r (error, r, "CgroupRoot");
    *ret_root = g_strdup (root);
  }
  return TRUE;
}

gboolean
bench_sdbus_self_check (sd_bus *bus, GError **error)
{
  AutoMessage m = broker_method (bus, LOCALD_BROKER_INTERFACE, "SelfCheck", error);
  AutoMessage reply = NULL;

  return m != NULL && (reply = call (bus, m, error)) != NULL;
}

gboolean
bench_sdbus_setup (sd_bus *bus, char **ret_cgroup, GError **error)
{
  AutoMessage m = broker_method (bus, LOCALD_BROKER_INTERFACE, "SetupCgroupRoot", error);
  AutoMessage reply = NULL;
  const char *cgroup = NULL;

  if (m == NULL || (reply = call (bus, m, error)) == NULL)
    return FALSE;
  if (sd_bus_message_read (reply, "s", &cgroup) < 0)
    return fail_r (error, -EBADMSG, "SetupCgroupRoot");
  if (ret_cgroup)
    *ret_cgroup = g_strdup (cgroup);
  return TRUE;
}

/* A broker method that takes one string and answers one number of the
 * given type ('u' or 't'). */
static gboolean
call_counting (sd_bus *bus, const char *member, const char *arg, char type, guint64 *ret, GError **error)
{
  AutoMessage m = broker_method (bus, LOCALD_BROKER_INTERFACE, member, error);
  AutoMessage reply = NULL;
  const char sig[2] = { type, '\0' };
  guint32 u = 0;
  guint64 t = 0;

  if (m == NULL || sd_bus_message_append (m, "s", arg) < 0 || (reply = call (bus, m, error)) == NULL)
    return FALSE;
  if (sd_bus_message_read (reply, sig, type == 'u' ? (void *) &u : (void *) &t) < 0)
    return fail_r (error, -EBADMSG, member);
  *ret = type == 'u' ? u : t;
  return TRUE;
}

gboolean
bench_sdbus_kill (sd_bus *bus, const char *cgroup, guint32 *ret_killed, GError **error)
{
  guint64 killed = 0;

  if (!call_counting (bus, "KillCgroup", cgroup, 'u', &killed, error))
    return FALSE;
  if (ret_killed)
    *ret_killed = (guint32) killed;
  return TRUE;
}

gboolean
bench_sdbus_cleanup (sd_bus *bus, const char *path, guint64 *ret_removed, GError **error)
{
  guint64 removed = 0;

  if (!call_counting (bus, "CleanupPath", path, 't', &removed, error))
    return FALSE;
  if (ret_removed)
    *ret_removed = removed;
  return TRUE;
}

gboolean
bench_sdbus_polkit_check (sd_bus *bus, const char *action_id, GError **error)
{
  AutoMessage m = NULL;
  AutoMessage reply = NULL;
  const char *unique = NULL;
  int authorized = 0, challenge = 0, r;

  r = sd_bus_get_unique_name (bus, &unique);
  if (r < 0)
    return fail_r (error, r, "unique name");
  r = sd_bus_message_new_method_call (bus, &m, LOCALD_POLKIT_BUS_NAME, LOCALD_POLKIT_AUTHORITY_PATH,
                                      LOCALD_POLKIT_AUTHORITY_INTERFACE, "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append (m, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", unique, action_id, 0,
                               0u, "");
  if (r < 0)
    return fail_r (error, r, "CheckAuthorization");
  if ((reply = call (bus, m, error)) == NULL)
    return FALSE;
  /* (bba{ss}): only the two flags matter here. */
  r = sd_bus_message_enter_container (reply, 'r', "bba{ss}");
  if (r >= 0)
    r = sd_bus_message_read (reply, "bb", &authorized, &challenge);
  if (r < 0)
    return fail_r (error, r, "CheckAuthorization reply");
  if (!authorized)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "polkit does not authorize %s for this client", action_id);
      return FALSE;
    }
  return TRUE;
}

guint32
bench_sdbus_broker_pid (sd_bus *bus, GError **error)
{
  AutoMessage m = NULL;
  AutoMessage reply = NULL;
  guint32 pid = 0;
  int r = sd_bus_message_new_method_call (bus, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                          "org.freedesktop.DBus", "GetConnectionUnixProcessID");

  if (r >= 0)
    r = sd_bus_message_append (m, "s", LOCALD_BROKER_BUS_NAME);
  if (r < 0)
    {
      fail_r (error, r, "GetConnectionUnixProcessID");
      return 0;
    }
  if ((reply = call (bus, m, error)) == NULL)
    return 0;
  if (sd_bus_message_read (reply, "u", &pid) < 0)
    fail_r (error, -EBADMSG, "GetConnectionUnixProcessID");
  return pid;
}
