/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The systemd strategy against a mock of the systemd manager
 * (systemd-manager-mock.py; systemd cannot run as PID 1 on these machines),
 * on a private dbus-daemon this test starts itself and points
 * DBUS_SYSTEM_BUS_ADDRESS at. The mock creates real cgroups below a scratch
 * cgroup, so the returned ControlGroup exists and holds the caller's pid.
 */
#include "config.h"

#include "broker-error.h"
#include "cgroup-join.h"
#include "cgroup-systemd.h"
#include "cgroup.h"
#include "test-cgroup-scratch.h"
#include "test-privileged.h"

#include <glib/gstdio.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_UID ((uid_t) 4242)
#define FAIL_UID ((uid_t) 4343)
#define NOBODY_UID ((uid_t) 4444) /* never set up */

static char *cgroup_mount;
static char *scratch_name;
static char *scratch_path;
static char *tmpdir;
static char *record_path;
static GPid bus_pid;
static GPid mock_pid;

/* The bus allows everything: acceptable ONLY for this throwaway test bus
 * that carries nothing but the test and the mock. The real broker is tested
 * with its real policy file (tests/integration). */
static const char bus_config[]
    = "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n"
      "  <type>system</type>\n"
      "  <listen>unix:path=%s/bus</listen>\n"
      "  <auth>EXTERNAL</auth>\n"
      "  <policy context=\"default\">\n"
      "    <allow user=\"*\"/>\n"
      "    <allow own=\"*\"/>\n"
      "    <allow send_destination=\"*\"/>\n"
      "    <allow receive_sender=\"*\"/>\n"
      "  </policy>\n"
      "</busconfig>\n";

static gboolean
wait_for_file (const char *path, guint timeout_ms)
{
  for (guint waited = 0; waited < timeout_ms; waited += 10)
    {
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* PYTHON3 from configure may be a python without the GObject bindings
 * (pyenv and the like); the system one usually has them. */
static const char *
find_python_with_gi (void)
{
  const char *candidates[] = { g_getenv ("LOCALD_TEST_PYTHON3"), PYTHON3, "/usr/bin/python3" };

  for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      const char *argv[] = { candidates[i], "-c", "from gi.repository import Gio", NULL };
      int status = -1;

      if (candidates[i] == NULL)
        continue;
      if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                        NULL, NULL, NULL, &status, NULL)
          && g_spawn_check_wait_status (status, NULL))
        return candidates[i];
    }
  return NULL;
}

static void
stop_child (GPid *pid)
{
  int status;

  if (*pid <= 0)
    return;
  kill (*pid, SIGTERM);
  waitpid (*pid, &status, 0);
  *pid = 0;
}

/* Starts the private bus and the mock; returns a reason to skip, or NULL. */
static const char *
start_bus_and_mock (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config = g_strdup_printf (bus_config, tmpdir);
  g_autofree char *config_path = g_build_filename (tmpdir, "bus.conf", NULL);
  g_autofree char *config_arg = g_strdup_printf ("--config-file=%s", config_path);
  g_autofree char *socket_path = g_build_filename (tmpdir, "bus", NULL);
  g_autofree char *address = g_strdup_printf ("unix:path=%s", socket_path);
  g_autofree char *ready_path = g_build_filename (tmpdir, "mock-ready", NULL);
  const char *python = find_python_with_gi ();
  const char *bus_argv[] = { "dbus-daemon", config_arg, "--nofork", "--nopidfile", NULL };
  g_autofree char *fail_unit = g_strdup_printf ("locald-user-%u.scope", (unsigned) FAIL_UID);

  if (python == NULL)
    return "no python3 with the GObject bindings (python3-gi) for the systemd mock";
  {
    g_autofree char *daemon = g_find_program_in_path ("dbus-daemon");
    if (daemon == NULL)
      return "dbus-daemon is not installed";
  }

  g_assert_true (g_file_set_contents (config_path, config, -1, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_async (NULL, (char **) bus_argv, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &bus_pid,
                                &error));
  g_assert_no_error (error);
  g_assert_true (wait_for_file (socket_path, 5000));
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);

  {
    const char *mock_argv[] = { python,        SYSTEMD_MOCK,     "--record",   record_path,     "--ready",
                                ready_path,    "--cgroup-mount", cgroup_mount, "--cgroup-base", scratch_name,
                                "--fail-unit", fail_unit,        NULL };
    g_assert_true (g_spawn_async (NULL, (char **) mock_argv, NULL,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &mock_pid,
                                  &error));
    g_assert_no_error (error);
  }
  g_assert_true (wait_for_file (ready_path, 10000));
  return NULL;
}

