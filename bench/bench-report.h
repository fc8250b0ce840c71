/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bench-memory.h"
#include "bench-stats.h"

#include <glib.h>

/* One measured path, or why it was not measured. */
typedef struct
{
  char *id;               /* stable key in the JSON ("kill-empty/sd-bus/c8") */
  char *label;            /* what the row measures, for people */
  const char *checked_by; /* who authorizes it: "polkit", "nothing", ... */
  const char *section;    /* which table it belongs to (BenchSection id) */
  char *series;           /* rows of one series differ only in clients ("kill-empty/sd-bus") */
  guint clients;          /* concurrent clients (1 for sequential rows) */
  guint busy;             /* Busy answers that were retried */
  BenchSummary summary;
  char *skipped; /* reason, or NULL when measured */
} BenchRow;

typedef struct
{
  const char *id;
  const char *title;
  gboolean with_rate; /* calls/s means something (back-to-back calls) */
} BenchSection;

/* One memory reading of the broker, with what it was taken after. */
typedef struct
{
  char *what;
  BenchMemory memory;
} BenchMemoryReading;

typedef struct
{
  GPtrArray *meta; /* "key=value" strings, in order */
  const BenchSection *sections;
  guint n_sections;
  GPtrArray *rows;   /* BenchRow*, in run order */
  GPtrArray *memory; /* BenchMemoryReading* */
  gboolean have_idle_cpu;
  double idle_cpu_ms; /* broker CPU time used while idle */
  double idle_cpu_window_s;
  gboolean broker_reused; /* one broker process served every warm broker row */
  GPtrArray *targets;     /* "met|missed|n/a: text" strings */
} BenchResults;

BenchRow *bench_row_new (
    const char *section, const char *series, guint clients, const char *label, const char *checked_by);
void bench_row_free (BenchRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchRow, bench_row_free)

void bench_memory_reading_free (BenchMemoryReading *m);

char *bench_report_text (const BenchResults *results);
char *bench_report_json (const BenchResults *results);
/* gnuplot data: one block per series of the floor, warm and exec rows (clients,
 * median, p99), blocks separated by two blank lines, titled in a comment
 * and listed in order in *ret_titles. */
char *bench_report_plot_data (const BenchResults *results, GPtrArray **ret_titles);
