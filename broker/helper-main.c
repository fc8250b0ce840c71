/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locald-broker-helper: the two operations the main broker's sandbox must
 * not be able to do itself, each in its own minimal service.
 *
 *   locald-broker-helper net    owns dev.locald.Broker1.Net: binds TCP ports
 *                               below ip_unprivileged_port_start in the
 *                               host's network namespace (CAP_NET_BIND_SERVICE
 *                               only) and returns the socket.
 *   locald-broker-helper hosts  owns dev.locald.Broker1.Hosts: rewrites one
 *                               uid's block of the hosts file (no capability;
 *                               root's ownership of /etc suffices).
 *
 * Only root may call either (bus policy, and checked here again): the main
 * broker, after it validated the call and polkit said yes. Neither asks
 * polkit nor knows who the end user is beyond the uid the broker passes.
 * Each validates its input again, so a bug in the broker cannot make it
 * bind a port that needs no privilege or write anything but host-name lines.
 * Each exits after a short idle time; the bus activates it again.
 */
#include "config.h"

#include "bindport.h"
#include "broker-error.h"
#include "caps.h"
#include "client/locald-names.h"
#include "hosts-block.h"
#include "hosts-file.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

/* What each mode keeps; must match CapabilityBoundingSet= of its unit
 * (tests/unit/test-unit-file compares them). */
static const cap_value_t helper_net_caps[] = {
  CAP_NET_BIND_SERVICE,
};
/* The hosts helper keeps none: it writes root-owned files as their owner. */

#define HELPER_DEFAULT_IDLE_TIMEOUT_S 10
/* After the name is released, answer what the bus had already queued. */
#define HELPER_DRAIN_MS 200

static int
reply_gerror (sd_bus_error *ret_error, const GError *error)
{
  return sd_bus_error_set (ret_error, broker_error_to_dbus_name (error), error->message);
}

/* Only root (the main broker) may call; the bus policy says so too. */
static int
require_root (sd_bus_message *m, sd_bus_error *ret_error)
{
  int r = sd_bus_query_sender_privilege (m, -1);
  if (r > 0)
    return 0;
  return sd_bus_error_set (ret_error, LOCALD_DBUS_ERROR_ACCESS_DENIED,
                           "Only the locald broker (root) may call its helpers.");
}

/* ---- net ---- */

static int
method_port_limit (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  guint start = 0;
  int r;

  if ((r = require_root (m, ret_error)) < 0)
    return r;
  r = bindport_read_unprivileged_start (BINDPORT_UNPRIVILEGED_START_PATH, &start);
  if (r < 0)
    return sd_bus_error_setf (ret_error, LOCALD_DBUS_ERROR_FAILED, "Cannot read %s: %s",
                              BINDPORT_UNPRIVILEGED_START_PATH, g_strerror (-r));
  return sd_bus_reply_method_return (m, "u", (uint32_t) start);
}

static int
method_bind_port (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autoptr (GError) error = NULL;
  const char *address = NULL;
  uint16_t port = 0;
  BindPortTarget target;
  guint start = 0;
  int r, fd;

  if ((r = require_root (m, ret_error)) < 0)
    return r;
  if ((r = sd_bus_message_read (m, "sq", &address, &port)) < 0)
    return r;
  if (!bindport_parse (address, port, &target, &error))
    return reply_gerror (ret_error, error);
  r = bindport_read_unprivileged_start (BINDPORT_UNPRIVILEGED_START_PATH, &start);
  if (r < 0)
    return sd_bus_error_setf (ret_error, LOCALD_DBUS_ERROR_FAILED, "Cannot read %s: %s",
                              BINDPORT_UNPRIVILEGED_START_PATH, g_strerror (-r));
  if (!bindport_check_privileged (port, start, &error))
    return reply_gerror (ret_error, error);
  fd = bindport_open (&target, &error);
  if (fd < 0)
    return reply_gerror (ret_error, error);
  /* sd-bus duplicates the fd into the message; ours goes at once. */
  r = sd_bus_reply_method_return (m, "h", fd);
  close (fd);
  return r;
}

static const sd_bus_vtable net_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("PortLimit", SD_BUS_NO_ARGS, SD_BUS_RESULT ("u", start), method_port_limit, 0),
  SD_BUS_METHOD_WITH_ARGS (
      "BindPort", SD_BUS_ARGS ("s", address, "q", port), SD_BUS_RESULT ("h", socket), method_bind_port, 0),
  SD_BUS_VTABLE_END,
};

/* ---- hosts ---- */

