/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status: is the installation whole and consistent? Looks at the files at
 * the paths configure chose, then asks the running broker for its version. */
#include "config.h"

#include <stdio.h>

#include "client/localdctl/exit-codes.h"
#include "client/localdctl/render.h"
#include "client/localdctl/status.h"

typedef struct
{
  const char *name;
  const char *path;
  gboolean ok;
  char *detail;
} Check;

/* Present, and (when needle is given) containing it. */
static void
check_file (Check *c, const char *name, const char *path, const char *const *needles)
{
  g_autofree char *contents = NULL;

  c->name = name;
  c->path = path;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    {
      c->ok = FALSE;
      c->detail = g_strdup ("missing");
      return;
    }
  for (size_t i = 0; needles != NULL && needles[i] != NULL; i++)
    if (strstr (contents, needles[i]) == NULL)
      {
        c->ok = FALSE;
        c->detail = g_strdup_printf ("does not mention %s", needles[i]);
        return;
      }
  c->ok = TRUE;
  c->detail = g_strdup ("ok");
}

/* The activation file must name the broker and point at an executable. */
static void
check_activation (Check *c)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *name = NULL, *exec = NULL;
  g_auto (GStrv) argv = NULL;

  c->name = "activation file";
  c->path = LOCALDCTL_ACTIVATION_FILE;
  if (!g_key_file_load_from_file (kf, c->path, G_KEY_FILE_NONE, NULL))
    {
      c->detail = g_strdup ("missing or unreadable");
      return;
    }
  name = g_key_file_get_string (kf, "D-BUS Service", "Name", NULL);
  exec = g_key_file_get_string (kf, "D-BUS Service", "Exec", NULL);
  if (g_strcmp0 (name, LOCALD_BROKER_BUS_NAME) != 0)
    c->detail = g_strdup ("Name= is not " LOCALD_BROKER_BUS_NAME);
  else if (exec == NULL || !g_shell_parse_argv (exec, NULL, &argv, NULL))
    c->detail = g_strdup ("no usable Exec=");
  else if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    c->detail = g_strdup_printf ("Exec= names %s, which is not an executable", argv[0]);
  else
    {
      c->ok = TRUE;
      c->detail = g_strdup ("ok");
    }
}

