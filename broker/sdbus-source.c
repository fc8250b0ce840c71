/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "sdbus-source.h"

#include <errno.h>

typedef struct
{
  GSource base;
  sd_bus *bus;
  gpointer fd_tag;
  GIOCondition fd_events; /* what fd_tag currently polls for */
  SdBusSourceDisconnected on_disconnect;
  gpointer user_data;
  gboolean disconnected;
} SdBusSource;

/* Messages handled per dispatch before giving other sources a turn, so one
 * flood of calls cannot starve polkit replies or worker completions. */
#define MAX_MESSAGES_PER_DISPATCH 32

static gboolean
sdbus_source_prepare (GSource *source, gint *timeout_ms)
{
  SdBusSource *s = (SdBusSource *) source;
  uint64_t until_usec = UINT64_MAX;
  int events;

  *timeout_ms = -1;
  if (s->disconnected)
    return FALSE;

  events = sd_bus_get_events (s->bus);
  if (events < 0)
    return TRUE; /* let dispatch notice the broken connection */
  /* Only on a change: g_source_modify_unix_fd() re-registers the fd and
   * wakes the main loop, so calling it in every prepare() turned each poll
   * into an immediate return and the idle daemon into a busy loop. */
  if ((GIOCondition) events != s->fd_events)
    {
      g_source_modify_unix_fd (source, s->fd_tag, (GIOCondition) events);
      s->fd_events = (GIOCondition) events;
    }

  /* sd-bus reports 0 here when it already holds queued messages. */
  if (sd_bus_get_timeout (s->bus, &until_usec) < 0)
    return TRUE;
  if (until_usec == UINT64_MAX)
    return FALSE;

  gint64 now = g_get_monotonic_time ();
  if ((gint64) until_usec <= now)
    {
      *timeout_ms = 0;
      return TRUE;
    }
  *timeout_ms = (gint) MIN ((until_usec - (guint64) now + 999) / 1000, (guint64) G_MAXINT);
  return FALSE;
}

static gboolean
sdbus_source_check (GSource *source)
{
  SdBusSource *s = (SdBusSource *) source;
  uint64_t until_usec = UINT64_MAX;

  if (s->disconnected)
    return FALSE;
  if (g_source_query_unix_fd (source, s->fd_tag) != 0)
    return TRUE;
  return sd_bus_get_timeout (s->bus, &until_usec) >= 0 && until_usec != UINT64_MAX
         && (gint64) until_usec <= g_get_monotonic_time ();
}

static gboolean
sdbus_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  SdBusSource *s = (SdBusSource *) source;

  for (int i = 0; i < MAX_MESSAGES_PER_DISPATCH; i++)
    {
      int r = sd_bus_process (s->bus, NULL);
      if (r < 0)
        {
          g_warning ("Lost the bus connection: %s", g_strerror (-r));
          s->disconnected = TRUE;
          if (s->on_disconnect)
            s->on_disconnect (s->user_data);
          return G_SOURCE_REMOVE;
        }
      if (r == 0)
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
sdbus_source_finalize (GSource *source)
{
  SdBusSource *s = (SdBusSource *) source;
  g_clear_pointer (&s->bus, sd_bus_unref);
}

static GSourceFuncs sdbus_source_funcs = {
  .prepare = sdbus_source_prepare,
  .check = sdbus_source_check,
  .dispatch = sdbus_source_dispatch,
  .finalize = sdbus_source_finalize,
};

GSource *
sdbus_source_attach (sd_bus *bus,
                     GMainContext *context,
                     SdBusSourceDisconnected on_disconnect,
                     gpointer user_data)
{
  g_return_val_if_fail (bus != NULL, NULL);

  SdBusSource *s = (SdBusSource *) g_source_new (&sdbus_source_funcs, sizeof (SdBusSource));
  s->bus = sd_bus_ref (bus);
  s->on_disconnect = on_disconnect;
  s->user_data = user_data;
  s->fd_events = G_IO_IN;
  s->fd_tag = g_source_add_unix_fd (&s->base, sd_bus_get_fd (bus), s->fd_events);
  g_source_set_name (&s->base, "sd-bus");
  g_source_attach (&s->base, context);
  g_source_unref (&s->base);
  return &s->base;
}
