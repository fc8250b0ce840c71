/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "broker-error.h"

G_DEFINE_QUARK (locald-broker-error-quark, broker_error)

static const char *const dbus_names[] = {
  [BROKER_ERROR_FAILED] = "dev.locald.Broker1.Error.Failed",
  [BROKER_ERROR_INVALID_ARGS] = "org.freedesktop.DBus.Error.InvalidArgs",
  [BROKER_ERROR_ACCESS_DENIED] = "org.freedesktop.DBus.Error.AccessDenied",
  [BROKER_ERROR_INTERACTIVE_REQUIRED] = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
  [BROKER_ERROR_AUTHORIZATION_UNAVAILABLE] = "dev.locald.Broker1.Error.AuthorizationUnavailable",
  [BROKER_ERROR_NOT_OWNER] = "dev.locald.Broker1.Error.NotOwner",
  [BROKER_ERROR_UNSAFE_PATH] = "dev.locald.Broker1.Error.UnsafePath",
  [BROKER_ERROR_CROSSES_MOUNT] = "dev.locald.Broker1.Error.CrossesMount",
  [BROKER_ERROR_NOT_FOUND] = "dev.locald.Broker1.Error.NotFound",
  [BROKER_ERROR_NOT_SET_UP] = "dev.locald.Broker1.Error.NotSetUp",
  [BROKER_ERROR_UNSUPPORTED] = "dev.locald.Broker1.Error.Unsupported",
  [BROKER_ERROR_BUSY] = "dev.locald.Broker1.Error.Busy",
};

const char *
broker_error_code_to_dbus_name (BrokerErrorCode code)
{
  if ((int) code < 0 || (gsize) code >= G_N_ELEMENTS (dbus_names))
    return dbus_names[BROKER_ERROR_FAILED];
  return dbus_names[code];
}

const char *
broker_error_to_dbus_name (const GError *error)
{
  g_return_val_if_fail (error != NULL, dbus_names[BROKER_ERROR_FAILED]);

  if (error->domain != BROKER_ERROR || error->code < 0 || (gsize) error->code >= G_N_ELEMENTS (dbus_names))
    return dbus_names[BROKER_ERROR_FAILED];
  return dbus_names[error->code];
}
