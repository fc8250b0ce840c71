/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CleanupPath: path validation and the fd-relative removal, checked by their
 * real effects on a scratch tree. Each case gets a fresh directory under
 * /tmp laid out as <tmp>/home/.locald (owned by the "caller") plus sentinels
 * outside it that must survive whatever the caller tries.
 *
 * As root the caller is TEST_UID (an unused uid that owns .locald, the way a
 * desktop user would) and the tree beneath it is partly root-owned, as the
 * leftovers CleanupPath exists for are. Without root the caller is the
 * current user; cases that need root skip (or fail when
 * LOCALD_E2E_FORCE_PRIVILEGED=1).
 */
#include "config.h"

#include "broker-error.h"
#include "cleanup.h"
#include "cleanup-fs.h"
#include "test-privileged.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/acl.h>
#include <acl/libacl.h>
#include <gio/gio.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#define TEST_UID ((uid_t) 4242)
#define OTHER_UID ((uid_t) 4243)

/* Set in main(): as root the whole program runs in a private mount
 * namespace, so a bind mount made by a test never reaches the host. */
static gboolean have_private_mount_ns;

typedef struct
{
  char *tmp;      /* mkdtemp directory, 0755 */
  char *home;     /* <tmp>/home */
  char *locald;   /* <tmp>/home/.locald, owned by caller */
  char *sentinel; /* <tmp>/sentinel, a directory with files that must survive */
  char *link_src; /* <tmp>/link-source, a root-owned file to hard-link from */
  uid_t caller;
  GPtrArray *mounts; /* mount points to detach in teardown */
} Fixture;

/* ---- small helpers ---- */

static gboolean
is_root (void)
{
  return geteuid () == 0;
}

/* Per-case gate: skip without root, but fail when privileged runs are
 * required, so a privileged CI lane cannot quietly test nothing. */
static gboolean
require_root (void)
{
  if (is_root ())
    return TRUE;
  if (test_force_privileged ())
    {
      g_test_message ("LOCALD_E2E_FORCE_PRIVILEGED=1 but this case needs root");
      g_test_fail ();
    }
  else
    g_test_skip ("needs root");
  return FALSE;
}

static char *
path_join (const char *a, const char *b)
{
  return g_build_filename (a, b, NULL);
}

static void
chown_or_die (const char *path, uid_t uid)
{
  if (!is_root ())
    return;
  g_assert_no_errno (lchown (path, uid, uid));
}

static void
make_dir (const char *path, uid_t uid)
{
  g_assert_no_errno (mkdir (path, 0755));
  chown_or_die (path, uid);
}

static void
make_file (const char *path, uid_t uid)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (path, "data\n", -1, &error));
  g_assert_no_error (error);
  g_assert_no_errno (chmod (path, 0644));
  chown_or_die (path, uid);
}

static void
make_symlink (const char *target, const char *path, uid_t uid)
{
  g_assert_no_errno (symlink (target, path));
  chown_or_die (path, uid);
}

static void
make_fifo (const char *path, uid_t uid)
{
  g_assert_no_errno (mkfifo (path, 0644));
  chown_or_die (path, uid);
}

static void
make_socket (const char *path, uid_t uid)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd;

  g_assert_cmpuint (strlen (path), <, sizeof sa.sun_path);
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &sa, sizeof sa));
  close (fd);
  chown_or_die (path, uid);
}

/* Creating inodes is slow on some file systems (a few hundred per second
 * under load here); a hard link is a directory entry all the same, removed
 * by the same unlinkat(), so the big trees are made of links. */
static void
make_link_at (Fixture *f, int dfd, const char *name)
{
  g_assert_no_errno (linkat (AT_FDCWD, f->link_src, dfd, name, 0));
}

static gboolean
exists (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0;
}

static guint
count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A listing of everything below root (type, owner, link target), sorted,
 * to prove that a refused call changed nothing. Recursion is fine here:
 * the trees compared this way are small. */
static void
snapshot_into (const char *root, const char *rel, GPtrArray *out)
{
  g_autofree char *path = *rel ? path_join (root, rel) : g_strdup (root);
  g_autoptr (GDir) dir = NULL;
  const char *name;
  struct stat st;

  g_assert_no_errno (lstat (path, &st));
  if (S_ISLNK (st.st_mode))
    {
      g_autofree char *target = g_file_read_link (path, NULL);
      g_ptr_array_add (out, g_strdup_printf ("%s l %u -> %s", rel, (unsigned) st.st_uid, target));
      return;
    }
  g_ptr_array_add (out,
                   g_strdup_printf ("%s %o %u", rel, (unsigned) (st.st_mode & S_IFMT), (unsigned) st.st_uid));
  if (!S_ISDIR (st.st_mode))
    return;
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return; /* e.g. a mount point we may not read; its name is listed */
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = *rel ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      snapshot_into (root, child, out);
    }
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
snapshot (const char *root)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  snapshot_into (root, "", lines);
  g_ptr_array_sort (lines, compare_strings);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

/* Runs the removal and checks it neither leaks nor holds descriptors. */
static gboolean
run_cleanup (const char *path, uid_t caller, guint64 *ret_removed, GError **error)
{
  guint before = count_fds ();
  guint64 removed = G_MAXUINT64;
  gboolean ok;

  ok = cleanup_remove_beneath_locald (path, caller, &removed, error);
  g_assert_cmpuint (count_fds (), ==, before);
  g_assert_cmpuint (removed, !=, G_MAXUINT64);
  g_assert_true (ok == (error == NULL || *error == NULL));
  if (ret_removed != NULL)
    *ret_removed = removed;
  return ok;
}

/* The same through cleanup_remove_beneath_locald_for() with the groups
 * given, as the daemon calls it with the groups the bus reports. */
static gboolean
run_cleanup_for (
    const char *path, uid_t caller, const gid_t *gids, gsize n_gids, guint64 *ret_removed, GError **error)
{
  guint before = count_fds ();
  guint64 removed = G_MAXUINT64;
  gboolean ok;

  ok = cleanup_remove_beneath_locald_for (path, caller, gids, n_gids, &removed, error);
  g_assert_cmpuint (count_fds (), ==, before);
  g_assert_cmpuint (removed, !=, G_MAXUINT64);
  g_assert_true (ok == (error == NULL || *error == NULL));
  if (ret_removed != NULL)
    *ret_removed = removed;
  return ok;
}

/* ---- fixture ---- */

/* data != NULL: run the case on the openat() fallback used where the
 * kernel has no openat2(). */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  char templ[] = "/tmp/locald-test-cleanup-XXXXXX";

  cleanup_fs_set_openat2_enabled (data == NULL);

  g_assert_nonnull (mkdtemp (templ));
  g_assert_no_errno (chmod (templ, 0755));
  f->tmp = g_strdup (templ);
  f->home = path_join (f->tmp, "home");
  f->locald = path_join (f->home, ".locald");
  f->sentinel = path_join (f->tmp, "sentinel");
  f->link_src = path_join (f->tmp, "link-source");
  f->caller = is_root () ? TEST_UID : getuid ();
  f->mounts = g_ptr_array_new_with_free_func (g_free);

  make_dir (f->home, f->caller);
  make_dir (f->locald, f->caller);
  make_file (f->link_src, 0);

  /* Root-owned: the caller must never be able to make us delete these. */
  make_dir (f->sentinel, 0);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/keep-%u", f->sentinel, i);
      make_file (name, 0);
    }
  {
    g_autofree char *sub = path_join (f->sentinel, "sub");
    g_autofree char *subfile = path_join (f->sentinel, "sub/keep");
    make_dir (sub, 0);
    make_file (subfile, 0);
  }
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "rm", "-rf", "--one-file-system", f->tmp, NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;

  for (guint i = f->mounts->len; i > 0; i--)
    umount2 (f->mounts->pdata[i - 1], MNT_DETACH);
  g_ptr_array_unref (f->mounts);

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_false (exists (f->tmp));

  cleanup_fs_set_openat2_enabled (TRUE);
  g_free (f->link_src);
  g_free (f->sentinel);
  g_free (f->locald);
  g_free (f->home);
  g_free (f->tmp);
}

static void
assert_sentinel_intact (Fixture *f)
{
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/keep-%u", f->sentinel, i);
      g_assert_true (exists (name));
    }
  {
    g_autofree char *subfile = path_join (f->sentinel, "sub/keep");
    g_assert_true (exists (subfile));
  }
}

/* ---- validation (no file system access) ---- */

/* "/p/.locald/aaa.../aaa" of exactly len bytes. */
static char *
long_path (gsize len)
{
  GString *s = g_string_new ("/p/.locald");

  while (s->len < len)
    {
      gsize room = len - s->len - 1;
      gsize comp = MIN (room, (gsize) 200);

      /* avoid leaving room for a trailing '/' only */
      if (room > 200 && room < 202)
        comp = room - 2;
      g_string_append_c (s, '/');
      for (gsize i = 0; i < comp; i++)
        g_string_append_c (s, 'a');
    }
  g_assert_cmpuint (s->len, ==, len);
  return g_string_free (s, FALSE);
}

static void
test_validate_accepts (void)
{
  g_autofree char *longest = long_path (PATH_MAX - 1);
  g_autofree char *name_max = NULL;
  const char *good[] = {
    "/.locald/x",
    "/home/u/.locald/x",
    "/home/u/.locald/x/y/z",
    "/home/u/.locald/x/.locald",
    "/home/u/.locald/with space",
    "/home/u/.locald/..x",
    "/home/u/.locald/...",
    "/home/u/.locald/.x",
    "/home/u/.locald/caf\xc3\xa9",
    longest,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_test_message ("valid: %.60s", good[i]);
      g_assert_true (cleanup_validate_path (good[i], &error));
      g_assert_no_error (error);
    }

  {
    g_autoptr (GError) error = NULL;
    g_autofree char *comp = g_strnfill (NAME_MAX, 'n');
    name_max = g_strconcat ("/h/.locald/", comp, NULL);
    g_assert_true (cleanup_validate_path (name_max, &error));
    g_assert_no_error (error);
  }
}

