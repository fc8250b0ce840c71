/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * fd-level cgroupfs helpers shared by the cgroup operations (cgroup.c,
 * cgroup-join.c, cgroup-systemd.c). Not part of the operations' interface:
 * each takes directory fds that the caller opened safely.
 */

#include "cgroup.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The cgroup2 mount of the layout as an O_DIRECTORY fd, checked to be
 * cgroup2 (statfs). -1 with BROKER_ERROR_UNSUPPORTED otherwise. */
int cgroup_open_mount (const CgroupLayout *layout, GError **error);

/* A new open file description for a cgroup below top_fd ("" is top_fd
 * itself), never following symlinks; -1 when it cannot be opened. */
int cgroup_open_node (int top_fd, const char *rel);

/* Reads / writes (one write(2)) a small cgroup interface file below dirfd,
 * without following symlinks. 0 or -errno. */
int cgroup_read_at (int dirfd, const char *name, char **ret);
int cgroup_write_at (int dirfd, const char *name, const char *value);

/* mkdir (if needed) and open one cgroup directory `name` below parent_fd,
 * refusing anything that is not a directory of the same file system.
 * `shown_path` names it in messages. */
int cgroup_ensure_dir (int parent_fd, const char *name, const char *shown_path, GError **error);

/* cgroup v2 delegation of the open cgroup fd to uid: the directory,
 * cgroup.procs, cgroup.subtree_control and cgroup.threads. */
gboolean cgroup_delegate_to (int fd, uid_t uid, const char *shown_path, GError **error);

/* The pids listed in cgroup.procs of the open cgroup fd (pid_t). */
GArray *cgroup_read_pids (int fd);

G_END_DECLS
