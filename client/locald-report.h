/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(LOCALD_BROKER_INSIDE) && !defined(LOCALD_BROKER_COMPILATION)
#error "Only <locald-broker.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#include "locald-names.h"

/**
 * LocaldProblem:
 *
 * One finding of a readiness check: a stable id, a severity ("critical",
 * "warning" or "info"), a one-line summary, evidence (key → value) and the
 * key of the fix that resolves it. Reference counted.
 */
typedef struct _LocaldProblem LocaldProblem;

#define LOCALD_TYPE_PROBLEM (locald_problem_get_type ())
GType locald_problem_get_type (void) G_GNUC_CONST;

LocaldProblem *
locald_problem_new (const char *id, const char *severity, const char *summary, const char *fix);
LocaldProblem *locald_problem_ref (LocaldProblem *problem);
void locald_problem_unref (LocaldProblem *problem);
void locald_problem_add_evidence (LocaldProblem *problem, const char *key, const char *value);
const char *locald_problem_get_id (LocaldProblem *problem);
const char *locald_problem_get_severity (LocaldProblem *problem);
const char *locald_problem_get_summary (LocaldProblem *problem);
const char *locald_problem_get_fix (LocaldProblem *problem);
GHashTable *locald_problem_get_evidence (LocaldProblem *problem);
const char *locald_problem_get_evidence_value (LocaldProblem *problem, const char *key);
gboolean locald_problem_is_critical (LocaldProblem *problem);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LocaldProblem, locald_problem_unref)

/**
 * LocaldFix:
 *
 * One consolidated remediation: the fix key, the worst severity among the
 * problems it resolves, a human text, and the ids of those problems.
 * Reference counted.
 */
typedef struct _LocaldFix LocaldFix;

#define LOCALD_TYPE_FIX (locald_fix_get_type ())
GType locald_fix_get_type (void) G_GNUC_CONST;

LocaldFix *locald_fix_ref (LocaldFix *fix);
void locald_fix_unref (LocaldFix *fix);
const char *locald_fix_get_key (LocaldFix *fix);
const char *locald_fix_get_severity (LocaldFix *fix);
const char *locald_fix_get_text (LocaldFix *fix);
const char *const *locald_fix_get_problem_ids (LocaldFix *fix);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LocaldFix, locald_fix_unref)

const char *locald_fix_describe (const char *fix_key);

#define LOCALD_TYPE_REPORT (locald_report_get_type ())
G_DECLARE_FINAL_TYPE (LocaldReport, locald_report, LOCALD, REPORT, GObject)

LocaldReport *locald_report_new (const char *strategy, const char *strategy_reason, const char *mode);
const char *locald_report_get_strategy (LocaldReport *self);
const char *locald_report_get_strategy_reason (LocaldReport *self);
const char *locald_report_get_mode (LocaldReport *self);
void locald_report_set_mode (LocaldReport *self, const char *mode);
void locald_report_add_problem (LocaldReport *self, LocaldProblem *problem);
GPtrArray *locald_report_get_problems (LocaldReport *self);
void locald_report_set_fact (LocaldReport *self, const char *key, const char *value);
GHashTable *locald_report_get_facts (LocaldReport *self);
const char *locald_report_get_broker_version (LocaldReport *self);
guint locald_report_get_broker_api_version (LocaldReport *self);
void locald_report_set_broker_version (LocaldReport *self, const char *version, guint api_version);
gboolean locald_report_has_critical (LocaldReport *self);
LocaldProblem *locald_report_find_problem (LocaldReport *self, const char *id);
GPtrArray *locald_report_get_fixes (LocaldReport *self);

G_END_DECLS
