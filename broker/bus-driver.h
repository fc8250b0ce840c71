/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The message bus driver, as the daemon talks to it and recognises its
 * signals. BUS_DRIVER_NAME is also the exact sender of every signal the
 * driver emits (dbus-daemon sets it so); a signal with any other sender,
 * whatever its path and interface, came from some connection on the bus.
 */

#define BUS_DRIVER_NAME "org.freedesktop.DBus"
#define BUS_DRIVER_PATH "/org/freedesktop/DBus"
#define BUS_DRIVER_INTERFACE "org.freedesktop.DBus"
