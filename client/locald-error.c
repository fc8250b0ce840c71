/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "client/locald-error-private.h"
#include "client/locald-names.h"

/* The quark's name is made of these tokens as written: clang-format would
 * space the hyphens out (and so change the name). */
/* clang-format off */
G_DEFINE_QUARK (locald-error-quark, locald_error)
/* clang-format on */

/* One row per code that the broker can answer with. The table is the whole
 * mapping in both directions, so a name never drifts from its code. */
static const struct
{
  LocaldError code;
  const char *dbus_name;
} error_names[] = {
  { LOCALD_ERROR_FAILED, LOCALD_DBUS_ERROR_FAILED },
  { LOCALD_ERROR_ACCESS_DENIED, LOCALD_DBUS_ERROR_ACCESS_DENIED },
  { LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, LOCALD_DBUS_ERROR_INTERACTIVE_REQUIRED },
  { LOCALD_ERROR_INVALID_ARGS, LOCALD_DBUS_ERROR_INVALID_ARGS },
  { LOCALD_ERROR_AUTHORIZATION_UNAVAILABLE, LOCALD_DBUS_ERROR_AUTHORIZATION_UNAVAILABLE },
  { LOCALD_ERROR_NOT_OWNER, LOCALD_DBUS_ERROR_NOT_OWNER },
  { LOCALD_ERROR_UNSAFE_PATH, LOCALD_DBUS_ERROR_UNSAFE_PATH },
  { LOCALD_ERROR_CROSSES_MOUNT, LOCALD_DBUS_ERROR_CROSSES_MOUNT },
  { LOCALD_ERROR_NOT_FOUND, LOCALD_DBUS_ERROR_NOT_FOUND },
  { LOCALD_ERROR_NOT_SET_UP, LOCALD_DBUS_ERROR_NOT_SET_UP },
  { LOCALD_ERROR_UNSUPPORTED, LOCALD_DBUS_ERROR_UNSUPPORTED },
  { LOCALD_ERROR_BUSY, LOCALD_DBUS_ERROR_BUSY },
  { LOCALD_ERROR_ADDRESS_IN_USE, LOCALD_DBUS_ERROR_ADDRESS_IN_USE },
  { LOCALD_ERROR_SERVICE_UNKNOWN, "org.freedesktop.DBus.Error.ServiceUnknown" },
  { LOCALD_ERROR_TIMED_OUT, "org.freedesktop.DBus.Error.NoReply" },
};

/**
 * locald_error_get_dbus_name:
 * @error: a #GError
 *
 * Returns: (nullable): the D-Bus error name @error came from (or maps to),
 *   or %NULL for errors outside %LOCALD_ERROR without a remote name.
 */
const char *
locald_error_get_dbus_name (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain != LOCALD_ERROR)
    return NULL;

  /* An unknown remote name mapped to FAILED: the message still carries it. */
  if (g_str_has_prefix (error->message, "GDBus.Error:"))
    {
      const char *name = error->message + strlen ("GDBus.Error:");
      for (size_t i = 0; i < G_N_ELEMENTS (error_names); i++)
        {
          size_t len = strlen (error_names[i].dbus_name);
          if (strncmp (name, error_names[i].dbus_name, len) == 0 && name[len] == ':')
            return error_names[i].dbus_name;
        }
    }
  for (size_t i = 0; i < G_N_ELEMENTS (error_names); i++)
    if ((int) error_names[i].code == error->code)
      return error_names[i].dbus_name;
  return NULL;
}

static LocaldError
code_for_dbus_name (const char *name)
{
  for (size_t i = 0; i < G_N_ELEMENTS (error_names); i++)
    if (g_str_equal (error_names[i].dbus_name, name))
      return error_names[i].code;
  /* The bus daemon says "not activatable" in several ways. */
  if (g_str_equal (name, "org.freedesktop.DBus.Error.NameHasNoOwner")
      || g_str_equal (name, "org.freedesktop.DBus.Error.ServiceNotFound")
      || g_str_equal (name, "org.freedesktop.DBus.Error.Spawn.ServiceNotFound")
      || g_str_equal (name, "org.freedesktop.DBus.Error.Spawn.ExecFailed")
      || g_str_equal (name, "org.freedesktop.DBus.Error.Spawn.ChildExited"))
    return LOCALD_ERROR_SERVICE_UNKNOWN;
  if (g_str_equal (name, "org.freedesktop.DBus.Error.Timeout")
      || g_str_equal (name, "org.freedesktop.DBus.Error.TimedOut"))
    return LOCALD_ERROR_TIMED_OUT;
  return LOCALD_ERROR_FAILED;
}

GError *
_locald_error_from_call (GError *error)
{
  g_autoptr (GError) owned = error;
  g_autofree char *remote = NULL;

  g_return_val_if_fail (error != NULL, NULL);

  if (owned->domain == LOCALD_ERROR)
    return g_steal_pointer (&owned);

  remote = g_dbus_error_get_remote_error (owned);
  if (remote != NULL)
    /* Keep GDBus's "GDBus.Error:NAME: text" message: it is how
     * g_dbus_error_get_remote_error() finds the name again. */
    return g_error_new_literal (LOCALD_ERROR, code_for_dbus_name (remote), owned->message);

  if (g_error_matches (owned, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (LOCALD_ERROR, LOCALD_ERROR_TIMED_OUT, "The broker did not answer in time: %s",
                        owned->message);
  if (g_error_matches (owned, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_steal_pointer (&owned);
  return g_error_new_literal (LOCALD_ERROR, LOCALD_ERROR_FAILED, owned->message);
}

GError *
_locald_error_new_remote (const char *dbus_name, const char *message)
{
  g_return_val_if_fail (dbus_name != NULL && message != NULL, NULL);
  return g_error_new (LOCALD_ERROR, code_for_dbus_name (dbus_name), "GDBus.Error:%s: %s", dbus_name, message);
}
