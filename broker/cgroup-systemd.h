/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The systemd strategy: used when PID 1 is systemd. The delegated subtree is
 * a transient scope created through systemd's D-Bus API (Delegate=yes), so
 * systemd knows about it and does not fight over the cgroup tree.
 */

#include "cgroup-join.h"
#include "cgroup.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* TRUE when the host is booted with systemd (/run/systemd/system exists,
 * the check of sd_booted(3)); *ret_reason says why in words. */
gboolean cgroup_systemd_detect (char **ret_reason);

/* Asks the systemd manager on the system bus for the caller's delegated
 * scope (see cgroup-systemd.c for the unit name, its properties and the
 * keeper process that keeps it alive), waits for its job, and returns its
 * ControlGroup path. Idempotent; gives a scope without a keeper a new one. */
gboolean cgroup_systemd_setup (const CgroupLayout *layout, uid_t uid, char **ret_cgroup_path, GError **error);

/* JoinCgroup under systemd: creates <scope>/<cgroup_rel> as needed and asks
 * systemd to move the pinned process there (AttachProcessesToUnit). A
 * missing scope is BROKER_ERROR_NOT_SET_UP. Returns the cgroup path. */
gboolean cgroup_systemd_join (const CgroupLayout *layout,
                              uid_t uid,
                              const CgroupJoinTarget *target,
                              const char *cgroup_rel,
                              char **ret_cgroup_path,
                              GError **error);

G_END_DECLS
