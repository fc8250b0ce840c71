/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-tree.h"

#include <errno.h>
#include <fcntl.h>
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
          if (mkdirat (top_fd, name, 0755) < 0 || (dir_fd = openat (top_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
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
