/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-exec.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* posix_spawn rather than g_spawn_sync: GLib's spawn closes every fd and sets
 * up extra pipes, which would be overhead of this driver rather than of the
 * exec being measured. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK),
 * as a lean client (e.g. Rust's Command) would. */
gboolean
bench_exec (const char *const *argv, char **ret_stdout, GError **error)
{
  posix_spawn_file_actions_t actions;
  g_autoptr (GString) out = g_string_new (NULL);
  int fds[2];
  pid_t pid;
  int r, status;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "pipe: %s", g_strerror (e));
      return FALSE;
    }

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], STDOUT_FILENO);
  r = posix_spawn (&pid, argv[0], &actions, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  if (r != 0)
    {
      close (fds[0]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r), "cannot run %s: %s", argv[0],
                   g_strerror (r));
      return FALSE;
    }

  for (;;)
    {
      char buf[256];
      ssize_t n = read (fds[0], buf, sizeof buf);

      if (n > 0)
        g_string_append_len (out, buf, n);
      else if (n == 0 || errno != EINTR)
        break;
    }
  close (fds[0]);

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "waitpid: %s", g_strerror (e));
        return FALSE;
      }

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s %d (output: %s)", argv[0],
                   WIFEXITED (status) ? "exited with" : "was killed by signal",
                   WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status), out->str);
      return FALSE;
    }

  if (ret_stdout)
    *ret_stdout = g_string_free (g_steal_pointer (&out), FALSE);
  return TRUE;
}
