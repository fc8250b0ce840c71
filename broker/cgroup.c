/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Direct cgroup v2 strategy. Every path below the cgroup2 mount is walked
 * with directory fds (openat/mkdirat/fchownat/unlinkat, openat2 with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV) so that nothing is
 * re-resolved from a string after it was checked.
 */
#include "config.h"

#include "cgroup.h"
#include "cgroup-private.h"
#include "broker-error.h"
#include "cleanup-fs.h"
#include "fd-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CGROUP_PATH_MAX 4096
/* How long one wait slice lasts before the kill is repeated: processes that
 * were moved in after a kill get caught by the next one. */
#define KILL_RETRY_SLICE_US (100 * G_TIME_SPAN_MILLISECOND)
/* Upper bound for waiting on "frozen 1"; the kill proceeds either way. */
#define FREEZE_WAIT_US (1000 * G_TIME_SPAN_MILLISECOND)

void
cgroup_layout_clear (CgroupLayout *layout)
{
  g_clear_pointer (&layout->mount, g_free);
  g_clear_pointer (&layout->root, g_free);
}

/* ---------------------------------------------------------------- mountinfo */

/* mountinfo escapes space, tab, newline and backslash as \ooo. NULL when the
 * field is malformed (an escape of NUL would silently truncate the path). */
static char *
unescape_mountinfo (const char *s)
{
  g_autoptr (GString) out = g_string_sized_new (strlen (s));

  for (const char *p = s; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0'
          && p[3] <= '7')
        {
          char c = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
          if (c == '\0')
            return NULL;
          g_string_append_c (out, c);
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
cgroup_find_v2_mount (const char *mountinfo_path, char **ret_mount, GError **error)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (mountinfo_path != NULL, FALSE);
  g_return_val_if_fail (ret_mount != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_get_contents (mountinfo_path, &contents, NULL, &local_error))
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
          "Cannot read the mount table %s (%s); the broker needs /proc mounted to find the cgroup2 hierarchy",
          mountinfo_path, local_error->message);
      return FALSE;
    }

  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      g_auto (GStrv) fields = g_strsplit (*l, " ", -1);
      guint n = g_strv_length (fields);
      guint sep;

      /* id parent major:minor root mount-point options [optional...] - fstype source super-options */
      if (n < 10)
        continue;
      for (sep = 6; sep < n && !g_str_equal (fields[sep], "-"); sep++)
        ;
      if (sep + 1 >= n || !g_str_equal (fields[sep + 1], "cgroup2"))
        continue;

      g_autofree char *mount = unescape_mountinfo (fields[4]);
      if (mount == NULL || mount[0] != '/')
        continue;
      *ret_mount = g_steal_pointer (&mount);
      return TRUE;
    }

  g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
               "No cgroup2 hierarchy is mounted (checked %s); mount one (mount -t cgroup2 none "
               "/sys/fs/cgroup/unified) "
               "or boot with the unified or hybrid cgroup layout",
               mountinfo_path);
  return FALSE;
}

/* --------------------------------------------------------------- validation */

/* Shared rules for the configured root and for caller-supplied cgroup names.
 * `what` names the value in messages, `example` shows a valid one. */
