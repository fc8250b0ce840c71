/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cleanup-fs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

int
cleanup_openat2 (int dirfd, const char *path, int flags, guint64 resolve)
{
  struct open_how how;
  long fd;

  g_return_val_if_fail (path != NULL, -EINVAL);
  g_return_val_if_fail ((flags & O_CLOEXEC) != 0, -EINVAL);
  g_return_val_if_fail ((flags & O_CREAT) == 0, -EINVAL);

  memset (&how, 0, sizeof how);
  how.flags = (guint64) flags;
  how.resolve = resolve;

  fd = syscall (SYS_openat2, dirfd, path, &how, sizeof how);
  if (fd < 0)
    return -errno;
  return (int) fd;
}

int
cleanup_fd_identity (int fd, CleanupIdentity *ret)
{
  struct statx stx;

  g_return_val_if_fail (fd >= 0, -EBADF);
  g_return_val_if_fail (ret != NULL, -EINVAL);

  if (statx (fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
             STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_MNT_ID, &stx)
      < 0)
    return -errno;
  if ((stx.stx_mask & STATX_MNT_ID) == 0 || (stx.stx_mask & STATX_INO) == 0)
    return -EOPNOTSUPP;

  ret->dev = makedev (stx.stx_dev_major, stx.stx_dev_minor);
  ret->ino = stx.stx_ino;
  ret->mnt_id = stx.stx_mnt_id;
  ret->mode = stx.stx_mode;
  ret->uid = stx.stx_uid;
  return 0;
}

gboolean
cleanup_fs_has_posix_permissions (int fd)
{
  struct statfs sfs;

  if (fstatfs (fd, &sfs) < 0)
    return FALSE;
  /* f_type's width and signedness differ between architectures. */
  switch ((guint32) sfs.f_type)
    {
    case TMPFS_MAGIC:
    case EXT4_SUPER_MAGIC: /* also ext2 and ext3 */
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
      return TRUE;
    default:
      return FALSE;
    }
}

/* One component, never a symlink. On ENOTDIR/ELOOP the entry is looked at
 * again only to report a symlink as -ELOOP, as openat2() would. */
static int
open_component (int dirfd, const char *name, int flags)
{
  struct stat st;
  int fd;

  fd = openat (dirfd, name, flags | O_NOFOLLOW);
  if (fd < 0)
    {
      int err = errno;
      if ((err == ENOTDIR || err == ELOOP) && fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISLNK (st.st_mode) ? -ELOOP : -ENOTDIR;
      return -err;
    }
  /* O_PATH|O_NOFOLLOW opens a symlink itself instead of failing. */
  if (fstat (fd, &st) < 0)
    {
      int err = errno;
      close (fd);
      return -err;
    }
  if (S_ISLNK (st.st_mode))
    {
      close (fd);
      return -ELOOP;
    }
  return fd;
}

static int
open_no_symlinks_fallback (int dirfd, const char *path, int flags, CleanupOpenScope scope)
{
  gboolean beneath = scope != CLEANUP_OPEN_ANYWHERE;
  g_auto (GStrv) parts = NULL;
  CleanupIdentity start;
  int cur = -1;
  guint n;
  int r;

  if (path[0] == '/')
    {
      if (beneath)
        return -EXDEV;
      dirfd = AT_FDCWD;
      cur = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
  else
    cur = fcntl (dirfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return -errno;
  r = cleanup_fd_identity (cur, &start);
  if (r < 0)
    {
      close (cur);
      return r;
    }

  parts = g_strsplit (path, "/", -1);
  n = g_strv_length (parts);
  for (guint i = 0; i < n; i++)
    {
      const char *c = parts[i];
      gboolean last = TRUE;
      int next;

      for (guint j = i + 1; j < n; j++)
        if (*parts[j] != '\0' && !g_str_equal (parts[j], "."))
          last = FALSE;
      if (*c == '\0' || g_str_equal (c, "."))
        {
          if (!last)
            continue;
          c = ".";
        }
      if (beneath && g_str_equal (c, ".."))
        {
          close (cur);
          return -EXDEV;
        }

      next = open_component (cur, c, last ? flags : (O_PATH | O_DIRECTORY | O_CLOEXEC));
      close (cur);
      if (next < 0)
        return next;
      cur = next;

      if (beneath)
        {
          CleanupIdentity id;
          r = cleanup_fd_identity (cur, &id);
          if (r < 0 || id.mnt_id != start.mnt_id)
            {
              close (cur);
              return r < 0 ? r : -EXDEV;
            }
        }
      if (last)
        break;
    }
  return cur;
}

/* Cleared on the first ENOSYS, so a kernel without openat2() costs one
 * failed call per process, not one per directory. */
static gint have_openat2 = 1;

void
cleanup_fs_set_openat2_enabled (gboolean enabled)
{
  g_atomic_int_set (&have_openat2, enabled ? 1 : 0);
}

int
cleanup_open_no_symlinks (int dirfd, const char *path, int flags, CleanupOpenScope scope)
{
  guint64 resolve = RESOLVE_NO_SYMLINKS;
  int fd;

  g_return_val_if_fail (path != NULL && *path != '\0', -EINVAL);

  if (g_atomic_int_get (&have_openat2))
    {
      if (scope != CLEANUP_OPEN_ANYWHERE)
        resolve |= RESOLVE_NO_XDEV;
      if (scope == CLEANUP_OPEN_BENEATH)
        resolve |= RESOLVE_BENEATH;
      fd = cleanup_openat2 (dirfd, path, flags, resolve);
      if (fd != -ENOSYS)
        return fd;
      g_atomic_int_set (&have_openat2, 0);
    }
  return open_no_symlinks_fallback (dirfd, path, flags, scope);
}
