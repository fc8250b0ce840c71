/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-fixture: what only root can set up for a benchmark row, run by
 * bench/run on the driver's request (the driver runs unprivileged).
 *
 *   bench-fixture procs CGROUP-DIR N UID GID
 *       N sleeping processes of UID:GID in the cgroup CGROUP-DIR (an
 *       unprivileged process may not move itself into its delegated
 *       subtree from outside it); returns once cgroup.procs lists N
 *   bench-fixture tree DIR N
 *       a root-owned tree of N entries at DIR (bench-tree.c), the
 *       leftovers CleanupPath exists for
 */
#include "config.h"

#include "bench-tree.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned
count_procs (const char *dir)
{
  char path[4096], buf[65536];
  unsigned n = 0;
  ssize_t r;
  int fd;

  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  while ((r = read (fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < r; i++)
      n += buf[i] == '\n';
  close (fd);
  return n;
}

static int
procs (const char *dir, unsigned n, uid_t uid, gid_t gid)
{
  pid_t leader = fork ();

  if (leader < 0)
    return 1;
  if (leader == 0)
    {
      char path[4096], pid[32];
      int fd;

      /* Into the cgroup first (as root), then become the user: children
       * are born there. */
      snprintf (path, sizeof path, "%s/cgroup.procs", dir);
      snprintf (pid, sizeof pid, "%d", (int) getpid ());
      fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, pid, strlen (pid)) < 0)
        _exit (1);
      close (fd);
      if (setgroups (0, NULL) < 0 || setresgid (gid, gid, gid) < 0 || setresuid (uid, uid, uid) < 0)
        _exit (1);
      setsid ();
      signal (SIGCHLD, SIG_IGN); /* nobody waits for them: no zombies */
      for (unsigned i = 1; i < n; i++)
        {
          pid_t c = fork ();
          if (c == 0)
            for (;;)
              pause ();
          if (c < 0)
            _exit (1);
        }
      for (;;)
        pause ();
    }
  for (int tries = 0; tries < 6000; tries++)
    {
      if (count_procs (dir) >= n)
        return 0;
      usleep (10000);
    }
  fprintf (stderr, "bench-fixture: %s holds %u of %u processes\n", dir, count_procs (dir), n);
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc == 6 && !strcmp (argv[1], "procs"))
    return procs (argv[2], (unsigned) strtoul (argv[3], NULL, 10), (uid_t) strtoul (argv[4], NULL, 10),
                  (gid_t) strtoul (argv[5], NULL, 10));
  if (argc == 4 && !strcmp (argv[1], "tree"))
    {
      int r = bench_tree_make (argv[2], (unsigned) strtoul (argv[3], NULL, 10));
      if (r < 0)
        fprintf (stderr, "bench-fixture: %s: %s\n", argv[2], strerror (-r));
      return r < 0;
    }
  fprintf (stderr, "usage: %s procs CGROUP-DIR N UID GID | tree DIR N\n", argv[0]);
  return 2;
}