static gboolean
validate_relative_path (const char *what, const char *example, const char *value, GError **error)
{
  gsize len;
  const char *comp;

  if (value == NULL || value[0] == '\0')
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "The %s is empty; name a cgroup, e.g. \"%s\"", what, example);
      return FALSE;
    }

  len = strlen (value);
  if (len > CGROUP_PATH_MAX)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "The %s is %" G_GSIZE_FORMAT
                   " bytes long; at most %d bytes are accepted, use a shorter name",
                   what, len, CGROUP_PATH_MAX);
      return FALSE;
    }

  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) value[i];
      if (c < 0x20 || c == 0x7f)
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "The %s contains a control character (byte 0x%02x at offset %" G_GSIZE_FORMAT
                       "); use printable names only, e.g. \"%s\"",
                       what, c, i, example);
          return FALSE;
        }
    }

  if (value[0] == '/')
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "The %s \"%s\" is absolute; give a path relative to your own subtree, e.g. \"%s\"", what,
                   value, example);
      return FALSE;
    }
  if (value[len - 1] == '/')
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "The %s \"%s\" ends with '/'; drop the trailing slash", what, value);
      return FALSE;
    }

  comp = value;
  for (;;)
    {
      const char *slash = strchr (comp, '/');
      gsize clen = slash != NULL ? (gsize) (slash - comp) : strlen (comp);

      if (clen == 0)
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "The %s \"%s\" has an empty component (\"//\"); separate names with a single '/'",
                       what, value);
          return FALSE;
        }
      if ((clen == 1 && comp[0] == '.') || (clen == 2 && comp[0] == '.' && comp[1] == '.'))
        {
          g_set_error (
              error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
              "The %s \"%s\" contains a \".\" or \"..\" component; name the cgroup directly, e.g. \"%s\"",
              what, value, example);
          return FALSE;
        }
      if (clen > NAME_MAX)
        {
          /* Quote the start only, cut before a character, not inside one. */
          int shown = 32;
          while (shown > 0 && ((guchar) value[shown] & 0xC0) == 0x80)
            shown--;
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "The %s \"%.*s...\" has a component of %" G_GSIZE_FORMAT
                       " bytes; each name may have at most %d bytes",
                       what, shown, value, clen, NAME_MAX);
          return FALSE;
        }
      if (clen >= strlen ("cgroup.") && strncmp (comp, "cgroup.", strlen ("cgroup.")) == 0)
        {
          g_set_error (
              error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
              "The %s \"%s\" names a cgroup interface file (\"cgroup.*\"); name a cgroup directory instead",
              what, value);
          return FALSE;
        }
      if (slash == NULL)
        break;
      comp = slash + 1;
    }

  return TRUE;
}

gboolean
cgroup_validate_root (const char *root, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return validate_relative_path ("configured cgroup root", "locald", root, error);
}

gboolean
cgroup_validate_relative (const char *cgroup, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!validate_relative_path ("cgroup", "svc/web", cgroup, error))
    return FALSE;
  /* The broker's own cgroups inside a subtree (the systemd strategy's
   * keeper) start with '.'; a caller can neither join nor kill them. */
  for (const char *comp = cgroup;;)
    {
      const char *slash = strchr (comp, '/');

      if (comp[0] == '.')
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "The cgroup \"%s\" has a component starting with '.'; such names are reserved for the "
                       "broker, choose another name",
                       cgroup);
          return FALSE;
        }
      if (slash == NULL)
        return TRUE;
      comp = slash + 1;
    }
}

char *
cgroup_user_name (const CgroupLayout *layout, uid_t uid)
{
  g_return_val_if_fail (layout != NULL, NULL);
  if (layout->systemd_scopes)
    return g_strdup_printf ("locald-user-%u.scope", (unsigned) uid);
  return g_strdup_printf ("user-%u", (unsigned) uid);
}

char *
cgroup_user_path (const CgroupLayout *layout, uid_t uid)
{
  g_return_val_if_fail (layout != NULL && layout->root != NULL, NULL);
  g_autofree char *name = cgroup_user_name (layout, uid);
  return g_strdup_printf ("/%s/%s", layout->root, name);
}

/* ------------------------------------------------------------- fd helpers */

int
cgroup_open_mount (const CgroupLayout *layout, GError **error)
{
  g_auto (BrokerFd) fd = -1;
  struct statfs sfs;

  fd = open (layout->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
                   "Cannot open the cgroup2 mount %s: %s; check that cgroup2 is mounted there", layout->mount,
                   g_strerror (e));
      return -1;
    }
  if (fstatfs (fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
                   "%s is not a cgroup2 file system; the broker only works on the unified (v2) hierarchy",
                   layout->mount);
      return -1;
    }
  return broker_fd_steal (&fd);
}

