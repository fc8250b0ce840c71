/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* doctor, setup, kill, cleanup, run, bind, hosts: acquire the capability,
 * call, render. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "broker/hosts-file.h"

#include "client/localdctl/agent.h"
#include "client/localdctl/commands.h"
#include "client/localdctl/exit-codes.h"
#include "client/localdctl/render.h"

static void
print_json (JsonNode *node)
{
  g_autofree char *text = localdctl_json_to_string (node);
  printf ("%s\n", text);
}

/* Prints the JSON object {member: value, ...}: member and value pairs, then
 * NULL. The values are consumed. */
static void
print_json_object (const char *member, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  va_list ap;

  json_builder_begin_object (b);
  va_start (ap, member);
  for (; member != NULL; member = va_arg (ap, const char *))
    {
      json_builder_set_member_name (b, member);
      json_builder_add_value (b, va_arg (ap, JsonNode *));
    }
  va_end (ap);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  print_json (root);
}

static void
print_report (FILE *stream, LocaldReport *report, gboolean verbose)
{
  g_autoptr (GString) out = g_string_new (NULL);
  localdctl_render_report (out, report, verbose);
  fputs (out->str, stream);
}

static gboolean
report_is_unauthorized (LocaldReport *report)
{
  return report != NULL && locald_report_find_problem (report, LOCALD_PROBLEM_BROKER_AUTHORIZED) != NULL;
}

/* Whether the report says a prompt would have let us in: then an agent and
 * a second attempt can help. */
