/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bus-free tests of the daemon's own pieces: the error-name mapping (part of
 * the API), option and config-file parsing (config never from callers, and a
 * config file others can write is refused), and the SelfCheck report built
 * from a fake hierarchy.
 */
#include "config.h"

#include "broker-error.h"
#include "bus-text.h"
#include "options.h"
#include "selfcheck.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void
test_error_names (void)
{
  static const struct
  {
    BrokerErrorCode code;
    const char *name;
  } expected[] = {
    { BROKER_ERROR_FAILED, "dev.locald.Broker1.Error.Failed" },
    { BROKER_ERROR_INVALID_ARGS, "org.freedesktop.DBus.Error.InvalidArgs" },
    { BROKER_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.AccessDenied" },
    { BROKER_ERROR_INTERACTIVE_REQUIRED, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" },
    { BROKER_ERROR_AUTHORIZATION_UNAVAILABLE, "dev.locald.Broker1.Error.AuthorizationUnavailable" },
    { BROKER_ERROR_NOT_OWNER, "dev.locald.Broker1.Error.NotOwner" },
    { BROKER_ERROR_UNSAFE_PATH, "dev.locald.Broker1.Error.UnsafePath" },
    { BROKER_ERROR_CROSSES_MOUNT, "dev.locald.Broker1.Error.CrossesMount" },
    { BROKER_ERROR_NOT_FOUND, "dev.locald.Broker1.Error.NotFound" },
    { BROKER_ERROR_UNSUPPORTED, "dev.locald.Broker1.Error.Unsupported" },
    { BROKER_ERROR_BUSY, "dev.locald.Broker1.Error.Busy" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr (GError) error = g_error_new_literal (BROKER_ERROR, expected[i].code, "x");
      g_assert_cmpstr (broker_error_to_dbus_name (error), ==, expected[i].name);
    }

  /* Anything that is not ours, or out of range, is a generic failure. */
  g_autoptr (GError) foreign = g_error_new_literal (G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
  g_assert_cmpstr (broker_error_to_dbus_name (foreign), ==, "dev.locald.Broker1.Error.Failed");
  g_autoptr (GError) out_of_range = g_error_new_literal (BROKER_ERROR, 9999, "x");
  g_assert_cmpstr (broker_error_to_dbus_name (out_of_range), ==, "dev.locald.Broker1.Error.Failed");

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (broker_error_code_to_dbus_name (expected[i].code), ==, expected[i].name);
  g_assert_cmpstr (broker_error_code_to_dbus_name ((BrokerErrorCode) 9999), ==,
                   "dev.locald.Broker1.Error.Failed");
}

/* What sd-bus accepts in a string (its utf8_is_valid()), written out
 * independently of the code under test; control characters are refused
 * here too, since broker_bus_text() promises to escape them. */
static gboolean
bus_accepts (const char *text)
{
  const char *end = text + strlen (text);

  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE || c < 0x20 || c == 0x7F)
        return FALSE;
    }
  return TRUE;
}

static void
test_bus_text (void)
{
  static const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "", "" },
    { "plain text: /a/b (uid 1000)", "plain text: /a/b (uid 1000)" },
    { "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80" },
    { "back\\slash \\xFF stays", "back\\slash \\xFF stays" },
    /* cut inside a character, at the end and in the middle */
    { "aaa\xc3", "aaa\\xC3" },
    { "a\xe6\x97-b", "a\\xE6\\x97-b" },
    /* not UTF-8 at all, overlong, a surrogate, beyond U+10FFFF */
    { "\xff\xfe", "\\xFF\\xFE" },
    { "\xc0\xaf", "\\xC0\\xAF" },
    { "\xed\xa0\x80", "\\xED\\xA0\\x80" },
    { "\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80" },
    /* noncharacters: valid UTF-8 that sd-bus refuses */
    { "<\xef\xb7\x90>", "<\\xEF\\xB7\\x90>" },
    { "<\xef\xb7\xaf>", "<\\xEF\\xB7\\xAF>" },
    { "<\xef\xbf\xbe>", "<\\xEF\\xBF\\xBE>" },
    { "<\xef\xbf\xbf>", "<\\xEF\\xBF\\xBF>" },
    { "<\xf0\x9f\xbf\xbe>", "<\\xF0\\x9F\\xBF\\xBE>" },
    { "<\xf4\x8f\xbf\xbf>", "<\\xF4\\x8F\\xBF\\xBF>" },
    /* their neighbours are ordinary characters */
    { "<\xef\xb7\x8f\xef\xb7\xb0\xef\xbf\xbd>", "<\xef\xb7\x8f\xef\xb7\xb0\xef\xbf\xbd>" },
    /* control characters, which a terminal would obey */
    { "a\nb\tc\x1b[31m\x7f", "a\\x0Ab\\x09c\\x1B[31m\\x7F" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = broker_bus_text (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (bus_accepts (out));
    }
  {
    g_autofree char *out = broker_bus_text (NULL);
    g_assert_cmpstr (out, ==, "");
  }

  /* Whatever bytes come in, the bus accepts what comes out. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (4242);
  for (guint round = 0; round < 20000; round++)
    {
      char buf[24];
      gsize n = (gsize) g_rand_int_range (rand, 0, (gint32) sizeof buf);

      for (gsize i = 0; i < n; i++)
        {
          /* bias towards the interesting lead bytes */
          static const guchar leads[] = { 0xc3, 0xe6, 0xef, 0xf0, 0xf4, 0xed, 0xb7, 0xbf, 0xbe, 0x80 };
          buf[i] = g_rand_boolean (rand) ? (char) leads[g_rand_int_range (rand, 0, G_N_ELEMENTS (leads))]
                                         : (char) g_rand_int_range (rand, 1, 256);
        }
      buf[n] = '\0';
      g_autofree char *out = broker_bus_text (buf);
      g_assert_true (bus_accepts (out));
      if (bus_accepts (buf))
        g_assert_cmpstr (out, ==, buf);
    }
}

