/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LocaldProblem: one finding of a readiness check (plain data). */
#include "config.h"

#include "client/locald-broker.h"
#include "client/locald-report-private.h"

struct _LocaldProblem
{
  gatomicrefcount ref_count;
  char *id;
  char *severity;
  char *summary;
  char *fix;
  GHashTable *evidence;
};

G_DEFINE_BOXED_TYPE (LocaldProblem, locald_problem, locald_problem_ref, locald_problem_unref)

/**
 * locald_problem_new:
 * @id: stable problem id, e.g. "cgroup.root_ready"
 * @severity: "critical", "warning" or "info"
 * @summary: one human line
 * @fix: the fix key, e.g. "run_admin_setup"
 *
 * Returns: (transfer full): a new problem without evidence
 */
LocaldProblem *
locald_problem_new (const char *id, const char *severity, const char *summary, const char *fix)
{
  LocaldProblem *p;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (severity != NULL, NULL);

  p = g_new0 (LocaldProblem, 1);
  g_atomic_ref_count_init (&p->ref_count);
  p->id = g_strdup (id);
  p->severity = g_strdup (severity);
  p->summary = g_strdup (summary != NULL ? summary : "");
  p->fix = g_strdup (fix != NULL ? fix : "");
  p->evidence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return p;
}

/**
 * locald_problem_ref:
 * @problem: a #LocaldProblem
 *
 * Returns: (transfer full): @problem
 */
LocaldProblem *
locald_problem_ref (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  g_atomic_ref_count_inc (&problem->ref_count);
  return problem;
}

void
locald_problem_unref (LocaldProblem *problem)
{
  g_return_if_fail (problem != NULL);
  if (!g_atomic_ref_count_dec (&problem->ref_count))
    return;
  g_free (problem->id);
  g_free (problem->severity);
  g_free (problem->summary);
  g_free (problem->fix);
  g_hash_table_unref (problem->evidence);
  g_free (problem);
}

void
locald_problem_add_evidence (LocaldProblem *problem, const char *key, const char *value)
{
  g_return_if_fail (problem != NULL);
  g_return_if_fail (key != NULL);
  g_hash_table_replace (problem->evidence, g_strdup (key), g_strdup (value != NULL ? value : ""));
}

const char *
locald_problem_get_id (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return problem->id;
}

const char *
locald_problem_get_severity (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return problem->severity;
}

const char *
locald_problem_get_summary (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return problem->summary;
}

const char *
locald_problem_get_fix (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return problem->fix;
}

/**
 * locald_problem_get_evidence:
 * @problem: a #LocaldProblem
 *
 * Returns: (transfer none) (element-type utf8 utf8): evidence key → value
 */
GHashTable *
locald_problem_get_evidence (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return problem->evidence;
}

/**
 * locald_problem_get_evidence_value:
 * @problem: a #LocaldProblem
 * @key: evidence key
 *
 * Returns: (nullable): the value, or %NULL
 */
const char *
locald_problem_get_evidence_value (LocaldProblem *problem, const char *key)
{
  g_return_val_if_fail (problem != NULL, NULL);
  return g_hash_table_lookup (problem->evidence, key);
}

gboolean
locald_problem_is_critical (LocaldProblem *problem)
{
  g_return_val_if_fail (problem != NULL, FALSE);
  return g_str_equal (problem->severity, "critical");
}

int
_locald_severity_rank (const char *severity)
{
  if (g_strcmp0 (severity, "critical") == 0)
    return 0;
  if (g_strcmp0 (severity, "warning") == 0)
    return 1;
  if (g_strcmp0 (severity, "info") == 0)
    return 2;
  /* An unknown severity from a newer broker sorts after the known ones. */
  return 3;
}
