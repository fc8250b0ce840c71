/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "client/locald-broker.h"

/* Turns whatever a call to the broker failed with into a LOCALD_ERROR,
 * keeping the D-Bus error name. Takes ownership of @error. */
GError *_locald_error_from_call (GError *error);

/* The error a broker call fails with when the broker answers @dbus_name and
 * @message: the same code, and the same "GDBus.Error:NAME: message" text. */
GError *_locald_error_new_remote (const char *dbus_name, const char *message);