static void
test_validate_rejects (void)
{
  g_autofree char *too_long = long_path (PATH_MAX);
  g_autofree char *way_too_long = long_path (3 * PATH_MAX);
  g_autofree char *comp = g_strnfill (NAME_MAX + 1, 'n');
  g_autofree char *long_comp = g_strconcat ("/h/.locald/", comp, NULL);
  const struct
  {
    const char *path;
    const char *why;
  } bad[] = {
    { NULL, "empty" },
    { "", "empty" },
    { "relative/.locald/x", "must be absolute" },
    { ".locald/x", "must be absolute" },
    { "/h/.locald/../x", "'..'" },
    { "/h/.locald/x/..", "'..'" },
    { "/h/../h/.locald/x", "'..'" },
    { "/a/./b/.locald/x", "'.'" },
    { "/h/.locald/.", "'.'" },
    { "/h//.locald/x", "empty components" },
    { "//h/.locald/x", "empty components" },
    { "/h/.locald//x", "empty components" },
    { "/h/.locald/x/", "must not end with '/'" },
    { "/", "no .locald component" },
    { "/home/u/project/tmp", "no .locald component" },
    { "/home/u/locald/x", "no .locald component" },
    { "/home/u/.locald", "the .locald directory itself" },
    { "/home/u/.locald/x\n127.0.0.1 evil", "control character" },
    { "/home/u/.locald/\t", "control character" },
    { "/home/u/.locald/x\x7f", "control character" },
    { "/home/u/.locald/\x1b[31m", "control character" },
    { "/home/u/.locald/\xff\xfe", "UTF-8" },
    { too_long, "more than the limit" },
    { way_too_long, "more than the limit" },
    { long_comp, "longer than" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("invalid #%" G_GSIZE_FORMAT ": expecting \"%s\"", i, bad[i].why);
      g_assert_false (cleanup_validate_path (bad[i].path, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
      g_assert_nonnull (strstr (error->message, bad[i].why));
      /* Every refusal says what to do, and never echoes an oversized or
       * unprintable path back. */
      g_assert_nonnull (strstr (error->message, "pass the absolute"));
      g_assert_cmpuint (strlen (error->message), <, 600);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

/* ---- removal ---- */

/* Hostile paths aimed at a real tree: refused before anything is touched. */
static void
test_hostile_paths_change_nothing (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *victim = path_join (f->home, "victim");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *too_long = NULL;
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  make_dir (x, 0);
  {
    g_autofree char *xf = path_join (x, "f");
    make_file (xf, 0);
  }
  make_dir (victim, f->caller);
  {
    g_autofree char *vf = path_join (victim, "precious");
    make_file (vf, f->caller);
  }

  g_ptr_array_add (paths, g_strdup (f->locald + 1));                    /* relative */
  g_ptr_array_add (paths, g_strconcat (f->locald, "/../victim", NULL)); /* .. escape */
  g_ptr_array_add (paths, g_strconcat (f->locald, "/x/../../victim", NULL));
  g_ptr_array_add (paths, g_strconcat (f->home, "/./.locald/x", NULL)); /* . */
  g_ptr_array_add (paths, g_strconcat (f->home, "//.locald/x", NULL));  /* // */
  g_ptr_array_add (paths, g_strconcat (f->locald, "/x/", NULL));        /* trailing / */
  g_ptr_array_add (paths, g_strdup (victim));                           /* no .locald */
  g_ptr_array_add (paths, g_strdup (f->locald));                        /* .locald itself */
  g_ptr_array_add (paths, g_strconcat (f->locald, "/x\n", NULL));       /* control char */
  too_long = g_strconcat (f->locald, "/x", NULL);
  while (strlen (too_long) < PATH_MAX)
    {
      char *longer = g_strconcat (too_long, "/x", NULL);
      g_free (too_long);
      too_long = longer;
    }
  g_ptr_array_add (paths, g_steal_pointer (&too_long)); /* > PATH_MAX */

  before = snapshot (f->tmp);
  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 removed = 1;

      g_test_message ("hostile #%u", i);
      g_assert_false (run_cleanup (paths->pdata[i], f->caller, &removed, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
      g_assert_cmpuint (removed, ==, 0);
    }
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);
}

static void
test_happy_path (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *sibling_file = path_join (f->locald, "sibling");
  g_autofree char *sibling_dir = path_join (f->locald, "x-sibling");
  g_autofree char *outside = path_join (f->tmp, "outside-file");
  g_autoptr (GError) error = NULL;
  guint64 removed = 0, expected = 0;
  const char *dirs[] = { "x", "x/a", "x/a/b", "x/a/b/c", "x/empty", "x/d" };
  const char *files[] = { "x/f1", "x/a/f2", "x/a/b/f3", "x/a/b/c/f4", "x/d/f5", "x/.hidden" };

  if (!require_root ())
    return;

  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++, expected++)
    {
      g_autofree char *p = path_join (f->locald, dirs[i]);
      make_dir (p, 0);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++, expected++)
    {
      g_autofree char *p = path_join (f->locald, files[i]);
      make_file (p, 0);
    }
  {
    g_autofree char *fifo = path_join (f->locald, "x/a/fifo");
    g_autofree char *sock = path_join (f->locald, "x/sock");
    g_autofree char *link_file = path_join (f->locald, "x/a/link-to-file");
    g_autofree char *link_dangling = path_join (f->locald, "x/dangling");
    g_autofree char *userdir = path_join (f->locald, "x/userdir");
    g_autofree char *userfile = path_join (f->locald, "x/userdir/mine");

    make_fifo (fifo, 0), expected++;
    make_socket (sock, 0), expected++;
    make_file (outside, 0);
    make_symlink (outside, link_file, 0), expected++;
    make_symlink ("/nonexistent/target", link_dangling, f->caller), expected++;
    /* A directory the caller owns but has locked (mode 0): root still
     * removes it, the walk needs no read permission of its own. */
    make_dir (userdir, f->caller), expected++;
    make_file (userfile, f->caller), expected++;
    g_assert_no_errno (chmod (userdir, 0));
  }
  make_file (sibling_file, f->caller);
  make_dir (sibling_dir, f->caller);

  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, expected);

  g_assert_false (exists (x));
  g_assert_true (g_file_test (f->locald, G_FILE_TEST_IS_DIR));
  g_assert_true (exists (sibling_file));
  g_assert_true (exists (sibling_dir));
  g_assert_true (exists (outside));

  /* Again: already gone, nothing to do. */
  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_assert_cmpuint (removed, ==, 0);

  /* A single file and a single symlink as the target itself. */
  g_assert_true (run_cleanup (sibling_file, f->caller, &removed, &error));
  g_assert_cmpuint (removed, ==, 1);
  g_assert_false (exists (sibling_file));
  {
    g_autofree char *link = path_join (f->locald, "link-to-sentinel");
    make_symlink (f->sentinel, link, f->caller);
    g_assert_true (run_cleanup (link, f->caller, &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    g_assert_false (exists (link));
    assert_sentinel_intact (f);
  }
}

static void
test_not_owner (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *xf = path_join (f->locald, "x/f");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;
  guint64 removed = 1;
  uid_t stranger = is_root () ? OTHER_UID : getuid () + 1;

  make_dir (x, f->caller);
  make_file (xf, f->caller);
  before = snapshot (f->tmp);

  g_assert_false (run_cleanup (x, stranger, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_assert_nonnull (strstr (error->message, "owned by uid"));
  g_assert_cmpuint (removed, ==, 0);

  /* Root does not own it either: uid 0 gets no special treatment. */
  if (f->caller != 0)
    {
      g_clear_error (&error);
      g_assert_false (run_cleanup (x, 0, &removed, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
    }

  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);
}

static void
test_locald_not_a_directory (Fixture *f, gconstpointer data)
{
  g_autofree char *real = path_join (f->home, "real-locald");
  g_autofree char *real_x = path_join (real, "x");
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;
  guint64 removed = 1;

  /* .locald is a symlink to a directory the caller owns: refused all the
   * same, because a link there could point anywhere. */
  g_assert_no_errno (rmdir (f->locald));
  make_dir (real, f->caller);
  make_dir (real_x, f->caller);
  make_symlink (real, f->locald, f->caller);
  before = snapshot (f->tmp);
  g_assert_false (run_cleanup (x, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
  g_assert_cmpuint (removed, ==, 0);
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);

  /* .locald is a regular file. */
  g_clear_error (&error);
  g_assert_no_errno (unlink (f->locald));
  make_file (f->locald, f->caller);
  g_assert_false (run_cleanup (x, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_assert_true (exists (f->locald));
}

static void
test_symlink_inside_tree (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *xd = path_join (f->locald, "x/d");
  g_autofree char *link1 = path_join (f->locald, "x/to-sentinel");
  g_autofree char *link2 = path_join (f->locald, "x/d/to-sentinel-sub");
  g_autofree char *sentinel_sub = path_join (f->sentinel, "sub");
  g_autoptr (GError) error = NULL;
  guint64 removed = 0;

  make_dir (x, f->caller);
  make_dir (xd, 0);
  make_symlink (f->sentinel, link1, f->caller);
  make_symlink (sentinel_sub, link2, 0);

  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 4);
  g_assert_false (exists (x));
  assert_sentinel_intact (f);
}

static void
test_symlink_in_middle_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *link = path_join (f->locald, "x/link");
  g_autofree char *top_link = path_join (f->locald, "top-link");
  g_autofree char *through = path_join (f->locald, "x/link/sub");
  g_autofree char *through_file = path_join (f->locald, "x/link/keep-0");
  g_autofree char *through_top = path_join (f->locald, "top-link/sub/keep");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  make_dir (x, f->caller);
  make_symlink (f->sentinel, link, f->caller);
  make_symlink (f->sentinel, top_link, f->caller);
  before = snapshot (f->tmp);

  const char *targets[] = { through, through_file, through_top };
  for (gsize i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 removed = 1;

      g_assert_false (run_cleanup (targets[i], f->caller, &removed, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
      g_assert_nonnull (strstr (error->message, "symbolic link"));
      g_assert_cmpuint (removed, ==, 0);
    }
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);
  assert_sentinel_intact (f);
}

static void
test_prefix_user_symlink_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *link = path_join (f->tmp, "user-link");
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *via_link = g_strconcat (link, "/.locald/x", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;
  guint64 removed = 1;

  make_dir (x, f->caller);
  /* Owned by the caller (or, unprivileged, by us - not root either). */
  make_symlink (f->home, link, f->caller);
  before = snapshot (f->tmp);

  g_assert_false (run_cleanup (via_link, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
  g_assert_nonnull (strstr (error->message, "only root-owned symbolic links"));
  g_assert_nonnull (strstr (error->message, "user-link"));
  g_assert_cmpuint (removed, ==, 0);
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);
}

static void
test_prefix_root_symlink_followed (Fixture *f, gconstpointer data)
{
  g_autofree char *abs_link = path_join (f->tmp, "home-link");
  g_autofree char *rel_link = path_join (f->tmp, "home-rel");
  g_autofree char *chain_link = path_join (f->tmp, "home-chain");
  g_autofree char *user_link = path_join (f->tmp, "user-home");
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *xf = path_join (f->locald, "x/f");
  guint64 removed = 0;

  if (!require_root ())
    return;

  /* <tmp>/home-link -> <tmp>/home (absolute), <tmp>/home-rel -> home
   * (relative), both root-owned, as /home -> /var/home is. */
  make_symlink (f->home, abs_link, 0);
  make_symlink ("home", rel_link, 0);

  const char *links[] = { abs_link, rel_link };
  for (gsize i = 0; i < G_N_ELEMENTS (links); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *via = g_strconcat (links[i], "/.locald/x", NULL);

      make_dir (x, 0);
      make_file (xf, 0);
      g_assert_true (run_cleanup (via, f->caller, &removed, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (removed, ==, 2);
      g_assert_false (exists (x));
      g_assert_true (exists (f->locald));
    }

  /* A root-owned link whose target goes through a user-owned link: only
   * the one trusted hop is followed. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *via = g_strconcat (chain_link, "/.locald/x", NULL);

    make_symlink (f->home, user_link, f->caller);
    make_symlink (user_link, chain_link, 0);
    make_dir (x, 0);
    g_assert_false (run_cleanup (via, f->caller, &removed, &error));
    g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
    g_assert_true (exists (x));
  }
}

/* ---- the race: a hostile caller swapping directories for symlinks ---- */

typedef struct
{
  const char *from;
  const char *to;
  unsigned int flags; /* renameat2() flags, e.g. RENAME_EXCHANGE */
} Rename;

/* In a child process: become uid, then tell the parent on ready_fd. Only
 * system calls here: this runs between fork() and _exit(). */
static void
child_become (pid_t parent, int ready_fd, uid_t uid)
{
  char one = 1;

  if (setgroups (0, NULL) < 0 || setresgid (uid, uid, uid) < 0 || setresuid (uid, uid, uid) < 0)
    _exit (2);
  /* Set after the uid change, which clears it: die with the test even if
   * it aborts before killing us. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent)
    _exit (4);
  if (write (ready_fd, &one, 1) != 1)
    _exit (3);
  close (ready_fd);
}

/* Child process: become uid and run the renames in a tight loop until
 * killed. */
static G_GNUC_NORETURN void
attacker_main (pid_t parent, int ready_fd, uid_t uid, const Rename *renames, gsize n_renames)
{
  child_become (parent, ready_fd, uid);
  for (;;)
    for (gsize i = 0; i < n_renames; i++)
      (void) renameat2 (AT_FDCWD, renames[i].from, AT_FDCWD, renames[i].to, renames[i].flags);
}

/* Returns once the attacker runs as uid. */
static pid_t
attacker_start (uid_t uid, const Rename *renames, gsize n_renames)
{
  pid_t parent = getpid ();
  int pipefd[2];
  char byte;
  pid_t pid;

  g_assert_no_errno (pipe2 (pipefd, O_CLOEXEC));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    attacker_main (parent, pipefd[1], uid, renames, n_renames);
  close (pipefd[1]);
  g_assert_cmpint (read (pipefd[0], &byte, 1), ==, 1);
  close (pipefd[0]);
  return pid;
}

static void
attacker_stop (pid_t pid)
{
  int status;

  g_assert_no_errno (kill (pid, SIGKILL));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
}

static void
build_race_tree (Fixture *f, const char *x)
{
  g_autofree char *a = path_join (x, "a");
  g_autofree char *alink = path_join (x, "alink");
  g_autofree char *victim = path_join (x, "a/victim");
  g_autofree char *vlink = path_join (x, "a/vlink");

  make_dir (x, f->caller);
  make_dir (a, f->caller);
  make_symlink (f->sentinel, alink, f->caller);
  make_symlink (f->sentinel, vlink, f->caller);
  make_dir (victim, 0);
  for (guint d = 0; d < 3; d++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/d%u", victim, d);
      int dfd;

      make_dir (dir, 0);
      dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g_assert_cmpint (dfd, >=, 0);
      for (guint i = 0; i < 16; i++)
        {
          char name[16];
          g_snprintf (name, sizeof name, "f%u", i);
          make_link_at (f, dfd, name);
        }
      close (dfd);
    }
  {
    int vfd = open (victim, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_assert_cmpint (vfd, >=, 0);
    for (guint i = 0; i < 16; i++)
      {
        char name[16];
        g_snprintf (name, sizeof name, "f%u", i);
        make_link_at (f, vfd, name);
      }
    close (vfd);
  }
}

static void
test_race_symlink_swap (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *a = path_join (x, "a");
  g_autofree char *alink = path_join (x, "alink");
  g_autofree char *victim = path_join (x, "a/victim");
  g_autofree char *vlink = path_join (x, "a/vlink");
  guint rounds = 200, failures = 0;
  /* Swap at two depths so the walk meets a link both where it is about to
   * descend and in a directory it is already inside; each link points at
   * the sentinel. */
  const Rename renames[] = {
    { victim, vlink, RENAME_EXCHANGE }, { victim, vlink, RENAME_EXCHANGE },
    { victim, vlink, RENAME_EXCHANGE }, { victim, vlink, RENAME_EXCHANGE },
    { victim, vlink, RENAME_EXCHANGE }, { victim, vlink, RENAME_EXCHANGE },
    { a, alink, RENAME_EXCHANGE },      { a, alink, RENAME_EXCHANGE },
  };

  if (!require_root ())
    return;

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr (GError) error = NULL;
      guint64 removed = 0;
      gboolean ok;
      pid_t pid;

      build_race_tree (f, x);
      pid = attacker_start (f->caller, renames, G_N_ELEMENTS (renames));

      /* Alternate between removing the whole tree and naming the very
       * entry that flips between directory and symlink. */
      ok = run_cleanup ((round & 1) ? victim : x, f->caller, &removed, &error);
      attacker_stop (pid);
      assert_sentinel_intact (f);
      if (!ok)
        {
          /* Refusing is fine; following is not. */
          g_test_message ("round %u: %s", round, error->message);
          g_assert_true (error->domain == BROKER_ERROR);
          g_assert_true (error->code == BROKER_ERROR_UNSAFE_PATH || error->code == BROKER_ERROR_BUSY);
          failures++;
        }

      /* Without the attacker everything left goes, links as links. */
      g_clear_error (&error);
      g_assert_true (run_cleanup (x, f->caller, &removed, &error));
      g_assert_no_error (error);
      g_assert_false (exists (x));
      assert_sentinel_intact (f);
    }
  g_test_message ("%u of %u rounds refused under attack", failures, rounds);
}

/* Deep trees are walked with a bounded number of open directories, so on
 * the way back up a parent is re-opened through "..". A hostile caller who
 * moves a directory elsewhere while the walk is below it must not lead the
 * walk into the new place: the "parent" found there is not the one seen on
 * the way down. */
static void
test_race_reopen_parent (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *keep = path_join (f->locald, "keep");
  g_autofree char *moved = path_join (keep, "c4");
  g_autoptr (GString) c4 = g_string_new (x);
  guint rounds = 40, refused = 0;

  if (!require_root ())
    return;

  make_dir (keep, f->caller);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/precious-%u", keep, i);
      make_file (name, 0);
    }
  for (guint depth = 0; depth <= 4; depth++)
    g_string_append_printf (c4, "/c%u", depth);

  const Rename renames[] = {
    { c4->str, moved, 0 },
    { moved, c4->str, 0 },
  };

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr (GError) error = NULL;
      guint64 removed = 0;
      gboolean ok;
      pid_t pid;
      int fd;

      /* x/c0/c1/.../c39, all the caller's (moving a directory to another
       * parent needs write access to it), each holding a file. */
      make_dir (x, f->caller);
      fd = open (x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g_assert_cmpint (fd, >=, 0);
      for (guint depth = 0; depth < 40; depth++)
        {
          char name[16];
          int next;

          g_snprintf (name, sizeof name, "c%u", depth);
          g_assert_no_errno (mkdirat (fd, name, 0755));
          g_assert_no_errno (fchownat (fd, name, f->caller, f->caller, AT_SYMLINK_NOFOLLOW));
          make_link_at (f, fd, "f");
          next = openat (fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          g_assert_cmpint (next, >=, 0);
          close (fd);
          fd = next;
        }
      close (fd);

      pid = attacker_start (f->caller, renames, G_N_ELEMENTS (renames));
      ok = run_cleanup (x, f->caller, &removed, &error);
      attacker_stop (pid);

      for (guint i = 0; i < 5; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s/precious-%u", keep, i);
          g_assert_true (exists (name));
        }
      if (!ok)
        {
          g_test_message ("round %u: %s", round, error->message);
          g_assert_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH);
          refused++;
        }

      g_clear_error (&error);
      g_assert_true (run_cleanup (x, f->caller, &removed, &error));
      g_assert_no_error (error);
      g_assert_true (run_cleanup (moved, f->caller, &removed, &error));
      g_assert_no_error (error);
    }
  g_test_message ("%u of %u rounds refused under attack", refused, rounds);
}

/* ---- mount points ---- */

static gboolean
require_mount_ns (void)
{
  if (!require_root ())
    return FALSE;
  if (have_private_mount_ns)
    return TRUE;
  if (test_force_privileged ())
    {
      g_test_message ("no private mount namespace");
      g_test_fail ();
    }
  else
    g_test_skip ("no private mount namespace");
  return FALSE;
}

static void
bind_mount (Fixture *f, const char *source, const char *target)
{
  g_assert_no_errno (mount (source, target, "none", MS_BIND, NULL));
  g_ptr_array_add (f->mounts, g_strdup (target));
}

static void
test_bind_mount_not_crossed (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *mnt = path_join (f->locald, "x/mnt");
  g_autofree char *mnt_file = path_join (f->locald, "x/mnt/keep-0");
  g_autofree char *file_mnt = path_join (f->locald, "x/file-mnt");
  g_autofree char *sentinel_file = path_join (f->sentinel, "keep-1");
  g_autofree char *z = path_join (f->locald, "x/z");
  g_autoptr (GError) error = NULL;
  guint64 removed = 0;

  if (!require_mount_ns ())
    return;

  make_dir (x, f->caller);
  make_dir (mnt, 0);
  make_dir (z, 0);
  {
    g_autofree char *zf = path_join (z, "f");
    make_file (zf, 0);
  }
  bind_mount (f, f->sentinel, mnt);

  /* Whole tree: stops at the mount point and names it. */
  g_assert_false (run_cleanup (x, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "'x/mnt'"));
  g_assert_true (exists (mnt_file));
  assert_sentinel_intact (f);

  /* The mount point itself, and a path through it. */
  g_clear_error (&error);
  g_assert_false (run_cleanup (mnt, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT);
  g_assert_cmpuint (removed, ==, 0);
  g_clear_error (&error);
  g_assert_false (run_cleanup (mnt_file, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT);
  g_assert_cmpuint (removed, ==, 0);
  assert_sentinel_intact (f);

  /* A file bind-mounted over a file. */
  g_assert_no_errno (umount2 (mnt, MNT_DETACH));
  g_ptr_array_set_size (f->mounts, 0);
  make_file (file_mnt, 0);
  bind_mount (f, sentinel_file, file_mnt);
  g_clear_error (&error);
  g_assert_false (run_cleanup (x, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT);
  g_assert_nonnull (strstr (error->message, "'x/file-mnt'"));
  assert_sentinel_intact (f);
  g_assert_no_errno (umount2 (file_mnt, MNT_DETACH));
  g_ptr_array_set_size (f->mounts, 0);

  /* Unmounted: now it all goes. */
  g_clear_error (&error);
  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_false (exists (x));
  assert_sentinel_intact (f);
}

/* ---- size: many entries, deep trees, few descriptors ---- */

static void
with_fd_limit (rlim_t soft, struct rlimit *saved)
{
  struct rlimit rl;

  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, saved));
  rl = *saved;
  rl.rlim_cur = MIN (soft, saved->rlim_max);
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &rl));
}

static void
test_many_entries (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autoptr (GError) error = NULL;
  struct rlimit saved;
  guint64 removed = 0, expected = 1;
  gint64 start;
  int xfd;

  make_dir (x, f->caller);
  xfd = open (x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (xfd, >=, 0);
  for (guint d = 0; d < 100; d++)
    {
      char name[32];
      int dfd;

      g_snprintf (name, sizeof name, "dir-%03u", d);
      g_assert_no_errno (mkdirat (xfd, name, 0755));
      dfd = openat (xfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g_assert_cmpint (dfd, >=, 0);
      expected++;
      /* One inode per directory (ext4 allows 65,000 links to one). */
      g_assert_no_errno (mknodat (dfd, "file-0000", S_IFREG | 0644, 0));
      expected++;
      for (guint i = 1; i < 1000; i++)
        {
          g_snprintf (name, sizeof name, "file-%04u", i);
          g_assert_no_errno (linkat (dfd, "file-0000", dfd, name, 0));
          expected++;
        }
      close (dfd);
    }
  close (xfd);
  g_assert_cmpuint (expected, ==, 100101);

  with_fd_limit (256, &saved);
  start = g_get_monotonic_time ();
  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_test_message ("removed %" G_GUINT64_FORMAT " entries in %.3f s", removed,
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &saved));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, expected);
  g_assert_false (exists (x));
  g_assert_true (exists (f->locald));
}

static void
test_deep_tree (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autoptr (GError) error = NULL;
  struct rlimit saved;
  guint64 removed = 0, expected = 1;
  int fd;

  make_dir (x, f->caller);
  fd = open (x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  /* 1,000 levels, each with a file, some with a symlink to the sentinel or
   * a side directory, so the walk goes back up into half-read parents. */
  for (guint depth = 0; depth < 1000; depth++)
    {
      int next;

      make_link_at (f, fd, "f");
      expected++;
      if (depth % 10 == 0)
        {
          g_assert_no_errno (symlinkat (f->sentinel, fd, "l"));
          expected++;
        }
      if (depth % 50 == 0)
        {
          g_assert_no_errno (mkdirat (fd, "side", 0755));
          expected++;
        }
      g_assert_no_errno (mkdirat (fd, "d", 0755));
      expected++;
      next = openat (fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g_assert_cmpint (next, >=, 0);
      close (fd);
      fd = next;
    }
  close (fd);

  with_fd_limit (256, &saved);
  g_assert_true (run_cleanup (x, f->caller, &removed, &error));
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &saved));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, expected);
  g_assert_false (exists (x));
  assert_sentinel_intact (f);
}

/* ---- missing things ---- */

static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autofree char *missing_target = path_join (f->locald, "nothing-here");
  g_autofree char *missing_middle = path_join (f->locald, "no/such/dir");
  g_autofree char *file = path_join (f->locald, "file");
  g_autofree char *under_file = path_join (f->locald, "file/sub");
  g_autofree char *no_locald = g_strconcat (f->tmp, "/elsewhere/.locald/x", NULL);
  g_autofree char *no_prefix = g_strconcat (f->tmp, "/no/such/home/.locald/x", NULL);
  g_autoptr (GError) error = NULL;
  guint64 removed = 1;

  make_file (file, f->caller);

  g_assert_true (run_cleanup (missing_target, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 0);
  removed = 1;
  g_assert_true (run_cleanup (missing_middle, f->caller, &removed, &error));
  g_assert_cmpuint (removed, ==, 0);
  removed = 1;
  g_assert_true (run_cleanup (under_file, f->caller, &removed, &error));
  g_assert_cmpuint (removed, ==, 0);
  g_assert_true (exists (file));

  {
    g_autofree char *elsewhere = path_join (f->tmp, "elsewhere");
    make_dir (elsewhere, f->caller);
  }
  g_assert_false (run_cleanup (no_locald, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "elsewhere/.locald"));
  g_clear_error (&error);
  g_assert_false (run_cleanup (no_prefix, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
  g_assert_cmpuint (removed, ==, 0);
}

/* ---- no oracle: what lies in directories the caller cannot search ---- */

#define SECRET_GID ((gid_t) 4300)

static char *
unreachable_message (const char *path)
{
  return g_strdup_printf ("no .locald directory owned by you is reachable at %s; check the path", path);
}

/* The call must fail with the one uniform NOT_FOUND that names nothing but
 * the path as given: no existence, type or owner of anything inside. */
static void
assert_unreachable (const char *path, uid_t caller, const gid_t *gids, gsize n_gids, gboolean use_wrapper)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = unreachable_message (path);
  guint64 removed = 1;
  gboolean ok;

  g_test_message ("unreachable for uid %u (%" G_GSIZE_FORMAT " groups): %s", (unsigned) caller, n_gids, path);
  if (use_wrapper)
    ok = run_cleanup (path, caller, &removed, &error);
  else
    ok = run_cleanup_for (path, caller, gids, n_gids, &removed, &error);
  g_assert_false (ok);
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpuint (removed, ==, 0);
}

/* The precise error the walk gives where the caller may look. */
static void
assert_precise (const char *path,
                uid_t caller,
                const gid_t *gids,
                gsize n_gids,
                gboolean use_wrapper,
                int code,
                const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uniform = unreachable_message (path);
  guint64 removed = 1;
  gboolean ok;

  g_test_message ("precise for uid %u (%" G_GSIZE_FORMAT " groups): %s", (unsigned) caller, n_gids, path);
  if (use_wrapper)
    ok = run_cleanup (path, caller, &removed, &error);
  else
    ok = run_cleanup_for (path, caller, gids, n_gids, &removed, &error);
  g_assert_false (ok);
  g_test_message ("  -> %s", error->message);
  g_assert_error (error, BROKER_ERROR, code);
  g_assert_cmpstr (error->message, !=, uniform);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_cmpuint (removed, ==, 0);
}

static void
set_owner_mode (const char *path, uid_t uid, gid_t gid, mode_t mode)
{
  g_assert_no_errno (lchown (path, uid, gid));
  g_assert_no_errno (chmod (path, mode));
}

/* <tmp>/secret: a 0700 directory of OTHER_UID holding a file, a directory
 * (with a .locald of the caller's in it) and a .locald of OTHER_UID's, plus
 * root-owned links into it. As root the walk sees it all; the caller must
 * learn nothing about it unless the mode bits let them search it. */
static void
test_no_oracle (Fixture *f, gconstpointer data)
{
  g_autofree char *secret = path_join (f->tmp, "secret");
  g_autofree char *s_file = path_join (secret, "file");
  g_autofree char *s_dir = path_join (secret, "dir");
  g_autofree char *s_locald = path_join (secret, ".locald");
  g_autofree char *s_locald_x = path_join (secret, ".locald/x");
  g_autofree char *s_dir_locald = path_join (secret, "dir/.locald");
  g_autofree char *s_dir_locald_x = path_join (secret, "dir/.locald/x");
  g_autofree char *via_dir = path_join (f->tmp, "via-dir");
  g_autofree char *via_missing = path_join (f->tmp, "via-missing");
  g_autofree char *p_locald = g_strconcat (secret, "/.locald/x", NULL);
  g_autofree char *p_locald_deep = g_strconcat (secret, "/.locald/x/y", NULL);
  g_autofree char *p_file = g_strconcat (secret, "/file/.locald/x", NULL);
  g_autofree char *p_dir = g_strconcat (secret, "/dir/.locald/x", NULL);
  g_autofree char *p_dir_sub = g_strconcat (secret, "/dir/sub/.locald/x", NULL);
  g_autofree char *p_missing = g_strconcat (secret, "/missing/.locald/x", NULL);
  g_autofree char *p_via_dir = g_strconcat (via_dir, "/.locald/x", NULL);
  g_autofree char *p_via_missing = g_strconcat (via_missing, "/.locald/x", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const gid_t own_only[] = { TEST_UID };
  const gid_t with_secret[] = { TEST_UID, 100, SECRET_GID };
  const gid_t secret_primary[] = { SECRET_GID };
  const char *all[]
      = { p_locald, p_locald_deep, p_file, p_dir, p_dir_sub, p_missing, p_via_dir, p_via_missing };

  if (!require_root ())
    return;
  g_assert_cmpuint (f->caller, ==, TEST_UID);

  g_assert_no_errno (mkdir (secret, 0700));
  make_file (s_file, OTHER_UID);
  make_dir (s_dir, OTHER_UID);
  make_dir (s_locald, OTHER_UID);
  make_dir (s_locald_x, OTHER_UID);
  make_dir (s_dir_locald, f->caller);
  make_file (s_dir_locald_x, f->caller);
  make_symlink ("secret/dir", via_dir, 0);
  {
    /* Absolute, to a name that is not there. */
    g_autofree char *target = g_strconcat (secret, "/missing", NULL);
    make_symlink (target, via_missing, 0);
  }
  set_owner_mode (secret, OTHER_UID, SECRET_GID, 0700);
  before = snapshot (f->tmp);

  /* 0700, not the caller's: every path through it looks the same, with
   * and without groups, through both entry points. */
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    {
      assert_unreachable (all[i], f->caller, NULL, 0, FALSE);
      assert_unreachable (all[i], f->caller, own_only, G_N_ELEMENTS (own_only), FALSE);
      assert_unreachable (all[i], f->caller, with_secret, G_N_ELEMENTS (with_secret), FALSE);
      assert_unreachable (all[i], f->caller, NULL, 0, TRUE); /* TEST_UID: no passwd entry */
    }
  /* Group x but the caller not in the group; other x missing. */
  g_assert_no_errno (chmod (secret, 0750));
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    assert_unreachable (all[i], f->caller, own_only, G_N_ELEMENTS (own_only), FALSE);
  /* In the group, but the group class lacks x: other x does not help,
   * as with the kernel. */
  g_assert_no_errno (chmod (secret, 0701));
  assert_unreachable (p_locald, f->caller, with_secret, G_N_ELEMENTS (with_secret), FALSE);
  assert_unreachable (p_file, f->caller, secret_primary, G_N_ELEMENTS (secret_primary), FALSE);
  /* The caller's own directory without owner x: group x does not help. */
  set_owner_mode (secret, f->caller, SECRET_GID, 0071);
  assert_unreachable (p_locald, f->caller, with_secret, G_N_ELEMENTS (with_secret), FALSE);
  assert_unreachable (p_missing, f->caller, NULL, 0, FALSE);
  set_owner_mode (secret, OTHER_UID, SECRET_GID, 0700);
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);
  g_assert_true (exists (s_dir_locald_x));

  /* Where the caller may search, the errors are precise again. */
  set_owner_mode (secret, OTHER_UID, SECRET_GID, 0711);
  assert_precise (p_locald, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");
  assert_precise (p_locald, f->caller, NULL, 0, TRUE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");
  assert_precise (p_file, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_FOUND, "is not a directory");
  assert_precise (p_missing, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_FOUND, "does not exist");
  assert_precise (p_dir_sub, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_FOUND, "does not exist");
  assert_precise (p_via_missing, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_FOUND,
                  "not an existing directory");
  /* By group: supplementary or primary. */
  set_owner_mode (secret, OTHER_UID, SECRET_GID, 0710);
  assert_precise (p_locald, f->caller, with_secret, G_N_ELEMENTS (with_secret), FALSE, BROKER_ERROR_NOT_OWNER,
                  "owned by uid");
  assert_precise (p_file, f->caller, secret_primary, G_N_ELEMENTS (secret_primary), FALSE,
                  BROKER_ERROR_NOT_FOUND, "is not a directory");
  /* By owner. */
  set_owner_mode (secret, f->caller, SECRET_GID, 0100);
  assert_precise (p_locald, f->caller, NULL, 0, FALSE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");
  /* uid 0 may search anything, as the kernel lets root. */
  set_owner_mode (secret, OTHER_UID, SECRET_GID, 0700);
  assert_precise (p_locald, 0, NULL, 0, FALSE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");

  /* Searchable: the caller's own .locald in there is reachable, through
   * the directory and through the root-owned link alike. */
  g_assert_no_errno (chmod (secret, 0711));
  {
    g_autoptr (GError) error = NULL;
    guint64 removed = 0;

    g_assert_true (run_cleanup_for (p_via_dir, f->caller, NULL, 0, &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    g_assert_false (exists (s_dir_locald_x));
    g_assert_true (run_cleanup (p_dir, f->caller, &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 0);
  }
  /* ... but not once the link's target lies behind a directory the caller
   * cannot search. */
  g_assert_no_errno (chmod (secret, 0700));
  assert_unreachable (p_via_dir, f->caller, NULL, 0, FALSE);
  assert_sentinel_intact (f);
}

/* The wrapper looks the groups up itself: a user from the passwd database
 * whose primary group may search a 0710 directory gets precise errors, while
 * TEST_UID (no passwd entry, so no groups) does not. */
static void
test_no_oracle_groups_looked_up (Fixture *f, gconstpointer data)
{
  g_autofree char *secret = path_join (f->tmp, "secret");
  g_autofree char *s_locald = path_join (secret, ".locald");
  g_autofree char *s_file = path_join (secret, "file");
  g_autofree char *p_locald = g_strconcat (secret, "/.locald/x", NULL);
  g_autofree char *p_file = g_strconcat (secret, "/file/.locald/x", NULL);
  struct passwd *pw = NULL;
  uid_t user = 0;
  gid_t group = 0;

  if (!require_root ())
    return;
  if (getpwuid (TEST_UID) != NULL)
    {
      g_test_skip ("uid 4242 has a passwd entry here");
      return;
    }
  setpwent ();
  while ((pw = getpwent ()) != NULL)
    if (pw->pw_uid != 0 && pw->pw_gid != 0 && pw->pw_uid != OTHER_UID)
      {
        user = pw->pw_uid;
        group = pw->pw_gid;
        break;
      }
  endpwent ();
  if (user == 0)
    {
      g_test_skip ("no non-root user with a non-root primary group in the passwd database");
      return;
    }

  g_assert_no_errno (mkdir (secret, 0700));
  make_dir (s_locald, OTHER_UID);
  make_file (s_file, OTHER_UID);
  set_owner_mode (secret, OTHER_UID, group, 0710);

  assert_precise (p_locald, user, NULL, 0, TRUE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");
  assert_precise (p_file, user, NULL, 0, TRUE, BROKER_ERROR_NOT_FOUND, "is not a directory");
  assert_unreachable (p_locald, user, NULL, 0, FALSE);
  assert_unreachable (p_locald, f->caller, NULL, 0, TRUE);
  assert_unreachable (p_file, f->caller, NULL, 0, TRUE);
}

/* ---- no oracle through ACLs: the search judgment is the kernel's ---- */

/* A group that ACL entries below name, and a uid that none of them names. */
#define ACL_GID ((gid_t) 4301)
#define BYSTANDER_UID ((uid_t) 4244)

/* Sets the access ACL of the directory path from its text form (acl(5));
 * the kernel sets the group class of the mode from the mask. FALSE when the
 * file system has no ACLs. */
static gboolean
set_acl (const char *path, const char *text)
{
  acl_t acl = acl_from_text (text);
  int fd, r, saved_errno;

  g_assert_nonnull (acl);
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  r = acl_set_fd (fd, acl);
  saved_errno = errno;
  close (fd);
  acl_free (acl);
  if (r < 0 && (saved_errno == ENOTSUP || saved_errno == EOPNOTSUPP))
    return FALSE;
  if (r < 0)
    g_error ("acl_set_fd (%s, \"%s\"): %s", path, text, g_strerror (saved_errno));
  return TRUE;
}

/* In a child process, become uid with gids (gids[0] the primary group;
 * none: the uid's number). Only system calls here: this runs between fork()
 * and _exit(). */
static void
child_become_with_groups (uid_t uid, const gid_t *gids, gsize n_gids)
{
  gid_t primary = n_gids > 0 ? gids[0] : (gid_t) uid;

  if (setgroups (n_gids, gids) < 0 || setresgid (primary, primary, primary) < 0
      || setresuid (uid, uid, uid) < 0)
    _exit (2);
}

/* The kernel's own answer, from a process that is the caller: may uid with
 * gids look into dir? The cases below check their expectation against this
 * first, so what they ask of the broker is what the kernel does. */
static gboolean
kernel_may_search (const char *dir, uid_t uid, const gid_t *gids, gsize n_gids)
{
  g_autofree char *dot = g_strconcat (dir, "/.", NULL);
  int status = 0;
  pid_t pid;

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int fd;

      child_become_with_groups (uid, gids, n_gids);
      fd = open (dot, O_PATH | O_CLOEXEC);
      _exit (fd >= 0 ? 0 : errno == EACCES ? 1 : 3);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), <=, 1);
  return WEXITSTATUS (status) == 0;
}

/* <tmp>/secret (OTHER_UID, group SECRET_GID) holding a file, a .locald of
 * OTHER_UID's, a directory with a .locald of the caller's (one file in it)
 * and, outside, a root-owned link to that directory; the ACL cases set the
 * mode and ACL of secret and ask the broker about each path. */
typedef struct
{
  char *secret;
  char *own_file;  /* secret/dir/.locald/x, the caller's */
  char *p_locald;  /* OTHER_UID's .locald: NOT_OWNER where searchable */
  char *p_file;    /* through a file: "is not a directory" */
  char *p_missing; /* through nothing: "does not exist" */
  char *p_dir;     /* the caller's own .locald/x */
  char *p_via_dir; /* the same through the root-owned link */
  char *before;    /* snapshot of <tmp> after set-up */
} AclTree;

static void
acl_tree_set_up (Fixture *f, AclTree *t)
{
  g_autofree char *s_file = NULL;
  g_autofree char *s_dir = NULL;
  g_autofree char *s_locald = NULL;
  g_autofree char *s_locald_x = NULL;
  g_autofree char *s_dir_locald = NULL;
  g_autofree char *via_dir = path_join (f->tmp, "via-dir");

  t->secret = path_join (f->tmp, "secret");
  s_file = path_join (t->secret, "file");
  s_dir = path_join (t->secret, "dir");
  s_locald = path_join (t->secret, ".locald");
  s_locald_x = path_join (t->secret, ".locald/x");
  s_dir_locald = path_join (t->secret, "dir/.locald");
  t->own_file = path_join (t->secret, "dir/.locald/x");
  t->p_locald = g_strconcat (t->secret, "/.locald/x", NULL);
  t->p_file = g_strconcat (t->secret, "/file/.locald/x", NULL);
  t->p_missing = g_strconcat (t->secret, "/missing/.locald/x", NULL);
  t->p_dir = g_strconcat (t->secret, "/dir/.locald/x", NULL);
  t->p_via_dir = g_strconcat (via_dir, "/.locald/x", NULL);

  g_assert_no_errno (mkdir (t->secret, 0700));
  make_file (s_file, OTHER_UID);
  make_dir (s_dir, OTHER_UID);
  make_dir (s_locald, OTHER_UID);
  make_dir (s_locald_x, OTHER_UID);
  make_dir (s_dir_locald, f->caller);
  make_file (t->own_file, f->caller);
  make_symlink ("secret/dir", via_dir, 0);
  set_owner_mode (t->secret, OTHER_UID, SECRET_GID, 0700);
  t->before = snapshot (f->tmp);
}

static void
acl_tree_clear (AclTree *t)
{
  g_free (t->secret);
  g_free (t->own_file);
  g_free (t->p_locald);
  g_free (t->p_file);
  g_free (t->p_missing);
  g_free (t->p_dir);
  g_free (t->p_via_dir);
  g_free (t->before);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AclTree, acl_tree_clear)

typedef struct
{
  const char *proves; /* what the case shows */
  mode_t mode;        /* of secret, set before the ACL */
  const char *acl;    /* secret's access ACL, acl(5) text form */
  uid_t uid;
  gid_t gids[3]; /* gids[0] is the primary group */
  gsize n_gids;
  gboolean searchable; /* the kernel's verdict, checked first */
} AclCase;

/* Sets the case's mode and ACL on secret, checks the kernel agrees with the
 * case, then that the broker answers as the kernel would have it: precise
 * errors where the caller may search secret, the one uniform NOT_FOUND for
 * every path through it (the root-owned link included) where it may not.
 * FALSE (the test skipped) when the file system has no ACLs. */
static gboolean
check_acl_case (Fixture *f, AclTree *t, const AclCase *c)
{
  const char *through[] = { t->p_locald, t->p_file, t->p_missing, t->p_dir, t->p_via_dir };
  g_autofree char *after = NULL;

  g_test_message ("%s: mode %04o, ACL %s, uid %u with %" G_GSIZE_FORMAT " groups", c->proves,
                  (unsigned) c->mode, c->acl, (unsigned) c->uid, c->n_gids);
  set_owner_mode (t->secret, OTHER_UID, SECRET_GID, c->mode);
  if (!set_acl (t->secret, c->acl))
    {
      g_test_skip ("no POSIX ACLs on the file system of /tmp");
      return FALSE;
    }
  if (kernel_may_search (t->secret, c->uid, c->gids, c->n_gids) != c->searchable)
    g_error ("%s: the kernel says %s, the case says otherwise", c->proves,
             c->searchable ? "denied" : "searchable");

  if (c->searchable)
    {
      const gid_t *g = c->gids;
      gsize n = c->n_gids;

      assert_precise (t->p_locald, c->uid, g, n, FALSE, BROKER_ERROR_NOT_OWNER, "owned by uid 4243");
      assert_precise (t->p_file, c->uid, g, n, FALSE, BROKER_ERROR_NOT_FOUND, "is not a directory");
      assert_precise (t->p_missing, c->uid, g, n, FALSE, BROKER_ERROR_NOT_FOUND, "does not exist");
    }
  else
    for (gsize i = 0; i < G_N_ELEMENTS (through); i++)
      assert_unreachable (through[i], c->uid, c->gids, c->n_gids, FALSE);

  /* Refused or precise, nothing changed: nothing was removed, and
   * chmod/setfacl of secret are not in the snapshot. */
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, t->before);
  return TRUE;
}

static gboolean
check_acl_cases (Fixture *f, const AclCase *cases, gsize n_cases)
{
  g_auto (AclTree) t = { NULL };

  acl_tree_set_up (f, &t);
  for (gsize i = 0; i < n_cases; i++)
    if (!check_acl_case (f, &t, &cases[i]))
      return FALSE;
  assert_sentinel_intact (f);
  return TRUE;
}

/* A named-user entry without x denies the caller, though "other" has x and
 * the caller is in no group of the directory: the uniform NOT_FOUND, as the
 * kernel refuses the lookup; so does a named-user entry whose x the mask
 * takes away. A uid the ACL does not name still searches by "other". */
static void
test_acl_named_user_denied (Fixture *f, gconstpointer data)
{
  const AclCase cases[] = {
    { "named user without x, other x",
      0755,
      "u::rwx,u:4242:---,g::r-x,m::r-x,o::r-x",
      TEST_UID,
      { TEST_UID },
      1,
      FALSE },
    { "named user without x, mask and other x",
      0755,
      "u::rwx,u:4242:rw-,g::r-x,m::rwx,o::r-x",
      TEST_UID,
      { 0 },
      0,
      FALSE },
    { "named user with x, mask without",
      0755,
      "u::rwx,u:4242:r-x,g::r-x,m::r--,o::r-x",
      TEST_UID,
      { TEST_UID },
      1,
      FALSE },
    { "a uid no entry names: other x",
      0755,
      "u::rwx,u:4242:---,g::r-x,m::r-x,o::r-x",
      BYSTANDER_UID,
      { BYSTANDER_UID },
      1,
      TRUE },
  };

  if (!require_root ())
    return;
  check_acl_cases (f, cases, G_N_ELEMENTS (cases));
}

/* A group entry that matches one of the caller's groups decides: the
 * owning-group entry lacking x while the mask and "other" have it denies
 * (the kernel does not fall through to "other"), for a supplementary and a
 * primary group alike, and so does a named-group entry lacking x. */
static void
test_acl_group_entry_denied (Fixture *f, gconstpointer data)
{
  const AclCase cases[] = {
    { "owning group without x, mask and other x",
      0755,
      "u::rwx,g::r--,g:4301:r-x,m::r-x,o::r-x",
      TEST_UID,
      { TEST_UID, SECRET_GID },
      2,
      FALSE },
    { "owning group (primary) without x, mask and other x",
      0755,
      "u::rwx,g::r--,m::r-x,o::r-x",
      TEST_UID,
      { SECRET_GID },
      1,
      FALSE },
    { "named group without x, other x",
      0755,
      "u::rwx,g::r-x,g:4301:r--,m::r-x,o::r-x",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      FALSE },
    { "in neither group: other x",
      0755,
      "u::rwx,g::r--,g:4301:r--,m::r-x,o::r-x",
      TEST_UID,
      { TEST_UID },
      1,
      TRUE },
  };

  if (!require_root ())
    return;
  check_acl_cases (f, cases, G_N_ELEMENTS (cases));
}

/* Where an ACL grants what the mode bits alone would not (a named group or
 * user with x on a 0700 directory of someone else), the broker lets the
 * caller search as the kernel does, and reaches the caller's own .locald in
 * there: it is not stricter than the kernel. The mask still limits, and
 * without a matching entry there is nothing. */
static void
test_acl_entry_grants_search (Fixture *f, gconstpointer data)
{
  const AclCase cases[] = {
    { "named group with x, mode 0700",
      0700,
      "u::rwx,g::---,g:4301:r-x,m::r-x,o::---",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      TRUE },
    { "named group with x only",
      0700,
      "u::rwx,g::---,g:4301:--x,m::--x,o::---",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      TRUE },
    { "named user with x only",
      0700,
      "u::rwx,u:4242:--x,g::---,m::--x,o::---",
      TEST_UID,
      { TEST_UID },
      1,
      TRUE },
    { "one of two matching group entries with x",
      0700,
      "u::rwx,g::r--,g:4301:r-x,m::r-x,o::---",
      TEST_UID,
      { TEST_UID, SECRET_GID, ACL_GID },
      3,
      TRUE },
    { "named group with x, mask without",
      0700,
      "u::rwx,g::---,g:4301:r-x,m::r--,o::---",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      FALSE },
    { "not in the named group",
      0700,
      "u::rwx,g::---,g:4301:r-x,m::r-x,o::---",
      TEST_UID,
      { TEST_UID },
      1,
      FALSE },
  };
  const gid_t with_acl_gid[] = { TEST_UID, ACL_GID };

  if (!require_root ())
    return;
  if (!check_acl_cases (f, cases, G_N_ELEMENTS (cases)))
    return;

  /* Granted: the caller's own .locald in there is cleaned, directly and
   * through the root-owned link. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *secret = path_join (f->tmp, "secret");
    g_autofree char *own_file = path_join (f->tmp, "secret/dir/.locald/x");
    g_autofree char *via = path_join (f->tmp, "via-dir/.locald/x");
    guint64 removed = 0;

    g_assert_true (set_acl (secret, "u::rwx,g::---,g:4301:--x,m::--x,o::---"));
    g_assert_true (
        run_cleanup_for (via, f->caller, with_acl_gid, G_N_ELEMENTS (with_acl_gid), &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    g_assert_false (exists (own_file));
    make_file (own_file, f->caller);
    g_assert_true (
        run_cleanup_for (own_file, f->caller, with_acl_gid, G_N_ELEMENTS (with_acl_gid), &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    g_assert_false (exists (own_file));
  }
}

/* An ACL that lets everyone search changes nothing: the same precise
 * answers as the mode bits alone give, and the cleanup itself works. */
static void
test_acl_all_allowed_unchanged (Fixture *f, gconstpointer data)
{
  const AclCase cases[] = {
    { "everything allowed, named user",
      0755,
      "u::rwx,u:4242:rwx,g::r-x,g:4301:r-x,m::rwx,o::r-x",
      TEST_UID,
      { TEST_UID },
      1,
      TRUE },
    { "everything allowed, no groups",
      0755,
      "u::rwx,u:4242:rwx,g::r-x,g:4301:r-x,m::rwx,o::r-x",
      TEST_UID,
      { 0 },
      0,
      TRUE },
    { "everything allowed, in both groups",
      0755,
      "u::rwx,u:4242:rwx,g::r-x,g:4301:r-x,m::rwx,o::r-x",
      TEST_UID,
      { TEST_UID, SECRET_GID, ACL_GID },
      3,
      TRUE },
    { "everything allowed, bystander",
      0755,
      "u::rwx,u:4242:rwx,g::r-x,g:4301:r-x,m::rwx,o::r-x",
      BYSTANDER_UID,
      { BYSTANDER_UID },
      1,
      TRUE },
    /* A minimal ACL is the mode: the kernel removes the extended one. */
    { "ACL removed again, 0700", 0700, "u::rwx,g::---,o::---", TEST_UID, { TEST_UID, ACL_GID }, 2, FALSE },
  };
  g_autofree char *secret = path_join (f->tmp, "secret");
  g_autofree char *own_file = path_join (f->tmp, "secret/dir/.locald/x");
  g_autoptr (GError) error = NULL;
  guint64 removed = 0;

  if (!require_root ())
    return;
  if (!check_acl_cases (f, cases, G_N_ELEMENTS (cases)))
    return;
  g_assert_true (set_acl (secret, "u::rwx,u:4242:rwx,g::r-x,g:4301:r-x,m::rwx,o::r-x"));
  g_assert_true (run_cleanup (own_file, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 1);
  g_assert_false (exists (own_file));
}

/* The kernel reads the ACL only when the mode's group class (the mask) has
 * some bit set; with an empty mask the mode bits decide, so "other" x lets a
 * named user search whose entry would deny it, while the owning group (group
 * bits 0) may not. The broker follows the kernel here too. */
static void
test_acl_empty_mask_mode_bits_decide (Fixture *f, gconstpointer data)
{
  const AclCase cases[] = {
    { "empty mask: named user without x searches by other",
      0705,
      "u::rwx,u:4242:---,g::---,m::---,o::r-x",
      TEST_UID,
      { TEST_UID },
      1,
      TRUE },
    { "empty mask: named group with x, other x",
      0705,
      "u::rwx,g::---,g:4301:rwx,m::---,o::r-x",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      TRUE },
    { "empty mask: owning group, group bits 0",
      0705,
      "u::rwx,u:4242:---,g::---,m::---,o::r-x",
      TEST_UID,
      { TEST_UID, SECRET_GID },
      2,
      FALSE },
    { "empty mask: named group with x, other without",
      0700,
      "u::rwx,g::---,g:4301:rwx,m::---,o::---",
      TEST_UID,
      { TEST_UID, ACL_GID },
      2,
      FALSE },
  };

  if (!require_root ())
    return;
  check_acl_cases (f, cases, G_N_ELEMENTS (cases));
}

/* The client library's fast path runs the same walk as the caller itself,
 * without privilege. What it reports, as a code for the parent. */
enum
{
  FAST_DONE = 10,    /* removed the one file */
  FAST_NOT_FOUND,    /* the uniform NOT_FOUND: final, never delegated */
  FAST_BROKERS_TURN, /* G_IO_ERROR_PERMISSION_DENIED: delegated */
  FAST_OTHER,
};

static int
fast_path_as (const char *path, uid_t uid, const gid_t *gids, gsize n_gids)
{
  int status = 0;
  pid_t pid;

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      GError *error = NULL;
      guint64 removed = 0;
      gboolean ok;

      child_become_with_groups (uid, gids, n_gids);
      ok = cleanup_remove_beneath_locald_full (path, uid, gids, n_gids, CLEANUP_TREE_UNPRIVILEGED, &removed,
                                               &error);
      if (ok)
        _exit (removed == 1 ? FAST_DONE : FAST_OTHER);
      if (g_error_matches (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND))
        _exit (FAST_NOT_FOUND);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        _exit (FAST_BROKERS_TURN);
      _exit (FAST_OTHER);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* Unprivileged, the fast path must not end a call the broker would carry
 * out: where a named group grants search on a 0700 directory it cleans the
 * caller's own .locald itself; where it may search but not read that
 * directory (so it cannot read the ACL) it leaves the call to the broker,
 * which then does it; where an ACL denies it, it leaves the call to the
 * broker too, which answers with the uniform NOT_FOUND. */
static void
test_acl_fast_path (Fixture *f, gconstpointer data)
{
  g_auto (AclTree) t = { NULL };
  const gid_t groups[] = { TEST_UID, ACL_GID };
  g_autoptr (GError) error = NULL;
  guint64 removed = 0;

  if (!require_root ())
    return;
  acl_tree_set_up (f, &t);

  if (!set_acl (t.secret, "u::rwx,g::---,g:4301:r-x,m::r-x,o::---"))
    {
      g_test_skip ("no POSIX ACLs on the file system of /tmp");
      return;
    }
  g_assert_true (kernel_may_search (t.secret, TEST_UID, groups, G_N_ELEMENTS (groups)));
  g_assert_cmpint (fast_path_as (t.p_dir, TEST_UID, groups, G_N_ELEMENTS (groups)), ==, FAST_DONE);
  g_assert_false (exists (t.own_file));

  /* Search (x) without read: the ACL cannot be read without privilege. */
  make_file (t.own_file, f->caller);
  g_assert_true (set_acl (t.secret, "u::rwx,g::---,g:4301:--x,m::--x,o::---"));
  g_assert_true (kernel_may_search (t.secret, TEST_UID, groups, G_N_ELEMENTS (groups)));
  g_assert_cmpint (fast_path_as (t.p_dir, TEST_UID, groups, G_N_ELEMENTS (groups)), ==, FAST_BROKERS_TURN);
  g_assert_true (exists (t.own_file));
  g_assert_true (run_cleanup_for (t.p_dir, TEST_UID, groups, G_N_ELEMENTS (groups), &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 1);

  /* Denied by a named-user entry: the broker's turn, and its answer. */
  make_file (t.own_file, f->caller);
  g_assert_true (set_acl (t.secret, "u::rwx,u:4242:---,g::r-x,m::r-x,o::r-x"));
  g_assert_cmpint (fast_path_as (t.p_dir, TEST_UID, groups, G_N_ELEMENTS (groups)), ==, FAST_BROKERS_TURN);
  assert_unreachable (t.p_dir, TEST_UID, groups, G_N_ELEMENTS (groups), FALSE);
  g_assert_true (exists (t.own_file));
}

/* ---- the owner rule: only root's and the caller's entries go ---- */

/* rm -rf, as the test (root): setting a case up again, not under test. */
static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  int status = 0;

  g_assert_true (
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* x/ (root) holding root's leftovers, an entry of the caller's and one
 * entry of another user's at `foreign` (relative to .locald), made by make. */
static void
build_mixed_tree (Fixture *f, const char *foreign, void (*make) (const char *path, uid_t uid))
{
  const char *root_dirs[] = { "x", "x/a", "x/sub", "x/sub/deeper" };
  const char *root_files[] = { "x/f", "x/a/f", "x/sub/f", "x/sub/deeper/f" };

  for (gsize i = 0; i < G_N_ELEMENTS (root_dirs); i++)
    {
      g_autofree char *p = path_join (f->locald, root_dirs[i]);
      make_dir (p, 0);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (root_files); i++)
    {
      g_autofree char *p = path_join (f->locald, root_files[i]);
      make_file (p, 0);
    }
  {
    g_autofree char *mine = path_join (f->locald, "x/a/mine");
    make_file (mine, f->caller);
  }
  {
    g_autofree char *p = path_join (f->locald, foreign);
    make (p, OTHER_UID);
  }
}

static void
make_dir_with_root_file (const char *path, uid_t uid)
{
  g_autofree char *inside = path_join (path, "inside");
  make_dir (path, uid);
  make_file (inside, 0);
}

static void
make_symlink_to_sentinel (const char *path, uid_t uid)
{
  make_symlink ("/nonexistent", path, uid);
}

static void
test_foreign_entries_stop_cleanup (Fixture *f, gconstpointer data)
{
  g_autofree char *x = path_join (f->locald, "x");
  const struct
  {
    const char *foreign;
    void (*make) (const char *path, uid_t uid);
  } cases[] = {
    { "x/sub/deeper/theirs", make_file },
    { "x/theirs", make_file },
    { "x/sub/theirdir", make_dir_with_root_file },
    { "x/sub/theirlink", make_symlink_to_sentinel },
    { "x/a/theirfifo", make_fifo },
  };

  if (!require_root ())
    return;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      g_autofree char *foreign = path_join (f->locald, cases[i].foreign);
      guint64 removed = 1;

      build_mixed_tree (f, cases[i].foreign, cases[i].make);
      before = snapshot (f->tmp);

      /* The whole tree: refused before anything is removed. */
      g_assert_false (run_cleanup (x, f->caller, &removed, &error));
      g_test_message ("%s: %s", cases[i].foreign, error->message);
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
      g_assert_nonnull (strstr (error->message, cases[i].foreign));
      g_assert_nonnull (strstr (error->message, "uid 4243"));
      g_assert_nonnull (strstr (error->message, "nothing was removed"));
      g_assert_cmpuint (removed, ==, 0);
      after = snapshot (f->tmp);
      g_assert_cmpstr (after, ==, before);

      /* The foreign entry itself, named as the target. */
      g_clear_error (&error);
      g_assert_false (run_cleanup (foreign, f->caller, &removed, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
      g_assert_cmpuint (removed, ==, 0);
      g_assert_true (exists (foreign));

      /* Once its owner took it away, the rest goes. */
      remove_tree (foreign);
      g_clear_error (&error);
      g_assert_true (run_cleanup (x, f->caller, &removed, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (removed, ==, 9);
      g_assert_false (exists (x));
    }
}

/* A directory of another user's on the way to the target: what lies in it
 * is that user's to remove, root-owned or not. */
static void
test_foreign_directory_on_the_way (Fixture *f, gconstpointer data)
{
  g_autofree char *theirs = path_join (f->locald, "theirs");
  g_autofree char *sub = path_join (f->locald, "theirs/sub");
  g_autofree char *leftover = path_join (f->locald, "theirs/sub/leftover");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;
  guint64 removed = 1;

  if (!require_root ())
    return;

  make_dir (theirs, OTHER_UID);
  make_dir (sub, 0);
  make_file (leftover, 0);
  before = snapshot (f->tmp);

  g_assert_false (run_cleanup (leftover, f->caller, &removed, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_assert_nonnull (strstr (error->message, "'theirs'"));
  g_assert_nonnull (strstr (error->message, "uid 4243"));
  g_assert_cmpuint (removed, ==, 0);
  g_clear_error (&error);
  g_assert_false (run_cleanup (sub, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  after = snapshot (f->tmp);
  g_assert_cmpstr (after, ==, before);

  /* A missing target below it is still just missing. */
  {
    g_autofree char *missing = path_join (f->locald, "not-there/at-all");
    g_clear_error (&error);
    g_assert_true (run_cleanup (missing, f->caller, &removed, &error));
    g_assert_cmpuint (removed, ==, 0);
  }
}

/* A shared, sticky .locald (a world-writable /tmp/.locald of the caller's,
 * where every user may create entries): others' entries stay, root's go. */
static void
test_sticky_shared_locald (Fixture *f, gconstpointer data)
{
  g_autofree char *theirs = path_join (f->locald, "theirs");
  g_autofree char *their_dir = path_join (f->locald, "their-dir");
  g_autofree char *leftover = path_join (f->locald, "leftover");
  g_autofree char *leftover_f = path_join (f->locald, "leftover/f");
  g_autoptr (GError) error = NULL;
  guint64 removed = 0;

  if (!require_root ())
    return;

  g_assert_no_errno (chmod (f->locald, 01777));
  make_file (theirs, OTHER_UID);
  make_dir_with_root_file (their_dir, OTHER_UID);
  make_dir (leftover, 0);
  make_file (leftover_f, 0);

  g_assert_false (run_cleanup (theirs, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (run_cleanup (their_dir, f->caller, &removed, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_assert_cmpuint (removed, ==, 0);
  g_clear_error (&error);
  g_assert_true (run_cleanup (leftover, f->caller, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed, ==, 2);
  g_assert_true (exists (theirs));
  g_assert_true (exists (their_dir));
}

/* Child process: become uid and create dir/o0, dir/o1, ... as fast as it
 * can, counting in *created each one that was made (only then), until
 * killed. Only system calls here: this runs between fork() and _exit(). */
static G_GNUC_NORETURN void
creator_main (pid_t parent, int ready_fd, uid_t uid, const char *dir, volatile guint *created)
{
  char name[PATH_MAX];

  child_become (parent, ready_fd, uid);
  for (;;)
    {
      int fd;

      snprintf (name, sizeof name, "%s/o%u", dir, *created);
      fd = open (name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0)
        {
          close (fd);
          __atomic_add_fetch (created, 1, __ATOMIC_SEQ_CST);
        }
    }
}

/* How the directory the other user writes into is shared with them. */
typedef enum
{
  SHARED_WORLD_WRITABLE, /* mode 0777 */
  SHARED_BY_ACL,         /* mode 0755 plus an ACL entry giving them write */
} SharedHow;

/* Another user keeps adding files to a directory in the tree that they may
 * write while it is being removed, so some appear after the first pass
 * checked it: the removal pass checks each owner again and never removes
 * one of them. The walk skips that second look only in directories nobody
 * but root and the caller may write, and an ACL entry counts as writing
 * (through the mask in the mode's group bits). */
static void
race_foreign_entries_appear (Fixture *f, SharedHow how)
{
  g_autofree char *x = path_join (f->locald, "x");
  g_autofree char *shared = path_join (f->locald, "x/shared");
  guint rounds = 40, during_removal = 0;
  volatile guint *created;

  if (!require_root ())
    return;

  created = mmap (NULL, sizeof *created, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_assert_true (created != MAP_FAILED);

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr (GError) error = NULL;
      guint64 removed = 0;
      int pipefd[2], dfd;
      char byte;
      pid_t pid;
      gboolean ok;

      make_dir (x, 0);
      make_dir (shared, 0);
      if (how == SHARED_WORLD_WRITABLE)
        g_assert_no_errno (chmod (shared, 0777));
      else
        {
          g_autofree char *text
              = g_strdup_printf ("u::rwx,u:%u:rwx,g::r-x,m::rwx,o::r-x", (unsigned) OTHER_UID);

          g_assert_no_errno (chmod (shared, 0755));
          if (!set_acl (shared, text))
            {
              g_test_skip ("the file system has no ACLs");
              remove_tree (x);
              break;
            }
        }
      dfd = open (shared, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g_assert_cmpint (dfd, >=, 0);
      for (guint i = 0; i < 400; i++)
        {
          char name[16];
          g_snprintf (name, sizeof name, "r%u", i);
          make_link_at (f, dfd, name);
        }
      close (dfd);

      *created = 0;
      g_assert_no_errno (pipe2 (pipefd, O_CLOEXEC));
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        creator_main (getppid (), pipefd[1], OTHER_UID, shared, created);
      close (pipefd[1]);
      g_assert_cmpint (read (pipefd[0], &byte, 1), ==, 1);
      close (pipefd[0]);

      ok = run_cleanup (x, f->caller, &removed, &error);
      attacker_stop (pid);

      /* Every file the other user made is still there. */
      for (guint i = 0; i < *created; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s/o%u", shared, i);
          if (!exists (name))
            g_error ("round %u: %s (uid %u) was removed: %s", round, name, (unsigned) OTHER_UID,
                     ok ? "the cleanup succeeded" : error->message);
        }
      if (!ok)
        {
          g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
          if (removed > 0)
            during_removal++;
        }

      remove_tree (x);
    }
  g_test_message ("%u of %u rounds stopped by the removal pass", during_removal, rounds);
  munmap ((void *) created, sizeof *created);
}

static void
test_race_foreign_entries_appear (Fixture *f, gconstpointer data)
{
  race_foreign_entries_appear (f, SHARED_WORLD_WRITABLE);
}

static void
test_race_foreign_entries_appear_acl (Fixture *f, gconstpointer data)
{
  race_foreign_entries_appear (f, SHARED_BY_ACL);
}

/* The removal pass leans on mode bits only where they are the whole
 * story: a tmpfs yes, /proc (or anything unknown) no. */
static void
test_fs_posix_permissions (void)
{
  int fd;

  fd = open ("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_false (cleanup_fs_has_posix_permissions (fd));
  close (fd);
  g_assert_false (cleanup_fs_has_posix_permissions (-1));

  /* A tmpfs of our own, or the host's /dev/shm. */
  for (guint i = 0; i < 2; i++)
    {
      const char *path = i == 0 ? "/tmp" : "/dev/shm";
      struct statfs sfs;

      fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        continue;
      if (fstatfs (fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC)
        {
          g_assert_true (cleanup_fs_has_posix_permissions (fd));
          close (fd);
          return;
        }
      close (fd);
    }
  g_test_skip ("no tmpfs at /tmp or /dev/shm");
}

/* ---- main ---- */

static void
enter_private_mount_namespace (void)
{
  /* As root, run in a mount namespace of our own: bind mounts made by the
   * tests stay in here and vanish with us even if a test dies before
   * unmounting. And give it a fresh tmpfs on /tmp, so that a regression in
   * the code under test - a removal walk running as root that escapes its
   * tree - can only ever destroy this test's own scratch files, never the
   * host's /tmp (the walk refuses to leave the mount it started on). */
  if (!is_root ())
    return;
  if (unshare (CLONE_NEWNS) < 0)
    {
      g_printerr ("# unshare(CLONE_NEWNS): %s\n", g_strerror (errno));
      return;
    }
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
    {
      g_printerr ("# making / private: %s\n", g_strerror (errno));
      return;
    }
  have_private_mount_ns = TRUE;
  if (mount ("locald-test-cleanup", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
    g_printerr ("# no private tmpfs on /tmp (%s); using the real /tmp\n", g_strerror (errno));
}

#define ADD(name, func)                                                                                      \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    g_test_add ("/cleanup/remove/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down);            \
    g_test_add ("/cleanup/remove-without-openat2/" name, Fixture, GINT_TO_POINTER (1), fixture_set_up, func, \
                fixture_tear_down);                                                                          \
  }                                                                                                          \
  G_STMT_END

int
main (int argc, char **argv)
{
  enter_private_mount_namespace ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cleanup/validate/accepts", test_validate_accepts);
  g_test_add_func ("/cleanup/validate/rejects", test_validate_rejects);
  g_test_add_func ("/cleanup/fs/posix-permissions", test_fs_posix_permissions);
  ADD ("hostile-paths-change-nothing", test_hostile_paths_change_nothing);
  ADD ("happy-path", test_happy_path);
  ADD ("not-owner", test_not_owner);
  ADD ("locald-not-a-directory", test_locald_not_a_directory);
  ADD ("symlink-inside-tree", test_symlink_inside_tree);
  ADD ("symlink-in-middle-refused", test_symlink_in_middle_refused);
  ADD ("prefix-user-symlink-refused", test_prefix_user_symlink_refused);
  ADD ("prefix-root-symlink-followed", test_prefix_root_symlink_followed);
  ADD ("race-symlink-swap", test_race_symlink_swap);
  ADD ("race-reopen-parent", test_race_reopen_parent);
  ADD ("bind-mount-not-crossed", test_bind_mount_not_crossed);
  ADD ("many-entries", test_many_entries);
  ADD ("deep-tree", test_deep_tree);
  ADD ("missing", test_missing);
  ADD ("no-oracle", test_no_oracle);
  ADD ("no-oracle-groups-looked-up", test_no_oracle_groups_looked_up);
  ADD ("no-oracle-acl-named-user-denied", test_acl_named_user_denied);
  ADD ("no-oracle-acl-group-entry-denied", test_acl_group_entry_denied);
  ADD ("acl-entry-grants-search", test_acl_entry_grants_search);
  ADD ("acl-all-allowed-unchanged", test_acl_all_allowed_unchanged);
  ADD ("acl-empty-mask-mode-bits-decide", test_acl_empty_mask_mode_bits_decide);
  ADD ("acl-fast-path", test_acl_fast_path);
  ADD ("foreign-entries-stop-cleanup", test_foreign_entries_stop_cleanup);
  ADD ("foreign-directory-on-the-way", test_foreign_directory_on_the_way);
  ADD ("sticky-shared-locald", test_sticky_shared_locald);
  ADD ("race-foreign-entries-appear", test_race_foreign_entries_appear);
  ADD ("race-foreign-entries-appear-acl", test_race_foreign_entries_appear_acl);

  return g_test_run ();
}
