/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "selfcheck.h"
#include "client/locald-names.h"

#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void
problem_free (SelfCheckProblem *problem)
{
  g_free (problem->id);
  g_free (problem->severity);
  g_free (problem->summary);
  g_clear_pointer (&problem->evidence, g_hash_table_unref);
  g_free (problem->fix);
  g_free (problem);
}

void
selfcheck_report_free (SelfCheckReport *report)
{
  if (report == NULL)
    return;
  g_free (report->strategy);
  g_free (report->strategy_reason);
  g_free (report->mode);
  g_clear_pointer (&report->problems, g_ptr_array_unref);
  g_clear_pointer (&report->facts, g_hash_table_unref);
  g_free (report);
}

/* Adds a problem; the variadic tail is key, value pairs of evidence, NULL-terminated. */
static void G_GNUC_NULL_TERMINATED
add_problem (
    SelfCheckReport *report, const char *id, const char *severity, const char *fix, const char *summary, ...)
{
  SelfCheckProblem *problem = g_new0 (SelfCheckProblem, 1);
  va_list ap;
  const char *key;

  problem->id = g_strdup (id);
  problem->severity = g_strdup (severity);
  problem->fix = g_strdup (fix);
  problem->summary = g_strdup (summary);
  problem->evidence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  va_start (ap, summary);
  while ((key = va_arg (ap, const char *)) != NULL)
    {
      const char *value = va_arg (ap, const char *);
      g_hash_table_insert (problem->evidence, g_strdup (key), g_strdup (value ? value : ""));
    }
  va_end (ap);
  g_ptr_array_add (report->problems, problem);
}

static void
set_fact (SelfCheckReport *report, const char *key, const char *value)
{
  g_hash_table_insert (report->facts, g_strdup (key), g_strdup (value ? value : ""));
}

static void
probe_capabilities (SelfCheckReport *report)
{
  g_autofree char *missing = broker_caps_missing ();
  g_autofree char *described = broker_caps_describe ();

  set_fact (report, "capabilities", described);
  if (*missing != '\0')
    add_problem (report, LOCALD_PROBLEM_PRIVILEGE_CAPABILITIES, "critical", LOCALD_FIX_HOST_POLICY,
                 "The broker lacks capabilities it needs; the host or its service manager withholds them.",
                 "missing", missing, "current", described, NULL);
}

/* The smoke test: create and remove a probe cgroup where setup would work
 * (in the locald root, or the mount itself when the root does not exist yet).
 * Also reports whether cgroup.kill exists, read from the probe. */
static void
probe_cgroup_writable (SelfCheckReport *report, int parent_fd, const char *parent_path)
{
  g_autofree char *name = g_strdup_printf ("locald-probe-%d-%u", (int) getpid (), g_random_int ());

  if (mkdirat (parent_fd, name, 0755) < 0)
    {
      int saved = errno;
      add_problem (report, LOCALD_PROBLEM_CGROUP_ROOT_WRITABLE, "critical", LOCALD_FIX_HOST_POLICY,
                   "The broker cannot create cgroups: the cgroup hierarchy is read-only or withheld from it.",
                   "path", parent_path, "error", g_strerror (saved), NULL);
      return;
    }

  g_autofree char *kill_file = g_strdup_printf ("%s/cgroup.kill", name);
  gboolean has_kill = faccessat (parent_fd, kill_file, F_OK, 0) == 0;
  if (unlinkat (parent_fd, name, AT_REMOVEDIR) < 0)
    {
      int saved = errno;
      add_problem (report, LOCALD_PROBLEM_CGROUP_ROOT_WRITABLE, "critical", LOCALD_FIX_HOST_POLICY,
                   "The broker created a probe cgroup but could not remove it.", "path", parent_path, "probe",
                   name, "error", g_strerror (saved), NULL);
      return;
    }

  set_fact (report, "cgroup_kill", has_kill ? "yes" : "no");
  if (!has_kill)
    add_problem (report, "cgroup.kill", "info", "none",
                 "The kernel has no cgroup.kill; services are stopped by freezing and signalling instead.",
                 "kernel", g_hash_table_lookup (report->facts, "kernel"), NULL);
}

