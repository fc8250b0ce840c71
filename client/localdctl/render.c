/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering of reports and errors. The JSON shape is pinned by
 * tests/client/doctor.golden.json: change both together, and only by adding. */
#include "config.h"

#include "client/localdctl/render.h"

/* Hash tables have no order; output must be stable, so keys are sorted. */
static GList *
sorted_keys (GHashTable *table)
{
  return g_list_sort (g_hash_table_get_keys (table), (GCompareFunc) strcmp);
}

static void
add_string_member (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, value);
}

static void
add_string_map (JsonBuilder *b, const char *member, GHashTable *table)
{
  g_autoptr (GList) keys = sorted_keys (table);

  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  for (GList *l = keys; l != NULL; l = l->next)
    add_string_member (b, l->data, g_hash_table_lookup (table, l->data));
  json_builder_end_object (b);
}

JsonNode *
localdctl_report_to_json (LocaldReport *report)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) fixes = locald_report_get_fixes (report);
  GPtrArray *problems = locald_report_get_problems (report);
  const char *version = locald_report_get_broker_version (report);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ready");
  json_builder_add_boolean_value (b, !locald_report_has_critical (report));
  add_string_member (b, "mode", locald_report_get_mode (report));
  add_string_member (b, "strategy", locald_report_get_strategy (report));
  add_string_member (b, "strategy_reason", locald_report_get_strategy_reason (report));

  json_builder_set_member_name (b, "broker");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  if (version != NULL)
    json_builder_add_string_value (b, version);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "api_version");
  if (version != NULL)
    json_builder_add_int_value (b, locald_report_get_broker_api_version (report));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "problems");
  json_builder_begin_array (b);
  for (guint i = 0; i < problems->len; i++)
    {
      LocaldProblem *p = g_ptr_array_index (problems, i);
      json_builder_begin_object (b);
      add_string_member (b, "id", locald_problem_get_id (p));
      add_string_member (b, "severity", locald_problem_get_severity (p));
      add_string_member (b, "summary", locald_problem_get_summary (p));
      add_string_member (b, "fix", locald_problem_get_fix (p));
      add_string_map (b, "evidence", locald_problem_get_evidence (p));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "fixes");
  json_builder_begin_array (b);
  for (guint i = 0; i < fixes->len; i++)
    {
      LocaldFix *f = g_ptr_array_index (fixes, i);
      const char *const *ids = locald_fix_get_problem_ids (f);
      json_builder_begin_object (b);
      add_string_member (b, "key", locald_fix_get_key (f));
      add_string_member (b, "severity", locald_fix_get_severity (f));
      add_string_member (b, "text", locald_fix_get_text (f));
      json_builder_set_member_name (b, "problems");
      json_builder_begin_array (b);
      for (size_t j = 0; ids[j] != NULL; j++)
        json_builder_add_string_value (b, ids[j]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  add_string_map (b, "facts", locald_report_get_facts (report));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The message without GDBus's "GDBus.Error:NAME: " prefix. */
char *
localdctl_error_message (const GError *error)
{
  g_autoptr (GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

JsonNode *
localdctl_error_to_json (const GError *error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *message = localdctl_error_message (error);
  const char *dbus_name = locald_error_get_dbus_name (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "dbus_error");
  if (dbus_name != NULL)
    json_builder_add_string_value (b, dbus_name);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
localdctl_json_to_string (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static const char *
severity_marker (const char *severity)
{
  if (g_strcmp0 (severity, "critical") == 0)
    return "[critical]";
  if (g_strcmp0 (severity, "warning") == 0)
    return "[warning] ";
  if (g_strcmp0 (severity, "info") == 0)
    return "[info]    ";
  return "[?]       ";
}

static void
render_summary (GString *out, LocaldReport *report)
{
  GPtrArray *problems = locald_report_get_problems (report);
  guint critical = 0, warning = 0, other = 0;

  for (guint i = 0; i < problems->len; i++)
    {
      const char *s = locald_problem_get_severity (g_ptr_array_index (problems, i));
      if (g_str_equal (s, "critical"))
        critical++;
      else if (g_str_equal (s, "warning"))
        warning++;
      else
        other++;
    }

  if (critical > 0)
    g_string_append_printf (out, "Not ready: %u critical problem%s", critical, critical == 1 ? "" : "s");
  else
    g_string_append (out, "Ready");
  if (warning > 0)
    g_string_append_printf (out, ", %u warning%s", warning, warning == 1 ? "" : "s");
  if (other > 0)
    g_string_append_printf (out, ", %u note%s", other, other == 1 ? "" : "s");
  g_string_append_printf (out, " (mode %s).\n", locald_report_get_mode (report));
}

static void
render_map (GString *out, const char *indent, GHashTable *table)
{
  g_autoptr (GList) keys = sorted_keys (table);

  for (GList *l = keys; l != NULL; l = l->next)
    g_string_append_printf (out, "%s%s: %s\n", indent, (const char *) l->data,
                            (const char *) g_hash_table_lookup (table, l->data));
}

void
localdctl_render_report (GString *out, LocaldReport *report, gboolean verbose)
{
  GPtrArray *problems = locald_report_get_problems (report);
  g_autoptr (GPtrArray) fixes = locald_report_get_fixes (report);
  const char *version = locald_report_get_broker_version (report);
  const char *reason = locald_report_get_strategy_reason (report);

  render_summary (out, report);
  g_string_append_printf (out, "Strategy: %s%s%s%s\n", locald_report_get_strategy (report),
                          *reason != '\0' ? " (" : "", reason, *reason != '\0' ? ")" : "");
  if (version != NULL)
    g_string_append_printf (out, "Broker: %s, API version %u\n", version,
                            locald_report_get_broker_api_version (report));

  if (problems->len > 0)
    {
      g_string_append (out, "\nProblems:\n");
      for (guint i = 0; i < problems->len; i++)
        {
          LocaldProblem *p = g_ptr_array_index (problems, i);
          g_string_append_printf (out, "  %s %s: %s\n", severity_marker (locald_problem_get_severity (p)),
                                  locald_problem_get_id (p), locald_problem_get_summary (p));
          if (verbose)
            render_map (out, "               ", locald_problem_get_evidence (p));
        }
    }

  if (fixes->len > 0)
    {
      g_string_append (out, "\nTo fix:\n");
      for (guint i = 0; i < fixes->len; i++)
        {
          LocaldFix *f = g_ptr_array_index (fixes, i);
          g_autofree char *ids = g_strjoinv (", ", (char **) locald_fix_get_problem_ids (f));
          g_string_append_printf (out, "  %u. %s\n     (%s; resolves %s)\n", i + 1, locald_fix_get_text (f),
                                  locald_fix_get_key (f), ids);
        }
    }

  if (verbose && g_hash_table_size (locald_report_get_facts (report)) > 0)
    {
      g_string_append (out, "\nFacts:\n");
      render_map (out, "  ", locald_report_get_facts (report));
    }
}
