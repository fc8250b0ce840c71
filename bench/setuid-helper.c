/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * setuid-helper: the comparison point for bench-broker. It stands in for the
 * setuid-root shim that locald-brokerd replaces and does the same two
 * operations the way the shim did them, with nothing on top:
 *
 *   setuid-helper kill CGROUP-ROOT CGROUP
 *       <cgroup2 mount>/<CGROUP-ROOT>/user-<uid>/<CGROUP>: write cgroup.kill,
 *       wait for "populated 0", rmdir; prints the number of processes
 *       (a missing cgroup prints 0)
 *   setuid-helper cleanup PATH
 *       the shim's rule (absolute, a ".locald" component, no ".."), then
 *       remove the tree without following symlinks (bench-tree.c, the
 *       plainest recursive unlinkat walk); prints the entries
 *
 * <uid> is the caller: the real uid, or for a root process started by pkexec
 * or sudo the uid they record (PKEXEC_UID, SUDO_UID), so the three ways of
 * starting it do the same work.
 *
 * bench/run installs it mode 4750, owned by root and the bench user's group,
 * in the sandbox's throw-away directory, so only the bench user can run it
 * and only for the length of a run. Like the shim it asks no one whether the
 * caller may do this: that missing check is what the broker adds.
 *
 * Plain libc on purpose: a setuid program should link as little as possible,
 * and GLib is not meant to run setuid.
 */
#include "config.h"

#include "bench-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum
{
  EXIT_USAGE = 2,
  EXIT_NOT_SETUID = 3,
  EXIT_NO_CGROUP2 = 4,
  EXIT_OP_FAILED = 5,
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal (char *s)
{
  char *w = s;

  for (const char *r = s; *r; w++)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0'
          && r[3] <= '7')
        {
          *w = (char) (((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 4;
        }
      else
        *w = *r++;
    }
  *w = '\0';
}

/* Mount point of the first cgroup2 mount, or NULL. */
static char *
find_cgroup2_mount (void)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char *line = NULL, *found = NULL;
  size_t cap = 0;

  if (!f)
    return NULL;
  while (!found && getline (&line, &cap, f) > 0)
    {
      /* id parent major:minor root mount-point options [optional...] - fstype source super-options */
      char *sep = strstr (line, " - ");
      char *field, *save = NULL;
      int i = 0;

      if (!sep || strncmp (sep + 3, "cgroup2 ", 8) != 0)
        continue;
      *sep = '\0';
      for (field = strtok_r (line, " ", &save); field && i < 4; field = strtok_r (NULL, " ", &save))
        i++;
      if (field)
        {
          unescape_octal (field);
          found = strdup (field);
        }
    }
  free (line);
  fclose (f);
  return found;
}

/* The shim's rule for a caller-supplied relative path: no "." or ".."
 * component, no empty component. */
static int
valid_relative (const char *p)
{
  if (*p == '/')
    return 0;
  for (const char *c = p;; c++)
    {
      size_t len = strcspn (c, "/");

      if (len == 0 || (c[0] == '.' && (len == 1 || (len == 2 && c[1] == '.'))))
        return 0;
      c += len;
      if (*c == '\0')
        return 1;
    }
}

static unsigned
caller_uid (void)
{
  const char *vars[] = { "PKEXEC_UID", "SUDO_UID" };

  if (getuid () == 0)
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
      {
        const char *v = getenv (vars[i]);
        if (v && *v)
          return (unsigned) strtoul (v, NULL, 10);
      }
  return (unsigned) getuid ();
}

static int
populated (int events_fd)
{
  char buf[256];
  ssize_t n = pread (events_fd, buf, sizeof buf - 1, 0);

  if (n < 0)
    return 0;
  buf[n] = '\0';
  return strstr (buf, "populated 1") != NULL;
}

static int
do_kill (const char *root, const char *cgroup)
{
  char *mount_point = find_cgroup2_mount (), *dir = NULL;
  int fd, events, count = 0;
  char buf[65536];
  ssize_t n;

  if (!mount_point)
    {
      fprintf (stderr, "setuid-helper: no cgroup2 mount in /proc/self/mountinfo\n");
      return EXIT_NO_CGROUP2;
    }
  if (asprintf (&dir, "%s/%s/user-%u/%s", mount_point, root, caller_uid (), cgroup) < 0)
    return EXIT_FAILURE;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno != ENOENT)
        return EXIT_OP_FAILED;
      puts ("0");
      return EXIT_SUCCESS;
    }
  /* Count first, as the broker reports it. */
  {
    int procs = openat (fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    while (procs >= 0 && (n = read (procs, buf, sizeof buf)) > 0)
      for (ssize_t i = 0; i < n; i++)
        count += buf[i] == '\n';
    if (procs >= 0)
      close (procs);
  }
  events = openat (fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
  {
    int k = openat (fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
    if (k < 0 || write (k, "1", 1) != 1 || events < 0)
      return EXIT_OP_FAILED;
    close (k);
  }
  while (populated (events))
    {
      struct pollfd p = { .fd = events, .events = POLLPRI };
      (void) poll (&p, 1, 100);
    }
  close (events);
  close (fd);
  if (rmdir (dir) < 0)
    return EXIT_OP_FAILED;
  printf ("%d\n", count);
  free (dir);
  free (mount_point);
  return EXIT_SUCCESS;
}

static int
do_cleanup (const char *path)
{
  unsigned long count = 0;

  /* The shim's whole check: absolute, a .locald component, no "..". */
  if (path[0] != '/' || !strstr (path, "/.locald/") || strstr (path, "/../") || !valid_relative (path + 1))
    {
      fprintf (stderr, "setuid-helper: %s: not an absolute path beneath .locald\n", path);
      return EXIT_USAGE;
    }
  if (bench_tree_remove (path, &count) < 0)
    return EXIT_OP_FAILED;
  printf ("%lu\n", count);
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  /* The bench must measure a real setuid exec, not a plain one. */
  if (geteuid () != 0)
    {
      fprintf (stderr, "%s: not running as root; install it setuid root\n", argv[0]);
      return EXIT_NOT_SETUID;
    }
  if (argc == 4 && !strcmp (argv[1], "kill") && valid_relative (argv[2]) && valid_relative (argv[3]))
    return do_kill (argv[2], argv[3]);
  if (argc == 3 && !strcmp (argv[1], "cleanup"))
    return do_cleanup (argv[2]);
  fprintf (stderr, "usage: %s kill CGROUP-ROOT CGROUP | cleanup PATH\n", argv[0]);
  return EXIT_USAGE;
}
