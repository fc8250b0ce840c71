/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SyncHosts, the file part: one serialized read-modify-write of the hosts
 * file (hosts-block.h does the text).
 *
 * Serialized by a mutex (threads of one process) and an exclusive flock on
 * a lock file next to the hosts file, ".<name>.locald-lock" (other
 * processes; the hosts file itself is locked when no lock file can be made
 * there). The lock file is never replaced, so the lock stays meaningful
 * across replacements of the hosts file.
 *
 * Written atomically: the new contents go to ".<name>.locald-new" in the
 * same directory, get the old file's owner and mode, are fsync()ed and
 * renamed over the file, then the directory is fsync()ed. A crash leaves
 * the old file or the new one. Other links to the old inode, extended
 * attributes and ACLs are not carried over (the new file is a new inode).
 *
 * Where rename() cannot replace the file (EBUSY or EXDEV: the file is a
 * mount point, as a bind-mounted /etc/hosts in a container is; or EROFS /
 * EACCES on the directory: no file can be made next to it), the file is
 * rewritten in place with one pwrite() at offset 0, padded with newlines to
 * the old length when it shrinks, then truncated and fsync()ed. That write
 * is one system call: readers and a crash of this process see the old or
 * the new contents when they fit in one page (4096 bytes); a longer file
 * can be torn if the process is killed during the write, and on power loss
 * a torn or padded file is possible (the padding is blank lines, which every
 * resolver skips). See docs/security.md.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum
{
  HOSTS_WRITE_AUTO,     /* rename, in place where rename cannot */
  HOSTS_WRITE_IN_PLACE, /* in place only (tests) */
} HostsWriteMode;

/* Replaces uid's block of the hosts file at path (absolute; the file must
 * exist, be a regular file and not a symlink) with names, validated by
 * hosts_validate_names(). *ret_count is the number of names in the block.
 * *ret_in_place says whether the in-place path was taken (may be NULL).
 * Errors: BROKER_ERROR_NOT_OWNER (a name is another uid's),
 * BROKER_ERROR_NOT_FOUND (no hosts file), BROKER_ERROR_FAILED (malformed
 * file, I/O). Nothing is changed on error. */
gboolean hosts_file_sync (const char *path,
                          uid_t uid,
                          const char *const *names,
                          HostsWriteMode mode,
                          guint *ret_count,
                          gboolean *ret_in_place,
                          GError **error);

/* Reads the hosts file (bounded by HOSTS_FILE_MAX_BYTES) and returns uid's
 * names; no lock (a reader sees an old or a new file, never half). */
char **hosts_file_list (const char *path, uid_t uid, GError **error);

G_END_DECLS
