/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared gate for unit tests that need root and a real cgroup2 hierarchy.
 * Without them a test program reports "1..0 # SKIP <reason>" (TAP) and exits
 * 0, unless LOCALD_E2E_FORCE_PRIVILEGED=1 is set: then a skip is a failure,
 * so a privileged CI lane cannot silently test nothing.
 */

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static inline gboolean
test_force_privileged (void)
{
  const char *v = g_getenv ("LOCALD_E2E_FORCE_PRIVILEGED");
  return v != NULL && g_str_equal (v, "1");
}

/* Call before g_test_init(). Returns TRUE when the program should stop now,
 * with *ret_exit_code set. */
static inline gboolean
test_skip_unless_privileged (gboolean need_cgroup2, int *ret_exit_code)
{
  const char *reason = NULL;

  if (geteuid () != 0)
    reason = "needs root";
  else if (need_cgroup2 && !g_file_test ("/proc/self/mountinfo", G_FILE_TEST_EXISTS))
    reason = "no /proc/self/mountinfo";
  else if (need_cgroup2)
    {
      g_autofree char *mi = NULL;
      if (!g_file_get_contents ("/proc/self/mountinfo", &mi, NULL, NULL)
          || strstr (mi, " - cgroup2 ") == NULL)
        reason = "no cgroup2 hierarchy mounted";
    }

  if (reason == NULL)
    return FALSE;
  if (test_force_privileged ())
    {
      fprintf (stderr, "LOCALD_E2E_FORCE_PRIVILEGED=1 but this test cannot run: %s\n", reason);
      printf ("1..1\nnot ok 1 - privileged prerequisites: %s\n", reason);
      *ret_exit_code = 1;
      return TRUE;
    }
  printf ("1..0 # SKIP %s\n", reason);
  *ret_exit_code = 0;
  return TRUE;
}
