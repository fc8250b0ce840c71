/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "broker-error.h"

#include "client/locald-names.h"

/* The quark's name is made of these tokens as written: clang-format would
 * space the hyphens out (and so change the name). */
/* clang-format off */
G_DEFINE_QUARK (locald-broker-error-quark, broker_error)
/* clang-format on */

static const char *const dbus_names[] = {
  [BROKER_ERROR_FAILED] = LOCALD_DBUS_ERROR_FAILED,
  [BROKER_ERROR_INVALID_ARGS] = LOCALD_DBUS_ERROR_INVALID_ARGS,
  [BROKER_ERROR_ACCESS_DENIED] = LOCALD_DBUS_ERROR_ACCESS_DENIED,
  [BROKER_ERROR_INTERACTIVE_REQUIRED] = LOCALD_DBUS_ERROR_INTERACTIVE_REQUIRED,
  [BROKER_ERROR_AUTHORIZATION_UNAVAILABLE] = LOCALD_DBUS_ERROR_AUTHORIZATION_UNAVAILABLE,
  [BROKER_ERROR_NOT_OWNER] = LOCALD_DBUS_ERROR_NOT_OWNER,
  [BROKER_ERROR_UNSAFE_PATH] = LOCALD_DBUS_ERROR_UNSAFE_PATH,
  [BROKER_ERROR_CROSSES_MOUNT] = LOCALD_DBUS_ERROR_CROSSES_MOUNT,
  [BROKER_ERROR_NOT_FOUND] = LOCALD_DBUS_ERROR_NOT_FOUND,
  [BROKER_ERROR_NOT_SET_UP] = LOCALD_DBUS_ERROR_NOT_SET_UP,
  [BROKER_ERROR_UNSUPPORTED] = LOCALD_DBUS_ERROR_UNSUPPORTED,
  [BROKER_ERROR_BUSY] = LOCALD_DBUS_ERROR_BUSY,
  [BROKER_ERROR_ADDRESS_IN_USE] = LOCALD_DBUS_ERROR_ADDRESS_IN_USE,
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

BrokerErrorCode
broker_error_from_dbus_name (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (dbus_names); i++)
    if (dbus_names[i] != NULL && g_str_equal (dbus_names[i], name))
      return (BrokerErrorCode) i;
  return BROKER_ERROR_FAILED;
}
