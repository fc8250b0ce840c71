/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The systemd strategy: used when PID 1 is systemd. The delegated subtree is
 * a transient scope created through systemd's D-Bus API (Delegate=yes), so
 * systemd knows about it and does not fight over the cgroup tree.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* TRUE when the host is booted with systemd (/run/systemd/system exists,
 * the check of sd_booted(3)); *ret_reason says why in words. */
gboolean cgroup_systemd_detect (char **ret_reason);

/* Asks the systemd manager on the system bus for the caller's delegated
 * scope (see cgroup-systemd.c for the unit name and properties), waits for
 * its job, and returns its ControlGroup path. Idempotent. */
gboolean cgroup_systemd_setup (uid_t uid, pid_t caller_pid, char **ret_cgroup_path, GError **error);

G_END_DECLS
