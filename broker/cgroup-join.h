/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * JoinCgroup: moving the calling process into a cgroup below its own
 * delegated subtree. An unprivileged process cannot do this itself: the
 * kernel lets a process migrate only when the writer may write cgroup.procs
 * of the common ancestor of source and destination, and a user's session
 * cgroup and its locald subtree share only root-owned ancestors.
 *
 * The process is pinned with a pidfd before anything is moved, its owner is
 * checked through the pidfd where the kernel can say (PIDFD_GET_INFO), and
 * the move counts only when the pinned process is still alive afterwards:
 * while it lives its PID cannot name anyone else, so a recycled PID is never
 * what was moved.
 */

#include "cgroup.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A process pinned for a join: pid and a pidfd referring to it. */
typedef struct
{
  pid_t pid;
  int pidfd;
} CgroupJoinTarget;

void cgroup_join_target_clear (CgroupJoinTarget *target);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CgroupJoinTarget, cgroup_join_target_clear)

/* Pins process `pid`, which must belong to `uid` (its effective uid, where
 * the kernel reports it through the pidfd). BROKER_ERROR_NOT_FOUND when it is
 * gone, BROKER_ERROR_NOT_OWNER when it belongs to someone else. */
gboolean cgroup_join_pin (pid_t pid, uid_t uid, CgroupJoinTarget *ret, GError **error);

/* FALSE (with BROKER_ERROR_NOT_FOUND) once the pinned process has exited. */
gboolean cgroup_join_still_alive (const CgroupJoinTarget *target, GError **error);

/* Opens the caller's delegated subtree (<root>/<user name>) below the open
 * cgroup2 mount. A missing or undelegated subtree is BROKER_ERROR_NOT_SET_UP,
 * with the fix in the message. */
int cgroup_join_open_subtree (int mount_fd, const CgroupLayout *layout, uid_t uid, GError **error);

/* Opens `cgroup_rel` (validated with cgroup_validate_relative()) below the
 * open subtree, creating what is missing and delegating each new directory
 * to uid as SetupCgroupRoot delegates the subtree. */
int cgroup_join_ensure_path (
    int subtree_fd, const char *cgroup_rel, uid_t uid, const char *shown, GError **error);

/* What both strategies do before the move: validates, opens the caller's
 * subtree (BROKER_ERROR_NOT_SET_UP when missing) and opens <subtree>/
 * <cgroup_rel>, creating what is missing. Returns its fd and, in
 * *ret_shown, its cgroup path ("/locald/user-1000/svc/web"). */
int cgroup_join_prepare (
    const CgroupLayout *layout, uid_t uid, const char *cgroup_rel, char **ret_shown, GError **error);

/* Direct strategy: moves the process pinned in `target` into
 * <subtree>/<cgroup_rel>, creating it as needed. Returns the cgroup path as
 * /proc/PID/cgroup shows it ("/locald/user-1000/svc/web"). */
gboolean cgroup_direct_join (const CgroupLayout *layout,
                             uid_t uid,
                             const CgroupJoinTarget *target,
                             const char *cgroup_rel,
                             char **ret_cgroup_path,
                             GError **error);

G_END_DECLS
