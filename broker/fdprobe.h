/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Does a caller accept file descriptors? Unix fd passing is negotiated
 * between each client and the bus daemon, and nothing the bus reports about
 * a connection says how it went. What the bus does is refuse to forward a
 * message carrying an fd to a connection that did not negotiate it: it
 * answers the sender with org.freedesktop.DBus.Error.NotSupported, whose
 * reply cookie is the refused message's. A refused method *return* would
 * leave the caller waiting forever (and a second reply is not allowed by
 * the system bus policy), so BindPort asks first: a unicast signal with one
 * fd (/dev/null) goes to the caller before the call's credentials are
 * requested. The bus handles one connection's messages in order, so by the
 * time the credentials arrive, a refusal of the probe has arrived too.
 *
 * Main thread only (it rides on the broker's bus connection).
 */

#include <glib.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Installs the filter that notices refusals. Once, before serving. */
int fdprobe_install (sd_bus *bus);

/* Sends the probe to destination (a unique name). 0 and its cookie, or a
 * negative errno. */
int fdprobe_send (sd_bus *bus, const char *destination, uint64_t *ret_cookie);

/* Whether the bus refused the probe with that cookie (known once a later
 * reply from the bus has arrived). */
gboolean fdprobe_refused (uint64_t cookie);

/* Forgets the probe (the request is over). */
void fdprobe_forget (uint64_t cookie);

G_END_DECLS
