/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The dev.locald.Broker1 object: vtable and properties (mirroring
 * dbus/dev.locald.Broker1.xml), argument decoding, the fixed order every call
 * goes through, and the mapping of GErrors to D-Bus errors.
 *
 * Order for every method: caller credentials from the bus driver ->
 * syntactic validation -> polkit (async) -> caller credentials again (the
 * caller must still be there, with the same uid) -> the operation in a worker
 * thread -> reply and audit from the main thread.
 */

#include "broker-context.h"

G_BEGIN_DECLS

/* How many calls may be in progress at once: in all, per caller connection
 * and per uid. Beyond them a call is refused at once with
 * dev.locald.Broker1.Error.Busy, so no caller can exhaust the daemon's bus
 * or polkit quotas (the system bus allows 128 pending replies per
 * connection) and lock everyone else out. */
#define BROKER_MAX_CALLS 96
#define BROKER_MAX_CALLS_PER_SENDER 16
#define BROKER_MAX_CALLS_PER_UID 16

/* Registers the object on ctx->bus, and the one NameOwnerChanged
 * subscription that tells the daemon when a waiting caller has left. */
int broker_bus_add_object (BrokerContext *ctx);

G_END_DECLS
