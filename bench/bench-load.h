/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* N concurrent clients, each in its own thread with its own connection (or
 * capability, or nothing for exec rows), sharing one stream of calls. */

#include <glib.h>

/* Makes one client's state, in the client's thread, before timing starts. */
typedef gpointer (*BenchClientNew) (gpointer shared, guint client, GError **error);
typedef void (*BenchClientFree) (gpointer client);
/* One call; index is unique among all calls of the row, warm-up included,
 * so each call can have its own fixture (a cgroup, a tree). Sets *ret_busy
 * when the broker answered Busy: the call is then retried and counted. */
typedef gboolean (*BenchCall) (
    gpointer client, gpointer shared, guint index, gboolean *ret_busy, GError **error);

typedef struct
{
  BenchClientNew client_new; /* may be NULL: no per-client state */
  BenchClientFree client_free;
  BenchCall call;
  gpointer shared;
} BenchOp;

typedef struct
{
  GArray *samples; /* double, ms, one per timed call */
  gint64 wall_ns;  /* first timed call sent to last one answered */
  guint busy;      /* Busy answers retried */
} BenchLoadResult;

/* Runs `warmup` untimed calls per client (indices 0 .. clients*warmup-1),
 * then `calls` timed calls (the next indices) spread over the clients as
 * they come free. */
gboolean bench_load_run (
    const BenchOp *op, guint clients, guint warmup, guint calls, BenchLoadResult *ret, GError **error);

void bench_load_result_clear (BenchLoadResult *r);
