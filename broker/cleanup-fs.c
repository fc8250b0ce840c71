/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cleanup-fs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
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
             STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_MNT_ID, &stx) < 0)
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
