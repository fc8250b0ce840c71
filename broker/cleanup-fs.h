/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small file-descriptor helpers for CleanupPath: an fd that closes itself,
 * openat2() (glibc has no wrapper) and the identity of an open directory
 * (device, inode and mount id, the latter because bind mounts of one file
 * system share st_dev). Functions return 0 / a new fd, or a negative errno.
 */

#include <glib.h>
#include <errno.h>
#include <unistd.h>

G_BEGIN_DECLS

typedef int CleanupFd;

static inline void
cleanup_fd_clear (CleanupFd *fd)
{
  if (*fd >= 0)
    {
      int saved_errno = errno;
      close (*fd);
      errno = saved_errno;
      *fd = -1;
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CleanupFd, cleanup_fd_clear)

/* Hands the fd over to the caller, leaving -1 behind. */
static inline int
cleanup_fd_steal (CleanupFd *fd)
{
  int ret = *fd;
  *fd = -1;
  return ret;
}

/* openat2(dirfd, path, {flags, 0, resolve}); a new fd or -errno. flags must
 * include O_CLOEXEC and must not include O_CREAT. */
int cleanup_openat2 (int dirfd, const char *path, int flags, guint64 resolve);

typedef struct {
  guint64 dev;
  guint64 ino;
  guint64 mnt_id;
  guint32 mode;
  guint32 uid;
} CleanupIdentity;

/* The identity of an open fd (any kind, O_PATH included). Fails with
 * -EOPNOTSUPP when the kernel does not report a mount id: without it a bind
 * mount cannot be told apart, so callers must fail closed. */
int cleanup_fd_identity (int fd, CleanupIdentity *ret);

static inline gboolean
cleanup_identity_same_inode (const CleanupIdentity *a, const CleanupIdentity *b)
{
  return a->dev == b->dev && a->ino == b->ino;
}

G_END_DECLS
