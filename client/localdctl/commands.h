/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* What every command needs from the command line. */
typedef struct
{
  gboolean json;
  gboolean verbose;
  gboolean no_ask_password;
  const char *hosts_file; /* hosts list: the file to read (default /etc/hosts) */
} LocaldctlOptions;

int localdctl_cmd_doctor (const LocaldctlOptions *opts);
int localdctl_cmd_setup (const LocaldctlOptions *opts);
int localdctl_cmd_kill (const LocaldctlOptions *opts, const char *cgroup);
int localdctl_cmd_cleanup (const LocaldctlOptions *opts, const char *path);
/* Joins CGROUP (JoinCgroup), then replaces itself with COMMAND. */
int localdctl_cmd_run (const LocaldctlOptions *opts, const char *cgroup, char **command);
/* Gets a socket bound to ADDRESS:PORT (BindPort), listens on it, and
 * replaces itself with COMMAND, the socket as fd 3 with LISTEN_FDS=1 and
 * LISTEN_PID set as systemd's socket activation does. */
int localdctl_cmd_bind (const LocaldctlOptions *opts, const char *address, const char *port, char **command);
/* SyncHosts with names (none: clear the block). */
int localdctl_cmd_hosts_sync (const LocaldctlOptions *opts, char **names);
/* Reads the hosts file and prints the caller's block; no broker call. */
int localdctl_cmd_hosts_list (const LocaldctlOptions *opts);
/* Keeps descriptor 3 taken (by /dev/null, close-on-exec) until bind puts
 * the socket there, so no library opens something of its own at 3. */
void localdctl_reserve_fd3 (void);
