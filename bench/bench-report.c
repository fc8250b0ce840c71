/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-report.h"

#include <json-glib/json-glib.h>

BenchRow *
bench_row_new (const char *id, const char *label, const char *checked_by)
{
  BenchRow *row = g_new0 (BenchRow, 1);

  row->id = id;
  row->label = label;
  row->checked_by = checked_by;
  return row;
}

void
bench_row_free (BenchRow *row)
{
  if (!row)
    return;
  g_free (row->skipped);
  g_free (row);
}

/* ---------------------------------------------------------------- text */

/* with_rate: calls/s means something only for back-to-back calls; for cold
 * samples, each after a broker stop, it would describe the stops. */
static void
append_rows (GString *out, const GPtrArray *rows, gboolean with_rate)
{
  g_string_append_printf (out, "  %-50s %-11s %8s %8s %8s %8s %9s\n", "path", "checked by", "median", "p90",
                          "p99", "mean", "calls/s");
  for (guint i = 0; i < rows->len; i++)
    {
      const BenchRow *row = rows->pdata[i];
      const BenchSummary *s = &row->summary;

      g_string_append_printf (out, "  %-50s %-11s ", row->label, row->checked_by);
      if (row->skipped)
        g_string_append_printf (out, "skipped: %s\n", row->skipped);
      else if (with_rate)
        g_string_append_printf (out, "%8.3f %8.3f %8.3f %8.3f %9.0f\n", s->median_ms, s->p90_ms, s->p99_ms,
                                s->mean_ms, s->calls_per_s);
      else
        g_string_append_printf (out, "%8.3f %8.3f %8.3f %8.3f %9s\n", s->median_ms, s->p90_ms, s->p99_ms,
                                s->mean_ms, "-");
    }
}

static void
append_memory (GString *out, const char *what, const BenchMemory *m)
{
  g_string_append_printf (out,
                          "  %-34s %7u %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
                          " %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT "\n",
                          what, (unsigned)m->pid, m->vm_rss_kb, m->rss_anon_kb, m->rss_file_kb, m->vm_hwm_kb,
                          m->threads);
}

char *
bench_report_text (const BenchResults *r)
{
  GString *out = g_string_new ("locald-broker benchmarks\n ");

  g_return_val_if_fail (r != NULL, NULL);

  for (guint i = 0; i < r->meta->len; i++)
    {
      g_auto (GStrv) kv = g_strsplit (r->meta->pdata[i], "=", 2);
      g_string_append_printf (out, " %s: %s%s", kv[0], kv[1] ? kv[1] : "", i + 1 < r->meta->len ? ";" : "");
    }

  g_string_append_printf (out,
                          "\n\nWarm: one client, sequential calls to a running broker, %u per row "
                          "(latency in ms)\n",
                          r->warm_calls);
  append_rows (out, r->warm, TRUE);

  if (r->cold->len > 0)
    {
      const BenchRow *first = r->cold->pdata[0];
      g_string_append_printf (
          out,
          "\nCold: broker stopped before each sample, time from call to reply, %u samples "
          "per row (ms)\n",
          first->summary.n);
      append_rows (out, r->cold, FALSE);
    }

  g_string_append (out, "\nBroker memory at idle (/proc/PID/status, kB)\n");
  g_string_append_printf (out, "  %-34s %7s %8s %8s %8s %8s %7s\n", "", "pid", "VmRSS", "RssAnon", "RssFile",
                          "VmHWM", "threads");
  if (r->have_memory_fresh)
    append_memory (out, "just activated", &r->memory_fresh);
  if (r->have_memory_after)
    {
      g_autofree char *what = g_strdup_printf ("after %u warm calls", r->warm_calls_total);
      append_memory (out, what, &r->memory_after);
    }
  g_string_append_printf (out, "  one broker process served every warm call: %s\n",
                          r->broker_reused ? "yes" : "no");

  return g_string_free (out, FALSE);
}

/* ---------------------------------------------------------------- json */

static void
add_rows (JsonBuilder *b, const char *name, const GPtrArray *rows, gboolean with_rate)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    {
      const BenchRow *row = rows->pdata[i];
      const BenchSummary *s = &row->summary;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, row->id);
      json_builder_set_member_name (b, "label");
      json_builder_add_string_value (b, row->label);
      json_builder_set_member_name (b, "checked_by");
      json_builder_add_string_value (b, row->checked_by);
      if (row->skipped)
        {
          json_builder_set_member_name (b, "skipped");
          json_builder_add_string_value (b, row->skipped);
        }
      else
        {
          const struct
          {
            const char *key;
            double value;
          } figures[] = {
            { "median_ms", s->median_ms },     { "p90_ms", s->p90_ms }, { "p99_ms", s->p99_ms },
            { "mean_ms", s->mean_ms },         { "min_ms", s->min_ms }, { "max_ms", s->max_ms },
            { "calls_per_s", s->calls_per_s },
          };

          json_builder_set_member_name (b, "samples");
          json_builder_add_int_value (b, s->n);
          for (gsize f = 0; f < G_N_ELEMENTS (figures) - (with_rate ? 0 : 1); f++)
            {
              json_builder_set_member_name (b, figures[f].key);
              /* Microsecond precision is all the clock and the reader need. */
              json_builder_add_double_value (b, (gint64)(figures[f].value * 1000 + 0.5) / 1000.0);
            }
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_memory (JsonBuilder *b, const char *name, const BenchMemory *m)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, m->pid);
  json_builder_set_member_name (b, "VmRSS_kB");
  json_builder_add_int_value (b, (gint64)m->vm_rss_kb);
  json_builder_set_member_name (b, "RssAnon_kB");
  json_builder_add_int_value (b, (gint64)m->rss_anon_kb);
  json_builder_set_member_name (b, "RssFile_kB");
  json_builder_add_int_value (b, (gint64)m->rss_file_kb);
  json_builder_set_member_name (b, "VmHWM_kB");
  json_builder_add_int_value (b, (gint64)m->vm_hwm_kb);
  json_builder_set_member_name (b, "Threads");
  json_builder_add_int_value (b, (gint64)m->threads);
  json_builder_end_object (b);
}

char *
bench_report_json (const BenchResults *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (r != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "benchmark");
  json_builder_add_string_value (b, "locald-broker");
  json_builder_set_member_name (b, "meta");
  json_builder_begin_object (b);
  for (guint i = 0; i < r->meta->len; i++)
    {
      g_auto (GStrv) kv = g_strsplit (r->meta->pdata[i], "=", 2);
      json_builder_set_member_name (b, kv[0]);
      json_builder_add_string_value (b, kv[1] ? kv[1] : "");
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "warm_calls");
  json_builder_add_int_value (b, r->warm_calls);
  add_rows (b, "warm", r->warm, TRUE);
  add_rows (b, "cold", r->cold, FALSE);
  json_builder_set_member_name (b, "memory");
  json_builder_begin_object (b);
  if (r->have_memory_fresh)
    add_memory (b, "just_activated", &r->memory_fresh);
  if (r->have_memory_after)
    add_memory (b, "after_warm_calls", &r->memory_after);
  json_builder_set_member_name (b, "warm_calls_between");
  json_builder_add_int_value (b, r->warm_calls_total);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "broker_reused");
  json_builder_add_boolean_value (b, r->broker_reused);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}
