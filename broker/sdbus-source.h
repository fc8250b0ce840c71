/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Drives an sd-bus connection from a GLib main context. polkit-gobject-1's
 * answers, the worker threads' results (GTask) and the daemon's timers
 * arrive on the GLib main loop, so
 * the daemon runs one GMainLoop and lets sd-bus ride on it as a GSource: a
 * single thread owns the bus, and nothing ever blocks it.
 */

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

typedef void (*SdBusSourceDisconnected) (gpointer user_data);

/* Attaches bus to context (NULL = default). on_disconnect runs once when the
 * connection is lost. Returns the source (owned by the context). */
GSource *sdbus_source_attach (sd_bus *bus,
                              GMainContext *context,
                              SdBusSourceDisconnected on_disconnect,
                              gpointer user_data);

G_END_DECLS
