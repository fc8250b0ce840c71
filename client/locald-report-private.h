/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "client/locald-broker.h"

/* 0 critical, 1 warning, 2 info, 3 anything else: lower sorts first. */
int _locald_severity_rank (const char *severity);

/* Position of a fix key in the documented priority order. */
int _locald_fix_rank (const char *fix_key);

LocaldFix *_locald_fix_new (const char *key, const char *severity, const char *const *problem_ids);

/* Builds a report from SelfCheck's out arguments. */
LocaldReport *_locald_report_new_from_self_check (
    const char *strategy, const char *strategy_reason, const char *mode, GVariant *problems, GVariant *facts);
