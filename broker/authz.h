/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The polkit gate: the one place where authorization is decided. Every
 * method goes through broker_authz_check_async() before it acts.
 *
 * - The subject is the caller's unique bus name (system-bus-name), never a
 *   PID, so the answer is about the connection that sent the call.
 * - Checks are asynchronous; a caller waiting on a password prompt does not
 *   delay anyone else.
 * - Fails closed: anything but an explicit "authorized" is a refusal, with a
 *   BROKER_ERROR code telling why.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

/* Starts connecting to polkitd now, so that the first check waits less (or
 * not at all) for polkit-gobject-1 to set up its connection. Asynchronous
 * and optional: without it the first check connects; if it fails, the
 * first check tries again and fails closed. polkit-gobject-1 does the
 * set-up in a thread, which inherits the calling thread's capabilities:
 * call it only once they are dropped. */
void broker_authz_prepare (void);

/* sender: the caller's unique name (":1.42"). argument: shown to polkit
 * rules as the detail "argument" (may be NULL). */
void broker_authz_check_async (const char *sender,
                               const char *action_id,
                               const char *argument,
                               gboolean allow_interaction,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);

/* The same with any details: details is NULL or key, value, key, value, ...,
 * NULL (the values are what rules read with action.lookup(key)). */
void broker_authz_check_details_async (const char *sender,
                                       const char *action_id,
                                       const char *const *details,
                                       gboolean allow_interaction,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);

/* Builds details for broker_authz_check_details_async() from pairs, key,
 * value, key, value, ..., then NULL in the place of a key: one call lists
 * every key next to its value, and no caller counts array slots by hand.
 * Keys and values are copied; the caller owns the result (g_strfreev(), or
 * g_auto (GStrv)). A NULL value ends the details there, where the check
 * would stop reading them anyway. */
char **broker_authz_details_new (const char *first_key, ...) G_GNUC_NULL_TERMINATED;

/* TRUE only when polkit said the subject is authorized. Otherwise FALSE with
 * BROKER_ERROR_ACCESS_DENIED, BROKER_ERROR_INTERACTIVE_REQUIRED or
 * BROKER_ERROR_AUTHORIZATION_UNAVAILABLE (polkit unreachable, timed out,
 * cancelled because the caller went away). */
gboolean broker_authz_check_finish (GAsyncResult *result, GError **error);

G_END_DECLS