int
cgroup_open_beneath (int dirfd, const char *path, const char *what, GError **error)
{
  int fd;
  int e;

  g_return_val_if_fail (dirfd >= 0, -1);
  g_return_val_if_fail (path != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  /* openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV), or the same
   * rules one component at a time where seccomp (systemd's
   * RestrictSUIDSGID=) or the kernel answer openat2() with ENOSYS. */
  do
    fd = cleanup_open_no_symlinks (dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, CLEANUP_OPEN_BENEATH);
  while (fd == -EAGAIN || fd == -EINTR);
  if (fd >= 0)
    return fd;

  e = -fd;
  switch (e)
    {
    case ENOENT:
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND, "The %s does not exist", what);
      break;
    case ELOOP:
    case ENOTDIR:
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
          "The %s is not a plain directory (a symlink or a file is on the way); refusing to follow it", what);
      break;
    case EXDEV:
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                   "The %s leads out of the directory it must stay in (\"..\" or a mount point); refusing it",
                   what);
      break;
    case EACCES:
    case EPERM:
      /* Only an unprivileged caller meets this (CGROUP_KILL_UNPRIVILEGED);
       * on the bus it is ...Error.Failed like the default. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "Cannot open the %s: %s", what,
                   g_strerror (e));
      break;
    default:
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot open the %s: %s", what, g_strerror (e));
      break;
    }
  return -1;
}

/* Reads a whole (small, pseudo) file below dirfd. -errno on failure. */
int
cgroup_read_at (int dirfd, const char *name, char **ret)
{
  g_auto (BrokerFd) fd = -1;
  g_autoptr (GString) buf = g_string_new (NULL);
  char chunk[4096];

  fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0)
        break;
      g_string_append_len (buf, chunk, n);
    }
  *ret = g_string_free (g_steal_pointer (&buf), FALSE);
  return 0;
}

/* One write(2) of `value` to a cgroup interface file: the kernel takes each
 * write as one command. -errno on failure. */
int
cgroup_write_at (int dirfd, const char *name, const char *value)
{
  g_auto (BrokerFd) fd = -1;
  size_t len = strlen (value);
  ssize_t n;

  fd = openat (dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  return (size_t) n == len ? 0 : -EIO;
}

/* ------------------------------------------------------------------ setup */

/* mkdir (if needed) and open one cgroup directory below parent_fd, refusing
 * anything that is not a directory of the same file system. */
int
cgroup_ensure_dir (int parent_fd, const char *name, const char *shown_path, GError **error)
{
  g_auto (BrokerFd) fd = -1;
  struct stat parent_st, st;
  int e;

  if (mkdirat (parent_fd, name, 0755) < 0 && errno != EEXIST)
    {
      e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot create the cgroup %s: %s", shown_path,
                   g_strerror (e));
      return -1;
    }

  fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      e = errno;
      if (e == ENOTDIR || e == ELOOP)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                     "%s exists but is not a cgroup directory; remove it or configure another cgroup root",
                     shown_path);
      else
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot open the cgroup %s: %s", shown_path,
                     g_strerror (e));
      return -1;
    }

  if (fstat (parent_fd, &parent_st) < 0 || fstat (fd, &st) < 0)
    {
      e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot stat the cgroup %s: %s", shown_path,
                   g_strerror (e));
      return -1;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                   "%s exists but is not a cgroup directory; remove it or configure another cgroup root",
                   shown_path);
      return -1;
    }
  if (st.st_dev != parent_st.st_dev)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT,
                   "%s is a mount point, not a cgroup of the cgroup2 hierarchy; unmount it", shown_path);
      return -1;
    }
  return broker_fd_steal (&fd);
}

/* Offers the controllers this cgroup has (cgroup.controllers, i.e. what its
 * parent enabled for it) to its children. Each controller is written on its
 * own so one refusal (EBUSY from the no-internal-process rule, a controller
 * that cannot be enabled here) does not block the others; refusals are fine,
 * the subtree then simply lacks that controller. */
static void
enable_controllers (int fd, const char *shown_path)
{
  g_autofree char *available = NULL;
  g_auto (GStrv) names = NULL;

  if (cgroup_read_at (fd, "cgroup.controllers", &available) < 0)
    return;
  names = g_strsplit_set (g_strstrip (available), " \n", -1);
  for (char **n = names; *n != NULL; n++)
    {
      g_autofree char *cmd = NULL;
      int r;

      if (**n == '\0')
        continue;
      cmd = g_strconcat ("+", *n, NULL);
      r = cgroup_write_at (fd, "cgroup.subtree_control", cmd);
      if (r < 0)
        g_debug ("cgroup %s: controller %s not enabled: %s", shown_path, *n, g_strerror (-r));
    }
}

/* cgroup v2 delegation: the delegatee owns the directory (to create
 * children) and the files through which it moves processes and distributes
 * controllers. The group is left as it is: the files are 0644, so only the
 * owner gains write access and nothing depends on the user database. */
