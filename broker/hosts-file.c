/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hosts-file.h"

#include "broker-error.h"
#include "fd-util.h"
#include "hosts-block.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Threads of one process; the flock below covers other processes. */
static GMutex hosts_mutex;

static void
set_io_error (GError **error, int e, const char *what, const char *path)
{
  g_set_error (error, BROKER_ERROR, e == ENOENT ? BROKER_ERROR_NOT_FOUND : BROKER_ERROR_FAILED,
               "Cannot %s %s: %s; nothing was changed.", what, path, g_strerror (e));
}

static gboolean
split_path (const char *path, char **ret_dir, char **ret_base, GError **error)
{
  if (path == NULL || path[0] != '/' || g_str_has_suffix (path, "/") || strstr (path, "/../") != NULL
      || g_str_has_suffix (path, "/.."))
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                   "The configured hosts file \"%s\" is not an absolute path to a file.", path ? path : "");
      return FALSE;
    }
  *ret_dir = g_path_get_dirname (path);
  *ret_base = g_path_get_basename (path);
  return TRUE;
}

/* Reads all of fd from offset 0, bounded. */
static char *
read_all (int fd, gsize *ret_length, const char *path, GError **error)
{
  g_autoptr (GString) buf = g_string_new (NULL);
  char chunk[8192];
  off_t off = 0;

  for (;;)
    {
      ssize_t n = pread (fd, chunk, sizeof chunk, off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_io_error (error, errno, "read", path);
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (buf, chunk, n);
      off += n;
      if (buf->len > HOSTS_FILE_MAX_BYTES)
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                       "The hosts file %s is larger than %d bytes; refusing to rewrite it.", path,
                       HOSTS_FILE_MAX_BYTES);
          return NULL;
        }
    }
  *ret_length = buf->len;
  return g_string_free (g_steal_pointer (&buf), FALSE);
}

static int
write_all_at (int fd, const char *data, gsize length, off_t offset)
{
  while (length > 0)
    {
      ssize_t n = pwrite (fd, data, length, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0)
        return -EIO;
      data += n;
      length -= (gsize) n;
      offset += n;
    }
  return 0;
}

/* The lock: an exclusive flock on ".<base>.locald-lock" in dir, or on the
 * hosts file itself when the directory cannot take a new file. Returns the
 * locked fd, or a negative errno. */
static int
take_lock (int dir_fd, const char *base, int hosts_fd)
{
  g_autofree char *name = g_strdup_printf (".%s.locald-lock", base);
  g_auto (BrokerFd) fd = openat (dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  struct stat st;

  if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM))
    fd = fcntl (hosts_fd, F_DUPFD_CLOEXEC, 3);
  else if (fd >= 0 && (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)))
    return -EINVAL;
  if (fd < 0)
    return -errno;
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return -errno;
  return broker_fd_steal (&fd);
}

/* Atomic replacement through a new file and rename(). Returns 0, or a
 * negative errno; -EBUSY, -EXDEV, -EROFS, -EACCES and -EPERM mean "this
 * directory cannot do it, write in place instead" (nothing was changed). */
static int
replace_by_rename (int dir_fd, const char *base, const struct stat *old, const char *data, gsize length)
{
  g_autofree char *tmp = g_strdup_printf (".%s.locald-new", base);
  g_auto (BrokerFd) fd = -1;
  int r;

  /* A fixed name: writers are serialized by the lock, and whatever a crash
   * left behind is simply replaced. */
  if (unlinkat (dir_fd, tmp, 0) < 0 && errno != ENOENT)
    return -errno;
  fd = openat (dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0)
    return -errno;
  if ((r = write_all_at (fd, data, length, 0)) < 0
      || (fchown (fd, old->st_uid, old->st_gid) < 0 && (r = -errno))
      || (fchmod (fd, old->st_mode & 07777) < 0 && (r = -errno)) || (fsync (fd) < 0 && (r = -errno)))
    {
      (void) unlinkat (dir_fd, tmp, 0);
      /* Not a reason to write in place: report it as it is. */
      return r == -EBUSY || r == -EXDEV || r == -EROFS || r == -EACCES || r == -EPERM ? -EIO : r;
    }
  if (renameat (dir_fd, tmp, dir_fd, base) < 0)
    {
      r = -errno;
      (void) unlinkat (dir_fd, tmp, 0);
      return r;
    }
  (void) fsync (dir_fd);
  return 0;
}