static void
probe_cgroup (SelfCheckReport *report, const SelfCheckInput *input)
{
  const CgroupLayout *layout = input->layout;

  if (layout->mount == NULL)
    {
      add_problem (report, LOCALD_PROBLEM_CGROUP_V2, "critical", LOCALD_FIX_UNSUPPORTED_ENVIRONMENT,
                   "No cgroup v2 hierarchy is mounted; locald needs cgroup v2.", "mountinfo",
                   "/proc/self/mountinfo", NULL);
      return;
    }
  set_fact (report, "cgroup_mount", layout->mount);

  g_autofree char *root_path = g_strdup_printf ("/%s", layout->root);
  set_fact (report, "cgroup_root", root_path);

  int mount_fd = open (layout->mount, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (mount_fd < 0)
    {
      int saved = errno;
      add_problem (report, LOCALD_PROBLEM_CGROUP_V2, "critical", LOCALD_FIX_UNSUPPORTED_ENVIRONMENT,
                   "The cgroup v2 hierarchy cannot be opened.", "path", layout->mount, "error",
                   g_strerror (saved), NULL);
      return;
    }

  int root_fd = openat (mount_fd, layout->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    {
      int saved = errno;
      g_autofree char *full = g_build_filename (layout->mount, layout->root, NULL);
      int writable_fd = open (layout->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      add_problem (report, LOCALD_PROBLEM_CGROUP_ROOT_READY, "critical", LOCALD_FIX_RUN_ADMIN_SETUP,
                   "The locald cgroup root does not exist yet; an administrator needs to run the setup once.",
                   "path", full, "error", g_strerror (saved), NULL);
      if (writable_fd >= 0)
        {
          probe_cgroup_writable (report, writable_fd, layout->mount);
          close (writable_fd);
        }
      close (mount_fd);
      return;
    }
  close (mount_fd);

  g_autofree char *full_root = g_build_filename (layout->mount, layout->root, NULL);
  probe_cgroup_writable (report, root_fd, full_root);

  /* The caller's own delegated subtree. */
  g_autofree char *user_path = cgroup_user_path (layout, input->caller_uid);
  const char *user_name = strrchr (user_path, '/') + 1;
  g_autofree char *uid_text = g_strdup_printf ("%u", (unsigned) input->caller_uid);
  struct stat st;

  set_fact (report, "user_cgroup", user_path);
  if (fstatat (root_fd, user_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    add_problem (report, LOCALD_PROBLEM_CGROUP_USER_DELEGATED, "critical", LOCALD_FIX_RUN_ADMIN_SETUP,
                 "Your delegated cgroup does not exist yet; run the setup (it needs an administrator once).",
                 "path", user_path, "uid", uid_text, NULL);
  else if (!S_ISDIR (st.st_mode) || st.st_uid != input->caller_uid)
    {
      g_autofree char *owner = g_strdup_printf ("%u", (unsigned) st.st_uid);
      add_problem (report, LOCALD_PROBLEM_CGROUP_USER_DELEGATED, "critical", LOCALD_FIX_RUN_ADMIN_SETUP,
                   "Your cgroup exists but is not delegated to you; running the setup again repairs it.",
                   "path", user_path, "uid", uid_text, "owner", owner, NULL);
    }
  close (root_fd);
}

SelfCheckReport *
selfcheck_run (const SelfCheckInput *input)
{
  g_return_val_if_fail (input != NULL && input->layout != NULL, NULL);

  SelfCheckReport *report = g_new0 (SelfCheckReport, 1);
  struct utsname uts;

  report->problems = g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);
  report->facts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  report->strategy = g_strdup (input->systemd_strategy ? "systemd" : "direct");
  report->strategy_reason = g_strdup (input->strategy_reason);

  set_fact (report, "version", PACKAGE_VERSION);
  set_fact (report, "api_version", G_STRINGIFY (LOCALD_BROKER_API_VERSION));
  set_fact (report, "strategy", report->strategy);
  if (uname (&uts) == 0)
    set_fact (report, "kernel", uts.release);
  {
    g_autofree char *uid_text = g_strdup_printf ("%u", (unsigned) input->caller_uid);
    set_fact (report, "caller_uid", uid_text);
  }

  probe_capabilities (report);
  probe_cgroup (report, input);

  gboolean critical = FALSE;
  for (guint i = 0; i < report->problems->len; i++)
    critical |= g_str_equal (((SelfCheckProblem *) report->problems->pdata[i])->severity, "critical");
  report->mode = g_strdup (critical ? "degraded" : "enabled");
  return report;
}
