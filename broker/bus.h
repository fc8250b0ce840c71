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

/* Registers the object on ctx->bus. */
int broker_bus_add_object (BrokerContext *ctx);

G_END_DECLS
