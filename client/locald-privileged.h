/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(LOCALD_BROKER_INSIDE) && !defined(LOCALD_BROKER_COMPILATION)
#error "Only <locald-broker.h> can be included directly."
#endif

#include <gio/gio.h>

#include "locald-report.h"

G_BEGIN_DECLS

/**
 * LocaldAcquireFlags:
 * @LOCALD_ACQUIRE_FLAGS_NONE: allow polkit to ask for a password when needed
 * @LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION: never ask; a call that
 *   would need a prompt fails with
 *   %LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED instead
 * @LOCALD_ACQUIRE_FLAGS_FOR_SETUP: succeed although critical problems remain,
 *   as long as each of them is resolved by the "run_admin_setup" fix. Setup is
 *   that fix, so it must be reachable before it has run; use this flag only
 *   to call locald_privileged_setup_cgroup_root(). While such problems
 *   remain, the other methods of the capability fail with
 *   %LOCALD_ERROR_NOT_READY, until locald_privileged_setup_cgroup_root()
 *   has succeeded on it.
 *
 * Flags for locald_privileged_acquire().
 */
typedef enum
{
  LOCALD_ACQUIRE_FLAGS_NONE = 0,
  LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION = 1 << 0,
  LOCALD_ACQUIRE_FLAGS_FOR_SETUP = 1 << 1,
} LocaldAcquireFlags;

/**
 * LocaldOperationPath:
 * @LOCALD_OPERATION_PATH_NONE: no kill or cleanup has finished yet, or it
 *   failed before either path ran (an argument that is not UTF-8, a
 *   capability that may not do it)
 * @LOCALD_OPERATION_PATH_FAST: the calling process did all of it itself,
 *   without privilege (the fast path)
 * @LOCALD_OPERATION_PATH_BROKER: the broker did all of it (the fast path was
 *   off, or the kernel let the caller do none of it)
 * @LOCALD_OPERATION_PATH_MIXED: the calling process did part of it and the
 *   broker the rest (e.g. root-owned leftovers in a cleanup)
 *
 * Which path carried out a kill or cleanup; see #LocaldPrivileged:fast-path.
 */
typedef enum
{
  LOCALD_OPERATION_PATH_NONE,
  LOCALD_OPERATION_PATH_FAST,
  LOCALD_OPERATION_PATH_BROKER,
  LOCALD_OPERATION_PATH_MIXED,
} LocaldOperationPath;

#define LOCALD_TYPE_OPERATION_PATH (locald_operation_path_get_type ())
GType locald_operation_path_get_type (void);

/**
 * LocaldPrivileged:
 *
 * The capability to use locald-brokerd. The only way to obtain one is
 * locald_privileged_acquire(), which succeeds only after the readiness probe
 * did: so holding one means the broker is installed, compatible, lets you
 * in, and reported no critical problem. The connection to the broker stays
 * private to this object.
 */
#define LOCALD_TYPE_PRIVILEGED (locald_privileged_get_type ())
G_DECLARE_FINAL_TYPE (LocaldPrivileged, locald_privileged, LOCALD, PRIVILEGED, GObject)

LocaldPrivileged *locald_privileged_acquire (LocaldAcquireFlags flags,
                                             GCancellable *cancellable,
                                             LocaldReport **out_report,
                                             GError **error);
void locald_privileged_acquire_async (LocaldAcquireFlags flags,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
LocaldPrivileged *
locald_privileged_acquire_finish (GAsyncResult *result, LocaldReport **out_report, GError **error);

LocaldPrivileged *locald_privileged_try_acquire (LocaldAcquireFlags flags,
                                                 GCancellable *cancellable,
                                                 LocaldReport **out_report);

LocaldReport *locald_privileged_get_report (LocaldPrivileged *self);
const char *locald_privileged_get_broker_version (LocaldPrivileged *self);
guint locald_privileged_get_api_version (LocaldPrivileged *self);
const char *locald_privileged_get_strategy (LocaldPrivileged *self);
const char *locald_privileged_get_cgroup_root (LocaldPrivileged *self);
gboolean locald_privileged_get_allow_interactive_authorization (LocaldPrivileged *self);
void locald_privileged_set_allow_interactive_authorization (LocaldPrivileged *self, gboolean allow);

gboolean locald_privileged_get_fast_path (LocaldPrivileged *self);
void locald_privileged_set_fast_path (LocaldPrivileged *self, gboolean enabled);
LocaldOperationPath locald_privileged_get_last_path (LocaldPrivileged *self);
LocaldOperationPath locald_privileged_get_operation_path (LocaldPrivileged *self, GAsyncResult *result);

char *locald_privileged_setup_cgroup_root (LocaldPrivileged *self, GCancellable *cancellable, GError **error);
void locald_privileged_setup_cgroup_root_async (LocaldPrivileged *self,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
char *
locald_privileged_setup_cgroup_root_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error);

gboolean locald_privileged_kill_cgroup (
    LocaldPrivileged *self, const char *cgroup, guint *out_killed, GCancellable *cancellable, GError **error);
void locald_privileged_kill_cgroup_async (LocaldPrivileged *self,
                                          const char *cgroup,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
gboolean locald_privileged_kill_cgroup_finish (LocaldPrivileged *self,
                                               GAsyncResult *result,
                                               guint *out_killed,
                                               GError **error);

gboolean locald_privileged_cleanup_path (LocaldPrivileged *self,
                                         const char *path,
                                         guint64 *out_removed,
                                         GCancellable *cancellable,
                                         GError **error);
void locald_privileged_cleanup_path_async (LocaldPrivileged *self,
                                           const char *path,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean locald_privileged_cleanup_path_finish (LocaldPrivileged *self,
                                                GAsyncResult *result,
                                                guint64 *out_removed,
                                                GError **error);

char *locald_privileged_join_cgroup (LocaldPrivileged *self,
                                     const char *cgroup,
                                     GCancellable *cancellable,
                                     GError **error);
void locald_privileged_join_cgroup_async (LocaldPrivileged *self,
                                          const char *cgroup,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
char *locald_privileged_join_cgroup_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error);

GSocket *locald_privileged_bind_port (
    LocaldPrivileged *self, const char *address, guint16 port, GCancellable *cancellable, GError **error);
void locald_privileged_bind_port_async (LocaldPrivileged *self,
                                        const char *address,
                                        guint16 port,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
GSocket *locald_privileged_bind_port_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error);

gboolean locald_privileged_sync_hosts (LocaldPrivileged *self,
                                       const char *const *names,
                                       guint *out_count,
                                       GCancellable *cancellable,
                                       GError **error);
void locald_privileged_sync_hosts_async (LocaldPrivileged *self,
                                         const char *const *names,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean locald_privileged_sync_hosts_finish (LocaldPrivileged *self,
                                              GAsyncResult *result,
                                              guint *out_count,
                                              GError **error);

G_END_DECLS
