/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "fdprobe.h"

#include "client/locald-names.h"
#include "fd-util.h"

#include <errno.h>
#include <fcntl.h>

/* cookie -> GINT_TO_POINTER (1 sent, 2 refused); main thread only. */
static GHashTable *probes;

static gpointer
cookie_key (uint64_t cookie)
{
  guint64 *key = g_new (guint64, 1);
  *key = cookie;
  return key;
}

static int
on_message (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  uint64_t cookie = 0;

  if (probes == NULL || !sd_bus_message_is_method_error (m, LOCALD_DBUS_ERROR_NOT_SUPPORTED)
      || g_strcmp0 (sd_bus_message_get_sender (m), "org.freedesktop.DBus") != 0
      || sd_bus_message_get_reply_cookie (m, &cookie) < 0)
    return 0;
  if (g_hash_table_contains (probes, &cookie))
    g_hash_table_insert (probes, cookie_key (cookie), GINT_TO_POINTER (2));
  return 0;
}

int
fdprobe_install (sd_bus *bus)
{
  g_return_val_if_fail (bus != NULL, -EINVAL);

  if (probes == NULL)
    probes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  return sd_bus_add_filter (bus, NULL, on_message, NULL);
}

int
fdprobe_send (sd_bus *bus, const char *destination, uint64_t *ret_cookie)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *m = NULL;
  g_auto (BrokerFd) fd = -1;
  uint64_t cookie = 0;
  int r;

  g_return_val_if_fail (bus != NULL && destination != NULL && ret_cookie != NULL, -EINVAL);
  g_return_val_if_fail (probes != NULL, -EINVAL);

  fd = open ("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -errno;
  if ((r = sd_bus_message_new_signal (bus, &m, LOCALD_BROKER_OBJECT_PATH, LOCALD_FD_PROBE_INTERFACE,
                                      LOCALD_FD_PROBE_MEMBER))
          < 0
      || (r = sd_bus_message_set_destination (m, destination)) < 0
      || (r = sd_bus_message_append (m, "h", fd)) < 0 || (r = sd_bus_send (bus, m, &cookie)) < 0)
    return r;
  g_hash_table_insert (probes, cookie_key (cookie), GINT_TO_POINTER (1));
  *ret_cookie = cookie;
  return 0;
}

gboolean
fdprobe_refused (uint64_t cookie)
{
  return probes != NULL && GPOINTER_TO_INT (g_hash_table_lookup (probes, &cookie)) == 2;
}

void
fdprobe_forget (uint64_t cookie)
{
  if (probes != NULL && cookie != 0)
    g_hash_table_remove (probes, &cookie);
}