/* In place: one pwrite of the new contents, padded with newlines to the old
 * length when shorter (so a crash before the truncation leaves blank lines,
 * not the old file's tail), then ftruncate and fsync. */
static int
replace_in_place (int fd, gsize old_length, const char *data, gsize length)
{
  g_autofree char *padded = NULL;
  gsize write_length = length;
  int r;

  if (length < old_length)
    {
      padded = g_malloc (old_length);
      memcpy (padded, data, length);
      memset (padded + length, '\n', old_length - length);
      data = padded;
      write_length = old_length;
    }
  if ((r = write_all_at (fd, data, write_length, 0)) < 0)
    return r;
  if (ftruncate (fd, (off_t) length) < 0 || fsync (fd) < 0)
    return -errno;
  return 0;
}

static gboolean
is_rename_impossible (int r)
{
  return r == -EBUSY || r == -EXDEV || r == -EROFS || r == -EACCES || r == -EPERM;
}

gboolean
hosts_file_sync (const char *path,
                 uid_t uid,
                 const char *const *names,
                 HostsWriteMode mode,
                 guint *ret_count,
                 gboolean *ret_in_place,
                 GError **error)
{
  g_autofree char *dir = NULL, *base = NULL, *contents = NULL, *updated = NULL;
  g_auto (BrokerFd) dir_fd = -1;
  g_auto (BrokerFd) fd = -1;
  g_auto (BrokerFd) lock_fd = -1;
  gsize length = 0, updated_length = 0;
  struct stat st;
  int r;

  g_return_val_if_fail (names != NULL && ret_count != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (ret_in_place != NULL)
    *ret_in_place = FALSE;
  if (!split_path (path, &dir, &base, error))
    return FALSE;

  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&hosts_mutex);

  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    {
      set_io_error (error, errno, "open the directory of", path);
      return FALSE;
    }
  fd = openat (dir_fd, base, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;
      if (e == ELOOP)
        g_set_error (
            error, BROKER_ERROR, BROKER_ERROR_FAILED,
            "The hosts file %s is a symbolic link; the broker does not write through links. Configure "
            "the link's target as the hosts file.",
            path);
      else
        set_io_error (error, e, "open", path);
      return FALSE;
    }
  lock_fd = take_lock (dir_fd, base, fd);
  if (lock_fd < 0)
    {
      set_io_error (error, -lock_fd, "lock", path);
      return FALSE;
    }
  /* Opened before the lock: a writer that held it may have replaced the
   * file meanwhile. Read what is there now. */
  broker_fd_clear (&fd);
  fd = openat (dir_fd, base, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      set_io_error (error, errno, "open", path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "The hosts file %s is not a regular file.",
                   path);
      return FALSE;
    }

  contents = read_all (fd, &length, path, error);
  if (contents == NULL)
    return FALSE;
  updated = hosts_rewrite (contents, length, uid, names, &updated_length, error);
  if (updated == NULL)
    return FALSE;
  *ret_count = g_strv_length ((char **) names);
  if (updated_length == length && memcmp (updated, contents, length) == 0)
    return TRUE; /* already so: nothing to write */

  r = mode == HOSTS_WRITE_IN_PLACE ? -EBUSY : replace_by_rename (dir_fd, base, &st, updated, updated_length);
  if (is_rename_impossible (r))
    {
      if (ret_in_place != NULL)
        *ret_in_place = TRUE;
      r = replace_in_place (fd, length, updated, updated_length);
    }
  if (r < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot write the hosts file %s: %s.", path,
                   g_strerror (-r));
      return FALSE;
    }
  return TRUE;
}

char **
hosts_file_list (const char *path, uid_t uid, GError **error)
{
  g_auto (BrokerFd) fd = -1;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      set_io_error (error, errno, "open", path);
      return NULL;
    }
  contents = read_all (fd, &length, path, error);
  if (contents == NULL)
    return NULL;
  return hosts_block_names (contents, length, uid, error);
}
