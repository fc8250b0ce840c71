/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-report.h"

#include <json-glib/json-glib.h>

BenchRow *
bench_row_new (
    const char *section, const char *series, guint clients, const char *label, const char *checked_by)
{
  BenchRow *row = g_new0 (BenchRow, 1);

  row->section = section;
  row->series = g_strdup (series);
  row->clients = clients;
  row->id = clients > 0 ? g_strdup_printf ("%s/c%u", series, clients) : g_strdup (series);
  row->label = g_strdup (label);
  row->checked_by = checked_by;
  return row;
}

void
bench_row_free (BenchRow *row)
{
  if (!row)
    return;
  g_free (row->id);
  g_free (row->series);
  g_free (row->label);
  g_free (row->skipped);
  g_free (row);
}

void
bench_memory_reading_free (BenchMemoryReading *m)
{
  if (!m)
    return;
  g_free (m->what);
  g_free (m);
}

/* ---------------------------------------------------------------- text */

static void
append_rows (GString *out, const BenchResults *r, const BenchSection *sec)
{
  g_string_append_printf (out, "\n%s\n", sec->title);
  g_string_append_printf (out, "  %-58s %-9s %7s %8s %8s %8s %9s\n", "path", "checked", "clients", "median",
                          "p99", "mean", sec->with_rate ? "calls/s" : "samples");
  for (guint i = 0; i < r->rows->len; i++)
    {
      const BenchRow *row = r->rows->pdata[i];
      const BenchSummary *s = &row->summary;

      if (!g_str_equal (row->section, sec->id))
        continue;
      g_string_append_printf (out, "  %-58s %-9s %7u ", row->label, row->checked_by, row->clients);
      if (row->skipped)
        g_string_append_printf (out, "skipped: %s\n", row->skipped);
      else if (sec->with_rate)
        g_string_append_printf (out, "%8.3f %8.3f %8.3f %9.0f%s\n", s->median_ms, s->p99_ms, s->mean_ms,
                                s->calls_per_s, row->busy ? " (Busy retried)" : "");
      else
        g_string_append_printf (out, "%8.3f %8.3f %8.3f %9u\n", s->median_ms, s->p99_ms, s->mean_ms, s->n);
    }
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
  g_string_append (out, "\n\nLatency in ms; medians are the figures, tails are noisy on a shared host.\n");

  for (guint i = 0; i < r->n_sections; i++)
    append_rows (out, r, &r->sections[i]);

  g_string_append (out, "\nBroker at rest (/proc/PID/status, kB; CPU from /proc/PID/stat)\n");
  g_string_append_printf (out, "  %-44s %7s %8s %8s %8s %8s %7s\n", "", "pid", "VmRSS", "RssAnon", "RssFile",
                          "VmHWM", "threads");
  for (guint i = 0; i < r->memory->len; i++)
    {
      const BenchMemoryReading *m = r->memory->pdata[i];
      g_string_append_printf (out,
                              "  %-44s %7u %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
                              " %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT "\n",
                              m->what, (unsigned) m->memory.pid, m->memory.vm_rss_kb, m->memory.rss_anon_kb,
                              m->memory.rss_file_kb, m->memory.vm_hwm_kb, m->memory.threads);
    }
  if (r->have_idle_cpu)
    g_string_append_printf (out, "  CPU time used while idle: %.0f ms in %.1f s\n", r->idle_cpu_ms,
                            r->idle_cpu_window_s);
  g_string_append_printf (out, "  one broker process served every warm broker row: %s\n",
                          r->broker_reused ? "yes" : "no");

  if (r->targets && r->targets->len > 0)
    {
      g_string_append (out, "\nTargets (same run)\n");
      for (guint i = 0; i < r->targets->len; i++)
        g_string_append_printf (out, "  %s\n", (const char *) r->targets->pdata[i]);
    }
  return g_string_free (out, FALSE);
}

/* ---------------------------------------------------------------- json */

static void
add_double (JsonBuilder *b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  /* Microsecond precision is all the clock and the reader need. */
  json_builder_add_double_value (b, (gint64) (v * 1000 + 0.5) / 1000.0);
}

