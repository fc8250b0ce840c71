/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * cgroup v2 work of the direct strategy: finding the hierarchy, creating and
 * delegating the per-user subtree, killing and pruning a cgroup. Everything
 * here is synchronous and bus-free; the daemon runs it in a worker thread and
 * the unit tests call it directly on a scratch cgroup.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct
{
  char *mount; /* absolute path of the cgroup2 mount point, e.g. "/sys/fs/cgroup/unified" */
  char *root;  /* locald root relative to the mount, no leading '/', e.g. "locald" or "scratch-42/locald" */
  gboolean systemd_scopes; /* systemd strategy: root is "locald.slice", subtrees "locald-user-<uid>.scope" */
} CgroupLayout;

void cgroup_layout_clear (CgroupLayout *layout);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CgroupLayout, cgroup_layout_clear)

/* Finds the first cgroup2 mount in a mountinfo file (normally
 * "/proc/self/mountinfo"), decoding octal escapes. No cgroup2 mount:
 * BROKER_ERROR_UNSUPPORTED. */
gboolean cgroup_find_v2_mount (const char *mountinfo_path, char **ret_mount, GError **error);

/* Checks a configured root name ("locald", "a/b"): relative, no "..", ".",
 * empty components or "cgroup.*" names. BROKER_ERROR_INVALID_ARGS otherwise. */
gboolean cgroup_validate_root (const char *root, GError **error);

/* Checks a caller-supplied cgroup relative to the caller's subtree (KillCgroup
 * argument): non-empty, not absolute, no "..", ".", empty components, trailing
 * '/', control characters, components longer than NAME_MAX or named
 * "cgroup.*" or starting with '.' (reserved for the broker's own cgroups);
 * at most 4096 bytes. BROKER_ERROR_INVALID_ARGS otherwise. */
gboolean cgroup_validate_relative (const char *cgroup, GError **error);

/* The name of the caller's delegated subtree inside the root: "user-<uid>",
 * or "locald-user-<uid>.scope" with the systemd strategy. */
char *cgroup_user_name (const CgroupLayout *layout, uid_t uid);

/* "/<root>/<user name>": the caller's delegated subtree as a cgroup path. */
char *cgroup_user_path (const CgroupLayout *layout, uid_t uid);

/* Opens the directory `path` (relative) below the directory fd `dirfd` with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV), so a
 * symlink, a ".." escape or a mount point on the way is refused instead of
 * followed. Returns a new O_CLOEXEC fd, or -1 with BROKER_ERROR_NOT_FOUND
 * (missing), BROKER_ERROR_UNSAFE_PATH (symlink, escape, not a directory),
 * BROKER_ERROR_CROSSES_MOUNT or BROKER_ERROR_FAILED. `what` names the path in
 * messages. */
int cgroup_open_beneath (int dirfd, const char *path, const char *what, GError **error);

/* Direct strategy: creates <mount>/<root> (enabling every controller the
 * parent offers) and <root>/user-<uid>, delegates the latter to uid (chown of
 * the directory, cgroup.procs, cgroup.subtree_control, cgroup.threads) and
 * enables controllers in it. Idempotent; repairs wrong ownership. Returns the
 * cgroup path of the subtree ("/locald/user-1000"). */
gboolean cgroup_direct_setup (const CgroupLayout *layout, uid_t uid, char **ret_cgroup_path, GError **error);

/* How long a kill waits for the cgroup to empty unless configured
 * otherwise (the broker's --kill-timeout, and the client's fast path). */
#define CGROUP_KILL_DEFAULT_TIMEOUT_MS 10000

typedef enum
{
  CGROUP_KILL_DEFAULT = 0,
  CGROUP_KILL_FORCE_FREEZE_FALLBACK = 1 << 0, /* tests: ignore cgroup.kill */
  /* The caller is the subtree's unprivileged owner (the client library's
   * fast path), not the broker: what only privilege can do is left to the
   * broker instead of tried. See cgroup_direct_kill(). */
  CGROUP_KILL_UNPRIVILEGED = 1 << 1,
} CgroupKillFlags;

/* Kills every process (any owner) in <root>/user-<uid>/<cgroup_rel> and its
 * descendants, waits up to timeout_ms for "populated 0" in cgroup.events,
 * then rmdirs the cgroups bottom-up. cgroup_rel must have passed
 * cgroup_validate_relative(). A missing cgroup (or user subtree) is success
 * with *ret_killed = 0. Does not empty in time: BROKER_ERROR_BUSY.
 *
 * With CGROUP_KILL_UNPRIVILEGED, whatever the kernel does not let the caller
 * do fails with G_IO_ERROR_PERMISSION_DENIED, which means "ask the broker
 * for the rest": a subtree it cannot open or does not see (another view of
 * the hierarchy), a kernel without cgroup.kill (the freeze + SIGKILL
 * fallback cannot signal other users' processes), a cgroup.kill it may not
 * write - all before anything was killed, *ret_killed = 0 - or, after the
 * kill, a cgroup directory it may not remove, with *ret_killed set to the
 * processes it killed. */
gboolean cgroup_direct_kill (const CgroupLayout *layout,
                             uid_t uid,
                             const char *cgroup_rel,
                             guint timeout_ms,
                             CgroupKillFlags flags,
                             guint32 *ret_killed,
                             GError **error);

/* Waits until the cgroup.events file open as events_fd shows `key value`
 * (e.g. "populated 0") or until `deadline` (monotonic µs); FALSE on timeout.
 * A cgroup removed while waiting counts as reaching the state. */
gboolean cgroup_events_wait (int events_fd, const char *key, const char *value, gint64 deadline);

G_END_DECLS
