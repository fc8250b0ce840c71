/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "client/localdctl/agent.h"

/* How long to wait for the agent to register with polkitd. */
#define AGENT_REGISTER_TIMEOUT_MS 10000
/* The fd number the agent reports registration on. */
#define AGENT_NOTIFY_FD 3
/* How long the agent gets to leave after SIGTERM before SIGKILL. */
#define AGENT_STOP_TIMEOUT_MS 2000

struct _LocaldctlAgent
{
  GSubprocess *process;
};

gboolean
localdctl_agent_can_prompt (gboolean no_ask_password)
{
  return !no_ask_password && isatty (STDIN_FILENO)
         && g_file_test (LOCALDCTL_PKTTYAGENT, G_FILE_TEST_IS_EXECUTABLE);
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

/* In the child, before exec: the agent goes when localdctl goes, even if
 * localdctl is killed (at the prompt, say) and cannot stop it. If localdctl
 * is already gone (the parent changed), go now. Async-signal-safe only. */
static void
agent_child_setup (gpointer user_data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (user_data);

  if (prctl (PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid () != parent)
    raise (SIGTERM);
}

LocaldctlAgent *
localdctl_agent_start (GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autofree char *notify = g_strdup_printf ("%d", AGENT_NOTIFY_FD);
  LocaldctlAgent *agent;
  int fds[2];

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
    return NULL;

  /* The agent talks to the user on the terminal we share. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_take_fd (launcher, fds[1], AGENT_NOTIFY_FD);
  g_subprocess_launcher_set_child_setup (launcher, agent_child_setup, GINT_TO_POINTER ((int) getpid ()),
                                         NULL);
  /* Registered for this one process, so it cannot displace a session's own
   * agent; --fallback is left out on purpose: polkitd does not use a
   * fallback agent for a subject outside any logind session (headless hosts,
   * containers), which is exactly where a textual agent is needed. */
  process = g_subprocess_launcher_spawn (launcher, error, LOCALDCTL_PKTTYAGENT, "--process", pid,
                                         "--notify-fd", notify, NULL);
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

static void
wait_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

static gboolean
set_flag_cb (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

void
localdctl_agent_stop (LocaldctlAgent *agent)
{
  g_autoptr (GMainContext) context = NULL;
  g_autoptr (GSource) timeout = NULL;
  gboolean done = FALSE, timed_out = FALSE;

  if (agent == NULL)
    return;
  /* SIGTERM, then SIGKILL if the agent has not gone after a while: an agent
   * stuck (in a prompt, say) must not keep localdctl from exiting. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  g_subprocess_send_signal (agent->process, SIGTERM);
  g_subprocess_wait_async (agent->process, NULL, wait_done_cb, &done);
  timeout = g_timeout_source_new (AGENT_STOP_TIMEOUT_MS);
  g_source_set_callback (timeout, set_flag_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!done && !timed_out)
    g_main_context_iteration (context, TRUE);
  if (!done)
    g_subprocess_force_exit (agent->process);
  while (!done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
  g_object_unref (agent->process);
  g_free (agent);
}
