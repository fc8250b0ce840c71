/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* What every command needs from the command line. */
typedef struct
{
  gboolean json;
  gboolean verbose;
  gboolean no_ask_password;
} LocaldctlOptions;

int localdctl_cmd_doctor (const LocaldctlOptions *opts);
int localdctl_cmd_setup (const LocaldctlOptions *opts);
int localdctl_cmd_kill (const LocaldctlOptions *opts, const char *cgroup);
int localdctl_cmd_cleanup (const LocaldctlOptions *opts, const char *path);
/* Joins CGROUP (JoinCgroup), then replaces itself with COMMAND. */
int localdctl_cmd_run (const LocaldctlOptions *opts, const char *cgroup, char **command);