gboolean
cgroup_delegate_to (int fd, uid_t uid, const char *shown_path, GError **error)
{
  static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control", "cgroup.threads" };
  int e;

  if (fchown (fd, uid, (gid_t) -1) < 0)
    {
      e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot hand %s to uid %u: %s", shown_path,
                   (unsigned) uid, g_strerror (e));
      return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      if (fchownat (fd, files[i], uid, (gid_t) -1, AT_SYMLINK_NOFOLLOW) < 0)
        {
          e = errno;
          /* cgroup.threads is missing only on kernels without threaded mode. */
          if (e == ENOENT && g_str_equal (files[i], "cgroup.threads"))
            continue;
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot hand %s/%s to uid %u: %s",
                       shown_path, files[i], (unsigned) uid, g_strerror (e));
          return FALSE;
        }
    }
  return TRUE;
}

/* The locald root belongs to root: a user owning it could plant cgroups
 * that later look like another user's subtree. */
static gboolean
ensure_root_owned (int fd, const char *shown_path, GError **error)
{
  struct stat st;
  int e;

  if (fstat (fd, &st) < 0)
    {
      e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot stat %s: %s", shown_path,
                   g_strerror (e));
      return FALSE;
    }
  if (st.st_uid == 0 && st.st_gid == 0)
    return TRUE;
  if (fchown (fd, 0, 0) < 0)
    {
      e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot give %s back to root: %s", shown_path,
                   g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gboolean
cgroup_direct_setup (const CgroupLayout *layout, uid_t uid, char **ret_cgroup_path, GError **error)
{
  g_auto (BrokerFd) cur = -1;
  g_auto (GStrv) comps = NULL;
  g_autoptr (GString) shown = NULL;
  g_autofree char *user_name = NULL;

  g_return_val_if_fail (layout != NULL && layout->mount != NULL, FALSE);
  g_return_val_if_fail (ret_cgroup_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (uid == (uid_t) -1)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "uid %u is not a valid owner",
                   (unsigned) uid);
      return FALSE;
    }
  if (!cgroup_validate_root (layout->root, error))
    return FALSE;

  cur = cgroup_open_mount (layout, error);
  if (cur < 0)
    return FALSE;

  shown = g_string_new (layout->mount);
  comps = g_strsplit (layout->root, "/", -1);
  for (char **c = comps; *c != NULL; c++)
    {
      g_auto (BrokerFd) next = -1;

      g_string_append_printf (shown, "/%s", *c);
      next = cgroup_ensure_dir (cur, *c, shown->str, error);
      if (next < 0 || !ensure_root_owned (next, shown->str, error))
        return FALSE;
      enable_controllers (next, shown->str);
      close (cur);
      cur = broker_fd_steal (&next);
    }

  user_name = cgroup_user_name (layout, uid);
  g_string_append_printf (shown, "/%s", user_name);
  {
    g_auto (BrokerFd) user_fd = cgroup_ensure_dir (cur, user_name, shown->str, error);

    if (user_fd < 0 || !cgroup_delegate_to (user_fd, uid, shown->str, error))
      return FALSE;
    enable_controllers (user_fd, shown->str);
  }

  *ret_cgroup_path = cgroup_user_path (layout, uid);
  return TRUE;
}

/* ------------------------------------------------------------------- kill */

/* A new open file description for a cgroup below top_fd ("" is top_fd
 * itself). Not dup(): a dup shares the directory offset, so a second readdir
 * through it would see nothing. */
