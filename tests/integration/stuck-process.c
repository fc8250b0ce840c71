/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stuck-process HOLDER_CGROUP STUCK_CGROUP
 *
 * Test helper (run as root): leaves behind a process in STUCK_CGROUP that no
 * signal can end, for testing that KillCgroup gives up with Busy instead of
 * hanging. A "holder" process, placed in HOLDER_CGROUP, blocks inside
 * write(2) on a pipe while holding the pipe's lock: its buffer is a page
 * registered with userfaultfd that nobody serves. The "stuck" process then
 * writes to the same pipe and sleeps uninterruptibly (state D) on that lock.
 * Killing the holder releases the lock and the stuck process can die.
 *
 * Prints "HOLDER_PID STUCK_PID" and exits 0 once the stuck process is in
 * state D; exits 77 when userfaultfd is not available, 1 on other errors.
 * (Moving fresh processes into a cgroup in a loop is no substitute: the
 * kernel's cgroup.kill outruns migration, so such a cgroup empties.)
 */
#include "config.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int
join_cgroup (const char *dir)
{
  char path[4096];
  int fd, ok;

  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ok = write (fd, "0", 1) == 1;
  close (fd);
  return ok ? 0 : -1;
}

/* The children outlive this program: they must not keep its output open,
 * or a caller reading to end-of-file would wait for them forever. */
static void
detach_output (void)
{
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0)
    {
      dup2 (fd, STDOUT_FILENO);
      dup2 (fd, STDERR_FILENO);
      close (fd);
    }
}

static int
listed_in (const char *dir, pid_t pid)
{
  char path[4096], line[64];
  FILE *f;
  int found = 0;

  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  f = fopen (path, "re");
  if (f == NULL)
    return 0;
  while (!found && fgets (line, sizeof line, f) != NULL)
    found = atoi (line) == (int) pid;
  fclose (f);
  return found;
}

static char
state_of (pid_t pid)
{
  char path[64], buf[512];
  FILE *f;
  char *p;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return '?';
  p = fgets (buf, sizeof buf, f);
  fclose (f);
  if (p == NULL || (p = strrchr (buf, ')')) == NULL || p[1] == '\0')
    return '?';
  return p[2];
}

int
main (int argc, char **argv)
{
  int pipefd[2];
  pid_t holder, stuck;
  long probe;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s HOLDER_CGROUP STUCK_CGROUP\n", argv[0]);
      return 2;
    }
  probe = syscall (SYS_userfaultfd, O_CLOEXEC);
  if (probe < 0)
    {
      perror ("userfaultfd");
      return 77;
    }
  close ((int) probe);
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    return 1;

  holder = fork ();
  if (holder < 0)
    return 1;
  if (holder == 0)
    {
      struct uffdio_api api = { .api = UFFD_API };
      struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
      long page = sysconf (_SC_PAGESIZE);
      int uffd;
      void *buf;

      detach_output ();
      if (join_cgroup (argv[1]) < 0)
        _exit (10);
      uffd = (int) syscall (SYS_userfaultfd, O_CLOEXEC);
      buf = mmap (NULL, (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (uffd < 0 || buf == MAP_FAILED)
        _exit (11);
      reg.range.start = (unsigned long) buf;
      reg.range.len = (unsigned long) page;
      if (ioctl (uffd, UFFDIO_API, &api) < 0 || ioctl (uffd, UFFDIO_REGISTER, &reg) < 0)
        _exit (11);
      (void) !write (pipefd[1], buf, (size_t) page); /* faults inside pipe_write, lock held */
      _exit (12);
    }

  /* Wait until the holder sleeps inside pipe_write. */
  for (int i = 0; i < 200 && state_of (holder) != 'S' && state_of (holder) != 'D'; i++)
    usleep (10000);
  usleep (100000);

  stuck = fork ();
  if (stuck < 0)
    return 1;
  if (stuck == 0)
    {
      detach_output ();
      if (join_cgroup (argv[2]) < 0)
        _exit (10);
      (void) !write (pipefd[1], "x", 1); /* state D on the pipe lock */
      _exit (0);
    }

  /* Settled: in the cgroup and asleep in state D, seen twice in a row (a
   * migration in progress can show D for a moment too). */
  for (int i = 0, settled = 0; i < 500; i++)
    {
      if (state_of (stuck) == 'D' && listed_in (argv[2], stuck))
        {
          if (++settled == 2)
            {
              printf ("%d %d\n", (int) holder, (int) stuck);
              return 0;
            }
        }
      else
        settled = 0;
      usleep (50000);
    }
  fprintf (stderr, "the stuck process never reached state D (state %c)\n", state_of (stuck));
  return 1;
}
