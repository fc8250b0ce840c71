/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the direct cgroup strategy against the real cgroup2
 * hierarchy. Everything happens below a scratch cgroup
 * "<mount>/locald-unit-<pid>", with the locald root at
 * "locald-unit-<pid>/locald"; the scratch cgroup is removed at the end even
 * when a test aborts (see test-cgroup-scratch.h).
 */
#include "config.h"

#include "broker-error.h"
#include "cgroup.h"
#include "cleanup-fs.h"
#include "test-cgroup-scratch.h"
#include "test-privileged.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEST_UID ((uid_t) 4242)
#define OTHER_UID ((uid_t) 4343)

static CgroupLayout layout;
static char *scratch_name; /* "locald-unit-<pid>" */
static char *scratch_path; /* "<mount>/locald-unit-<pid>" */

static char *
user_dir (uid_t uid)
{
  return g_strdup_printf ("%s/%s/user-%u", layout.mount, layout.root, (unsigned) uid);
}

static char *
setup_user (uid_t uid)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;

  g_assert_true (cgroup_direct_setup (&layout, uid, &path, &error));
  g_assert_no_error (error);
  return path;
}

static void
make_cgroup (const char *dir)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
}

static void
assert_owner (const char *path, uid_t uid)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, uid);
}

static void
assert_reaped_by_sigkill (pid_t pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  g_assert_cmpint (kill (pid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

/* ------------------------------------------------------------ mountinfo */

static char *
write_fixture (const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("locald-mountinfo-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

static void
test_mountinfo_escapes (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *mount = NULL;
  /* The first line mentions cgroup2 only in the mount point and a field
   * before the separator: only the file system type after " - " counts. */
  g_autofree char *fixture
      = write_fixture ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
                       "30 23 0:27 / /cgroup2 rw shared:cgroup2 - tmpfs cgroup2 rw\n"
                       "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
                       "41 31 0:38 / /mnt/with\\040space\\011tab\\134back rw,relatime shared:10 master:2 - "
                       "cgroup2 cgroup2 rw\n"
                       "42 31 0:39 / /second rw - cgroup2 cgroup2 rw\n");

  g_assert_true (cgroup_find_v2_mount (fixture, &mount, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (mount, ==, "/mnt/with space\ttab\\back");
  g_unlink (fixture);
}

static void
test_mountinfo_absent (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *mount = NULL;
  g_autofree char *fixture
      = write_fixture ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
                       "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                       "garbage line\n\n");

  g_assert_false (cgroup_find_v2_mount (fixture, &mount, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED);
  g_assert_null (mount);
  g_unlink (fixture);
  g_clear_error (&error);

  g_assert_false (cgroup_find_v2_mount ("/nonexistent/mountinfo", &mount, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED);
}

static void
test_mountinfo_real (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *mount = NULL;

  g_assert_true (cgroup_find_v2_mount ("/proc/self/mountinfo", &mount, &error));
  g_assert_no_error (error);
  g_assert_true (g_path_is_absolute (mount));
}

/* ----------------------------------------------------------- validation */

static void
test_validate_relative (void)
{
  g_autofree char *long_comp = g_strnfill (NAME_MAX + 1, 'x');
  g_autofree char *max_comp = g_strnfill (NAME_MAX, 'x');
  g_autofree char *too_long = NULL;
  g_autoptr (GString) path = g_string_new (NULL);
  const char *bad[] = {
    "",
    "/abs",
    "/",
    "..",
    ".",
    "a/../b",
    "a/./b",
    "../user-0",
    "a//b",
    "a/",
    "...",
    ".keeper",
    "svc/.x",
    "\n",
    "a\nb",
    "a\tb",
    "a\x7f",
    "cgroup.procs",
    "svc/cgroup.kill",
    "cgroup.",
    long_comp,
  };
  const char *good[] = { "svc", "svc/web", "a.b/c-d_e", "user-0", "x.cgroup", "svc/a.", max_comp };

  while (path->len <= 4096)
    g_string_append (path, "abcdefgh/");
  g_string_append (path, "z");
  too_long = g_strdup (path->str);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *shown = g_strescape (bad[i], NULL);
      g_test_message ("bad: \"%s\"", shown);
      g_assert_false (cgroup_validate_relative (bad[i], &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
      g_assert_cmpuint (strlen (error->message), >, 20);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (cgroup_validate_relative (too_long, &error));
    g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (cgroup_validate_relative (NULL, &error));
    g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (cgroup_validate_relative (good[i], &error));
      g_assert_no_error (error);
    }
}

static void
test_validate_root (void)
{
  const char *bad[] = { "", "/locald", "..", "a/../b", "locald/", "a//b", "cgroup.procs" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (cgroup_validate_root (bad[i], &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
    }
  g_assert_true (cgroup_validate_root ("locald", NULL));
  g_assert_true (cgroup_validate_root ("scratch-1/locald", NULL));
}

/* ---------------------------------------------------------------- setup */

static void
assert_delegated (uid_t uid)
{
  g_autofree char *dir = user_dir (uid);
  const char *files[] = { "cgroup.procs", "cgroup.subtree_control", "cgroup.threads" };

  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  assert_owner (dir, uid);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *f = g_build_filename (dir, files[i], NULL);
      assert_owner (f, uid);
    }
  /* files that stay the kernel's/root's: delegation must not hand them out */
  {
    g_autofree char *f = g_build_filename (dir, "cgroup.max.depth", NULL);
    assert_owner (f, 0);
  }
}

static void
test_setup (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *expected = g_strdup_printf ("/%s/user-%u", layout.root, (unsigned) TEST_UID);
  g_autofree char *root_dir = g_build_filename (layout.mount, layout.root, NULL);
  g_autofree char *again = NULL;

  g_assert_cmpstr (path, ==, expected);
  g_assert_true (g_file_test (root_dir, G_FILE_TEST_IS_DIR));
  assert_owner (root_dir, 0);
  assert_delegated (TEST_UID);

  /* idempotent */
  again = setup_user (TEST_UID);
  g_assert_cmpstr (again, ==, path);
  assert_delegated (TEST_UID);
}

static void
test_setup_repairs_owner (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *procs = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *threads = g_build_filename (dir, "cgroup.threads", NULL);
  g_autofree char *root_dir = g_build_filename (layout.mount, layout.root, NULL);
  g_autofree char *again = NULL;

  g_assert_cmpint (chown (dir, OTHER_UID, -1), ==, 0);
  g_assert_cmpint (chown (procs, 0, -1), ==, 0);
  g_assert_cmpint (chown (threads, OTHER_UID, -1), ==, 0);
  g_assert_cmpint (chown (root_dir, OTHER_UID, OTHER_UID), ==, 0);

  again = setup_user (TEST_UID);
  g_assert_cmpstr (again, ==, path);
  assert_delegated (TEST_UID);
  assert_owner (root_dir, 0);
}

static void
test_setup_refuses_non_directory (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *bad_root = g_strdup_printf ("%s/cpu.stat", scratch_name);
  CgroupLayout bad = { .mount = layout.mount, .root = bad_root };

  g_assert_false (cgroup_direct_setup (&bad, TEST_UID, &path, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
  g_assert_null (path);
}

static void
test_setup_refuses_non_cgroupfs (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("locald-notcg-XXXXXX", NULL);
  CgroupLayout bad = { .mount = tmp, .root = (char *) "locald" };

  g_assert_nonnull (tmp);
  g_assert_false (cgroup_direct_setup (&bad, TEST_UID, &path, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

/* The delegated user, with no privilege at all, can create a sub-cgroup and
 * move its own process into it. The process starts in user-<uid> because
 * moving needs write access to cgroup.procs of the common ancestor. */
static void
test_delegation_works_unprivileged (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *procs = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *sub = g_build_filename (dir, "deleg", NULL);
  g_autofree char *sub_procs = g_build_filename (dir, "deleg", "cgroup.procs", NULL);
  g_autofree char *outside_procs = g_build_filename (scratch_path, "cgroup.procs", NULL);
  g_autofree char *expected = g_strdup_printf ("0::%s/deleg\n", path);
  g_autoptr (GError) error = NULL;
  guint32 killed = 99;
  pid_t pid;
  int status = 0;

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autofree char *self_cgroup = NULL;
      int fd;

      fd = open (procs, O_WRONLY);
      if (fd < 0 || write (fd, "0", 1) != 1)
        _exit (10);
      close (fd);
      if (setgroups (0, NULL) < 0 || setresgid (TEST_UID, TEST_UID, TEST_UID) < 0
          || setresuid (TEST_UID, TEST_UID, TEST_UID) < 0)
        _exit (11);
      if (mkdir (sub, 0755) < 0)
        _exit (12);
      fd = open (sub_procs, O_WRONLY);
      if (fd < 0 || write (fd, "0", 1) != 1)
        _exit (13);
      close (fd);
      if (!g_file_get_contents ("/proc/self/cgroup", &self_cgroup, NULL, NULL))
        _exit (14);
      if (strstr (self_cgroup, expected) == NULL)
        _exit (15);
      /* ... and nothing outside its subtree */
      fd = open (outside_procs, O_WRONLY);
      if (fd >= 0)
        _exit (16);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  assert_owner (sub, TEST_UID);

  {
    gboolean ok = cgroup_direct_kill (&layout, TEST_UID, "deleg", 2000, CGROUP_KILL_DEFAULT, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, 0);
  g_assert_false (g_file_test (sub, G_FILE_TEST_EXISTS));
}

/* ----------------------------------------------------------------- kill */

static void
run_kill_tree (CgroupKillFlags flags)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *svc = g_build_filename (dir, "svc", NULL);
  g_autofree char *a = g_build_filename (svc, "a", NULL);
  g_autofree char *ab = g_build_filename (a, "b", NULL);
  g_autofree char *c = g_build_filename (svc, "c", NULL);
  g_autofree char *keep = g_build_filename (dir, "keep", NULL);
  g_autoptr (GError) error = NULL;
  pid_t pids[6];
  pid_t keeper;
  guint32 killed = 0;

  make_cgroup (ab);
  make_cgroup (c);
  make_cgroup (keep);
  pids[0] = scratch_spawn_sleep (a, TEST_UID);
  pids[1] = scratch_spawn_sleep (a, TEST_UID);
  pids[2] = scratch_spawn_sleep (ab, 0);
  pids[3] = scratch_spawn_sleep (svc, 0);
  pids[4] = scratch_spawn_sleep (c, TEST_UID);
  pids[5] = scratch_spawn_sleep (ab, TEST_UID);
  keeper = scratch_spawn_sleep (keep, TEST_UID);
  g_assert_true (scratch_cgroup_has_pid (ab, pids[2]));

  {
    gboolean ok = cgroup_direct_kill (&layout, TEST_UID, "svc", 3000, flags, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, G_N_ELEMENTS (pids));
  for (gsize i = 0; i < G_N_ELEMENTS (pids); i++)
    assert_reaped_by_sigkill (pids[i]);
  g_assert_false (g_file_test (svc, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));

  /* a sibling is untouched */
  g_assert_true (scratch_cgroup_has_pid (keep, keeper));
  g_assert_cmpint (kill (keeper, 0), ==, 0);

  /* a nested target leaves its parent in place */
  make_cgroup (ab);
  pids[0] = scratch_spawn_sleep (ab, 0);
  {
    gboolean ok = cgroup_direct_kill (&layout, TEST_UID, "svc/a", 3000, flags, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, 1);
  assert_reaped_by_sigkill (pids[0]);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (svc, G_FILE_TEST_IS_DIR));

  g_assert_true (cgroup_direct_kill (&layout, TEST_UID, "svc", 3000, flags, &killed, &error));
  g_assert_cmpuint (killed, ==, 0);
  {
    gboolean ok = cgroup_direct_kill (&layout, TEST_UID, "keep", 3000, flags, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, 1);
  assert_reaped_by_sigkill (keeper);
}

static void
test_kill_tree (void)
{
  run_kill_tree (CGROUP_KILL_DEFAULT);
}

static void
test_kill_tree_freeze_fallback (void)
{
  run_kill_tree (CGROUP_KILL_FORCE_FREEZE_FALLBACK);
}

/* What systemd's RestrictSUIDSGID= filter does to openat2(): ENOSYS. Only
 * the calling (child) process is affected. */
static void
deny_openat2_with_enosys (void)
{
  struct sock_filter code[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = G_N_ELEMENTS (code), .filter = code };

  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
    _exit (3);
}

/* The kill under a seccomp filter that answers openat2() with ENOSYS, as
 * under the hardened unit: the fd walk must fall back, not fail. The kill
 * runs in a child (the filter cannot be removed again); the parent reaps. */
static void
test_kill_without_openat2 (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *web = g_build_filename (dir, "svc", "web", NULL);
  pid_t victims[2];
  pid_t child;
  int status = 0;

  make_cgroup (web);
  victims[0] = scratch_spawn_sleep (web, TEST_UID);
  victims[1] = scratch_spawn_sleep (web, 0);

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      g_autoptr (GError) error = NULL;
      guint32 killed = 0;

      deny_openat2_with_enosys ();
      if (!cgroup_direct_kill (&layout, TEST_UID, "svc/web", 3000, CGROUP_KILL_DEFAULT, &killed, &error))
        {
          g_printerr ("kill failed: %s\n", error->message);
          _exit (1);
        }
      _exit (killed == 2 ? 0 : 2);
    }
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (victims); i++)
    assert_reaped_by_sigkill (victims[i]);
  g_assert_false (g_file_test (web, G_FILE_TEST_EXISTS));
}

/* systemd removes a scope's cgroup tree as soon as its last process is
 * gone, possibly while the broker still waits for "populated 0": the read
 * then fails with ENODEV, which means empty, not "still populated". */
static void
test_events_wait_removed_cgroup (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *gone = g_build_filename (dir, "gone", NULL);
  g_autofree char *events = g_build_filename (gone, "cgroup.events", NULL);
  gint64 start;
  int fd;

  make_cgroup (gone);
  fd = open (events, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (g_rmdir (gone), ==, 0);

  start = g_get_monotonic_time ();
  g_assert_true (cgroup_events_wait (fd, "populated", "0", start + 3 * G_USEC_PER_SEC));
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  close (fd);
}

static void
test_kill_missing (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autoptr (GError) error = NULL;
  guint32 killed = 99;

  {
    gboolean ok
        = cgroup_direct_kill (&layout, TEST_UID, "nope/deeper", 1000, CGROUP_KILL_DEFAULT, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, 0);

  /* no subtree for this uid at all */
  killed = 99;
  {
    gboolean ok
        = cgroup_direct_kill (&layout, OTHER_UID + 1, "svc", 1000, CGROUP_KILL_DEFAULT, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, ==, 0);
}

static void
test_kill_refuses_hostile (void)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *other = setup_user (OTHER_UID);
  g_autofree char *other_dir = user_dir (OTHER_UID);
  g_autofree char *other_svc = g_build_filename (other_dir, "svc", NULL);
  const char *invalid[] = { "../user-4343/svc", "/abs", "svc/../../user-4343", "cgroup.procs", "", "svc/" };

  make_cgroup (other_svc);
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr (GError) error = NULL;
      guint32 killed = 99;

      g_assert_false (
          cgroup_direct_kill (&layout, TEST_UID, invalid[i], 1000, CGROUP_KILL_DEFAULT, &killed, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
    }
  g_assert_true (g_file_test (other_svc, G_FILE_TEST_IS_DIR));

  /* an interface file is not a cgroup */
  {
    g_autoptr (GError) error = NULL;
    guint32 killed = 99;

    g_assert_false (
        cgroup_direct_kill (&layout, TEST_UID, "cpu.stat", 1000, CGROUP_KILL_DEFAULT, &killed, &error));
    g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
  }
  g_assert_cmpint (g_rmdir (other_svc), ==, 0);
}

/* cgroupfs cannot hold symlinks, so the fd walk that kill uses is checked
 * on an ordinary directory with a planted symlink. */
static void
test_open_beneath_refuses_symlinks (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("locald-beneath-XXXXXX", NULL);
  g_autofree char *real = g_build_filename (tmp, "real", NULL);
  g_autofree char *link = g_build_filename (tmp, "link", NULL);
  g_autofree char *up = g_build_filename (tmp, "up", NULL);
  const char *refused[] = { "link", "link/x", "up", "../", "real/../../etc" };
  int dirfd;

  g_assert_nonnull (tmp);
  g_assert_cmpint (g_mkdir (real, 0755), ==, 0);
  g_assert_cmpint (symlink (real, link), ==, 0);
  g_assert_cmpint (symlink ("..", up), ==, 0);
  dirfd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dirfd, >=, 0);

  /* openat2(), then the one-component-at-a-time fallback used where
   * openat2() answers ENOSYS: the same refusals either way. */
  for (int pass = 0; pass < 2; pass++)
    {
      cleanup_fs_set_openat2_enabled (pass == 0);
      for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
        {
          g_autoptr (GError) error = NULL;
          g_assert_cmpint (cgroup_open_beneath (dirfd, refused[i], "test path", &error), ==, -1);
          g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
        }
      {
        g_autoptr (GError) error = NULL;
        int fd = cgroup_open_beneath (dirfd, "real", "test path", &error);
        g_assert_no_error (error);
        g_assert_cmpint (fd, >=, 0);
        close (fd);
        g_assert_cmpint (cgroup_open_beneath (dirfd, "missing", "test path", &error), ==, -1);
        g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
      }
    }
  cleanup_fs_set_openat2_enabled (TRUE);
  close (dirfd);
  g_unlink (link);
  g_unlink (up);
  g_rmdir (real);
  g_rmdir (tmp);
}

/* Forks a root process into `cgroup_dir` that blocks forever in write(2)
 * to `pipe_w` while holding the pipe's mutex: its buffer is a page
 * registered with userfaultfd that nobody serves. Returns its pid, or 0 when
 * userfaultfd is not available. */
static pid_t
spawn_pipe_holder (const char *cgroup_dir, int pipe_w)
{
  g_autofree char *procs = g_build_filename (cgroup_dir, "cgroup.procs", NULL);
  long probe = syscall (SYS_userfaultfd, O_CLOEXEC);
  pid_t pid;

  if (probe < 0)
    return 0;
  close ((int) probe);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct uffdio_api api = { .api = UFFD_API };
      struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
      long page = sysconf (_SC_PAGESIZE);
      int fd = open (procs, O_WRONLY);
      int uffd;
      void *buf;

      if (fd < 0 || write (fd, "0", 1) != 1)
        _exit (10);
      close (fd);
      uffd = (int) syscall (SYS_userfaultfd, O_CLOEXEC);
      buf = mmap (NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      reg.range.start = (unsigned long) buf;
      reg.range.len = page;
      if (uffd < 0 || buf == MAP_FAILED || ioctl (uffd, UFFDIO_API, &api) < 0
          || ioctl (uffd, UFFDIO_REGISTER, &reg) < 0)
        _exit (11);
      (void) !write (pipe_w, buf, page); /* faults inside pipe_write, mutex held */
      _exit (12);
    }
  return pid;
}

/* A process that cannot die: it waits in uninterruptible sleep for the pipe
 * mutex held by the holder above. The kill must give up with BUSY inside its
 * timeout instead of hanging. (A helper that keeps moving fresh processes in
 * is racy: the kill may catch the cgroup empty for a microsecond, remove it
 * and succeed, which is correct behaviour but not the case under test.) */
static void
run_kill_busy (CgroupKillFlags flags)
{
  g_autofree char *path = setup_user (TEST_UID);
  g_autofree char *dir = user_dir (TEST_UID);
  g_autofree char *busy = g_build_filename (dir, "busy", NULL);
  g_autofree char *helper_cg = g_build_filename (scratch_path, "helper", NULL);
  g_autoptr (GError) error = NULL;
  guint32 killed = 0;
  gint64 start, elapsed;
  pid_t holder, stuck;
  int pipefd[2];
  int status;

  make_cgroup (busy);
  make_cgroup (helper_cg);
  g_assert_cmpint (pipe2 (pipefd, O_CLOEXEC), ==, 0);
  holder = spawn_pipe_holder (helper_cg, pipefd[1]);
  if (holder == 0)
    {
      g_test_skip ("userfaultfd is not available to build an unkillable process");
      close (pipefd[0]);
      close (pipefd[1]);
      return;
    }
  g_usleep (100 * G_TIME_SPAN_MILLISECOND); /* let it block inside pipe_write */

  stuck = fork ();
  g_assert_cmpint (stuck, >=, 0);
  if (stuck == 0)
    {
      g_autofree char *procs = g_build_filename (busy, "cgroup.procs", NULL);
      int fd = open (procs, O_WRONLY);

      if (fd < 0 || write (fd, "0", 1) != 1)
        _exit (10);
      close (fd);
      (void) !write (pipefd[1], "x", 1); /* D state on the pipe mutex */
      _exit (0);
    }
  while (!scratch_cgroup_has_pid (busy, stuck))
    g_usleep (1000);
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);

  start = g_get_monotonic_time ();
  g_assert_false (cgroup_direct_kill (&layout, TEST_UID, "busy", 500, flags, &killed, &error));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_BUSY);
  g_test_message ("BUSY after %" G_GINT64_FORMAT " ms: %s", elapsed / 1000, error->message);
  g_assert_cmpint (elapsed, >=, 500 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, 2500 * G_TIME_SPAN_MILLISECOND);
  g_assert_nonnull (strstr (error->message, "1 process"));
  g_assert_true (g_file_test (busy, G_FILE_TEST_IS_DIR));
  g_clear_error (&error);

  /* once the holder is gone the stuck process can die, and the same call
   * succeeds */
  g_assert_cmpint (kill (holder, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (holder, &status, 0), ==, holder);
  {
    gboolean ok = cgroup_direct_kill (&layout, TEST_UID, "busy", 3000, flags, &killed, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (killed, <=, 1);
  assert_reaped_by_sigkill (stuck);
  g_assert_false (g_file_test (busy, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (helper_cg), ==, 0);
  close (pipefd[0]);
  close (pipefd[1]);
}

static void
test_kill_busy (void)
{
  run_kill_busy (CGROUP_KILL_DEFAULT);
}

static void
test_kill_busy_freeze_fallback (void)
{
  run_kill_busy (CGROUP_KILL_FORCE_FREEZE_FALLBACK);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int exit_code = 0;

  if (test_skip_unless_privileged (TRUE, &exit_code))
    return exit_code;

  g_test_init (&argc, &argv, NULL);

  if (!cgroup_find_v2_mount ("/proc/self/mountinfo", &layout.mount, &error))
    g_error ("%s", error->message);
  scratch_name = g_strdup_printf ("locald-unit-%d", (int) getpid ());
  layout.root = g_strdup_printf ("%s/locald", scratch_name);
  scratch_path = scratch_cgroup_create (layout.mount, scratch_name);

  g_test_add_func ("/cgroup/mountinfo/escapes", test_mountinfo_escapes);
  g_test_add_func ("/cgroup/mountinfo/absent", test_mountinfo_absent);
  g_test_add_func ("/cgroup/mountinfo/real", test_mountinfo_real);
  g_test_add_func ("/cgroup/validate/relative", test_validate_relative);
  g_test_add_func ("/cgroup/validate/root", test_validate_root);
  g_test_add_func ("/cgroup/setup/creates-and-delegates", test_setup);
  g_test_add_func ("/cgroup/setup/repairs-owner", test_setup_repairs_owner);
  g_test_add_func ("/cgroup/setup/refuses-non-directory", test_setup_refuses_non_directory);
  g_test_add_func ("/cgroup/setup/refuses-non-cgroupfs", test_setup_refuses_non_cgroupfs);
  g_test_add_func ("/cgroup/setup/delegation-works-unprivileged", test_delegation_works_unprivileged);
  g_test_add_func ("/cgroup/kill/tree", test_kill_tree);
  g_test_add_func ("/cgroup/kill/tree-freeze-fallback", test_kill_tree_freeze_fallback);
  g_test_add_func ("/cgroup/kill/without-openat2", test_kill_without_openat2);
  g_test_add_func ("/cgroup/kill/events-wait-removed-cgroup", test_events_wait_removed_cgroup);
  g_test_add_func ("/cgroup/kill/missing", test_kill_missing);
  g_test_add_func ("/cgroup/kill/refuses-hostile", test_kill_refuses_hostile);
  g_test_add_func ("/cgroup/kill/open-beneath-refuses-symlinks", test_open_beneath_refuses_symlinks);
  g_test_add_func ("/cgroup/kill/busy", test_kill_busy);
  g_test_add_func ("/cgroup/kill/busy-freeze-fallback", test_kill_busy_freeze_fallback);

  exit_code = scratch_cgroup_run_guarded (scratch_path);

  g_free (scratch_path);
  g_free (scratch_name);
  cgroup_layout_clear (&layout);
  return exit_code;
}