int
cgroup_open_node (int top_fd, const char *rel)
{
  if (rel[0] == '\0')
    return openat (top_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return cgroup_open_beneath (top_fd, rel, "cgroup", NULL);
}

/* All cgroups of a tree as paths relative to its top ("" is the top),
 * parents before children (breadth first), so reverse order is bottom-up. */
static GPtrArray *
collect_tree (int top_fd)
{
  g_autoptr (GPtrArray) nodes = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (nodes, g_strdup (""));
  for (guint i = 0; i < nodes->len; i++)
    {
      const char *rel = nodes->pdata[i];
      int fd = cgroup_open_node (top_fd, rel);
      DIR *dir;
      struct dirent *de;

      if (fd < 0)
        continue; /* removed meanwhile */
      dir = fdopendir (fd);
      if (dir == NULL)
        {
          close (fd);
          continue;
        }
      while ((de = readdir (dir)) != NULL)
        {
          if (de->d_type != DT_DIR || g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
            continue;
          g_ptr_array_add (nodes,
                           rel[0] == '\0' ? g_strdup (de->d_name) : g_strconcat (rel, "/", de->d_name, NULL));
        }
      closedir (dir);
    }
  return g_steal_pointer (&nodes);
}

/* The pids listed in cgroup.procs of one cgroup. */
GArray *
cgroup_read_pids (int fd)
{
  g_autofree char *text = NULL;
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));

  if (cgroup_read_at (fd, "cgroup.procs", &text) < 0)
    return pids;
  for (char *p = text; *p != '\0';)
    {
      char *end = NULL;
      guint64 v = g_ascii_strtoull (p, &end, 10);
      if (end == p)
        break;
      if (v > 0 && v <= G_MAXINT32)
        {
          pid_t pid = (pid_t) v;
          g_array_append_val (pids, pid);
        }
      p = end;
      while (*p == '\n')
        p++;
    }
  return pids;
}

static guint
count_procs (int top_fd, GPtrArray *nodes)
{
  guint total = 0;

  for (guint i = 0; i < nodes->len; i++)
    {
      g_auto (BrokerFd) fd = cgroup_open_node (top_fd, nodes->pdata[i]);
      g_autoptr (GArray) pids = NULL;

      if (fd < 0)
        continue;
      pids = cgroup_read_pids (fd);
      total += pids->len;
    }
  return total;
}

