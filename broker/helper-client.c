/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "helper-client.h"

#include "broker-error.h"
#include "client/locald-names.h"

#include <errno.h>
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

/* Activation plus a hosts write under a contended lock fit well inside. */
#define HELPER_CALL_TIMEOUT_US (30 * G_USEC_PER_SEC)

typedef struct
{
  const char *bus_name;
  const char *object_path;
  const char *interface;
  const char *what; /* for messages */
} HelperService;

static const HelperService net_helper = {
  LOCALD_HELPER_NET_BUS_NAME,
  LOCALD_HELPER_NET_OBJECT_PATH,
  LOCALD_HELPER_NET_INTERFACE,
  "network helper",
};
static const HelperService hosts_helper = {
  LOCALD_HELPER_HOSTS_BUS_NAME,
  LOCALD_HELPER_HOSTS_OBJECT_PATH,
  LOCALD_HELPER_HOSTS_INTERFACE,
  "hosts helper",
};

static void
set_call_error (GError **error, const HelperService *service, const sd_bus_error *e, int r)
{
  if (e != NULL && sd_bus_error_is_set (e))
    {
      BrokerErrorCode code = broker_error_from_dbus_name (e->name);
      /* The helper's own errors pass through; the bus's (not activatable,
       * no reply, refused) mean the helper is not there to ask. */
      if (code != BROKER_ERROR_FAILED || g_str_equal (e->name, LOCALD_DBUS_ERROR_FAILED))
        {
          g_set_error_literal (error, BROKER_ERROR, code, e->message ? e->message : e->name);
          return;
        }
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
          "The broker's %s (%s) could not be reached: %s: %s. Check that locald-broker is completely "
          "installed (locald-broker-helper and its units); nothing was done.",
          service->what, service->bus_name, e->name, e->message ? e->message : "");
      return;
    }
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
               "Calling the broker's %s failed: %s; nothing was done.", service->what, g_strerror (-r));
}

static sd_bus *
open_bus (const HelperService *service, GError **error)
{
  sd_bus *bus = NULL;
  int r = sd_bus_open_system (&bus);

  if (r < 0)
    {
      set_call_error (error, service, NULL, r);
      return NULL;
    }
  (void) sd_bus_set_method_call_timeout (bus, HELPER_CALL_TIMEOUT_US);
  return bus;
}

gboolean
helper_port_limit (guint *ret_start, GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
  uint32_t start = 0;
  int r;

  g_return_val_if_fail (ret_start != NULL, FALSE);

  if ((bus = open_bus (&net_helper, error)) == NULL)
    return FALSE;
  r = sd_bus_call_method (bus, net_helper.bus_name, net_helper.object_path, net_helper.interface, "PortLimit",
                          &e, &reply, "");
  if (r >= 0)
    r = sd_bus_message_read (reply, "u", &start);
  if (r < 0)
    {
      set_call_error (error, &net_helper, &e, r);
      return FALSE;
    }
  *ret_start = start;
  return TRUE;
}

int
helper_bind_port (const char *address, guint16 port, GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
  int fd = -1, r;

  g_return_val_if_fail (address != NULL, -1);

  if ((bus = open_bus (&net_helper, error)) == NULL)
    return -1;
  r = sd_bus_call_method (bus, net_helper.bus_name, net_helper.object_path, net_helper.interface, "BindPort",
                          &e, &reply, "sq", address, port);
  if (r >= 0)
    r = sd_bus_message_read (reply, "h", &fd);
  if (r < 0)
    {
      set_call_error (error, &net_helper, &e, r);
      return -1;
    }
  /* The message owns its fd; keep a copy past it. */
  fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot keep the bound socket: %s",
                   g_strerror (saved));
    }
  return fd;
}

gboolean
helper_sync_hosts (const char *path,
                   uid_t uid,
                   const char *const *names,
                   const char *const *suffixes,
                   guint max_names,
                   guint *ret_count,
                   gboolean *ret_in_place,
                   GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *call = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
  uint32_t count = 0;
  int in_place = 0, r;

  g_return_val_if_fail (path != NULL && names != NULL && suffixes != NULL && ret_count != NULL, FALSE);

  if ((bus = open_bus (&hosts_helper, error)) == NULL)
    return FALSE;
  r = sd_bus_message_new_method_call (bus, &call, hosts_helper.bus_name, hosts_helper.object_path,
                                      hosts_helper.interface, "SyncHosts");
  if (r >= 0)
    r = sd_bus_message_append (call, "su", path, (uint32_t) uid);
  if (r >= 0)
    r = sd_bus_message_append_strv (call, (char **) names);
  if (r >= 0)
    r = sd_bus_message_append_strv (call, (char **) suffixes);
  if (r >= 0)
    r = sd_bus_message_append (call, "u", (uint32_t) max_names);
  if (r >= 0)
    r = sd_bus_call (bus, call, 0, &e, &reply);
  if (r >= 0)
    r = sd_bus_message_read (reply, "ub", &count, &in_place);
  if (r < 0)
    {
      set_call_error (error, &hosts_helper, &e, r);
      return FALSE;
    }
  *ret_count = count;
  if (ret_in_place != NULL)
    *ret_in_place = in_place != 0;
  return TRUE;
}
