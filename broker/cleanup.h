/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * CleanupPath: removal of a tree strictly beneath a ".locald" directory owned
 * by the caller. Synchronous and bus-free; the daemon runs it in a worker
 * thread, the unit tests call it directly.
 */

#include <glib.h>
#include <sys/types.h>

#include "cleanup-tree.h"

G_BEGIN_DECLS

/* Syntax only, no file system access: absolute, at most PATH_MAX-1 bytes,
 * valid UTF-8 (what a D-Bus string can carry), no "..", "." or empty
 * components, no trailing '/', no control characters,
 * components at most NAME_MAX, a ".locald" component that is not the last
 * one. BROKER_ERROR_INVALID_ARGS otherwise. */
gboolean cleanup_validate_path (const char *path, GError **error);

/* caller_gids[0] is the caller's primary group (caller_gids may be NULL when
 * n_caller_gids is 0).
 *
 * Removes the entry at path (a file, a symlink - never its target - or a
 * whole directory tree) after:
 *  - resolving the prefix before the first ".locald" component one component
 *    at a time from "/", following a symlink only when it is owned by root;
 *  - on the way to ".locald" (each directory of the prefix, a trusted link's
 *    target included, and the directory holding ".locald"), looking only into
 *    directories the caller could search, as the kernel judges it from the
 *    mode bits and the POSIX access ACL with caller_uid and caller_gids; uid
 *    0 may always search (see caller_may_search() in cleanup.c for what is
 *    not consulted). Otherwise: BROKER_ERROR_NOT_FOUND "no .locald directory
 *    owned by you is reachable at <path>; check the path", the same whatever
 *    lies there, so the call reveals nothing the caller could not see;
 *  - opening ".locald" without following symlinks and checking it is a
 *    directory owned by caller_uid (BROKER_ERROR_NOT_OWNER otherwise);
 *  - walking the rest with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 *    RESOLVE_NO_XDEV) (a symlink there: BROKER_ERROR_UNSAFE_PATH), each
 *    directory on the way owned by root or caller_uid;
 *  - the owner rule: only entries owned by root or by caller_uid are
 *    removed. Another user's entry anywhere in the tree (or a directory of
 *    theirs on the way) fails the call with BROKER_ERROR_NOT_OWNER naming
 *    it; a first pass checks every owner before anything is removed (see
 *    cleanup-tree.h).
 * The tree is removed by file descriptors (unlinkat), iteratively, never
 * following symlinks and never crossing a mount point
 * (BROKER_ERROR_CROSSES_MOUNT names the entry). A missing ".locald":
 * BROKER_ERROR_NOT_FOUND; a missing target: success with 0 removed.
 * *ret_removed counts entries removed, also on failure. */
gboolean cleanup_remove_beneath_locald_for (const char *path,
                                            uid_t caller_uid,
                                            const gid_t *caller_gids,
                                            gsize n_caller_gids,
                                            guint64 *ret_removed,
                                            GError **error);

/* The same, with flags: CLEANUP_TREE_UNPRIVILEGED when the caller runs it
 * itself without privilege (the client library's fast path): the same
 * checks, the same walk, the same errors, except that what the kernel does
 * not let the caller do is left to the broker - G_IO_ERROR_PERMISSION_DENIED,
 * with *ret_removed counting what the caller removed (cleanup-tree.h); so is
 * a directory on the way whose ACL the caller cannot read.
 * caller_uid and caller_gids are then the calling process's own. */
gboolean cleanup_remove_beneath_locald_full (const char *path,
                                             uid_t caller_uid,
                                             const gid_t *caller_gids,
                                             gsize n_caller_gids,
                                             CleanupTreeFlags flags,
                                             guint64 *ret_removed,
                                             GError **error);

/* The same with the caller's groups looked up from the user database
 * (getpwuid_r() and getgrouplist(), thread-safe): the primary group of the
 * passwd entry, then the supplementary ones. A uid without a passwd entry has
 * no groups, so no group class or group entry lets it in. Prefer the _for variant
 * with the groups the bus reports for the caller's connection. */
gboolean
cleanup_remove_beneath_locald (const char *path, uid_t caller_uid, guint64 *ret_removed, GError **error);

G_END_DECLS