/* The calls the mock saw, each an a{sv} dictionary. */
static GPtrArray *
read_record (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *calls = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  if (!g_file_get_contents (record_path, &text, NULL, NULL))
    return calls;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      GVariant *v;

      if (**l == '\0')
        continue;
      v = g_variant_parse (G_VARIANT_TYPE_VARDICT, *l, NULL, NULL, &error);
      g_assert_no_error (error);
      g_ptr_array_add (calls, v); /* g_variant_parse() returns a full reference */
    }
  return calls;
}

static GVariant *
last_start_call (GPtrArray *calls)
{
  for (guint i = calls->len; i-- > 0;)
    {
      const char *method = NULL;
      if (g_variant_lookup (calls->pdata[i], "method", "&s", &method)
          && g_str_equal (method, "StartTransientUnit"))
        return calls->pdata[i];
    }
  g_assert_not_reached ();
}

static void
test_detect (void)
{
  g_autofree char *reason = NULL;
  gboolean booted = cgroup_systemd_detect (&reason);

  g_assert_nonnull (reason);
  g_assert_nonnull (strstr (reason, "/run/systemd/system"));
  g_assert_cmpint (booted, ==, g_file_test ("/run/systemd/system", G_FILE_TEST_IS_DIR));
}

static CgroupLayout layout;

static gboolean
calls_include (GPtrArray *calls, const char *method, const char *key, const char *value)
{
  for (guint i = 0; i < calls->len; i++)
    {
      const char *m = NULL, *v = NULL;
      if (g_variant_lookup (calls->pdata[i], "method", "&s", &m) && g_str_equal (m, method)
          && (key == NULL || (g_variant_lookup (calls->pdata[i], key, "&s", &v) && g_str_equal (v, value))))
        return TRUE;
    }
  return FALSE;
}

static guint
count_calls (const char *method)
{
  g_autoptr (GPtrArray) calls = read_record ();
  guint n = 0;

  for (guint i = 0; i < calls->len; i++)
    {
      const char *m = NULL;
      if (g_variant_lookup (calls->pdata[i], "method", "&s", &m) && g_str_equal (m, method))
        n++;
    }
  return n;
}

/* The one pid in <scope>/.keeper, or 0. */
static pid_t
keeper_of (const char *scope_dir)
{
  g_autofree char *procs = g_build_filename (scope_dir, ".keeper", "cgroup.procs", NULL);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (procs, &text, NULL, NULL) || *g_strstrip (text) == '\0')
    return 0;
  g_assert_null (strchr (text, '\n'));
  return (pid_t) g_ascii_strtoll (text, NULL, 10);
}

static char *
proc_status_field (pid_t pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *prefix = g_strconcat (field, ":", NULL);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, prefix))
      return g_strstrip (g_strdup (*l + strlen (prefix)));
  return NULL;
}

