/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* One series of latency samples (milliseconds) and what it says. */
typedef struct
{
  guint n;
  double median_ms;
  double p90_ms;
  double p99_ms;
  double mean_ms;
  double min_ms;
  double max_ms;
  double calls_per_s; /* n divided by the wall time of the whole loop */
} BenchSummary;

/* Monotonic clock in nanoseconds; g_get_monotonic_time() only has
 * microseconds, too coarse for a 0.1 ms round trip. */
gint64 bench_now_ns (void);

/* samples: GArray of double (ms); wall_ns: time the loop took end to end. */
void bench_summarize (GArray *samples, gint64 wall_ns, BenchSummary *ret);