static int
method_sync_hosts (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL, suffixes = NULL, valid = NULL;
  const char *path = NULL;
  uint32_t uid = 0, max_names = 0;
  guint count = 0;
  gboolean in_place = FALSE;
  int r;

  if ((r = require_root (m, ret_error)) < 0)
    return r;
  if ((r = sd_bus_message_read (m, "su", &path, &uid)) < 0 || (r = sd_bus_message_read_strv (m, &names)) < 0
      || (r = sd_bus_message_read_strv (m, &suffixes)) < 0
      || (r = sd_bus_message_read (m, "u", &max_names)) < 0)
    return r;
  if (names == NULL)
    names = g_new0 (char *, 1);
  if (suffixes == NULL)
    suffixes = g_new0 (char *, 1);
  if (uid == (uint32_t) -1)
    return sd_bus_error_set (ret_error, LOCALD_DBUS_ERROR_INVALID_ARGS, "uid -1 names nobody.");
  for (char **s = suffixes; *s != NULL; s++)
    if (!hosts_validate_suffix (*s, &error))
      return reply_gerror (ret_error, error);
  valid
      = hosts_validate_names ((const char *const *) names, (const char *const *) suffixes, max_names, &error);
  if (valid == NULL)
    return reply_gerror (ret_error, error);
  if (!hosts_file_sync (path, (uid_t) uid, (const char *const *) valid, HOSTS_WRITE_AUTO, &count, &in_place,
                        &error))
    return reply_gerror (ret_error, error);
  return sd_bus_reply_method_return (m, "ub", (uint32_t) count, (int) in_place);
}

static const sd_bus_vtable hosts_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("SyncHosts",
                           SD_BUS_ARGS ("s", path, "u", uid, "as", names, "as", suffixes, "u", max_names),
                           SD_BUS_RESULT ("u", count, "b", in_place),
                           method_sync_hosts,
                           0),
  SD_BUS_VTABLE_END,
};

/* ---- main ---- */

static guint64
now_ms (void)
{
  return (guint64) (g_get_monotonic_time () / 1000);
}

/* Serves until idle: then releases the name and answers what was queued
 * for a short while before exiting. */
static int
serve (sd_bus *bus, const char *name, guint idle_timeout_s)
{
  guint64 last = now_ms (), released_at = 0;
  int r;

  for (;;)
    {
      r = sd_bus_process (bus, NULL);
      if (r < 0)
        return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
      if (r > 0)
        {
          last = now_ms ();
          continue;
        }
      guint64 now = now_ms ();
      if (released_at != 0 && now - released_at >= HELPER_DRAIN_MS && now - last >= HELPER_DRAIN_MS)
        return 0;
      if (released_at == 0 && idle_timeout_s > 0 && now - last >= (guint64) idle_timeout_s * 1000)
        {
          (void) sd_bus_release_name (bus, name);
          released_at = now;
          continue;
        }
      uint64_t timeout_us = UINT64_MAX;
      if (released_at != 0)
        timeout_us = HELPER_DRAIN_MS * 1000;
      else if (idle_timeout_s > 0)
        timeout_us = ((guint64) idle_timeout_s * 1000 - (now - last)) * 1000;
      r = sd_bus_wait (bus, timeout_us);
      if (r < 0 && r != -EINTR)
        return r;
    }
}

int
main (int argc, char **argv)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  g_autoptr (GError) error = NULL;
  gint idle_timeout = HELPER_DEFAULT_IDLE_TIMEOUT_S;
  const GOptionEntry entries[] = {
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Exit after SECONDS without calls (0: never; default 10)", "SECONDS" },
    { NULL },
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("net|hosts - a private helper of locald-brokerd");
  const sd_bus_vtable *vtable;
  const char *name, *path, *interface;
  gboolean ok;
  int r;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || idle_timeout < 0)
    {
      g_printerr ("locald-broker-helper: %s\n",
                  error ? error->message : "usage: locald-broker-helper net|hosts");
      return 2;
    }
  if (geteuid () != 0)
    {
      g_printerr ("locald-broker-helper: must run as root (it is started by the system bus or systemd)\n");
      return EXIT_FAILURE;
    }

  if (g_str_equal (argv[1], "net"))
    {
      ok = broker_caps_drop_to (helper_net_caps, G_N_ELEMENTS (helper_net_caps), &error);
      vtable = net_vtable;
      name = LOCALD_HELPER_NET_BUS_NAME;
      path = LOCALD_HELPER_NET_OBJECT_PATH;
      interface = LOCALD_HELPER_NET_INTERFACE;
    }
  else if (g_str_equal (argv[1], "hosts"))
    {
      ok = broker_caps_drop_to (NULL, 0, &error);
      vtable = hosts_vtable;
      name = LOCALD_HELPER_HOSTS_BUS_NAME;
      path = LOCALD_HELPER_HOSTS_OBJECT_PATH;
      interface = LOCALD_HELPER_HOSTS_INTERFACE;
    }
  else
    {
      g_printerr ("locald-broker-helper: unknown mode '%s' (net or hosts)\n", argv[1]);
      return 2;
    }
  /* Fail closed, as the broker does: no serving with extra privilege. */
  if (!ok)
    {
      g_printerr ("locald-broker-helper: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if ((r = sd_bus_open_system (&bus)) < 0
      || (r = sd_bus_add_object_vtable (bus, NULL, path, interface, vtable, NULL)) < 0)
    {
      g_printerr ("locald-broker-helper: cannot serve on the system bus: %s\n", g_strerror (-r));
      return EXIT_FAILURE;
    }
  r = sd_bus_request_name (bus, name, 0);
  if (r < 0)
    {
      g_printerr ("locald-broker-helper: cannot own %s: %s\n", name, g_strerror (-r));
      return r == -EEXIST ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  r = serve (bus, name, (guint) idle_timeout);
  if (r < 0)
    {
      g_printerr ("locald-broker-helper: %s: %s\n", name, g_strerror (-r));
      return EXIT_FAILURE;
    }
  return EXIT_SUCCESS;
}