int
localdctl_cmd_status (const LocaldctlOptions *opts)
{
  static const char *const policy_needles[]
      = { LOCALD_BROKER_BUS_NAME, LOCALD_HELPER_NET_BUS_NAME, LOCALD_HELPER_HOSTS_BUS_NAME, NULL };
  static const char *const action_needles[]
      = { LOCALD_ACTION_SELF_CHECK,       LOCALD_ACTION_SETUP_CGROUP, LOCALD_ACTION_KILL_CGROUP,
          LOCALD_ACTION_CLEANUP_PATH,     LOCALD_ACTION_JOIN_CGROUP,  LOCALD_ACTION_BIND_PORT,
          LOCALD_ACTION_BIND_PORT_PUBLIC, LOCALD_ACTION_SYNC_HOSTS,   NULL };
  static const char *const unit_needles[] = { "BusName=" LOCALD_BROKER_BUS_NAME, NULL };
  static const char *const xml_needles[] = { "interface name=\"" LOCALD_BROKER_INTERFACE "\"", NULL };
  Check checks[7] = { 0 };
  g_autoptr (LocaldReport) report = NULL;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  const char *broker_version;
  guint broker_api;
  gboolean whole = TRUE, api_ok;

  checks[0].name = "broker executable";
  checks[0].path = LOCALDCTL_BROKER_PATH;
  checks[0].ok = g_file_test (checks[0].path, G_FILE_TEST_IS_EXECUTABLE);
  checks[0].detail = g_strdup (checks[0].ok ? "ok" : "missing or not executable");
  check_activation (&checks[1]);
  check_file (&checks[2], "bus policy", LOCALDCTL_BUS_POLICY, policy_needles);
  check_file (&checks[3], "polkit actions", LOCALDCTL_POLKIT_ACTIONS, action_needles);
  check_file (&checks[4], "systemd unit", LOCALDCTL_SYSTEMD_UNIT, unit_needles);
  check_file (&checks[5], "interface XML", LOCALDCTL_INTERFACE_XML, xml_needles);
  /* BindPort and SyncHosts run in the broker's helper (its own units). */
  checks[6].name = "helper executable";
  checks[6].path = LOCALDCTL_HELPER_PATH;
  checks[6].ok = g_file_test (checks[6].path, G_FILE_TEST_IS_EXECUTABLE);
  checks[6].detail = g_strdup (checks[6].ok ? "ok" : "missing or not executable");
  for (size_t i = 0; i < G_N_ELEMENTS (checks); i++)
    whole = whole && checks[i].ok;

  /* The same probe as acquisition, without a prompt; its report carries the
   * broker's Version/ApiVersion whenever the broker answered at all. */
  cap = locald_privileged_acquire (LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION, NULL, &report, &error);
  broker_version = report != NULL ? locald_report_get_broker_version (report) : NULL;
  broker_api = report != NULL ? locald_report_get_broker_api_version (report) : 0;
  api_ok = broker_version != NULL && broker_api == LOCALD_BROKER_CLIENT_API_VERSION;
  whole = whole && api_ok;

  if (opts->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "consistent");
      json_builder_add_boolean_value (b, whole);
      json_builder_set_member_name (b, "files");
      json_builder_begin_array (b);
      for (size_t i = 0; i < G_N_ELEMENTS (checks); i++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, checks[i].name);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, checks[i].path);
          json_builder_set_member_name (b, "ok");
          json_builder_add_boolean_value (b, checks[i].ok);
          json_builder_set_member_name (b, "detail");
          json_builder_add_string_value (b, checks[i].detail);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "client");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, PACKAGE_VERSION);
      json_builder_set_member_name (b, "api_version");
      json_builder_add_int_value (b, LOCALD_BROKER_CLIENT_API_VERSION);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "broker");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "reachable");
      json_builder_add_boolean_value (b, broker_version != NULL);
      json_builder_set_member_name (b, "version");
      if (broker_version != NULL)
        json_builder_add_string_value (b, broker_version);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "api_version");
      if (broker_version != NULL)
        json_builder_add_int_value (b, broker_api);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "api_compatible");
      json_builder_add_boolean_value (b, api_ok);
      json_builder_set_member_name (b, "ready");
      json_builder_add_boolean_value (b, cap != NULL);
      json_builder_end_object (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = localdctl_json_to_string (root);
      printf ("%s\n", text);
    }
  else
    {
      printf ("%s\n", whole ? "Installation is whole and consistent."
                            : "Installation is incomplete or inconsistent.");
      printf ("\nFiles:\n");
      for (size_t i = 0; i < G_N_ELEMENTS (checks); i++)
        printf ("  %-4s %-18s %s%s%s\n", checks[i].ok ? "ok" : "FAIL", checks[i].name, checks[i].path,
                checks[i].ok ? "" : ": ", checks[i].ok ? "" : checks[i].detail);
      printf ("\nClient: %s, API version %u\n", PACKAGE_VERSION, (unsigned) LOCALD_BROKER_CLIENT_API_VERSION);
      if (broker_version != NULL)
        printf ("Broker: %s, API version %u%s\n", broker_version, broker_api,
                api_ok ? "" : " (incompatible with this client)");
      else
        {
          LocaldProblem *p = report != NULL && locald_report_get_problems (report)->len > 0
                                 ? g_ptr_array_index (locald_report_get_problems (report), 0)
                                 : NULL;
          printf ("Broker: not reachable%s%s\n", p != NULL ? ": " : "",
                  p != NULL ? locald_problem_get_summary (p) : "");
        }
      printf ("Ready: %s\n", cap != NULL ? "yes" : "no (run 'localdctl doctor')");
    }

  for (size_t i = 0; i < G_N_ELEMENTS (checks); i++)
    g_free (checks[i].detail);
  return whole ? LOCALDCTL_EXIT_OK : LOCALDCTL_EXIT_FAILURE;
}
