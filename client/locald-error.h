/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(LOCALD_BROKER_INSIDE) && !defined(LOCALD_BROKER_COMPILATION)
#error "Only <locald-broker.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * LOCALD_ERROR:
 *
 * Error domain of liblocald-broker. Errors that came from the broker keep the
 * D-Bus error name: locald_error_get_dbus_name() returns it, and, as with any
 * GDBus remote error, the message starts with "GDBus.Error:NAME: " so
 * g_dbus_error_get_remote_error() works too. Strip that prefix for display
 * with g_dbus_error_strip_remote_error().
 */
#define LOCALD_ERROR (locald_error_quark ())

/**
 * LocaldError:
 * @LOCALD_ERROR_FAILED: anything else (dev.locald.Broker1.Error.Failed, local I/O errors)
 * @LOCALD_ERROR_NOT_READY: acquisition failed; the #LocaldReport says why
 * @LOCALD_ERROR_ACCESS_DENIED: polkit said no (org.freedesktop.DBus.Error.AccessDenied)
 * @LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED: a password prompt would be
 *   needed but the call did not allow one
 * @LOCALD_ERROR_INVALID_ARGS: malformed input (org.freedesktop.DBus.Error.InvalidArgs)
 * @LOCALD_ERROR_AUTHORIZATION_UNAVAILABLE: the broker could not ask polkit
 * @LOCALD_ERROR_NOT_OWNER: the target is not owned by the caller
 * @LOCALD_ERROR_UNSAFE_PATH: the path is not beneath a .locald directory, or has a symlink
 * @LOCALD_ERROR_CROSSES_MOUNT: the tree crosses a mount point
 * @LOCALD_ERROR_NOT_FOUND: the target does not exist
 * @LOCALD_ERROR_NOT_SET_UP: the cgroup root or the caller's subtree is missing
 * @LOCALD_ERROR_UNSUPPORTED: the host lacks what the operation needs
 * @LOCALD_ERROR_BUSY: the cgroup did not become empty in time
 * @LOCALD_ERROR_SERVICE_UNKNOWN: the broker is not installed or not activatable
 * @LOCALD_ERROR_TIMED_OUT: the broker did not answer in time
 * @LOCALD_ERROR_ADDRESS_IN_USE: BindPort: something else holds the address and port
 *
 * Error codes in the %LOCALD_ERROR domain.
 */
typedef enum
{
  LOCALD_ERROR_FAILED,
  LOCALD_ERROR_NOT_READY,
  LOCALD_ERROR_ACCESS_DENIED,
  LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
  LOCALD_ERROR_INVALID_ARGS,
  LOCALD_ERROR_AUTHORIZATION_UNAVAILABLE,
  LOCALD_ERROR_NOT_OWNER,
  LOCALD_ERROR_UNSAFE_PATH,
  LOCALD_ERROR_CROSSES_MOUNT,
  LOCALD_ERROR_NOT_FOUND,
  LOCALD_ERROR_NOT_SET_UP,
  LOCALD_ERROR_UNSUPPORTED,
  LOCALD_ERROR_BUSY,
  LOCALD_ERROR_SERVICE_UNKNOWN,
  LOCALD_ERROR_TIMED_OUT,
  LOCALD_ERROR_ADDRESS_IN_USE,
} LocaldError;

GQuark locald_error_quark (void);

const char *locald_error_get_dbus_name (const GError *error);

G_END_DECLS
