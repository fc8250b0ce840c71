/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-stats.h"

#include <time.h>

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array: the smallest sample that at
 * least p percent of the samples do not exceed. No interpolation, so every
 * figure reported is a latency that was actually observed. */
static double
percentile (const double *sorted, guint n, guint p)
{
  guint rank = (guint) (((guint64) p * n + 99) / 100); /* ceil (p% of n) */

  if (rank < 1)
    rank = 1;
  return sorted[MIN (rank, n) - 1];
}

void
bench_summarize (GArray *samples, gint64 wall_ns, BenchSummary *ret)
{
  g_autoptr (GArray) sorted = NULL;
  const double *v;
  double sum = 0;
  guint n;

  g_return_if_fail (samples != NULL && ret != NULL);

  *ret = (BenchSummary){ .n = samples->len };
  n = samples->len;
  if (n == 0)
    return;

  sorted = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  g_array_append_vals (sorted, samples->data, n);
  g_array_sort (sorted, compare_double);
  v = (const double *) sorted->data;

  for (guint i = 0; i < n; i++)
    sum += v[i];

  ret->median_ms = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  ret->p90_ms = percentile (v, n, 90);
  ret->p99_ms = percentile (v, n, 99);
  ret->mean_ms = sum / n;
  ret->min_ms = v[0];
  ret->max_ms = v[n - 1];
  ret->calls_per_s = wall_ns > 0 ? n / (wall_ns / 1e9) : 0;
}
