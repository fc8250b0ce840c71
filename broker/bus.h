/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The dev.locald.Broker1 object: vtable and properties (mirroring
 * dbus/dev.locald.Broker1.xml), argument decoding, the fixed order every call
 * goes through, and the mapping of GErrors to D-Bus errors.
 *
 * Order for every method: caller credentials from the bus driver (asked
 * once per connection, on its first call) -> call limits -> syntactic
 * validation -> polkit (async) -> caller credentials again (the caller must
 * still be there, with the same uid) -> the operation in a worker thread
 * (at most BROKER_WORKERS_PER_UID per uid) -> reply and audit from the main
 * thread.
 */

#include "broker-context.h"

G_BEGIN_DECLS

/* How many calls may be in progress at once. Beyond them a call is refused
 * at once with dev.locald.Broker1.Error.Busy, so no caller can exhaust the
 * daemon's bus or polkit quotas and lock everyone else out:
 *  - per caller connection, counted from the moment a call arrives;
 *  - per uid, also from the moment a call arrives once the connection is
 *    identified (its credentials are asked for once, on its first call, and
 *    kept for the life of the connection);
 *  - from connections not identified yet, in all (their first calls, waiting
 *    for the one credentials lookup of their connection);
 *  - identified calls in all. Each may have one polkit check in flight, and
 *    the system bus allows the daemon's polkit connection 128 pending calls
 *    (cancellations count too), so this stays well below that. */
#define BROKER_MAX_CALLS 64
#define BROKER_MAX_CALLS_PER_SENDER 16
#define BROKER_MAX_CALLS_PER_UID 16
#define BROKER_MAX_CALLS_UNIDENTIFIED 256

/* Worker threads for the operations themselves, and how many of them the
 * calls of one uid may hold at once: its slow operations (a kill waiting
 * out its timeout) wait in line beyond that, without holding a thread. */
#define BROKER_WORKERS 16
#define BROKER_WORKERS_PER_UID 4

/* Registers the object on ctx->bus, and the one NameOwnerChanged
 * subscription that tells the daemon when a waiting caller has left. */
int broker_bus_add_object (BrokerContext *ctx);

/* Frees what broker_bus_add_object() set up besides the slots; only with no
 * call in progress. */
void broker_bus_clear (BrokerContext *ctx);

G_END_DECLS
