/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SelfCheck: the readiness report. Probes are real but non-destructive: the
 * capability check reads the process's own sets, and the privilege smoke test
 * creates and removes a probe cgroup. Runs in a worker thread.
 */

#include "cgroup.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct
{
  char *id;       /* stable: "cgroup.root_ready" */
  char *severity; /* "critical" | "warning" | "info" */
  char *summary;
  GHashTable *evidence; /* char* -> char* */
  char *fix;            /* stable key: "run_admin_setup" */
} SelfCheckProblem;

typedef struct
{
  char *strategy;
  char *strategy_reason;
  char *mode;          /* "enabled" | "degraded" */
  GPtrArray *problems; /* SelfCheckProblem* */
  GHashTable *facts;   /* char* -> char* */
} SelfCheckReport;

typedef struct
{
  const CgroupLayout *layout; /* layout->mount is NULL when no cgroup2 was found */
  gboolean systemd_strategy;
  const char *strategy_reason;
  uid_t caller_uid;
} SelfCheckInput;

SelfCheckReport *selfcheck_run (const SelfCheckInput *input);
void selfcheck_report_free (SelfCheckReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SelfCheckReport, selfcheck_report_free)

G_END_DECLS
