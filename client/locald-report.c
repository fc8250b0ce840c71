/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LocaldReport: the readiness report that acquisition produces and doctor
 * renders, and its consolidation into a few prioritised fixes. No output
 * formatting lives here: localdctl owns that. */
#include "config.h"

#include "client/locald-broker.h"
#include "client/locald-report-private.h"

struct _LocaldReport
{
  GObject parent_instance;
  char *strategy;
  char *strategy_reason;
  char *mode;
  GPtrArray *problems; /* LocaldProblem */
  GHashTable *facts;
  char *broker_version; /* NULL until the broker's properties were read */
  guint broker_api_version;
};

G_DEFINE_FINAL_TYPE (LocaldReport, locald_report, G_TYPE_OBJECT)

static void
locald_report_finalize (GObject *object)
{
  LocaldReport *self = LOCALD_REPORT (object);

  g_free (self->strategy);
  g_free (self->strategy_reason);
  g_free (self->mode);
  g_ptr_array_unref (self->problems);
  g_hash_table_unref (self->facts);
  g_free (self->broker_version);
  G_OBJECT_CLASS (locald_report_parent_class)->finalize (object);
}

static void
locald_report_class_init (LocaldReportClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = locald_report_finalize;
}

static void
locald_report_init (LocaldReport *self)
{
  self->problems = g_ptr_array_new_with_free_func ((GDestroyNotify) locald_problem_unref);
  self->facts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * locald_report_new:
 * @strategy: cgroup strategy ("systemd", "direct", or "unknown")
 * @strategy_reason: why that strategy
 * @mode: "enabled" or "degraded"
 *
 * Returns: (transfer full): an empty report
 */
LocaldReport *
locald_report_new (const char *strategy, const char *strategy_reason, const char *mode)
{
  LocaldReport *self = g_object_new (LOCALD_TYPE_REPORT, NULL);

  self->strategy = g_strdup (strategy != NULL ? strategy : "unknown");
  self->strategy_reason = g_strdup (strategy_reason != NULL ? strategy_reason : "");
  self->mode = g_strdup (mode != NULL ? mode : "degraded");
  return self;
}

LocaldReport *
_locald_report_new_from_self_check (
    const char *strategy, const char *strategy_reason, const char *mode, GVariant *problems, GVariant *facts)
{
  GVariantIter iter;
  const char *id, *severity, *summary, *fix, *key, *value;
  GVariantIter *evidence;
  LocaldReport *self;

  g_return_val_if_fail (g_variant_is_of_type (problems, G_VARIANT_TYPE ("a(sssa{ss}s)")), NULL);
  g_return_val_if_fail (g_variant_is_of_type (facts, G_VARIANT_TYPE ("a{ss}")), NULL);

  self = locald_report_new (strategy, strategy_reason, mode);
  g_variant_iter_init (&iter, problems);
  while (g_variant_iter_next (&iter, "(&s&s&sa{ss}&s)", &id, &severity, &summary, &evidence, &fix))
    {
      g_autoptr (LocaldProblem) p = locald_problem_new (id, severity, summary, fix);
      while (g_variant_iter_next (evidence, "{&s&s}", &key, &value))
        locald_problem_add_evidence (p, key, value);
      g_variant_iter_free (evidence);
      locald_report_add_problem (self, p);
    }
  g_variant_iter_init (&iter, facts);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    locald_report_set_fact (self, key, value);
  return self;
}

const char *
locald_report_get_strategy (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->strategy;
}

const char *
locald_report_get_strategy_reason (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->strategy_reason;
}

const char *
locald_report_get_mode (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->mode;
}

void
locald_report_set_mode (LocaldReport *self, const char *mode)
{
  g_return_if_fail (LOCALD_IS_REPORT (self));
  g_return_if_fail (mode != NULL);
  g_free (self->mode);
  self->mode = g_strdup (mode);
}

/**
 * locald_report_add_problem:
 * @self: a #LocaldReport
 * @problem: the problem to append; the report takes a reference
 *
 * A critical problem makes the report's mode "degraded".
 */
void
locald_report_add_problem (LocaldReport *self, LocaldProblem *problem)
{
  g_return_if_fail (LOCALD_IS_REPORT (self));
  g_return_if_fail (problem != NULL);
  g_ptr_array_add (self->problems, locald_problem_ref (problem));
  if (locald_problem_is_critical (problem))
    locald_report_set_mode (self, "degraded");
}

/**
 * locald_report_get_problems:
 * @self: a #LocaldReport
 *
 * Returns: (transfer none) (element-type LocaldProblem): the problems in the
 *   order they were found
 */
GPtrArray *
locald_report_get_problems (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->problems;
}

void
locald_report_set_fact (LocaldReport *self, const char *key, const char *value)
{
  g_return_if_fail (LOCALD_IS_REPORT (self));
  g_return_if_fail (key != NULL);
  g_hash_table_replace (self->facts, g_strdup (key), g_strdup (value != NULL ? value : ""));
}

/**
 * locald_report_get_facts:
 * @self: a #LocaldReport
 *
 * Returns: (transfer none) (element-type utf8 utf8): what the probes observed
 */
GHashTable *
locald_report_get_facts (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->facts;
}

/**
 * locald_report_get_broker_version:
 * @self: a #LocaldReport
 *
 * Returns: (nullable): the running broker's Version, %NULL if it was not read
 */
const char *
locald_report_get_broker_version (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  return self->broker_version;
}

/**
 * locald_report_get_broker_api_version:
 * @self: a #LocaldReport
 *
 * Returns: the running broker's ApiVersion, 0 if it was not read
 */
guint
locald_report_get_broker_api_version (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), 0);
  return self->broker_api_version;
}

