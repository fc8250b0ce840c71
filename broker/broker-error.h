/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One error domain for everything the daemon can refuse or fail at.
 * Every code maps to exactly one D-Bus error name (broker-error.c); the
 * names are part of the API and are documented in docs/api.md.
 * Messages say what was wrong and what to do about it.
 */

#include <glib.h>

G_BEGIN_DECLS

#define BROKER_ERROR (broker_error_quark ())

typedef enum
{
  BROKER_ERROR_FAILED,                    /* dev.locald.Broker1.Error.Failed */
  BROKER_ERROR_INVALID_ARGS,              /* org.freedesktop.DBus.Error.InvalidArgs */
  BROKER_ERROR_ACCESS_DENIED,             /* org.freedesktop.DBus.Error.AccessDenied */
  BROKER_ERROR_INTERACTIVE_REQUIRED,      /* org.freedesktop.DBus.Error.InteractiveAuthorizationRequired */
  BROKER_ERROR_AUTHORIZATION_UNAVAILABLE, /* dev.locald.Broker1.Error.AuthorizationUnavailable */
  BROKER_ERROR_NOT_OWNER,                 /* dev.locald.Broker1.Error.NotOwner */
  BROKER_ERROR_UNSAFE_PATH,               /* dev.locald.Broker1.Error.UnsafePath */
  BROKER_ERROR_CROSSES_MOUNT,             /* dev.locald.Broker1.Error.CrossesMount */
  BROKER_ERROR_NOT_FOUND,                 /* dev.locald.Broker1.Error.NotFound */
  BROKER_ERROR_NOT_SET_UP,                /* dev.locald.Broker1.Error.NotSetUp */
  BROKER_ERROR_UNSUPPORTED,               /* dev.locald.Broker1.Error.Unsupported */
  BROKER_ERROR_BUSY,                      /* dev.locald.Broker1.Error.Busy */
  BROKER_ERROR_ADDRESS_IN_USE,            /* dev.locald.Broker1.Error.AddressInUse */
} BrokerErrorCode;

GQuark broker_error_quark (void);

/* The D-Bus error name for a GError; unknown domains map to ...Error.Failed. */
const char *broker_error_to_dbus_name (const GError *error);

/* The code for a D-Bus error name the broker itself answers with (as the
 * helpers do), BROKER_ERROR_FAILED for any other name. */
BrokerErrorCode broker_error_from_dbus_name (const char *name);

/* The D-Bus error name of a code; unknown codes map to ...Error.Failed. */
const char *broker_error_code_to_dbus_name (BrokerErrorCode code);

G_END_DECLS
