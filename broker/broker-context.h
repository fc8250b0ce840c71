/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one context struct of the daemon. Set up in main() before the bus
 * name is taken and immutable afterwards, except for the lifecycle counters,
 * which only the main thread touches. Worker threads read the configuration
 * parts only.
 */

#include "cgroup.h"
#include "options.h"
#include "client/locald-names.h"

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define BROKER_BUS_NAME LOCALD_BROKER_BUS_NAME
#define BROKER_OBJECT_PATH LOCALD_BROKER_OBJECT_PATH
#define BROKER_INTERFACE LOCALD_BROKER_INTERFACE

typedef struct
{
  BrokerOptions options;

  /* cgroup configuration, resolved at start-up */
  CgroupLayout layout; /* layout.mount is NULL when no cgroup2 was found */
  gboolean systemd_strategy;
  char *strategy_reason;
  char *cgroup_root_path; /* "/locald", or "" without cgroup2 */

  sd_bus *bus;
  sd_bus_slot *vtable_slot;
  sd_bus_slot *owner_changes_slot; /* one NameOwnerChanged subscription for all calls */
  GMainLoop *loop;

  /* calls in progress, for disconnect notices and per-caller limits (main thread) */
  GHashTable *senders;      /* unique name -> BrokerSender (bus.c): its calls, its credentials */
  GHashTable *calls_by_uid; /* GUINT_TO_POINTER (uid) -> GUINT_TO_POINTER (count) */
  guint calls_identified;   /* calls counted in calls_by_uid */
  guint calls_unidentified; /* calls waiting for their connection's credentials */

  /* the operations (bus.c): workers, and what waits for one (main thread) */
  GThreadPool *workers;
  GHashTable *running_by_uid; /* GUINT_TO_POINTER (uid) -> GUINT_TO_POINTER (running) */
  guint running;
  GQueue work_waiting; /* requests authorized and waiting for a worker */

  /* lifecycle (main thread only) */
  guint in_flight;    /* calls accepted and not yet answered */
  guint64 calls_seen; /* every call ever accepted; tells the drain that more arrived */
  guint idle_source;
  guint drain_source;
  guint drain_rounds; /* grace periods spent draining; bounded */
  gboolean exiting;   /* the name is released or being released */
  int exit_code;
} BrokerContext;

/* A call was accepted / answered. Drives the idle timer and the drain. */
void broker_context_hold (BrokerContext *ctx);
void broker_context_release (BrokerContext *ctx);

G_END_DECLS