static gboolean
pid_listed (GArray *pids, pid_t pid)
{
  for (guint i = 0; i < pids->len; i++)
    if (g_array_index (pids, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

/* SIGKILL for every process of one cgroup without hitting a recycled pid: a
 * pidfd is taken for each listed pid, then cgroup.procs is read again. A pid
 * still listed then is either the very process behind the pidfd (its number
 * cannot be reused while it lives) or the pidfd's process is already dead and
 * the signal goes nowhere. */
static void
sigkill_cgroup (int fd)
{
  g_autoptr (GArray) before = cgroup_read_pids (fd);
  g_autoptr (GArray) after = NULL;
  g_autofree int *pidfds = g_new (int, before->len + 1);

  for (guint i = 0; i < before->len; i++)
    pidfds[i] = (int) syscall (SYS_pidfd_open, g_array_index (before, pid_t, i), 0);

  after = cgroup_read_pids (fd);
  for (guint i = 0; i < before->len; i++)
    {
      pid_t pid = g_array_index (before, pid_t, i);

      if (pid_listed (after, pid))
        {
          if (pidfds[i] >= 0)
            (void) syscall (SYS_pidfd_send_signal, pidfds[i], SIGKILL, NULL, 0);
          else if (errno == ENOSYS)
            (void) kill (pid, SIGKILL); /* no pidfds: best effort */
        }
      if (pidfds[i] >= 0)
        close (pidfds[i]);
    }
}

/* Reads cgroup.events and reports whether `key` has `value`. The read also
 * re-arms poll(): kernfs signals POLLPRI on the next change after a read.
 * A cgroup removed meanwhile (systemd removes a scope's tree as soon as its
 * last process is gone) answers ENODEV: it is empty, unfrozen and can never
 * change again, so that counts as the state waited for. */
static gboolean
events_has (int events_fd, const char *key, const char *value)
{
  char buf[512];
  ssize_t n;
  g_autofree char *needle = g_strdup_printf ("%s %s\n", key, value);

  n = pread (events_fd, buf, sizeof buf - 1, 0);
  if (n < 0)
    return errno == ENODEV;
  buf[n] = '\0';
  /* no key is a suffix of another, so a substring match is exact */
  return strstr (buf, needle) != NULL;
}

gboolean
cgroup_events_wait (int events_fd, const char *key, const char *value, gint64 deadline)
{
  g_return_val_if_fail (events_fd >= 0 && key != NULL && value != NULL, FALSE);

  for (;;)
    {
      struct pollfd pfd = { .fd = events_fd, .events = POLLPRI };
      gint64 now;
      int r;

      if (events_has (events_fd, key, value))
        return TRUE;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        return FALSE;
      r = poll (&pfd, 1, (int) MAX ((deadline - now + 999) / 1000, 1));
      if (r < 0 && errno != EINTR)
        {
          /* should not happen; fall back to a short sleep so we stay bounded */
          g_usleep (10 * G_TIME_SPAN_MILLISECOND);
        }
    }
}

/* One round of killing. With cgroup.kill the kernel does the whole subtree
 * atomically; otherwise every process of every cgroup gets a SIGKILL. */
static void
kill_round (int top_fd, gboolean use_kill_file)
{
  g_autoptr (GPtrArray) nodes = NULL;

  if (use_kill_file && cgroup_write_at (top_fd, "cgroup.kill", "1") == 0)
    return;

  nodes = collect_tree (top_fd);
  for (guint i = 0; i < nodes->len; i++)
    {
      g_auto (BrokerFd) fd = cgroup_open_node (top_fd, nodes->pdata[i]);
      if (fd >= 0)
        sigkill_cgroup (fd);
    }
}

/* rmdir of every cgroup below top_fd, children first. cgroupfs refuses
 * unlink of its files, so only the directories are removed; the kernel may
 * briefly report EBUSY right after the last process left, hence the retry. */
static gboolean
remove_tree (
    int parent_fd, int top_fd, const char *top_name, const char *shown, gint64 deadline, GError **error)
{
  for (;;)
    {
      g_autoptr (GPtrArray) nodes = collect_tree (top_fd);
      int e = 0;

      for (guint i = nodes->len; i-- > 1;)
        {
          const char *rel = nodes->pdata[i];
          g_autofree char *dir = g_path_get_dirname (rel);
          g_autofree char *base = g_path_get_basename (rel);
          g_auto (BrokerFd) fd = cgroup_open_node (top_fd, g_str_equal (dir, ".") ? "" : dir);

          if (fd < 0)
            continue;
          if (unlinkat (fd, base, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENODEV)
            e = errno;
        }
      if (e == 0)
        {
          /* ENODEV: the parent went too (systemd removed the whole scope). */
          if (unlinkat (parent_fd, top_name, AT_REMOVEDIR) == 0 || errno == ENOENT || errno == ENODEV)
            return TRUE;
          e = errno;
        }
      if (e == EACCES || e == EPERM)
        {
          /* An unprivileged caller's cgroup that root made: the broker's. */
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "The cgroup %s is empty but could not be removed: %s", shown, g_strerror (e));
          return FALSE;
        }
      if (g_get_monotonic_time () >= deadline || (e != EBUSY && e != ENOTEMPTY))
        {
          g_set_error (
              error, BROKER_ERROR, e == EBUSY || e == ENOTEMPTY ? BROKER_ERROR_BUSY : BROKER_ERROR_FAILED,
              "The cgroup %s is empty but could not be removed: %s; if something keeps creating cgroups "
              "in it, stop that and call KillCgroup again",
              shown, g_strerror (e));
          return FALSE;
        }
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
}

gboolean
cgroup_direct_kill (const CgroupLayout *layout,
                    uid_t uid,
                    const char *cgroup_rel,
                    guint timeout_ms,
                    CgroupKillFlags flags,
                    guint32 *ret_killed,
                    GError **error)
{
  g_auto (BrokerFd) mount_fd = -1;
  g_auto (BrokerFd) user_fd = -1;
  g_auto (BrokerFd) parent_fd = -1;
  g_auto (BrokerFd) top_fd = -1;
  g_auto (BrokerFd) events_fd = -1;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GPtrArray) nodes = NULL;
  g_autofree char *user_rel = NULL;
  g_autofree char *parent_rel = NULL;
  g_autofree char *top_name = NULL;
  g_autofree char *shown = NULL;
  gboolean use_kill_file, frozen = FALSE;
  gint64 deadline;
  guint killed;

  g_return_val_if_fail (layout != NULL && layout->mount != NULL, FALSE);
  g_return_val_if_fail (ret_killed != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The daemon validated already; checking again keeps this function safe on
   * its own. */
  if (!cgroup_validate_root (layout->root, error) || !cgroup_validate_relative (cgroup_rel, error))
    return FALSE;

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  g_autofree char *user_path = cgroup_user_path (layout, uid);
  shown = g_strdup_printf ("%s/%s", user_path, cgroup_rel);
  *ret_killed = 0;

  mount_fd = cgroup_open_mount (layout, error);
  if (mount_fd < 0)
    return FALSE;

  user_rel = g_strdup (user_path + 1);
  user_fd = cgroup_open_beneath (mount_fd, user_rel, "cgroup subtree of the caller", &local_error);
  if (user_fd < 0)
    goto open_failed;

  parent_rel = g_path_get_dirname (cgroup_rel);
  top_name = g_path_get_basename (cgroup_rel);
  parent_fd = g_str_equal (parent_rel, ".")
                  ? cgroup_open_node (user_fd, "")
                  : cgroup_open_beneath (user_fd, parent_rel, "cgroup", &local_error);
  if (parent_fd < 0)
    goto open_failed;
  top_fd = cgroup_open_beneath (parent_fd, top_name, "cgroup", &local_error);
  if (top_fd < 0)
    goto open_failed;

  events_fd = openat (top_fd, "cgroup.events", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (events_fd < 0)
    {
      int e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                   "%s is not a cgroup (no cgroup.events: %s); name a cgroup directory below your subtree",
                   shown, g_strerror (e));
      return FALSE;
    }

  nodes = collect_tree (top_fd);
  killed = count_procs (top_fd, nodes);

  use_kill_file
      = !(flags & CGROUP_KILL_FORCE_FREEZE_FALLBACK) && faccessat (top_fd, "cgroup.kill", F_OK, 0) == 0;
  if (flags & CGROUP_KILL_UNPRIVILEGED)
    {
      /* The first write is the test: refused, nothing happened yet. */
      int r = use_kill_file ? cgroup_write_at (top_fd, "cgroup.kill", "1") : -ENOSYS;

      if (r < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "Cannot kill the cgroup %s without privilege: %s", shown,
                       r == -ENOSYS ? "the kernel has no cgroup.kill" : g_strerror (-r));
          return FALSE;
        }
    }
  else if (!use_kill_file)
    {
      /* Frozen processes cannot fork or exit on their own, so the list read
       * for the SIGKILL loop cannot grow underneath it. */
      frozen = cgroup_write_at (top_fd, "cgroup.freeze", "1") == 0;
      if (frozen)
        cgroup_events_wait (events_fd, "frozen", "1",
                            MIN (deadline, g_get_monotonic_time () + FREEZE_WAIT_US));
    }

  for (;;)
    {
      gint64 now;

      kill_round (top_fd, use_kill_file);
      now = g_get_monotonic_time ();
      if (cgroup_events_wait (events_fd, "populated", "0", MIN (deadline, now + KILL_RETRY_SLICE_US)))
        break;
      if (g_get_monotonic_time () >= deadline)
        {
          g_autoptr (GPtrArray) left_nodes = collect_tree (top_fd);
          guint left = count_procs (top_fd, left_nodes);

          /* Do not leave survivors frozen behind a failed call. */
          if (frozen)
            (void) cgroup_write_at (top_fd, "cgroup.freeze", "0");
          g_set_error (
              error, BROKER_ERROR, BROKER_ERROR_BUSY,
              "The cgroup %s still holds %u process(es) after %u ms of killing; something keeps moving "
              "processes into it or they cannot die (uninterruptible sleep). Stop whatever starts them and "
              "call KillCgroup again",
              shown, left, timeout_ms);
          return FALSE;
        }
    }

  /* Known from here on, also to an unprivileged caller that cannot remove. */
  *ret_killed = killed;
  if (!remove_tree (parent_fd, top_fd, top_name, shown,
                    MAX (deadline, g_get_monotonic_time () + FREEZE_WAIT_US), error))
    {
      /* A cgroup that stays behind must not stay frozen: whatever is moved
       * into it later would freeze too. */
      if (frozen)
        (void) cgroup_write_at (top_fd, "cgroup.freeze", "0");
      return FALSE;
    }

  *ret_killed = killed;
  return TRUE;

open_failed:
  /* Without privilege a missing subtree may only be missing from this
   * caller's view of the hierarchy: the broker decides. */
  if ((flags & CGROUP_KILL_UNPRIVILEGED) && user_fd < 0
      && g_error_matches (local_error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s: %s", shown, local_error->message);
      return FALSE;
    }
  if (g_error_matches (local_error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND))
    return TRUE; /* nothing to kill: *ret_killed stays 0 */
  g_prefix_error (&local_error, "%s: ", shown);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}
