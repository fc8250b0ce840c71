/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* localdctl: command-line front end to liblocald-broker. Parses the command
 * line and dispatches; every command is a thin renderer over the library. */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <locald-broker.h>

#include "client/localdctl/commands.h"
#include "client/localdctl/exit-codes.h"
#include "client/localdctl/status.h"

static const char summary[]
    = "Commands:\n"
      "  doctor            Show the readiness report (exit 1 on a critical problem)\n"
      "  setup             Create the locald cgroup root and your delegated subtree\n"
      "  kill CGROUP       Kill every process in CGROUP (relative to your subtree)\n"
      "  cleanup PATH      Remove a tree beneath a .locald directory you own\n"
      "  run CGROUP -- CMD...  Move into CGROUP (below your subtree) and run CMD there\n"
      "  bind ADDRESS PORT -- CMD...  Get a privileged port bound by the broker and run\n"
      "                    CMD with it listening as fd 3 (LISTEN_FDS=1, LISTEN_PID)\n"
      "  hosts sync NAME...  Point exactly these names at 127.0.0.1 and ::1 (your block\n"
      "                    of the hosts file; .localhost and .test names)\n"
      "  hosts list        Show the names of your block (reads the file, no privilege)\n"
      "  hosts clear       Remove your block\n"
      "  status            Check that the installation is whole and consistent\n"
      "\n"
      "Exit status: 0 ok, 1 failure or critical problem, 2 usage error,\n"
      "3 not authorized, 4 broker not ready; run: CMD's own status, or 126\n"
      "(CMD cannot be run) or 127 (CMD not found).";

static int
usage_error (GOptionContext *context, const char *message)
{
  g_printerr ("localdctl: %s\nTry 'localdctl --help' for the commands and options.\n", message);
  return LOCALDCTL_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  LocaldctlOptions opts = { 0 };
  gboolean version = FALSE;
  g_auto (GStrv) args = NULL;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &opts.json, "Print JSON instead of text", NULL },
          { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opts.verbose, "Show evidence and facts", NULL },
          { "no-ask-password", 0, 0, G_OPTION_ARG_NONE, &opts.no_ask_password,
            "Never ask for a password; fail if authentication would be needed", NULL },
          { "hosts-file", 0, 0, G_OPTION_ARG_FILENAME, &opts.hosts_file,
            "hosts list: read FILE instead of /etc/hosts", "FILE" },
          { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
          { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, "COMMAND [ARG]" },
          { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  const char *command;
  guint n_args;

  localdctl_reserve_fd3 ();
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Talk to locald-brokerd, locald's privileged helper.");
  g_option_context_set_description (context, summary);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (context, error->message);

  if (version)
    {
      printf ("localdctl %s (API version %u)\n", PACKAGE_VERSION,
              (unsigned) LOCALD_BROKER_CLIENT_API_VERSION);
      return LOCALDCTL_EXIT_OK;
    }
  if (args == NULL || args[0] == NULL)
    return usage_error (context, "no command given");

  command = args[0];
  n_args = g_strv_length (args) - 1;

  if (g_str_equal (command, "doctor") && n_args == 0)
    return localdctl_cmd_doctor (&opts);
  if (g_str_equal (command, "setup") && n_args == 0)
    return localdctl_cmd_setup (&opts);
  if (g_str_equal (command, "status") && n_args == 0)
    return localdctl_cmd_status (&opts);
  if (g_str_equal (command, "kill") && n_args == 1 && *args[1] != '\0')
    return localdctl_cmd_kill (&opts, args[1]);
  if (g_str_equal (command, "cleanup") && n_args == 1 && *args[1] != '\0')
    return localdctl_cmd_cleanup (&opts, args[1]);

  if (g_str_equal (command, "run") && n_args >= 2 && *args[1] != '\0')
    return localdctl_cmd_run (&opts, args[1], args + 2);

  if (g_str_equal (command, "bind") && n_args >= 3 && *args[1] != '\0')
    {
      char **cmd = args + 3;
      if (cmd[0] != NULL && g_str_equal (cmd[0], "--"))
        cmd++;
      if (cmd[0] != NULL)
        return localdctl_cmd_bind (&opts, args[1], args[2], cmd);
    }
  if (g_str_equal (command, "hosts") && n_args >= 2 && g_str_equal (args[1], "sync"))
    return localdctl_cmd_hosts_sync (&opts, args + 2);
  if (g_str_equal (command, "hosts") && n_args == 1 && g_str_equal (args[1], "clear"))
    return localdctl_cmd_hosts_sync (&opts, NULL);
  if (g_str_equal (command, "hosts") && n_args == 1 && g_str_equal (args[1], "list"))
    return localdctl_cmd_hosts_list (&opts);

  if (g_str_equal (command, "bind"))
    return usage_error (context, "bind takes an address, a port and a command: bind ADDRESS PORT -- CMD...");
  if (g_str_equal (command, "hosts"))
    return usage_error (context, "hosts takes 'sync NAME...', 'list' or 'clear'");
  if (g_str_equal (command, "run"))
    return usage_error (context,
                        "run takes a cgroup relative to your subtree and a command: run CGROUP -- CMD...");
  if (g_str_equal (command, "kill"))
    return usage_error (context, "kill takes exactly one argument, a cgroup relative to your subtree");
  if (g_str_equal (command, "cleanup"))
    return usage_error (context, "cleanup takes exactly one argument, an absolute path");
  if (g_str_equal (command, "doctor") || g_str_equal (command, "setup") || g_str_equal (command, "status"))
    {
      g_autofree char *msg = g_strdup_printf ("%s takes no arguments", command);
      return usage_error (context, msg);
    }
  {
    g_autofree char *msg = g_strdup_printf ("unknown command '%s'", command);
    return usage_error (context, msg);
  }
}