static void
test_setup_creates_delegated_scope (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *again = NULL;
  g_autofree char *expected
      = g_strdup_printf ("/%s/locald.slice/locald-user-%u.scope", scratch_name, (unsigned) TEST_UID);
  g_autofree char *dir = NULL;
  g_autofree char *procs = NULL;
  g_autofree char *comm = NULL;
  g_autoptr (GPtrArray) calls = NULL;
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) pids = NULL;
  const char *slice = NULL, *user = NULL, *mode = NULL, *outcome = NULL;
  gboolean delegate = FALSE;
  pid_t keeper;
  struct stat st;

  {
    gboolean ok = cgroup_systemd_setup (&layout, TEST_UID, &path, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpstr (path, ==, expected);

  /* the ControlGroup is real and delegated; its top holds no process, the
   * keeper sits in the root-owned leaf .keeper */
  dir = g_build_filename (cgroup_mount, path, NULL);
  procs = g_build_filename (dir, "cgroup.procs", NULL);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (stat (procs, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, TEST_UID);
  {
    g_autofree char *top = NULL;
    g_assert_true (g_file_get_contents (procs, &top, NULL, NULL));
    g_assert_cmpstr (g_strstrip (top), ==, "");
  }
  keeper = keeper_of (dir);
  g_assert_cmpint (keeper, >, 0);
  {
    g_autofree char *keeper_dir = g_build_filename (dir, ".keeper", NULL);
    g_assert_cmpint (stat (keeper_dir, &st), ==, 0);
    g_assert_cmpuint (st.st_uid, ==, 0);
  }
  /* the keeper: sleep, without capabilities, not our child (no zombie) */
  {
    g_autofree char *comm_path = g_strdup_printf ("/proc/%d/comm", (int) keeper);
    g_autofree char *cap_eff = proc_status_field (keeper, "CapEff");
    g_autofree char *cap_prm = proc_status_field (keeper, "CapPrm");
    g_autofree char *ppid = proc_status_field (keeper, "PPid");
    g_assert_true (g_file_get_contents (comm_path, &comm, NULL, NULL));
    g_assert_cmpstr (g_strstrip (comm), ==, "sleep");
    g_assert_cmpstr (cap_eff, ==, "0000000000000000");
    g_assert_cmpstr (cap_prm, ==, "0000000000000000");
    g_assert_cmpint (g_ascii_strtoll (ppid, NULL, 10), !=, getpid ());
  }

  calls = read_record ();
  {
    GVariant *call = last_start_call (calls);

    g_assert_true (g_variant_lookup (call, "mode", "&s", &mode));
    g_assert_cmpstr (mode, ==, "fail");
    g_assert_true (g_variant_lookup (call, "outcome", "&s", &outcome));
    g_assert_cmpstr (outcome, ==, "created");
    props = g_variant_lookup_value (call, "properties", G_VARIANT_TYPE_VARDICT);
  }
  g_assert_nonnull (props);
  g_assert_true (g_variant_lookup (props, "Delegate", "b", &delegate));
  g_assert_true (delegate);
  g_assert_true (g_variant_lookup (props, "Slice", "&s", &slice));
  g_assert_cmpstr (slice, ==, "locald.slice");
  g_assert_true (g_variant_lookup (props, "User", "&s", &user));
  g_assert_cmpstr (user, ==, "4242");
  pids = g_variant_lookup_value (props, "PIDs", G_VARIANT_TYPE ("au"));
  g_assert_nonnull (pids);
  g_assert_cmpuint (g_variant_n_children (pids), ==, 1);
  {
    guint32 pid0 = 0;
    g_variant_get_child (pids, 0, "u", &pid0);
    g_assert_cmpuint (pid0, ==, (guint32) keeper);
  }

  /* idempotent: kept alive, so nothing is started again */
  {
    guint starts = count_calls ("StartTransientUnit");
    gboolean ok = cgroup_systemd_setup (&layout, TEST_UID, &again, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
    g_assert_cmpuint (count_calls ("StartTransientUnit"), ==, starts);
  }
  g_assert_cmpstr (again, ==, path);
  g_assert_cmpint (keeper_of (dir), ==, keeper);

  /* a scope whose keeper died (its own processes hold it) gets a new one */
  g_assert_cmpint (kill (keeper, SIGKILL), ==, 0);
  for (int i = 0; i < 500 && keeper_of (dir) != 0; i++)
    g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (keeper_of (dir), ==, 0);
  g_clear_pointer (&again, g_free);
  {
    gboolean ok = cgroup_systemd_setup (&layout, TEST_UID, &again, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpstr (again, ==, path);
  g_assert_cmpint (keeper_of (dir), >, 0);
  g_assert_cmpint (keeper_of (dir), !=, keeper);
  g_clear_pointer (&calls, g_ptr_array_unref);
  calls = read_record ();
  g_assert_true (g_variant_lookup (last_start_call (calls), "outcome", "&s", &outcome));
  g_assert_cmpstr (outcome, ==, "exists");
  g_assert_true (calls_include (calls, "AttachProcessesToUnit", "subcgroup", ""));
}

static void
test_join (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *setup_path = NULL;
  g_autofree char *path = NULL;
  g_autofree char *web = NULL;
  g_auto (CgroupJoinTarget) target = { .pid = 0, .pidfd = -1 };
  pid_t caller = scratch_spawn_sleep (scratch_path, TEST_UID);
  struct stat st;

  g_assert_true (cgroup_systemd_setup (&layout, TEST_UID, &setup_path, &error));
  g_assert_no_error (error);
  g_assert_true (cgroup_join_pin (caller, TEST_UID, &target, &error));
  g_assert_no_error (error);
  {
    gboolean ok = cgroup_systemd_join (&layout, TEST_UID, &target, "svc/web", &path, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  {
    g_autofree char *expected = g_strconcat (setup_path, "/svc/web", NULL);
    g_assert_cmpstr (path, ==, expected);
  }
  web = g_build_filename (cgroup_mount, path, NULL);
  g_assert_true (scratch_cgroup_has_pid (web, caller));
  g_assert_cmpint (stat (web, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, TEST_UID);
  {
    g_autoptr (GPtrArray) calls = read_record ();
    g_assert_true (calls_include (calls, "AttachProcessesToUnit", "subcgroup", "/svc/web"));
  }
}

static void
test_join_not_set_up (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_auto (CgroupJoinTarget) target = { .pid = 0, .pidfd = -1 };
  pid_t caller = scratch_spawn_sleep (scratch_path, NOBODY_UID);

  g_assert_true (cgroup_join_pin (caller, NOBODY_UID, &target, &error));
  g_assert_false (cgroup_systemd_join (&layout, NOBODY_UID, &target, "svc/web", &path, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_SET_UP);
  g_assert_nonnull (strstr (error->message, "localdctl setup"));
}

static void
test_pin_checks_owner (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (CgroupJoinTarget) target = { .pid = 0, .pidfd = -1 };
  pid_t roots = scratch_spawn_sleep (scratch_path, 0);

  /* A root process is not the caller's, whatever pid the caller names
   * (where the kernel can tell: PIDFD_GET_INFO, Linux 6.13). */
  if (!cgroup_join_pin (roots, TEST_UID, &target, &error))
    g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  else
    g_test_message ("kernel without PIDFD_GET_INFO: owner not checked through the pidfd");
  g_clear_error (&error);

  kill (roots, SIGKILL);
  waitpid (roots, NULL, 0);
  g_assert_false (cgroup_join_pin (roots, 0, &target, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
}

static void
test_setup_failed_job (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  g_assert_false (cgroup_systemd_setup (&layout, FAIL_UID, &path, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "failed"));
  g_assert_null (path);
}

static void
test_setup_rejects_bad_caller (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  g_assert_false (cgroup_systemd_setup (&layout, (uid_t) -1, &path, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  const char *skip;
  int exit_code = 0;

  if (test_skip_unless_privileged (TRUE, &exit_code))
    return exit_code;

  g_test_init (&argc, &argv, NULL);

  if (!cgroup_find_v2_mount ("/proc/self/mountinfo", &cgroup_mount, &error))
    g_error ("%s", error->message);
  scratch_name = g_strdup_printf ("locald-unit-sd-%d", (int) getpid ());
  tmpdir = g_dir_make_tmp ("locald-sdmock-XXXXXX", &error);
  g_assert_no_error (error);
  record_path = g_build_filename (tmpdir, "calls.txt", NULL);

  scratch_path = scratch_cgroup_create (cgroup_mount, scratch_name);
  layout.mount = g_strdup (cgroup_mount);
  layout.root = g_strdup_printf ("%s/locald.slice", scratch_name);
  layout.systemd_scopes = TRUE;
  skip = start_bus_and_mock ();
  if (skip != NULL)
    {
      scratch_cgroup_destroy (scratch_path);
      if (test_force_privileged ())
        {
          printf ("1..1\nnot ok 1 - systemd mock prerequisites: %s\n", skip);
          return 1;
        }
      printf ("1..0 # SKIP %s\n", skip);
      return 0;
    }

  g_test_add_func ("/cgroup-systemd/detect", test_detect);
  g_test_add_func ("/cgroup-systemd/setup/creates-delegated-scope", test_setup_creates_delegated_scope);
  g_test_add_func ("/cgroup-systemd/setup/failed-job", test_setup_failed_job);
  g_test_add_func ("/cgroup-systemd/join/moves-into-subcgroup", test_join);
  g_test_add_func ("/cgroup-systemd/join/not-set-up", test_join_not_set_up);
  g_test_add_func ("/cgroup-systemd/join/pin-checks-owner", test_pin_checks_owner);
  g_test_add_func ("/cgroup-systemd/setup/rejects-bad-caller", test_setup_rejects_bad_caller);

  exit_code = scratch_cgroup_run_guarded (scratch_path);

  stop_child (&mock_pid);
  stop_child (&bus_pid);
  {
    g_autofree char *rm_argv0 = g_find_program_in_path ("rm");
    const char *rm_argv[] = { rm_argv0, "-rf", "--", tmpdir, NULL };
    g_spawn_sync (NULL, (char **) rm_argv, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL);
  }
  g_free (record_path);
  g_free (tmpdir);
  g_free (scratch_path);
  g_free (scratch_name);
  g_free (cgroup_mount);
  cgroup_layout_clear (&layout);
  return exit_code;
}
