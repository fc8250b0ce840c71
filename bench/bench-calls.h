/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define BENCH_BROKER_NAME "dev.locald.Broker1"
#define BENCH_BROKER_PATH "/dev/locald/Broker1"
#define BENCH_BROKER_IFACE "dev.locald.Broker1"

/* One synchronous call to the broker as a client library makes it
 * (auto-start allowed, no interactive authorization). Returns the reply,
 * checked against reply_type, or NULL with error set. */
GVariant *bench_broker_call (GDBusConnection *conn,
                             const char *iface,
                             const char *method,
                             GVariant *params,
                             const char *reply_type,
                             GError **error);

gboolean bench_ping (GDBusConnection *conn, GError **error);
gboolean bench_get_api_version (GDBusConnection *conn, guint32 *ret_version, GError **error);
/* ret_mode: "enabled" or "degraded" (may be NULL). */
gboolean bench_self_check (GDBusConnection *conn, char **ret_mode, GError **error);
gboolean bench_kill_cgroup (GDBusConnection *conn, const char *cgroup, guint32 *ret_killed, GError **error);
gboolean bench_setup_cgroup_root (GDBusConnection *conn, char **ret_cgroup, GError **error);

/* pid of the process owning the broker's name, from the bus (never started
 * by this call); 0 with error set when nobody owns it. */
guint32 bench_broker_pid (GDBusConnection *conn, GError **error);

/* polkit's own CheckAuthorization for action with this connection as the
 * subject (system-bus-name), no interaction: the authorization part of a
 * broker call, measured without the broker. */
gboolean bench_polkit_check (GDBusConnection *conn, const char *action_id, GError **error);