static gboolean
parse (const char *const *args, BrokerOptions *options, GError **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  gboolean stop = FALSE;

  g_ptr_array_add (argv, (gpointer) "locald-brokerd");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  /* GOptionContext removes what it parsed from argv: it gets a shallow
   * copy, while `owned` keeps every string alive and frees them. */
  g_auto (GStrv) owned = g_strdupv ((char **) argv->pdata);
  int argc = (int) argv->len - 1;
  g_autofree char **argv_copy = g_memdup2 (owned, sizeof (char *) * argv->len);
  return broker_options_parse (options, &argc, &argv_copy, &stop, error);
}

static char *
write_config (const char *text, mode_t mode)
{
  g_autofree char *dir = g_dir_make_tmp ("brokerd-conf-XXXXXX", NULL);
  char *path = g_build_filename (dir, "brokerd.conf", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

static void
remove_config (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_options_defaults_and_flags (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", "/nonexistent/brokerd.conf");

  {
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { "--idle-timeout=7", "--cgroup-root=scratch/locald", "--strategy=direct",
                           "--kill-timeout=1500", NULL };
    g_assert_true (parse (args, &options, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (options.idle_timeout_s, ==, 7);
    g_assert_cmpstr (options.cgroup_root, ==, "scratch/locald");
    g_assert_cmpint (options.strategy, ==, BROKER_STRATEGY_DIRECT);
    g_assert_cmpuint (options.kill_timeout_ms, ==, 1500);
  }
  {
    /* A named config file that does not exist is an error, not a silent default. */
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { config_arg, NULL };
    g_assert_false (parse (args, &options, &error));
    g_clear_error (&error);
  }
  {
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { "--strategy=magic", NULL };
    g_assert_false (parse (args, &options, &error));
    g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    g_clear_error (&error);
  }
  {
    /* The cgroup root is validated like any path: no escaping the mount. */
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { "--cgroup-root=../etc", NULL };
    g_assert_false (parse (args, &options, &error));
    g_clear_error (&error);
  }
}

static void
test_options_config_file (void)
{
  g_autoptr (GError) error = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("config ownership checks need root (the file must be root-owned)");
      return;
    }

  g_autofree char *good
      = write_config ("[Broker]\nIdleTimeout=5\nCgroupRoot=from-file\nKillTimeout=250\n", 0644);
  g_autofree char *good_arg = g_strdup_printf ("--config=%s", good);
  {
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { good_arg, NULL };
    g_assert_true (parse (args, &options, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (options.idle_timeout_s, ==, 5);
    g_assert_cmpstr (options.cgroup_root, ==, "from-file");
    g_assert_cmpuint (options.kill_timeout_ms, ==, 250);
  }
  {
    /* The command line wins over the file. */
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { good_arg, "--idle-timeout=9", NULL };
    g_assert_true (parse (args, &options, &error));
    g_assert_cmpuint (options.idle_timeout_s, ==, 9);
  }
  remove_config (good);

  g_autofree char *writable = write_config ("[Broker]\nCgroupRoot=evil\n", 0666);
  g_autofree char *writable_arg = g_strdup_printf ("--config=%s", writable);
  {
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { writable_arg, NULL };
    g_assert_false (parse (args, &options, &error));
    g_assert_nonnull (strstr (error->message, "owned by root"));
    g_clear_error (&error);
  }
  remove_config (writable);

  g_autofree char *foreign = write_config ("[Broker]\nCgroupRoot=evil\n", 0644);
  g_assert_cmpint (chown (foreign, 4242, 4242), ==, 0);
  g_autofree char *foreign_arg = g_strdup_printf ("--config=%s", foreign);
  {
    g_auto (BrokerOptions) options = { 0 };
    const char *args[] = { foreign_arg, NULL };
    g_assert_false (parse (args, &options, &error));
    g_clear_error (&error);
  }
  remove_config (foreign);
}

static const SelfCheckProblem *
find_problem (const SelfCheckReport *report, const char *id)
{
  for (guint i = 0; i < report->problems->len; i++)
    {
      const SelfCheckProblem *p = report->problems->pdata[i];
      if (g_str_equal (p->id, id))
        return p;
    }
  return NULL;
}

static void
test_selfcheck_without_cgroup2 (void)
{
  CgroupLayout layout = { .mount = NULL, .root = (char *) "locald" };
  const SelfCheckInput input = { .layout = &layout, .strategy_reason = "test", .caller_uid = 1000 };
  g_autoptr (SelfCheckReport) report = selfcheck_run (&input);

  const SelfCheckProblem *p = find_problem (report, "cgroup.v2");
  g_assert_nonnull (p);
  g_assert_cmpstr (p->severity, ==, "critical");
  g_assert_cmpstr (p->fix, ==, "unsupported_environment");
  g_assert_cmpstr (report->mode, ==, "degraded");
  g_assert_cmpstr (report->strategy, ==, "direct");
  g_assert_cmpstr (g_hash_table_lookup (report->facts, "caller_uid"), ==, "1000");
  g_assert_cmpstr (g_hash_table_lookup (report->facts, "api_version"), ==, "1");
}

/* A plain directory stands in for the hierarchy: enough to exercise the
 * root-missing and subtree checks and the probe's create-and-remove. */
static void
test_selfcheck_missing_root_and_subtree (void)
{
  g_autofree char *mount = g_dir_make_tmp ("selfcheck-XXXXXX", NULL);
  CgroupLayout layout = { .mount = mount, .root = (char *) "locald" };
  const SelfCheckInput input = { .layout = &layout, .strategy_reason = "test", .caller_uid = 4242 };

  {
    g_autoptr (SelfCheckReport) report = selfcheck_run (&input);
    const SelfCheckProblem *p = find_problem (report, "cgroup.root_ready");
    g_assert_nonnull (p);
    g_assert_cmpstr (p->fix, ==, "run_admin_setup");
    g_assert_nonnull (g_hash_table_lookup (p->evidence, "path"));
    g_assert_null (find_problem (report, "cgroup.root_writable"));
    g_assert_cmpstr (report->mode, ==, "degraded");
  }

  g_autofree char *root = g_build_filename (mount, "locald", NULL);
  g_assert_cmpint (g_mkdir (root, 0755), ==, 0);
  {
    g_autoptr (SelfCheckReport) report = selfcheck_run (&input);
    g_assert_null (find_problem (report, "cgroup.root_ready"));
    const SelfCheckProblem *p = find_problem (report, "cgroup.user_delegated");
    g_assert_nonnull (p);
    g_assert_cmpstr (p->severity, ==, "critical");
    g_assert_cmpstr (g_hash_table_lookup (p->evidence, "uid"), ==, "4242");
    /* The probe left nothing behind. */
    g_autoptr (GDir) dir = g_dir_open (root, 0, NULL);
    g_assert_null (g_dir_read_name (dir));
  }

  g_rmdir (root);
  g_rmdir (mount);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/broker/error-names", test_error_names);
  g_test_add_func ("/broker/bus-text", test_bus_text);
  g_test_add_func ("/broker/options/flags", test_options_defaults_and_flags);
  g_test_add_func ("/broker/options/config-file", test_options_config_file);
  g_test_add_func ("/broker/selfcheck/no-cgroup2", test_selfcheck_without_cgroup2);
  g_test_add_func ("/broker/selfcheck/missing-root-and-subtree", test_selfcheck_missing_root_and_subtree);
  return g_test_run ();
}
