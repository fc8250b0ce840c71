/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * setuid-helper: the comparison point for bench-broker. It stands in for the
 * setuid-root shim that locald-brokerd replaces, doing the same cheap work as
 * a KillCgroup call on a missing cgroup, the way the shim did it: find the
 * cgroup2 mount in /proc/self/mountinfo, open the locald cgroup root, look up
 * <root>/user-<uid>/<cgroup>, and print the number of processes killed (0).
 *
 *   setuid-helper CGROUP-ROOT CGROUP
 *
 * bench/run installs it mode 4755 owned by root in a throw-away directory.
 * Like the shim it asks no one whether the caller may do this: that missing
 * check is exactly what the broker adds, so the figures compare an unchecked
 * exec with a polkit-checked call. It never kills anything; an existing
 * cgroup is an error, so it cannot be misused as a real helper.
 *
 * Plain libc on purpose: a setuid program should link as little as possible,
 * and GLib is not meant to run setuid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
  EXIT_EXISTS = 5,
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
          *w = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
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

/* The shim's rule for a caller-supplied path: relative, no "." or ".."
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

int
main (int argc, char **argv)
{
  char *mount_point, *rel;
  struct stat st;
  int mount_fd;

  if (argc != 3 || !valid_relative (argv[1]) || !valid_relative (argv[2]))
    {
      fprintf (stderr, "usage: %s CGROUP-ROOT CGROUP (both relative, no '..')\n", argv[0]);
      return EXIT_USAGE;
    }
  /* The bench must measure a real setuid exec, not a plain one. */
  if (geteuid () != 0)
    {
      fprintf (stderr, "%s: not running as root; install it setuid root (mode 4755)\n", argv[0]);
      return EXIT_NOT_SETUID;
    }

  mount_point = find_cgroup2_mount ();
  if (!mount_point)
    {
      fprintf (stderr, "%s: no cgroup2 mount in /proc/self/mountinfo\n", argv[0]);
      return EXIT_NO_CGROUP2;
    }
  mount_fd = open (mount_point, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0)
    {
      fprintf (stderr, "%s: %s: %s\n", argv[0], mount_point, strerror (errno));
      return EXIT_NO_CGROUP2;
    }

  /* The real uid is the caller: its subtree is the only one it may name. */
  if (asprintf (&rel, "%s/user-%u/%s", argv[1], (unsigned)getuid (), argv[2]) < 0)
    return EXIT_FAILURE;
  if (fstatat (mount_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      fprintf (stderr, "%s: %s/%s exists; this bench helper only handles a missing cgroup\n", argv[0],
               mount_point, rel);
      return EXIT_EXISTS;
    }
  if (errno != ENOENT)
    {
      fprintf (stderr, "%s: %s/%s: %s\n", argv[0], mount_point, rel, strerror (errno));
      return EXIT_FAILURE;
    }

  /* Nothing to kill. */
  puts ("0");
  free (rel);
  free (mount_point);
  close (mount_fd);
  return EXIT_SUCCESS;
}
