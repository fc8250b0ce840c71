/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Report consolidation and its JSON rendering, without a bus. */
#include "config.h"

#include <locald-broker.h>

#include "client/localdctl/render.h"

static LocaldProblem *
problem (const char *id, const char *severity, const char *fix)
{
  g_autofree char *summary = g_strdup_printf ("summary of %s", id);
  return locald_problem_new (id, severity, summary, fix);
}

static void
add (LocaldReport *report, const char *id, const char *severity, const char *fix)
{
  g_autoptr (LocaldProblem) p = problem (id, severity, fix);
  locald_report_add_problem (report, p);
}

static const char *
fix_key (GPtrArray *fixes, guint i)
{
  return locald_fix_get_key (g_ptr_array_index (fixes, i));
}

static void
test_dedupe (void)
{
  g_autoptr (LocaldReport) report = locald_report_new ("direct", "no systemd", "enabled");
  g_autoptr (GPtrArray) fixes = NULL;
  const char *const *ids;

  add (report, "cgroup.root_ready", "critical", "run_admin_setup");
  add (report, "cgroup.user_delegated", "critical", "run_admin_setup");
  add (report, "cgroup.user_delegated", "critical", "run_admin_setup");
  add (report, "cgroup.kill", "info", "");

  fixes = locald_report_get_fixes (report);
  g_assert_cmpuint (fixes->len, ==, 1);
  g_assert_cmpstr (fix_key (fixes, 0), ==, "run_admin_setup");
  ids = locald_fix_get_problem_ids (g_ptr_array_index (fixes, 0));
  g_assert_cmpuint (g_strv_length ((char **) ids), ==, 2);
  g_assert_cmpstr (ids[0], ==, "cgroup.root_ready");
  g_assert_cmpstr (ids[1], ==, "cgroup.user_delegated");
  g_assert_nonnull (strstr (locald_fix_get_text (g_ptr_array_index (fixes, 0)), "localdctl setup"));
  /* A critical problem turns the mode to degraded. */
  g_assert_cmpstr (locald_report_get_mode (report), ==, "degraded");
  g_assert_true (locald_report_has_critical (report));
}

static void
test_priority (void)
{
  g_autoptr (LocaldReport) report = locald_report_new ("direct", "", "enabled");
  g_autoptr (GPtrArray) fixes = NULL;

  /* Added in the reverse of the expected order. */
  add (report, "custom.thing", "warning", "zzz_custom");
  add (report, "other.thing", "critical", "aaa_other");
  add (report, "cgroup.root_ready", "critical", "run_admin_setup");
  add (report, "cgroup.root_writable", "critical", "host_policy_blocks_privileged_helper");
  add (report, "cgroup.v2", "critical", "unsupported_environment");
  add (report, "late.warning", "warning", "run_admin_setup");

  fixes = locald_report_get_fixes (report);
  g_assert_cmpuint (fixes->len, ==, 5);
  g_assert_cmpstr (fix_key (fixes, 0), ==, "unsupported_environment");
  g_assert_cmpstr (fix_key (fixes, 1), ==, "host_policy_blocks_privileged_helper");
  g_assert_cmpstr (fix_key (fixes, 2), ==, "run_admin_setup");
  g_assert_cmpstr (fix_key (fixes, 3), ==, "aaa_other");
  /* Warning-only fixes come after every critical one. */
  g_assert_cmpstr (fix_key (fixes, 4), ==, "zzz_custom");
  g_assert_cmpstr (locald_fix_get_severity (g_ptr_array_index (fixes, 2)), ==, "critical");
  g_assert_cmpstr (locald_fix_get_severity (g_ptr_array_index (fixes, 4)), ==, "warning");
  /* Unknown keys still get a text. */
  g_assert_nonnull (strstr (locald_fix_get_text (g_ptr_array_index (fixes, 3)), "aaa_other"));
}

static void
test_severity_order_beats_fix_order (void)
{
  g_autoptr (LocaldReport) report = locald_report_new ("systemd", "", "enabled");
  g_autoptr (GPtrArray) fixes = NULL;

  add (report, "host.note", "info", "unsupported_environment");
  add (report, "cgroup.root_ready", "critical", "run_admin_setup");
  fixes = locald_report_get_fixes (report);
  g_assert_cmpuint (fixes->len, ==, 2);
  g_assert_cmpstr (fix_key (fixes, 0), ==, "run_admin_setup");
  g_assert_cmpstr (fix_key (fixes, 1), ==, "unsupported_environment");
}

