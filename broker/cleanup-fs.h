/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small file-descriptor helpers for CleanupPath: openat2() (glibc has no
 * wrapper) and the identity of an open directory (device, inode and mount
 * id, the latter because bind mounts of one file system share st_dev). Functions return 0 / a new fd, or a
 * negative errno.
 */

#include <glib.h>

#include "fd-util.h"

G_BEGIN_DECLS

/* openat2(dirfd, path, {flags, 0, resolve}); a new fd or -errno. flags must
 * include O_CLOEXEC and must not include O_CREAT. */
int cleanup_openat2 (int dirfd, const char *path, int flags, guint64 resolve);

typedef enum
{
  CLEANUP_OPEN_ANYWHERE,   /* any path, across mounts */
  CLEANUP_OPEN_SAME_MOUNT, /* relative, no "..", on dirfd's mount (RESOLVE_NO_XDEV) */
  CLEANUP_OPEN_BENEATH,    /* the same, and RESOLVE_BENEATH as well */
} CleanupOpenScope;

/* Opens path (relative to dirfd, or absolute with CLEANUP_OPEN_ANYWHERE)
 * without following any symlink: openat2(RESOLVE_NO_SYMLINKS plus what the
 * scope asks for). Where openat2() is missing (old kernels, seccomp filters,
 * valgrind) the same rules are applied one component at a time with
 * openat(O_NOFOLLOW) and mount-id comparisons. A symlink on the way: -ELOOP;
 * leaving dirfd or its mount when the scope forbids it: -EXDEV. */
int cleanup_open_no_symlinks (int dirfd, const char *path, int flags, CleanupOpenScope scope);

/* Tests only: use the openat() fallback even where openat2() exists, so both
 * ways are exercised on every machine. Process-wide. */
void cleanup_fs_set_openat2_enabled (gboolean enabled);

typedef struct
{
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

/* TRUE if fd is on a local file system whose permissions are its mode bits
 * and POSIX ACLs and nothing else (tmpfs, ext2/3/4, XFS, Btrfs), so that
 * the mode bits tell who may write a directory. FALSE for any other file
 * system, and if that cannot be told. */
gboolean cleanup_fs_has_posix_permissions (int fd);

static inline gboolean
cleanup_identity_same_inode (const CleanupIdentity *a, const CleanupIdentity *b)
{
  return a->dev == b->dev && a->ino == b->ino;
}

G_END_DECLS
