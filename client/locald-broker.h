/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* liblocald-broker: capability acquisition for locald-brokerd. */

#define LOCALD_BROKER_INSIDE
#include "locald-error.h"
#include "locald-report.h"
#include "locald-privileged.h"
#undef LOCALD_BROKER_INSIDE

/**
 * LOCALD_BROKER_CLIENT_API_VERSION:
 *
 * The dev.locald.Broker1 ApiVersion this library speaks; acquisition
 * requires the running broker to report exactly this.
 */
#define LOCALD_BROKER_CLIENT_API_VERSION 1
