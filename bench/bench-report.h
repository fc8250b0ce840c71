/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bench-memory.h"
#include "bench-stats.h"

#include <glib.h>

/* One measured path, or why it was not measured. */
typedef struct
{
  const char *id;         /* stable key in the JSON ("self-check") */
  const char *label;      /* what the row measures, for people */
  const char *checked_by; /* who authorizes it: "polkit", "nothing", ... */
  BenchSummary summary;
  char *skipped; /* reason, or NULL when measured */
} BenchRow;

typedef struct
{
  GPtrArray *meta;  /* "key=value" strings, in order */
  guint warm_calls; /* samples per warm row */
  GPtrArray *warm;  /* BenchRow*, sequential calls to a running broker */
  GPtrArray *cold;  /* BenchRow*, first call to a stopped broker */
  gboolean have_memory_fresh, have_memory_after;
  BenchMemory memory_fresh; /* just after activation */
  BenchMemory memory_after; /* after every warm row */
  guint warm_calls_total;   /* broker calls between the two memory readings */
  gboolean broker_reused;   /* the same broker pid served every warm row */
} BenchResults;

BenchRow *bench_row_new (const char *id, const char *label, const char *checked_by);
void bench_row_free (BenchRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchRow, bench_row_free)

char *bench_report_text (const BenchResults *results);
char *bench_report_json (const BenchResults *results);
