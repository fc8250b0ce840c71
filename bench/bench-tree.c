/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files per directory: wide enough that the tree is mostly files, as a
 * build or container tree is, narrow enough to keep directories cheap. */
#define FILES_PER_DIR 100

int
bench_tree_make (const char *top, unsigned entries)
{
  int top_fd, dir_fd = -1;
  unsigned made = 1, in_dir = FILES_PER_DIR, n_dirs = 0;
  char name[32];

  if (mkdir (top, 0755) < 0)
    return -errno;
  top_fd = open (top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top_fd < 0)
    return -errno;
  while (made < entries)
    {
      if (in_dir == FILES_PER_DIR)
        {
          snprintf (name, sizeof name, "d%u", n_dirs++);
          if (dir_fd >= 0)
            close (dir_fd);
          if (mkdirat (top_fd, name, 0755) < 0
              || (dir_fd = openat (top_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            goto fail;
          made++;
          in_dir = 0;
          continue;
        }
      snprintf (name, sizeof name, "f%u", in_dir++);
      {
        int fd = openat (dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
          goto fail;
        close (fd);
      }
      made++;
    }
  if (dir_fd >= 0)
    close (dir_fd);
  close (top_fd);
  return 0;

fail:
  {
    int e = errno;
    if (dir_fd >= 0)
      close (dir_fd);
    close (top_fd);
    return -e;
  }
}

static int
remove_at (int dir_fd, const char *name, unsigned long *count)
{
  struct dirent *de;
  DIR *d;
  int fd;

  if (unlinkat (dir_fd, name, 0) == 0)
    {
      ++*count;
      return 0;
    }
  if (errno != EISDIR)
    return errno == ENOENT ? 0 : -errno;
  fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  d = fdopendir (fd);
  if (!d)
    {
      close (fd);
      return -errno;
    }
  while ((de = readdir (d)))
    {
      int r;
      if (!strcmp (de->d_name, ".") || !strcmp (de->d_name, ".."))
        continue;
      r = remove_at (dirfd (d), de->d_name, count);
      if (r < 0)
        {
          closedir (d);
          return r;
        }
    }
  closedir (d);
  if (unlinkat (dir_fd, name, AT_REMOVEDIR) < 0)
    return -errno;
  ++*count;
  return 0;
}

int
bench_tree_remove (const char *top, unsigned long *count)
{
  return remove_at (AT_FDCWD, top, count);
}