static gboolean
report_wants_prompt (LocaldReport *report)
{
  LocaldProblem *p
      = report != NULL ? locald_report_find_problem (report, LOCALD_PROBLEM_BROKER_AUTHORIZED) : NULL;

  return p != NULL
         && g_strcmp0 (locald_problem_get_evidence_value (p, "dbus_error"),
                       "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
                == 0;
}

/* In a terminal, calls first go out without the interactive flag: if polkit
 * wants a password the broker says so, and only then a textual agent is
 * started and the call repeated with the flag. Outside a terminal the flag
 * is set from the start (unless --no-ask-password), so a graphical agent of
 * the session can answer. */
typedef struct
{
  const LocaldctlOptions *opts;
  gboolean can_prompt;
  gboolean for_setup;
  LocaldctlAgent *agent;
} Session;

static gboolean
session_start_agent (Session *s)
{
  g_autoptr (GError) error = NULL;

  if (!s->can_prompt || s->agent != NULL)
    return FALSE;
  s->agent = localdctl_agent_start (&error);
  if (s->agent == NULL)
    {
      g_printerr ("localdctl: could not start a polkit agent: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

static LocaldAcquireFlags
session_flags (Session *s)
{
  LocaldAcquireFlags flags = s->for_setup ? LOCALD_ACQUIRE_FLAGS_FOR_SETUP : LOCALD_ACQUIRE_FLAGS_NONE;

  if (s->opts->no_ask_password || (s->can_prompt && s->agent == NULL))
    flags |= LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION;
  return flags;
}

/* Acquires the capability, or renders why not and sets *exit_code. */
static LocaldPrivileged *
session_acquire (Session *s, int *exit_code)
{
  g_autoptr (LocaldReport) report = NULL;
  g_autoptr (GError) error = NULL;
  LocaldPrivileged *cap;

  cap = locald_privileged_acquire (session_flags (s), NULL, &report, &error);
  if (cap == NULL && report_wants_prompt (report) && session_start_agent (s))
    {
      g_clear_object (&report);
      g_clear_error (&error);
      cap = locald_privileged_acquire (session_flags (s), NULL, &report, &error);
    }
  if (cap != NULL)
    return cap;

  *exit_code = report_is_unauthorized (report) ? LOCALDCTL_EXIT_NOT_AUTHORIZED : LOCALDCTL_EXIT_NOT_READY;
  if (s->opts->json)
    print_json_object ("error", localdctl_error_to_json (error), "report",
                       report != NULL ? localdctl_report_to_json (report) : json_node_new (JSON_NODE_NULL),
                       NULL);
  else
    {
      g_autofree char *message = localdctl_error_message (error);
      g_printerr ("localdctl: %s\n\n", message);
      if (report != NULL)
        print_report (stderr, report, s->opts->verbose);
    }
  return NULL;
}

static void
session_finish (Session *s)
{
  g_clear_pointer (&s->agent, localdctl_agent_stop);
}

static int
exit_code_for (const GError *error)
{
  if (g_error_matches (error, LOCALD_ERROR, LOCALD_ERROR_ACCESS_DENIED)
      || g_error_matches (error, LOCALD_ERROR, LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
    return LOCALDCTL_EXIT_NOT_AUTHORIZED;
  return LOCALDCTL_EXIT_FAILURE;
}

static int
report_call_error (Session *s, const char *what, const GError *error)
{
  if (s->opts->json)
    print_json_object ("error", localdctl_error_to_json (error), NULL);
  else
    {
      g_autofree char *message = localdctl_error_message (error);
      const char *name = locald_error_get_dbus_name (error);
      g_printerr ("localdctl: %s failed: %s\n", what, message);
      if (name != NULL && s->opts->verbose)
        g_printerr ("localdctl: (D-Bus error %s)\n", name);
      if (g_error_matches (error, LOCALD_ERROR, LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
        g_printerr (
            "localdctl: this needs authentication; run it in a terminal without --no-ask-password.\n");
    }
  return exit_code_for (error);
}

/* Repeat once with a prompt when the first attempt needed one. */
static gboolean
session_should_retry (Session *s, LocaldPrivileged *cap, const GError *error)
{
  if (!g_error_matches (error, LOCALD_ERROR, LOCALD_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
    return FALSE;
  if (!session_start_agent (s))
    return FALSE;
  locald_privileged_set_allow_interactive_authorization (cap, TRUE);
  return TRUE;
}

static void
session_init (Session *s, const LocaldctlOptions *opts)
{
  s->opts = opts;
  s->can_prompt = localdctl_agent_can_prompt (opts->no_ask_password);
  s->agent = NULL;
  s->for_setup = FALSE;
}

int
localdctl_cmd_doctor (const LocaldctlOptions *opts)
{
  g_autoptr (LocaldReport) report = NULL;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;

  /* Exactly what acquisition sees. doctor never prompts: SelfCheck is
   * allowed to everyone by default, and a diagnosis should not block. */
  cap = locald_privileged_acquire (LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION, NULL, &report, &error);
  if (report == NULL)
    {
      g_printerr ("localdctl: %s\n", error->message);
      return LOCALDCTL_EXIT_FAILURE;
    }
  if (opts->json)
    {
      g_autoptr (JsonNode) root = localdctl_report_to_json (report);
      print_json (root);
    }
  else
    print_report (stdout, report, opts->verbose);
  return locald_report_has_critical (report) ? LOCALDCTL_EXIT_FAILURE : LOCALDCTL_EXIT_OK;
}

static void
print_result (const LocaldctlOptions *opts, const char *member, JsonNode *value, const char *human)
{
  if (opts->json)
    print_json_object (member, value, NULL);
  else
    {
      json_node_unref (value);
      printf ("%s\n", human);
    }
}

int
localdctl_cmd_setup (const LocaldctlOptions *opts)
{
  Session s;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cgroup = NULL;
  int code = LOCALDCTL_EXIT_OK;

  session_init (&s, opts);
  /* Setup is what fixes a missing cgroup root, so a report whose only
   * critical problems are "not set up" must not stop it. */
  s.for_setup = TRUE;
  cap = session_acquire (&s, &code);
  if (cap == NULL)
    goto out;

  cgroup = locald_privileged_setup_cgroup_root (cap, NULL, &error);
  if (cgroup == NULL && session_should_retry (&s, cap, error))
    {
      g_clear_error (&error);
      cgroup = locald_privileged_setup_cgroup_root (cap, NULL, &error);
    }
  if (cgroup == NULL)
    code = report_call_error (&s, "setup", error);
  else
    print_result (opts, "cgroup", json_node_init_string (json_node_alloc (), cgroup), cgroup);
out:
  session_finish (&s);
  return code;
}

/* A privileged call whose answer is a count, with the same signature for
 * every such method; arg is the method's argument (a string, or a string
 * array for hosts sync). */
typedef gboolean (*CountCall) (LocaldPrivileged *cap, gconstpointer arg, guint64 *out_count, GError **error);

static gboolean
kill_call (LocaldPrivileged *cap, gconstpointer cgroup, guint64 *out_count, GError **error)
{
  guint killed = 0;

  if (!locald_privileged_kill_cgroup (cap, cgroup, &killed, NULL, error))
    return FALSE;
  *out_count = killed;
  return TRUE;
}

static gboolean
cleanup_call (LocaldPrivileged *cap, gconstpointer path, guint64 *out_count, GError **error)
{
  return locald_privileged_cleanup_path (cap, path, out_count, NULL, error);
}

/* Acquires, makes the call (once more if the session says to retry), and
 * prints the count as member (JSON) or a bare number. */
static int
run_count_command (
    const LocaldctlOptions *opts, const char *command, CountCall call, gconstpointer arg, const char *member)
{
  Session s;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  guint64 count = 0;
  gboolean ok;
  int code = LOCALDCTL_EXIT_OK;

  session_init (&s, opts);
  cap = session_acquire (&s, &code);
  if (cap == NULL)
    goto out;

  ok = call (cap, arg, &count, &error);
  if (!ok && session_should_retry (&s, cap, error))
    {
      g_clear_error (&error);
      ok = call (cap, arg, &count, &error);
    }
  if (!ok)
    code = report_call_error (&s, command, error);
  else
    {
      g_autofree char *human = g_strdup_printf ("%" G_GUINT64_FORMAT, count);
      print_result (opts, member, json_node_init_int (json_node_alloc (), (gint64) count), human);
    }
out:
  session_finish (&s);
  return code;
}

int
localdctl_cmd_kill (const LocaldctlOptions *opts, const char *cgroup)
{
  return run_count_command (opts, "kill", kill_call, cgroup, "killed");
}

int
localdctl_cmd_cleanup (const LocaldctlOptions *opts, const char *path)
{
  return run_count_command (opts, "cleanup", cleanup_call, path, "removed");
}

int
localdctl_cmd_run (const LocaldctlOptions *opts, const char *cgroup, char **command)
{
  Session s;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *joined = NULL;
  int code = LOCALDCTL_EXIT_OK;

  session_init (&s, opts);
  cap = session_acquire (&s, &code);
  if (cap == NULL)
    goto out;

  joined = locald_privileged_join_cgroup (cap, cgroup, NULL, &error);
  if (joined == NULL && session_should_retry (&s, cap, error))
    {
      g_clear_error (&error);
      joined = locald_privileged_join_cgroup (cap, cgroup, NULL, &error);
    }
  if (joined == NULL)
    code = report_call_error (&s, "run", error);
out:
  session_finish (&s);
  if (joined == NULL)
    return code;

  /* This process is in the cgroup now; the command takes its place (same
   * pid), so it and everything it starts live there. The bus connection
   * and the agent are gone by now (close-on-exec, session_finish). */
  if (opts->verbose)
    g_printerr ("localdctl: joined %s\n", joined);
  g_clear_object (&cap);
  execvp (command[0], command);
  {
    int e = errno;
    g_printerr ("localdctl: cannot run %s: %s\n", command[0], g_strerror (e));
    return e == ENOENT ? LOCALDCTL_EXIT_NOT_FOUND : LOCALDCTL_EXIT_CANNOT_EXEC;
  }
}

#define LISTEN_FDS_START 3

void
localdctl_reserve_fd3 (void)
{
  int fd;

  if (fcntl (LISTEN_FDS_START, F_GETFD) >= 0)
    return; /* inherited: it is replaced at exec, and nothing here uses it */
  fd = open ("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0 && fd != LISTEN_FDS_START)
    {
      (void) dup3 (fd, LISTEN_FDS_START, O_CLOEXEC);
      close (fd);
    }
}

int
localdctl_cmd_bind (const LocaldctlOptions *opts, const char *address, const char *port_text, char **command)
{
  Session s;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autofree char *pid_text = NULL;
  guint64 port = 0;
  int code = LOCALDCTL_EXIT_OK;

  if (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL))
    {
      g_printerr ("localdctl: bind: '%s' is not a port (1-65535)\n", port_text);
      return LOCALDCTL_EXIT_USAGE;
    }
  session_init (&s, opts);
  cap = session_acquire (&s, &code);
  if (cap == NULL)
    goto out;
  socket = locald_privileged_bind_port (cap, address, (guint16) port, NULL, &error);
  if (socket == NULL && session_should_retry (&s, cap, error))
    {
      g_clear_error (&error);
      socket = locald_privileged_bind_port (cap, address, (guint16) port, NULL, &error);
    }
  if (socket == NULL)
    code = report_call_error (&s, "bind", error);
  else if (!g_socket_listen (socket, &error))
    {
      g_printerr ("localdctl: bind: cannot listen on the socket: %s\n", error->message);
      code = LOCALDCTL_EXIT_FAILURE;
    }
out:
  session_finish (&s);
  if (code != LOCALDCTL_EXIT_OK)
    return code;

  /* As systemd's socket activation: the listening socket is fd 3 (held by
   * /dev/null until now, see localdctl_reserve_fd3()), LISTEN_FDS=1 and
   * LISTEN_PID is the command's pid, which is this one (exec in place). */
  g_clear_object (&cap);
  if (dup2 (g_socket_get_fd (socket), LISTEN_FDS_START) < 0)
    {
      int e = errno;
      g_printerr ("localdctl: bind: cannot pass the socket as fd 3: %s\n", g_strerror (e));
      return LOCALDCTL_EXIT_FAILURE;
    }
  /* GSocket made it non-blocking (a flag of the shared open file); systemd
   * hands over blocking sockets, and servers that expect them block in
   * accept(). */
  {
    int flags = fcntl (LISTEN_FDS_START, F_GETFL);
    if (flags < 0 || fcntl (LISTEN_FDS_START, F_SETFL, flags & ~O_NONBLOCK) < 0)
      {
        int e = errno;
        g_printerr ("localdctl: bind: cannot make the socket blocking: %s\n", g_strerror (e));
        return LOCALDCTL_EXIT_FAILURE;
      }
  }
  pid_text = g_strdup_printf ("%d", (int) getpid ());
  setenv ("LISTEN_FDS", "1", 1);
  setenv ("LISTEN_PID", pid_text, 1);
  unsetenv ("LISTEN_FDNAMES");
  if (opts->verbose)
    g_printerr ("localdctl: listening on %s port %u as fd 3\n", address, (unsigned) port);
  execvp (command[0], command);
  {
    int e = errno;
    g_printerr ("localdctl: cannot run %s: %s\n", command[0], g_strerror (e));
    return e == ENOENT ? LOCALDCTL_EXIT_NOT_FOUND : LOCALDCTL_EXIT_CANNOT_EXEC;
  }
}

static gboolean
hosts_sync_call (LocaldPrivileged *cap, gconstpointer names, guint64 *out_count, GError **error)
{
  guint count = 0;

  if (!locald_privileged_sync_hosts (cap, names, &count, NULL, error))
    return FALSE;
  *out_count = count;
  return TRUE;
}

int
localdctl_cmd_hosts_sync (const LocaldctlOptions *opts, char **names)
{
  static const char *const none[] = { NULL };

  return run_count_command (opts, names != NULL ? "hosts sync" : "hosts clear", hosts_sync_call,
                            names != NULL ? (gconstpointer) names : none, "count");
}

int
localdctl_cmd_hosts_list (const LocaldctlOptions *opts)
{
  g_autoptr (GError) error = NULL;
  const char *path = opts->hosts_file != NULL ? opts->hosts_file : LOCALD_DEFAULT_HOSTS_FILE;
  g_auto (GStrv) names = hosts_file_list (path, getuid (), &error);

  if (names == NULL)
    {
      g_printerr ("localdctl: hosts list: %s\n", error->message);
      return LOCALDCTL_EXIT_FAILURE;
    }
  if (opts->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (char **n = names; *n != NULL; n++)
        json_builder_add_string_value (b, *n);
      json_builder_end_array (b);
      print_json_object ("names", json_builder_get_root (b), NULL);
    }
  else
    for (char **n = names; *n != NULL; n++)
      printf ("%s\n", *n);
  return LOCALDCTL_EXIT_OK;
}
