/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-cgroup-scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static gboolean
write_file (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return FALSE;
  n = write (fd, value, strlen (value));
  close (fd);
  return n == (ssize_t) strlen (value);
}

static int
rmdir_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  if (type == FTW_DP)
    (void) rmdir (path); /* cgroupfs: only directories can (and must) go */
  return 0;
}

gboolean
scratch_cgroup_destroy (const char *path)
{
  g_autofree char *kill_file = g_build_filename (path, "cgroup.kill", NULL);
  g_autofree char *events = g_build_filename (path, "cgroup.events", NULL);

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;

  for (int i = 0; i < 500; i++)
    {
      g_autofree char *text = NULL;

      if (!g_file_get_contents (events, &text, NULL, NULL) || strstr (text, "populated 0") != NULL)
        break;
      (void) write_file (kill_file, "1");
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  for (int i = 0; i < 100 && g_file_test (path, G_FILE_TEST_IS_DIR); i++)
    {
      (void) nftw (path, rmdir_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  return !g_file_test (path, G_FILE_TEST_IS_DIR);
}

char *
scratch_cgroup_create (const char *mount, const char *name)
{
  g_autofree char *path = g_build_filename (mount, name, NULL);

  g_assert_true (scratch_cgroup_destroy (path));
  if (mkdir (path, 0755) < 0)
    g_error ("cannot create scratch cgroup %s: %s", path, g_strerror (errno));
  return g_steal_pointer (&path);
}

int
scratch_cgroup_run_guarded (const char *scratch_path)
{
  pid_t child;
  int status = 0;

  fflush (stdout);
  fflush (stderr);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    exit (g_test_run ()); /* exit(), not _exit(): LeakSanitizer runs at exit */

  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (!scratch_cgroup_destroy (scratch_path))
    {
      fprintf (stderr, "scratch cgroup %s could not be removed\n", scratch_path);
      return 1;
    }
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  fprintf (stderr, "test child died from signal %d\n", WTERMSIG (status));
  return 1;
}

pid_t
scratch_spawn_sleep (const char *cgroup_dir, uid_t uid)
{
  g_autofree char *procs = g_build_filename (cgroup_dir, "cgroup.procs", NULL);
  int pipefd[2];
  pid_t pid;
  char buf;
  ssize_t n;

  g_assert_cmpint (pipe2 (pipefd, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      /* async-signal-safe only from here on */
      int fd = open (procs, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, "0", 1) != 1)
        {
          (void) !write (pipefd[1], "m", 1);
          _exit (127);
        }
      close (fd);
      if (uid != 0
          && (setgroups (0, NULL) < 0 || setresgid (uid, uid, uid) < 0 || setresuid (uid, uid, uid) < 0))
        {
          (void) !write (pipefd[1], "u", 1);
          _exit (127);
        }
      execlp ("sleep", "sleep", "1000", (char *) NULL);
      (void) !write (pipefd[1], "e", 1);
      _exit (127);
    }
  close (pipefd[1]);
  /* EOF: exec succeeded (close-on-exec); a byte: the child failed. */
  do
    n = read (pipefd[0], &buf, 1);
  while (n < 0 && errno == EINTR);
  close (pipefd[0]);
  if (n != 0)
    g_error ("sleep helper failed at step '%c' for %s", n == 1 ? buf : '?', cgroup_dir);
  return pid;
}

gboolean
scratch_cgroup_has_pid (const char *cgroup_dir, pid_t pid)
{
  g_autofree char *procs = g_build_filename (cgroup_dir, "cgroup.procs", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (procs, &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (**l != '\0' && atoi (*l) == pid)
      return TRUE;
  return FALSE;
}
