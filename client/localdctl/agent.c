/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "client/localdctl/agent.h"

/* How long to wait for the agent to register with polkitd. */
#define AGENT_REGISTER_TIMEOUT_MS 10000
/* The fd number the agent reports registration on. */
#define AGENT_NOTIFY_FD 3

struct _LocaldctlAgent
{
  GSubprocess *process;
};

gboolean
localdctl_agent_can_prompt (gboolean no_ask_password)
{
  return !no_ask_password && isatty (STDIN_FILENO) && g_file_test (LOCALDCTL_PKTTYAGENT, G_FILE_TEST_IS_EXECUTABLE);
}

/* pkttyagent closes its notify fd once it is registered (or when it exits,
 * e.g. because it could not register): either way, waiting longer is
 * pointless. */
static void
wait_for_close (int fd)
{
  gint64 deadline = g_get_monotonic_time () + AGENT_REGISTER_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;
      char buf[64];
      int r;

      if (left_ms <= 0)
        return;
      r = poll (&pfd, 1, (int) left_ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return;
      r = read (fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return;
    }
}

LocaldctlAgent *
localdctl_agent_start (GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autofree char *notify = g_strdup_printf ("%d", AGENT_NOTIFY_FD);
  LocaldctlAgent *agent;
  int fds[2];

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
    return NULL;

  /* The agent talks to the user on the terminal we share. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_take_fd (launcher, fds[1], AGENT_NOTIFY_FD);
  /* Registered for this one process, so it cannot displace a session's own
   * agent; --fallback is left out on purpose: polkitd does not use a
   * fallback agent for a subject outside any logind session (headless hosts,
   * containers), which is exactly where a textual agent is needed. */
  process = g_subprocess_launcher_spawn (launcher, error, LOCALDCTL_PKTTYAGENT,
                                         "--process", pid, "--notify-fd", notify, NULL);
  /* Our copy of the write end must go, or we would never see the close. */
  g_clear_object (&launcher);
  if (process == NULL)
    {
      close (fds[0]);
      return NULL;
    }

  wait_for_close (fds[0]);
  close (fds[0]);

  agent = g_new0 (LocaldctlAgent, 1);
  agent->process = g_steal_pointer (&process);
  return agent;
}

void
localdctl_agent_stop (LocaldctlAgent *agent)
{
  if (agent == NULL)
    return;
  g_subprocess_send_signal (agent->process, SIGTERM);
  g_subprocess_wait (agent->process, NULL, NULL);
  g_object_unref (agent->process);
  g_free (agent);
}