static void
add_rows (JsonBuilder *b, const BenchResults *r)
{
  json_builder_set_member_name (b, "rows");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->rows->len; i++)
    {
      const BenchRow *row = r->rows->pdata[i];
      const BenchSummary *s = &row->summary;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, row->id);
      json_builder_set_member_name (b, "section");
      json_builder_add_string_value (b, row->section);
      json_builder_set_member_name (b, "series");
      json_builder_add_string_value (b, row->series);
      json_builder_set_member_name (b, "label");
      json_builder_add_string_value (b, row->label);
      json_builder_set_member_name (b, "checked_by");
      json_builder_add_string_value (b, row->checked_by);
      json_builder_set_member_name (b, "clients");
      json_builder_add_int_value (b, row->clients);
      if (row->skipped)
        {
          json_builder_set_member_name (b, "skipped");
          json_builder_add_string_value (b, row->skipped);
        }
      else
        {
          json_builder_set_member_name (b, "samples");
          json_builder_add_int_value (b, s->n);
          json_builder_set_member_name (b, "busy_retried");
          json_builder_add_int_value (b, row->busy);
          add_double (b, "median_ms", s->median_ms);
          add_double (b, "p90_ms", s->p90_ms);
          add_double (b, "p99_ms", s->p99_ms);
          add_double (b, "mean_ms", s->mean_ms);
          add_double (b, "min_ms", s->min_ms);
          add_double (b, "max_ms", s->max_ms);
          add_double (b, "calls_per_s", s->calls_per_s);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_memory (JsonBuilder *b, const BenchResults *r)
{
  json_builder_set_member_name (b, "broker_memory");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->memory->len; i++)
    {
      const BenchMemoryReading *m = r->memory->pdata[i];
      const struct
      {
        const char *key;
        guint64 v;
      } f[] = {
        { "pid", m->memory.pid },
        { "VmRSS_kB", m->memory.vm_rss_kb },
        { "RssAnon_kB", m->memory.rss_anon_kb },
        { "RssFile_kB", m->memory.rss_file_kb },
        { "VmHWM_kB", m->memory.vm_hwm_kb },
        { "Threads", m->memory.threads },
      };

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "after");
      json_builder_add_string_value (b, m->what);
      for (gsize k = 0; k < G_N_ELEMENTS (f); k++)
        {
          json_builder_set_member_name (b, f[k].key);
          json_builder_add_int_value (b, (gint64) f[k].v);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

char *
bench_report_json (const BenchResults *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

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
  add_rows (b, r);
  add_memory (b, r);
  if (r->have_idle_cpu)
    {
      add_double (b, "broker_idle_cpu_ms", r->idle_cpu_ms);
      add_double (b, "broker_idle_window_s", r->idle_cpu_window_s);
    }
  json_builder_set_member_name (b, "broker_reused");
  json_builder_add_boolean_value (b, r->broker_reused);
  json_builder_set_member_name (b, "targets");
  json_builder_begin_array (b);
  for (guint i = 0; r->targets && i < r->targets->len; i++)
    json_builder_add_string_value (b, r->targets->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/* ---------------------------------------------------------------- plot */

char *
bench_report_plot_data (const BenchResults *r, GPtrArray **ret_titles)
{
  GString *out = g_string_new ("# clients median_ms p99_ms, one block per series\n");
  g_autoptr (GPtrArray) done = g_ptr_array_new ();
  GPtrArray *titles = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < r->rows->len; i++)
    {
      const BenchRow *first = r->rows->pdata[i];
      gboolean seen = FALSE;

      if (!g_str_equal (first->section, "warm") && !g_str_equal (first->section, "floor")
          && !g_str_equal (first->section, "exec"))
        continue;
      for (guint d = 0; d < done->len && !seen; d++)
        seen = g_str_equal (done->pdata[d], first->series);
      if (seen || first->skipped)
        continue;
      g_ptr_array_add (done, first->series);
      if (titles->len > 0)
        g_string_append (out, "\n\n");
      g_string_append_printf (out, "# %s\n", first->label);
      g_ptr_array_add (titles, g_strdup (first->label));
      for (guint j = i; j < r->rows->len; j++)
        {
          const BenchRow *row = r->rows->pdata[j];
          if (g_str_equal (row->series, first->series) && !row->skipped)
            g_string_append_printf (out, "%u %.4f %.4f\n", row->clients, row->summary.median_ms,
                                    row->summary.p99_ms);
        }
    }
  *ret_titles = titles;
  return g_string_free (out, FALSE);
}
