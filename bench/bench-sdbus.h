/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The broker's methods as a plain sd-bus client calls them: one blocking
 * call each, addressed to the well-known name (auto-start allowed, no
 * interactive authorization). Each returns TRUE, or FALSE with error set. */

#include <glib.h>
#include <systemd/sd-bus.h>

/* A new connection to $DBUS_SYSTEM_BUS_ADDRESS (or the system bus). */
sd_bus *bench_sdbus_open (GError **error);

gboolean bench_sdbus_ping (sd_bus *bus, GError **error);
gboolean bench_sdbus_get_api_version (sd_bus *bus, GError **error);
gboolean bench_sdbus_self_check (sd_bus *bus, GError **error);
gboolean bench_sdbus_setup (sd_bus *bus, char **ret_cgroup, GError **error);
gboolean bench_sdbus_get_cgroup_root (sd_bus *bus, char **ret_root, GError **error);
gboolean bench_sdbus_kill (sd_bus *bus, const char *cgroup, guint32 *ret_killed, GError **error);
gboolean bench_sdbus_cleanup (sd_bus *bus, const char *path, guint64 *ret_removed, GError **error);
/* polkit's CheckAuthorization of action for this connection, as the broker
 * asks it; FALSE unless authorized. */
gboolean bench_sdbus_polkit_check (sd_bus *bus, const char *action_id, GError **error);
/* pid of the broker's connection, 0 with error set when it has none. */
guint32 bench_sdbus_broker_pid (sd_bus *bus, GError **error);