static void
test_clean_report (void)
{
  g_autoptr (LocaldReport) report = locald_report_new ("direct", "", "enabled");
  g_autoptr (GPtrArray) fixes = locald_report_get_fixes (report);

  add (report, "cgroup.kill", "info", "");
  g_assert_false (locald_report_has_critical (report));
  g_assert_cmpstr (locald_report_get_mode (report), ==, "enabled");
  g_assert_cmpuint (fixes->len, ==, 0);
}

/* The report the golden file pins: every field kind, in a fixed order. */
static LocaldReport *
golden_report (void)
{
  LocaldReport *report = locald_report_new (
      "direct", "cgroup2 mounted at /sys/fs/cgroup/unified; PID 1 is not systemd", "enabled");
  g_autoptr (LocaldProblem) a = locald_problem_new (
      "cgroup.root_ready", "critical", "The locald cgroup root does not exist.", "run_admin_setup");
  g_autoptr (LocaldProblem) b
      = locald_problem_new ("cgroup.user_delegated", "critical",
                            "Your delegated cgroup subtree does not exist.", "run_admin_setup");
  g_autoptr (LocaldProblem) c = locald_problem_new ("cgroup.kill", "info", "cgroup.kill is available.", "");

  locald_problem_add_evidence (a, "path", "/sys/fs/cgroup/unified/locald");
  locald_problem_add_evidence (a, "exists", "false");
  locald_problem_add_evidence (b, "path", "/sys/fs/cgroup/unified/locald/user-1000");
  locald_report_add_problem (report, a);
  locald_report_add_problem (report, b);
  locald_report_add_problem (report, c);
  locald_report_set_fact (report, "cgroup2_mount", "/sys/fs/cgroup/unified");
  locald_report_set_fact (report, "caller_uid", "1000");
  locald_report_set_broker_version (report, "0.1.0", 1);
  return report;
}

