/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The removal walk of CleanupPath: deletes one entry of a directory and, if
 * it is a directory, everything below it, by file descriptors only.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Removes `name` inside the directory parent_fd (which may be an O_PATH fd):
 * a non-directory with unlinkat() - a symlink is removed, never followed - or
 * a directory tree bottom-up. Each directory is opened with openat2(
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV) and must sit on the
 * same mount as parent_fd; a mount point stops the walk with
 * BROKER_ERROR_CROSSES_MOUNT and is left alone. No recursion and a bounded
 * number of open directories: ancestors that were closed are re-opened
 * through ".." and must be the very directory seen before (device, inode,
 * mount), or the walk stops with BROKER_ERROR_UNSAFE_PATH.
 *
 * Only entries owned by root or by caller_uid are removed: a first pass
 * removes nothing and checks every owner, so another user's entry anywhere
 * in the tree fails the call with BROKER_ERROR_NOT_OWNER naming it before
 * anything is gone; the removal pass checks each owner again right before
 * the unlinkat() and stops the same way at an entry that appeared meanwhile,
 * except in directories nobody but root and the caller can have written
 * since the first pass read them (see walk_closed_to_others()).
 *
 * Entries that vanish meanwhile are not an error; a missing `name` removes
 * nothing. Errors name the entry relative to the .locald directory:
 * locald_path is that directory (for messages) and where the directory of
 * parent_fd relative to it ("" when parent_fd is .locald itself).
 * *ret_removed is set to the number of entries removed, also on failure. */
typedef enum
{
  CLEANUP_TREE_DEFAULT = 0,
  /* The caller is the tree's unprivileged owner (the client library's fast
   * path), not the broker: where the first pass cannot look into a part of
   * the tree (EACCES, EPERM), nothing is removed and the call fails with
   * G_IO_ERROR_PERMISSION_DENIED ("the broker decides"). Otherwise what the
   * kernel does not let the caller remove, and the directories holding it,
   * are left in place while the rest goes; a directory the caller may not
   * write is left whole without being read. When anything was left, fails
   * with G_IO_ERROR_PERMISSION_DENIED ("the broker must remove the rest"),
   * *ret_removed counting what went. Every other outcome is the same. */
  CLEANUP_TREE_UNPRIVILEGED = 1 << 0,
} CleanupTreeFlags;

gboolean cleanup_tree_remove (int parent_fd,
                              const char *name,
                              const char *locald_path,
                              const char *where,
                              uid_t caller_uid,
                              CleanupTreeFlags flags,
                              guint64 *ret_removed,
                              GError **error);

G_END_DECLS
