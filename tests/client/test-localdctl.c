/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* localdctl's exit codes for everything testable without a broker: usage
 * errors, and every command against a bus where no broker is activatable
 * (a private dbus-daemon) or no bus at all. */
#include "config.h"

#include <gio/gio.h>

static char *localdctl_path;

typedef struct
{
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs localdctl with @bus as the system bus address (NULL: leave it). */
static void
run (Run *r, const char *bus, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;

  if (bus != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", bus, TRUE);
  g_ptr_array_add (argv, localdctl_path);
  for (size_t i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  r->status = g_subprocess_get_exit_status (proc);
}

#define NO_BUS "unix:path=/nonexistent/locald-test-bus"

static void
assert_usage (const char *const *args)
{
  g_auto (Run) r = { 0 };

  run (&r, NO_BUS, args);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "localdctl:"));
  g_assert_cmpstr (r.out, ==, "");
}

static void
test_usage (void)
{
  assert_usage ((const char *const[]){ NULL });
  assert_usage ((const char *const[]){ "frobnicate", NULL });
  assert_usage ((const char *const[]){ "--no-such-option", "doctor", NULL });
  assert_usage ((const char *const[]){ "kill", NULL });
  assert_usage ((const char *const[]){ "kill", "a", "b", NULL });
  assert_usage ((const char *const[]){ "kill", "", NULL });
  assert_usage ((const char *const[]){ "cleanup", NULL });
  assert_usage ((const char *const[]){ "doctor", "extra", NULL });
  assert_usage ((const char *const[]){ "setup", "extra", NULL });
  assert_usage ((const char *const[]){ "status", "extra", NULL });
  assert_usage ((const char *const[]){ "bind", NULL });
  assert_usage ((const char *const[]){ "bind", "127.0.0.1", "80", NULL });
  assert_usage ((const char *const[]){ "bind", "127.0.0.1", "80", "--", NULL });
  assert_usage ((const char *const[]){ "bind", "127.0.0.1", "http", "--", "true", NULL });
  assert_usage ((const char *const[]){ "bind", "127.0.0.1", "0", "--", "true", NULL });
  assert_usage ((const char *const[]){ "bind", "127.0.0.1", "65536", "--", "true", NULL });
  assert_usage ((const char *const[]){ "hosts", NULL });
  assert_usage ((const char *const[]){ "hosts", "sync", NULL });
  assert_usage ((const char *const[]){ "hosts", "list", "extra", NULL });
  assert_usage ((const char *const[]){ "hosts", "clear", "extra", NULL });
  assert_usage ((const char *const[]){ "hosts", "frobnicate", NULL });
}

static void
test_version_help (void)
{
  g_auto (Run) v = { 0 };
  g_auto (Run) h = { 0 };

  run (&v, NO_BUS, (const char *const[]){ "--version", NULL });
  g_assert_cmpint (v.status, ==, 0);
  g_assert_true (g_str_has_prefix (v.out, "localdctl " PACKAGE_VERSION));
  run (&h, NO_BUS, (const char *const[]){ "--help", NULL });
  g_assert_cmpint (h.status, ==, 0);
  g_assert_nonnull (strstr (h.out, "doctor"));
}

static void
check_doctor_json (const char *bus, const char *stage)
{
  g_auto (Run) r = { 0 };
  run (&r, bus, (const char *const[]){ "doctor", "--json", NULL });
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.out, "\"ready\" : false"));
  g_assert_nonnull (strstr (r.out, "\"id\" : \"broker.installed\""));
  g_assert_nonnull (strstr (r.out, "\"fix\" : \"install_broker\""));
  g_assert_nonnull (strstr (r.out, stage));
}

static void
check_commands (const char *bus)
{
  const char *const *cmds[] = {
    (const char *const[]){ "setup", NULL },
    (const char *const[]){ "--no-ask-password", "setup", NULL },
    (const char *const[]){ "kill", "svc/web", NULL },
    (const char *const[]){ "cleanup", "/home/u/.locald/x", NULL },
    (const char *const[]){ "--json", "kill", "svc/web", NULL },
    (const char *const[]){ "bind", "127.0.0.1", "80", "--", "true", NULL },
    (const char *const[]){ "hosts", "sync", "web.localhost", NULL },
    (const char *const[]){ "hosts", "clear", NULL },
  };
  g_auto (Run) d = { 0 };
  g_auto (Run) s = { 0 };

  run (&d, bus, (const char *const[]){ "doctor", NULL });
  g_assert_cmpint (d.status, ==, 1);
  g_assert_true (g_str_has_prefix (d.out, "Not ready: 1 critical problem"));
  g_assert_nonnull (strstr (d.out, "broker.installed"));

  for (size_t i = 0; i < G_N_ELEMENTS (cmds); i++)
    {
      g_auto (Run) r = { 0 };
      run (&r, bus, cmds[i]);
      /* 4: the broker is not ready, and the report says why. */
      g_assert_cmpint (r.status, ==, 4);
      g_assert_nonnull (strstr (g_str_equal (cmds[i][0], "--json") ? r.out : r.err, "broker.installed"));
    }

  /* No broker answers, so the installation cannot be consistent. */
  run (&s, bus, (const char *const[]){ "status", "--json", NULL });
  g_assert_cmpint (s.status, ==, 1);
  g_assert_nonnull (strstr (s.out, "\"consistent\" : false"));
  g_assert_nonnull (strstr (s.out, "\"reachable\" : false"));
}

static void
test_no_bus (void)
{
  check_doctor_json (NO_BUS, "\"stage\" : \"connect\"");
  check_commands (NO_BUS);
}

static void
test_bus_without_broker (void)
{
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  const char *address;

  g_test_dbus_up (bus);
  address = g_test_dbus_get_bus_address (bus);
  check_doctor_json (address, "org.freedesktop.DBus.Error.ServiceUnknown");
  check_commands (address);
  g_test_dbus_down (bus);
}

int
main (int argc, char **argv)
{
  const char *top = g_getenv ("top_builddir");
  int ret;

  g_test_init (&argc, &argv, NULL);
  localdctl_path = g_build_filename (top != NULL ? top : ".", "client", "localdctl", "localdctl", NULL);
  g_test_add_func ("/localdctl/usage", test_usage);
  g_test_add_func ("/localdctl/version-help", test_version_help);
  g_test_add_func ("/localdctl/no-bus", test_no_bus);
  g_autofree char *daemon = g_find_program_in_path ("dbus-daemon");
  if (daemon != NULL)
    g_test_add_func ("/localdctl/bus-without-broker", test_bus_without_broker);
  ret = g_test_run ();
  g_free (localdctl_path);
  return ret;
}