static void
test_json_golden (void)
{
  g_autoptr (LocaldReport) report = golden_report ();
  g_autoptr (JsonNode) node = localdctl_report_to_json (report);
  g_autofree char *text = localdctl_json_to_string (node);
  g_autofree char *actual = g_strconcat (text, "\n", NULL);
  /* make check exports top_srcdir; a manual run can set G_TEST_SRCDIR. */
  const char *top = g_getenv ("top_srcdir");
  g_autofree char *path = top != NULL ? g_build_filename (top, "tests", "client", "doctor.golden.json", NULL)
                                      : g_test_build_filename (G_TEST_DIST, "doctor.golden.json", NULL);
  g_autofree char *expected = NULL;
  g_autoptr (GError) error = NULL;

  if (g_getenv ("LOCALD_UPDATE_GOLDEN") != NULL)
    g_assert_true (g_file_set_contents (path, actual, -1, NULL));
  g_assert_true (g_file_get_contents (path, &expected, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (actual, ==, expected);
}

static void
test_human_render (void)
{
  g_autoptr (LocaldReport) report = golden_report ();
  g_autoptr (GString) out = g_string_new (NULL);
  const char *problems, *fixes;

  localdctl_render_report (out, report, FALSE);
  /* Summary first, then problems, then the consolidated fixes. */
  g_assert_true (g_str_has_prefix (out->str, "Not ready: 2 critical problems, 1 note"));
  problems = strstr (out->str, "Problems:");
  fixes = strstr (out->str, "To fix:");
  g_assert_nonnull (problems);
  g_assert_nonnull (fixes);
  g_assert_true (problems < fixes);
  g_assert_nonnull (strstr (fixes, "resolves cgroup.root_ready, cgroup.user_delegated"));
  g_assert_null (strstr (out->str, "/sys/fs/cgroup/unified/locald/user-1000"));

  g_string_truncate (out, 0);
  localdctl_render_report (out, report, TRUE);
  g_assert_nonnull (strstr (out->str, "/sys/fs/cgroup/unified/locald/user-1000"));
  g_assert_nonnull (strstr (out->str, "Facts:"));
}

static void
test_error_names (void)
{
  g_autoptr (GError) denied = g_error_new_literal (LOCALD_ERROR, LOCALD_ERROR_ACCESS_DENIED,
                                                   "GDBus.Error:org.freedesktop.DBus.Error.AccessDenied: no");
  g_autoptr (GError) unsafe
      = g_error_new_literal (LOCALD_ERROR, LOCALD_ERROR_UNSAFE_PATH, "not beneath .locald");
  g_autoptr (GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
  g_autofree char *remote = g_dbus_error_get_remote_error (denied);
  g_autofree char *message = localdctl_error_message (denied);

  g_assert_cmpstr (locald_error_get_dbus_name (denied), ==, "org.freedesktop.DBus.Error.AccessDenied");
  g_assert_cmpstr (remote, ==, "org.freedesktop.DBus.Error.AccessDenied");
  g_assert_cmpstr (message, ==, "no");
  g_assert_cmpstr (locald_error_get_dbus_name (unsafe), ==, "dev.locald.Broker1.Error.UnsafePath");
  g_assert_null (locald_error_get_dbus_name (other));
}

/* Acquisition where no bus listens: NOT_READY and a report that says so. */
static void
test_acquire_no_bus (void)
{
  g_autoptr (LocaldReport) report = NULL;
  g_autoptr (LocaldPrivileged) cap = NULL;
  g_autoptr (GError) error = NULL;
  LocaldProblem *p;

  cap = locald_privileged_acquire (LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION, NULL, &report, &error);
  g_assert_null (cap);
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY);
  g_assert_nonnull (report);
  p = locald_report_find_problem (report, "broker.installed");
  g_assert_nonnull (p);
  g_assert_true (locald_problem_is_critical (p));
  g_assert_cmpstr (locald_problem_get_fix (p), ==, "install_broker");
  g_assert_cmpstr (locald_report_get_mode (report), ==, "degraded");
  g_assert_null (locald_report_get_broker_version (report));
}

static void
async_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

/* A capability not made by acquisition has no connection: every call fails
 * at once with NOT_READY instead of waiting for ever. */
static void
test_unacquired_not_ready (void)
{
  g_autoptr (LocaldPrivileged) cap = g_object_new (LOCALD_TYPE_PRIVILEGED, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *cgroup = NULL;
  guint killed = 42;
  guint64 removed = 42;

  cgroup = locald_privileged_setup_cgroup_root (cap, NULL, &error);
  g_assert_null (cgroup);
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY);
  g_clear_error (&error);

  g_assert_false (locald_privileged_kill_cgroup (cap, "svc/web", &killed, NULL, &error));
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY);
  g_clear_error (&error);

  g_assert_false (locald_privileged_cleanup_path (cap, "/tmp/.locald/x", &removed, NULL, &error));
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY);
  g_clear_error (&error);

  /* Async too: the callback runs from the main context. */
  locald_privileged_kill_cgroup_async (cap, "svc/web", NULL, async_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (locald_privileged_kill_cgroup_finish (cap, result, NULL, &error));
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY);
}

/* Arguments that are not UTF-8 cannot go on the bus: INVALID_ARGS, no call. */
static void
test_invalid_utf8 (void)
{
  g_autoptr (LocaldPrivileged) cap = g_object_new (LOCALD_TYPE_PRIVILEGED, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (locald_privileged_kill_cgroup (cap, "svc/\xff", NULL, NULL, &error));
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_false (locald_privileged_cleanup_path (cap, "/tmp/.locald/\xc3(", NULL, NULL, &error));
  g_assert_error (error, LOCALD_ERROR, LOCALD_ERROR_INVALID_ARGS);
}

int
main (int argc, char **argv)
{
  /* Before any bus is touched: nothing listens here. */
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/locald-test-bus", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/report/dedupe", test_dedupe);
  g_test_add_func ("/report/priority", test_priority);
  g_test_add_func ("/report/severity-first", test_severity_order_beats_fix_order);
  g_test_add_func ("/report/clean", test_clean_report);
  g_test_add_func ("/report/json-golden", test_json_golden);
  g_test_add_func ("/report/human", test_human_render);
  g_test_add_func ("/error/names", test_error_names);
  g_test_add_func ("/acquire/no-bus", test_acquire_no_bus);
  g_test_add_func ("/privileged/unacquired-not-ready", test_unacquired_not_ready);
  g_test_add_func ("/privileged/invalid-utf8", test_invalid_utf8);
  return g_test_run ();
}
