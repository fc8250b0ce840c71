/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target for everything that parses caller- or kernel-supplied text
 * before the daemon acts: the CleanupPath and KillCgroup argument validators,
 * the mountinfo parser, SyncHosts's host names and hosts file rewriter, and
 * BindPort's address parser. Besides "no crash, no sanitizer report" it checks
 * that whatever a validator accepts really has the shape the operations rely
 * on, so a validator bug shows up as an abort, not as a quiet hole.
 *
 * Built two ways: with clang -fsanitize=fuzzer for coverage-guided runs
 * (`make fuzz-validators-libfuzzer`, see tests/fuzz/README.md), and linked
 * with fuzz-replay.c into a test that replays the corpus plus deterministic
 * random mutations under ASan/UBSan in `make check`.
 */
#include "config.h"

#include "bindport.h"
#include "broker-error.h"
#include "cgroup.h"
#include "cleanup.h"
#include "hosts-block.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
has_component (const char *path, const char *name)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], name))
      return TRUE;
  return FALSE;
}

static void
check_cleanup_path (const char *s)
{
  g_autoptr (GError) error = NULL;

  if (!cleanup_validate_path (s, &error))
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == BROKER_ERROR);
      return;
    }
  /* Accepted: absolute, bounded, no traversal, no empty components, and
   * strictly beneath a .locald component. */
  g_assert_true (s[0] == '/');
  g_assert_cmpuint (strlen (s), <, PATH_MAX);
  g_assert_false (has_component (s, ".."));
  g_assert_false (has_component (s, "."));
  g_assert_null (strstr (s, "//"));
  g_assert_true (strstr (s, "/.locald/") != NULL);
  for (const char *p = s; *p; p++)
    g_assert_true ((unsigned char) *p >= 0x20 && *p != 0x7f);
}

static void
check_cgroup_relative (const char *s)
{
  g_autoptr (GError) error = NULL;

  if (!cgroup_validate_relative (s, &error))
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_true (s[0] != '/' && s[0] != '\0');
  g_assert_false (has_component (s, ".."));
  g_assert_false (has_component (s, "."));
  g_assert_null (strstr (s, "//"));
  g_assert_true (s[strlen (s) - 1] != '/');
  for (const char *p = s; *p; p++)
    g_assert_true ((unsigned char) *p >= 0x20);
}

static void
check_mountinfo (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *mount = NULL;
  int fd = memfd_create ("mountinfo", MFD_CLOEXEC);

  if (fd < 0)
    return;
  if (write (fd, data, size) == (ssize_t) size)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", fd);
      if (cgroup_find_v2_mount (path, &mount, &error))
        g_assert_true (mount != NULL && strchr (mount, '\0') != NULL);
      else
        g_assert_nonnull (error);
    }
  close (fd);
}

static const char *const fuzz_suffixes[] = { "localhost", "test", NULL };

static void
check_host_name (const char *s)
{
  if (!hosts_validate_name (s, fuzz_suffixes, NULL))
    return;
  /* Accepted: what may go into a hosts file line, nothing else. */
  g_assert_cmpuint (strlen (s), <=, HOSTS_NAME_MAX);
  g_assert_true (g_str_has_suffix (s, ".localhost") || g_str_has_suffix (s, ".test"));
  for (const char *p = s; *p; p++)
    g_assert_true ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
  g_assert_null (strstr (s, ".."));
}

/* The input is a hosts file: rewriting uid 1000's block either refuses, or
 * yields a file with exactly that block, and removing it again gives back
 * a file without it. */
static void
check_hosts_rewrite (const uint8_t *data, size_t size)
{
  const char *const names[] = { "a.test", "b.localhost", NULL };
  const char *const none[] = { NULL };
  gsize len = 0, len2 = 0;
  g_autofree char *out = hosts_rewrite ((const char *) data, size, 1000, names, &len, NULL);

  if (out == NULL)
    return;
  g_auto (GStrv) got = hosts_block_names (out, len, 1000, NULL);
  g_assert_nonnull (got);
  g_assert_cmpuint (g_strv_length (got), ==, 2);
  g_assert_cmpstr (got[0], ==, "a.test");
  g_autofree char *back = hosts_rewrite (out, len, 1000, none, &len2, NULL);
  g_assert_nonnull (back);
  g_auto (GStrv) gone = hosts_block_names (back, len2, 1000, NULL);
  g_assert_nonnull (gone);
  g_assert_cmpuint (g_strv_length (gone), ==, 0);
}

static void
check_address (const char *s)
{
  BindPortTarget t;
  if (!bindport_parse (s, 80, &t, NULL))
    return;
  g_assert_true (t.family == AF_INET || t.family == AF_INET6);
  g_assert_null (strchr (s, '%'));
  g_assert_null (strchr (s, '['));
  g_assert_true (g_utf8_validate (t.text, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;

  /* The first byte picks the target; the rest is the input. */
  const uint8_t selector = data[0] % 6;
  g_autofree char *text = g_strndup ((const char *) data + 1, size - 1);

  switch (selector)
    {
    case 0:
      check_cleanup_path (text);
      break;
    case 1:
      check_cgroup_relative (text);
      break;
    case 2:
      check_mountinfo (data + 1, size - 1);
      break;
    case 3:
      check_host_name (text);
      break;
    case 4:
      check_hosts_rewrite (data + 1, size - 1);
      break;
    default:
      check_address (text);
      break;
    }
  return 0;
}
