/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The main broker's side of its private helpers (broker/helper-main.c):
 * blocking calls, made from worker threads only, each on a connection of
 * its own (sd-bus connections are not shared between threads), addressed
 * to the helper's well-known name so that the bus activates it.
 *
 * A helper's D-Bus error comes back as the BROKER_ERROR code of the same
 * name, so the caller of the broker sees what the helper said. A helper
 * that cannot be reached is BROKER_ERROR_UNSUPPORTED naming it.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The first unprivileged port in the host's network namespace (the broker
 * itself may live in a private one, where the value can differ). */
gboolean helper_port_limit (guint *ret_start, GError **error);

/* A bound, not listening TCP socket from the net helper (close-on-exec),
 * or -1 with error. */
int helper_bind_port (const char *address, guint16 port, GError **error);

/* The hosts helper's SyncHosts (see hosts_file_sync()). */
gboolean helper_sync_hosts (const char *path,
                            uid_t uid,
                            const char *const *names,
                            const char *const *suffixes,
                            guint max_names,
                            guint *ret_count,
                            gboolean *ret_in_place,
                            GError **error);

G_END_DECLS