void
locald_report_set_broker_version (LocaldReport *self, const char *version, guint api_version)
{
  g_return_if_fail (LOCALD_IS_REPORT (self));
  g_free (self->broker_version);
  self->broker_version = g_strdup (version);
  self->broker_api_version = api_version;
}

gboolean
locald_report_has_critical (LocaldReport *self)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), FALSE);
  for (guint i = 0; i < self->problems->len; i++)
    if (locald_problem_is_critical (g_ptr_array_index (self->problems, i)))
      return TRUE;
  return FALSE;
}

/**
 * locald_report_find_problem:
 * @self: a #LocaldReport
 * @id: a problem id
 *
 * Returns: (transfer none) (nullable): the first problem with @id
 */
LocaldProblem *
locald_report_find_problem (LocaldReport *self, const char *id)
{
  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);
  for (guint i = 0; i < self->problems->len; i++)
    {
      LocaldProblem *p = g_ptr_array_index (self->problems, i);
      if (g_str_equal (locald_problem_get_id (p), id))
        return p;
    }
  return NULL;
}

typedef struct
{
  const char *key;
  const char *worst_severity;
  GPtrArray *ids; /* borrowed problem ids, NULL-terminated at the end */
} FixGroup;

static int
compare_groups (gconstpointer a, gconstpointer b)
{
  const FixGroup *ga = a, *gb = b;
  int d = _locald_severity_rank (ga->worst_severity) - _locald_severity_rank (gb->worst_severity);

  if (d != 0)
    return d;
  d = _locald_fix_rank (ga->key) - _locald_fix_rank (gb->key);
  if (d != 0)
    return d;
  return strcmp (ga->key, gb->key);
}

/**
 * locald_report_get_fixes:
 * @self: a #LocaldReport
 *
 * Consolidates the problems into fixes: one per fix key, each listing the
 * problems it resolves. Ordered by the worst severity among those problems
 * (critical, warning, info), then by the fix priority: unsupported_environment,
 * install_broker, upgrade_broker, host_policy_blocks_privileged_helper,
 * run_admin_setup, inspect_broker, then other keys alphabetically. Problems
 * without a fix key contribute none.
 *
 * Returns: (transfer container) (element-type LocaldFix): the fixes
 */
GPtrArray *
locald_report_get_fixes (LocaldReport *self)
{
  g_autoptr (GArray) groups = g_array_new (FALSE, TRUE, sizeof (FixGroup));
  GPtrArray *fixes;

  g_return_val_if_fail (LOCALD_IS_REPORT (self), NULL);

  for (guint i = 0; i < self->problems->len; i++)
    {
      LocaldProblem *p = g_ptr_array_index (self->problems, i);
      const char *key = locald_problem_get_fix (p);
      FixGroup *group = NULL;

      if (key == NULL || *key == '\0')
        continue;
      for (guint j = 0; j < groups->len && group == NULL; j++)
        if (g_str_equal (g_array_index (groups, FixGroup, j).key, key))
          group = &g_array_index (groups, FixGroup, j);
      if (group == NULL)
        {
          FixGroup fresh = { key, locald_problem_get_severity (p), g_ptr_array_new () };
          g_array_append_val (groups, fresh);
          group = &g_array_index (groups, FixGroup, groups->len - 1);
        }
      else if (_locald_severity_rank (locald_problem_get_severity (p))
               < _locald_severity_rank (group->worst_severity))
        group->worst_severity = locald_problem_get_severity (p);
      /* The same id twice (e.g. two evidence rows) still names one problem. */
      if (!g_ptr_array_find_with_equal_func (group->ids, locald_problem_get_id (p), g_str_equal, NULL))
        g_ptr_array_add (group->ids, (gpointer) locald_problem_get_id (p));
    }

  /* g_array_sort is not stable, but compare_groups ends on the unique key. */
  g_array_sort (groups, compare_groups);

  fixes = g_ptr_array_new_with_free_func ((GDestroyNotify) locald_fix_unref);
  for (guint j = 0; j < groups->len; j++)
    {
      FixGroup *group = &g_array_index (groups, FixGroup, j);
      g_ptr_array_add (group->ids, NULL);
      g_ptr_array_add (fixes, _locald_fix_new (group->key, group->worst_severity,
                                               (const char *const *) group->ids->pdata));
      g_ptr_array_unref (group->ids);
    }
  return fixes;
}
