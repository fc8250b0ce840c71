/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CleanupPath: validate the path, reach the caller's ".locald" directory
 * safely, then hand the target over to the fd-relative walk (cleanup-tree.c).
 *
 * Why so careful: the daemon is root and the caller is any local user who
 * controls everything inside their own .locald and can rename things while
 * we work. So the path is checked syntactically first, every step after that
 * is taken relative to a file descriptor, symlinks are followed only in the
 * prefix and only when root owns them, and nothing at or below .locald is
 * ever followed or crossed into another mount.
 */
#include "config.h"

#include "cleanup.h"

#include "broker-error.h"
#include "cleanup-fs.h"
#include "cleanup-tree.h"

#include <sys/acl.h>
#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCALD_DIR ".locald"

#define HINT "; pass the absolute, normalized path of an entry inside your .locald directory"

/* Who asked, for the search-permission checks on the way to .locald, and the
 * path as given, for the one error those checks produce. */
typedef struct
{
  const char *path;
  uid_t uid;
  const gid_t *gids; /* gids[0] is the primary group; may be NULL if n_gids is 0 */
  gsize n_gids;
  gboolean unprivileged; /* CLEANUP_TREE_UNPRIVILEGED: we are the caller, without privilege */
} Caller;

/* The walk to .locald runs as root, which may look into any directory. Had
 * it reported what it found there, CleanupPath would tell any user whether
 * entries exist inside directories they cannot search, what they are and who
 * owns a .locald there. So every directory the walk looks into must be one
 * the caller could search, and when it is not the answer is this one error,
 * which names nothing but the path the caller gave. */
static gboolean
unreachable (const Caller *caller, GError **error)
{
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND,
               "no .locald directory owned by you is reachable at %s; check the path", caller->path);
  return FALSE;
}

typedef enum
{
  SEARCH_ALLOWED,
  SEARCH_DENIED,
  SEARCH_UNKNOWN, /* without privilege only: the ACL could not be read */
} Search;

static gboolean
caller_in_group (const Caller *caller, gid_t gid)
{
  for (gsize i = 0; i < caller->n_gids; i++)
    if (caller->gids[i] == gid)
      return TRUE;
  return FALSE;
}

/* The mode bits alone: the owner class if the caller owns the directory,
 * else the group class if its group is one of the caller's, else other. */
static Search
mode_allows_search (const struct stat *st, const Caller *caller)
{
  mode_t bit;

  if (st->st_uid == caller->uid)
    bit = S_IXUSR;
  else if (caller_in_group (caller, st->st_gid))
    bit = S_IXGRP;
  else
    bit = S_IXOTH;
  return (st->st_mode & bit) != 0 ? SEARCH_ALLOWED : SEARCH_DENIED;
}

static int
negative_errno (void)
{
  return errno > 0 ? -errno : -EIO;
}

/* The access ACL of the directory dir_fd, read through a second descriptor
 * of it, because dir_fd is usually O_PATH and fgetxattr() refuses those.
 * Reopening "." names no entry that anyone could rename or replace: the
 * kernel resolves "." to the directory dir_fd already holds, without
 * looking up a name and without entering a mount stacked on it since (the
 * identity check below makes sure all the same). It needs search and read
 * permission on the directory, which the broker has (CAP_DAC_READ_SEARCH)
 * and an unprivileged caller may not. Sets *ret to the ACL, or to NULL when
 * the file system has no ACLs; libacl turns a missing ACL (ENODATA) into
 * the one the mode bits make. Returns 0 or -errno. */
static int
read_access_acl (int dir_fd, const struct stat *st, acl_t *ret)
{
  g_auto (BrokerFd) fd = -1;
  struct stat fd_st;
  acl_t acl;

  *ret = NULL;
  fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return negative_errno ();
  if (fstat (fd, &fd_st) < 0)
    return negative_errno ();
  if (fd_st.st_dev != st->st_dev || fd_st.st_ino != st->st_ino)
    return -ESTALE;
  acl = acl_get_fd (fd);
  if (acl == NULL)
    return errno == ENOTSUP || errno == EOPNOTSUPP ? 0 : negative_errno ();
  *ret = acl;
  return 0;
}

/* Whether a named entry (ACL_USER or ACL_GROUP) is the caller's: its uid,
 * or one of its groups. 1, 0, or -1 with errno set. */
static int
entry_names_caller (acl_entry_t entry, acl_tag_t tag, const Caller *caller)
{
  void *qualifier = acl_get_qualifier (entry);
  int named;

  if (qualifier == NULL)
    return -1;
  if (tag == ACL_USER)
    named = *(const uid_t *) qualifier == caller->uid;
  else
    named = caller_in_group (caller, *(const gid_t *) qualifier);
  acl_free (qualifier);
  return named;
}

/* Whether the entry grants x: 1, 0, or -1 with errno set. */
static int
entry_grants_search (acl_entry_t entry)
{
  acl_permset_t permset;

  if (acl_get_permset (entry, &permset) < 0)
    return -1;
  return acl_get_perm (permset, ACL_EXECUTE);
}

/* The POSIX.1e access check for x against an extended ACL, for a caller
 * who does not own the directory: the caller's named-user entry if there is
 * one, masked; else, if any of the owning-group and named-group entries
 * matches one of the caller's groups, allowed when one of those has x after
 * the mask and denied otherwise (never "other"); else the "other" entry.
 * Returns 0 with the verdict, or -errno (-EINVAL: a malformed ACL). */
static int
acl_allows_search (acl_t acl, const struct stat *st, const Caller *caller, Search *ret)
{
  int user_x = -1;  /* the caller's named-user entry; -1: none */
  int mask_x = -1;  /* -1: no mask entry, so nothing is masked */
  int other_x = -1; /* every valid ACL has one */
  gboolean group_matched = FALSE, group_x = FALSE;
  gboolean allowed;
  acl_entry_t entry;
  int r;

  for (r = acl_get_entry (acl, ACL_FIRST_ENTRY, &entry); r > 0;
       r = acl_get_entry (acl, ACL_NEXT_ENTRY, &entry))
    {
      acl_tag_t tag;
      int x, named;

      if (acl_get_tag_type (entry, &tag) < 0 || (x = entry_grants_search (entry)) < 0)
        return negative_errno ();
      switch (tag)
        {
        case ACL_USER_OBJ: /* the owner, decided before any ACL is read */
          break;
        case ACL_USER:
        case ACL_GROUP:
          named = entry_names_caller (entry, tag, caller);
          if (named < 0)
            return negative_errno ();
          if (named && tag == ACL_USER)
            user_x = x;
          else if (named)
            {
              group_matched = TRUE;
              group_x = group_x || x;
            }
          break;
        case ACL_GROUP_OBJ:
          if (caller_in_group (caller, st->st_gid))
            {
              group_matched = TRUE;
              group_x = group_x || x;
            }
          break;
        case ACL_MASK:
          mask_x = x;
          break;
        case ACL_OTHER:
          other_x = x;
          break;
        default:
          return -EINVAL;
        }
    }
  if (r < 0)
    return negative_errno ();
  if (other_x < 0)
    return -EINVAL;

  if (user_x >= 0)
    allowed = user_x && mask_x != 0;
  else if (group_matched)
    allowed = group_x && mask_x != 0;
  else
    allowed = other_x;
  *ret = allowed ? SEARCH_ALLOWED : SEARCH_DENIED;
  return 0;
}

/* The kernel's search (x) permission check on the directory dir_fd (with
 * st its fstat()), for the caller, as acl_permission_check() and
 * posix_acl_permission() make it:
 *  - uid 0 may always search (the kernel's CAP_DAC_READ_SEARCH for root);
 *  - the owner: the owner bits, whatever the ACL says;
 *  - a directory with an extended access ACL (named entries or a mask) and
 *    a group class (the mask) that is not empty: the POSIX.1e check of
 *    acl_allows_search();
 *  - otherwise the mode bits: no ACL, a file system without ACLs, or an
 *    empty mask, for which the kernel skips the ACL too (every entry it
 *    would look at is masked to nothing), so "other" can let a named user
 *    in whose entry has no x, exactly as the kernel does.
 * An ACL that cannot be read (an I/O error, a malformed ACL, the directory
 * gone) means DENIED: the uniform refusal, never a guess in the caller's
 * favour. Without privilege (the client's fast path, running as the caller)
 * such an ACL means UNKNOWN instead: the broker is asked, and decides.
 *
 * Not consulted, so the judgment can still differ from the kernel's: the
 * caller's capabilities (one with CAP_DAC_READ_SEARCH may search more than
 * this allows: stricter); LSMs (SELinux, AppArmor, Landlock, ...) and file
 * systems that decide permissions themselves (NFSv4 ACLs, FUSE without
 * default_permissions), which may deny what this allows: there the broker
 * can still answer precisely about a directory the caller could not look
 * into; and the caller's groups are those the bus recorded when it
 * connected, not its current ones. */
static Search
caller_may_search (int dir_fd, const struct stat *st, const Caller *caller)
{
  acl_t acl = NULL;
  Search verdict;
  int r;

  if (caller->uid == 0)
    return SEARCH_ALLOWED;
  if (st->st_uid == caller->uid || (st->st_mode & S_IRWXG) == 0)
    return mode_allows_search (st, caller);

  r = read_access_acl (dir_fd, st, &acl);
  if (r < 0)
    {
      g_debug ("cannot read the access ACL of a directory on the way to %s: %s", caller->path,
               g_strerror (-r));
      return caller->unprivileged ? SEARCH_UNKNOWN : SEARCH_DENIED;
    }
  if (acl == NULL || acl_equiv_mode (acl, NULL) == 0)
    verdict = mode_allows_search (st, caller);
  else if ((r = acl_allows_search (acl, st, caller, &verdict)) < 0)
    {
      g_debug ("cannot evaluate the access ACL of a directory on the way to %s: %s", caller->path,
               g_strerror (-r));
      verdict = caller->unprivileged ? SEARCH_UNKNOWN : SEARCH_DENIED;
    }
  if (acl != NULL)
    acl_free (acl);
  return verdict;
}

/* TRUE if the verdict lets the caller search; the error otherwise: the one
 * uniform NOT_FOUND, or (only without privilege) the broker's turn. */
static gboolean
searchable_or_error (Search verdict, const Caller *caller, GError **error)
{
  switch (verdict)
    {
    case SEARCH_ALLOWED:
      return TRUE;
    case SEARCH_UNKNOWN:
      /* Only without privilege: the broker's to decide. On the bus: ...Error.Failed. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "cannot read the access ACL of a directory on the way to %s", caller->path);
      return FALSE;
    case SEARCH_DENIED:
    default:
      return unreachable (caller, error);
    }
}

/* Fails (with the one uniform error, or the broker's turn) unless the
 * caller may search the directory dir_fd, which is about to be looked
 * into. */
static gboolean
check_search (int dir_fd, const Caller *caller, GError **error)
{
  struct stat st;

  if (fstat (dir_fd, &st) < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                   "cannot inspect a directory on the way to %s: %s", caller->path, g_strerror (errno));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    return unreachable (caller, error);
  return searchable_or_error (caller_may_search (dir_fd, &st, caller), caller, error);
}

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "%s" HINT, msg);
  return FALSE;
}

/* Validates and splits path into its components; *ret_locald is the index
 * of the first ".locald" component. Messages quote the path only once it is
 * known to be short, valid UTF-8 and free of control characters. */
static gboolean
split_path (const char *path, char ***ret_components, guint *ret_locald, GError **error)
{
  g_auto (GStrv) components = NULL;
  gsize len;
  guint n, locald = G_MAXUINT;

  if (path == NULL || *path == '\0')
    return invalid (error, "path is empty");

  len = strlen (path);
  if (len >= PATH_MAX)
    return invalid (error, "path is %" G_GSIZE_FORMAT " bytes long, more than the limit of %d", len,
                    PATH_MAX - 1);
  if (!g_utf8_validate (path, (gssize) len, NULL))
    return invalid (error, "path is not valid UTF-8");
  for (gsize i = 0; i < len; i++)
    if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f)
      return invalid (error, "path contains a control character (byte 0x%02x at offset %" G_GSIZE_FORMAT ")",
                      (unsigned) (unsigned char) path[i], i);

  if (path[0] != '/')
    return invalid (error, "path must be absolute (start with '/'); got '%s'", path);
  if (len > 1 && path[len - 1] == '/')
    return invalid (error, "path must not end with '/'; got '%s'", path);

  components = g_strsplit (path + 1, "/", -1);
  n = g_strv_length (components);
  for (guint i = 0; i < n; i++)
    {
      const char *c = components[i];

      if (*c == '\0')
        return invalid (error, "path must not contain empty components ('//'); got '%s'", path);
      if (g_str_equal (c, "."))
        return invalid (error, "path must not contain '.' components; got '%s'", path);
      if (g_str_equal (c, ".."))
        return invalid (error, "path must not contain '..' components; got '%s'", path);
      if (strlen (c) > NAME_MAX)
        return invalid (error, "path component %u is longer than %d bytes; got '%s'", i + 1, NAME_MAX, path);
      if (locald == G_MAXUINT && g_str_equal (c, LOCALD_DIR))
        locald = i;
    }

  if (locald == G_MAXUINT)
    return invalid (
        error, "path must lie strictly beneath a .locald directory; got '%s', which has no .locald component",
        path);
  if (locald == n - 1)
    return invalid (
        error, "path must lie strictly beneath a .locald directory; got the .locald directory itself ('%s')",
        path);

  if (ret_components != NULL)
    *ret_components = g_steal_pointer (&components);
  if (ret_locald != NULL)
    *ret_locald = locald;
  return TRUE;
}

gboolean
cleanup_validate_path (const char *path, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return split_path (path, NULL, NULL, error);
}

/* "/" + components[0..n-1]. */
static char *
join_absolute (char **components, guint n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_string_append_c (s, '/');
      g_string_append (s, components[i]);
    }
  if (s->len == 0)
    g_string_append_c (s, '/');
  return g_string_free (s, FALSE);
}

/* components[0..n-1] joined with '/', relative. */
static char *
join_relative (char **components, guint n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (s, '/');
      g_string_append (s, components[i]);
    }
  return g_string_free (s, FALSE);
}

/* Resolves target (the contents of a trusted link) from start_fd one
 * component at a time, never following a symlink and looking only into
 * directories the caller may search. Returns an O_PATH fd of the directory,
 * or -ELOOP (a symlink on the way), -ENOENT/-ENOTDIR (nothing there, or not a
 * directory), -EACCES (a directory the caller may not search, with
 * *search_error set as check_search() sets it) or another -errno. */
static int
resolve_link_target (int start_fd, const char *target, const Caller *caller, GError **search_error)
{
  g_auto (GStrv) parts = g_strsplit (target, "/", -1);
  g_auto (BrokerFd) cur = -1;

  cur = fcntl (start_fd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return -errno;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_auto (BrokerFd) next = -1;
      struct stat st;

      if (*parts[i] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (fstat (cur, &st) < 0)
        return -errno;
      if (!S_ISDIR (st.st_mode))
        return -ENOTDIR;
      if (!searchable_or_error (caller_may_search (cur, &st, caller), caller, search_error))
        return -EACCES;
      /* ".." included: the kernel resolves it within our root, as it
       * would for the caller. */
      next = openat (cur, parts[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        return -errno;
      if (fstat (next, &st) < 0)
        return -errno;
      if (S_ISLNK (st.st_mode))
        return -ELOOP;
      if (!S_ISDIR (st.st_mode))
        return -ENOTDIR;
      broker_fd_clear (&cur);
      cur = broker_fd_steal (&next);
    }
  return broker_fd_steal (&cur);
}

/* Follows the root-owned symlink link_fd (an O_PATH|O_NOFOLLOW fd) found in
 * the directory dir_fd. The target must resolve without any further symlink,
 * so one trusted link is followed and nothing else, and only through
 * directories the caller may search. */
static int
follow_root_symlink (
    int root_fd, int dir_fd, int link_fd, const char *shown, const Caller *caller, GError **error)
{
  g_autoptr (GError) search_error = NULL;
  char target[PATH_MAX];
  ssize_t n;
  int fd;

  n = readlinkat (link_fd, "", target, sizeof target);
  if (n < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot read the symbolic link %s: %s", shown,
                   g_strerror (errno));
      return -1;
    }
  if (n == 0 || (size_t) n >= sizeof target)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                   "the symbolic link %s has an empty or overlong target; pass the resolved path instead",
                   shown);
      return -1;
    }
  target[n] = '\0';

  /* An absolute target ignores the dirfd; a relative one is resolved from
   * the directory holding the link, exactly as the kernel would. */
  fd = resolve_link_target (target[0] == '/' ? root_fd : dir_fd, target, caller, &search_error);
  if (fd >= 0)
    return fd;

  if (search_error != NULL)
    g_propagate_error (error, g_steal_pointer (&search_error));
  else if ((fd == -EACCES || fd == -EPERM) && caller->unprivileged)
    /* The kernel refused this caller what the check did not see (an LSM,
     * say): the broker's to decide. On the bus: ...Error.Failed. */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "cannot follow the symbolic link %s to '%s': %s", shown, target, g_strerror (-fd));
  else if (fd == -EACCES)
    unreachable (caller, error);
  else if (fd == -ELOOP)
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                 "the root-owned symbolic link %s points at '%s', which goes through another symbolic link; "
                 "only a link straight to a real directory is followed - pass the resolved path instead",
                 shown, target);
  else if (fd == -ENOENT || fd == -ENOTDIR)
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND,
                 "the symbolic link %s points at '%s', which is not an existing directory, so there is no "
                 ".locald directory there",
                 shown, target);
  else
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot follow the symbolic link %s to '%s': %s",
                 shown, target, g_strerror (-fd));
  return -1;
}

/* Opens name in dirfd as O_PATH without following a symlink and fstat()s it
 * into st, provided the caller may search dirfd (the uniform NOT_FOUND of
 * unreachable() otherwise). A missing entry (or a non-directory on the way)
 * fails with NOT_FOUND: "<shown> <missing>". Returns the fd, or -1 with
 * error set. */
static int
open_entry (int dirfd,
            const char *name,
            const char *shown,
            const char *missing,
            struct stat *st,
            const Caller *caller,
            GError **error)
{
  g_auto (BrokerFd) fd = -1;

  if (!check_search (dirfd, caller, error))
    return -1;

  fd = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND, "%s %s", shown, missing);
      else if (errno == EACCES || errno == EPERM)
        /* Only without privilege (what the check above does not see, an
         * LSM say): the broker's to decide. On the bus: ...Error.Failed. */
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "cannot open %s: %s", shown,
                     g_strerror (errno));
      else
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot open %s: %s", shown,
                     g_strerror (errno));
      return -1;
    }
  if (fstat (fd, st) < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot inspect %s: %s", shown,
                   g_strerror (errno));
      return -1;
    }
  return broker_fd_steal (&fd);
}

/* Opens the directory holding .locald: components[0..n-1] one at a time from
 * "/", following a symlink only when root owns it. Returns an O_PATH fd. */
static int
open_prefix (char **components, guint n, const Caller *caller, GError **error)
{
  g_auto (BrokerFd) root_fd = -1;
  g_auto (BrokerFd) cur = -1;

  root_fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot open '/': %s", g_strerror (errno));
      return -1;
    }
  cur = fcntl (root_fd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot duplicate a descriptor: %s",
                   g_strerror (errno));
      return -1;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *shown = join_absolute (components, i + 1);
      g_auto (BrokerFd) fd = -1;
      struct stat st;

      fd = open_entry (cur, components[i], shown,
                       "does not exist, so there is no .locald directory beneath it", &st, caller, error);
      if (fd < 0)
        return -1;

      if (S_ISLNK (st.st_mode))
        {
          int target_fd;

          /* Only root's own links (e.g. /home -> /var/home) are trusted:
           * anyone else's could point us at a tree that is not theirs. */
          if (st.st_uid != 0)
            {
              g_set_error (
                  error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                  "%s is a symbolic link owned by uid %lu; before .locald only root-owned symbolic links "
                  "are followed - pass the resolved path instead",
                  shown, (unsigned long) st.st_uid);
              return -1;
            }
          target_fd = follow_root_symlink (root_fd, cur, fd, shown, caller, error);
          if (target_fd < 0)
            return -1;
          broker_fd_clear (&fd);
          fd = target_fd;
          if (fstat (fd, &st) < 0)
            {
              g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot inspect %s: %s", shown,
                           g_strerror (errno));
              return -1;
            }
        }

      if (!S_ISDIR (st.st_mode))
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND,
                       "%s is not a directory, so there is no .locald directory beneath it", shown);
          return -1;
        }

      broker_fd_clear (&cur);
      cur = broker_fd_steal (&fd);
    }

  return broker_fd_steal (&cur);
}

/* Opens .locald in prefix_fd without following a symlink and checks that it
 * is a directory owned by caller_uid. Returns an O_PATH fd. */
static int
open_locald (int prefix_fd, const char *shown, const Caller *caller, GError **error)
{
  uid_t caller_uid = caller->uid;
  g_auto (BrokerFd) fd = -1;
  struct stat st;

  fd = open_entry (prefix_fd, LOCALD_DIR, shown, "does not exist; there is nothing to clean up", &st, caller,
                   error);
  if (fd < 0)
    return -1;
  if (S_ISLNK (st.st_mode))
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
          "%s is a symbolic link; it must be a real directory owned by you, and links there are never "
          "followed",
          shown);
      return -1;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER,
          "%s is not a directory; only entries inside a .locald directory owned by you can be cleaned up",
          shown);
      return -1;
    }
  if (st.st_uid != caller_uid)
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER,
          "%s is owned by uid %lu, not by the caller (uid %lu); only entries inside a .locald directory "
          "owned by you can be cleaned up",
          shown, (unsigned long) st.st_uid, (unsigned long) caller_uid);
      return -1;
    }
  return broker_fd_steal (&fd);
}

/* Opens the directory components[0..n-1] below .locald (n may be 0: .locald
 * itself) one component at a time, never following a symlink or leaving the
 * mount, and requires each directory on the way to be owned by root or the
 * caller: what lies in another user's directory is that user's to remove, and
 * the walk below applies the same owner rule (cleanup-tree.h). Returns an
 * O_PATH fd; -ENOENT, with no error set, when a component does not exist or
 * is not a directory (so the target does not exist either); -1 with error
 * set otherwise. */
static int
open_below_locald (
    int locald_fd, char **components, guint n, const char *locald_shown, const Caller *caller, GError **error)
{
  g_auto (BrokerFd) cur = -1;

  cur = fcntl (locald_fd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot duplicate a descriptor: %s",
                   g_strerror (errno));
      return -1;
    }

  for (guint i = 0; i < n; i++)
    {
      g_auto (BrokerFd) next = -1;
      g_autofree char *shown = join_relative (components, i + 1);
      struct stat st;

      next = cleanup_open_no_symlinks (cur, components[i], O_PATH | O_DIRECTORY | O_CLOEXEC,
                                       CLEANUP_OPEN_BENEATH);
      if (next == -ENOENT || next == -ENOTDIR)
        return -ENOENT;
      if (next == -ELOOP)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSAFE_PATH,
                     "'%s' below %s is a symbolic link; links at or below .locald are never followed - "
                     "pass the path of the real entry",
                     shown, locald_shown);
      else if (next == -EXDEV)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_CROSSES_MOUNT,
                     "'%s' below %s is a mount point; unmount it first, then run the cleanup again", shown,
                     locald_shown);
      else if (next == -EACCES || next == -EPERM)
        /* Only without privilege: the broker's to decide. */
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "cannot open '%s' below %s: %s", shown,
                     locald_shown, g_strerror (-next));
      else if (next < 0)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot open '%s' below %s: %s", shown,
                     locald_shown, g_strerror (-next));
      else if (fstat (next, &st) < 0)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot inspect '%s' below %s: %s", shown,
                     locald_shown, g_strerror (errno));
      else if (st.st_uid != 0 && st.st_uid != caller->uid)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER,
                     "'%s' below %s is owned by uid %u, which is neither root nor you (uid %u); entries "
                     "are removed only from directories owned by root or by the caller, so nothing was "
                     "removed - ask its owner to remove what is inside",
                     shown, locald_shown, (unsigned) st.st_uid, (unsigned) caller->uid);
      else
        {
          broker_fd_clear (&cur);
          cur = broker_fd_steal (&next);
          continue;
        }
      return -1;
    }
  return broker_fd_steal (&cur);
}

gboolean
cleanup_remove_beneath_locald_full (const char *path,
                                    uid_t caller_uid,
                                    const gid_t *caller_gids,
                                    gsize n_caller_gids,
                                    CleanupTreeFlags flags,
                                    guint64 *ret_removed,
                                    GError **error)
{
  const Caller caller
      = { path, caller_uid, caller_gids, n_caller_gids, (flags & CLEANUP_TREE_UNPRIVILEGED) != 0 };
  g_auto (GStrv) components = NULL;
  g_autofree char *locald_shown = NULL;
  g_autofree char *where = NULL;
  g_auto (BrokerFd) prefix_fd = -1;
  g_auto (BrokerFd) locald_fd = -1;
  g_auto (BrokerFd) parent_fd = -1;
  guint locald, n;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (caller_gids != NULL || n_caller_gids == 0, FALSE);

  if (ret_removed != NULL)
    *ret_removed = 0;

  if (!split_path (path, &components, &locald, error))
    return FALSE;
  n = g_strv_length (components);
  locald_shown = join_absolute (components, locald + 1);

  prefix_fd = open_prefix (components, locald, &caller, error);
  if (prefix_fd < 0)
    return FALSE;

  locald_fd = open_locald (prefix_fd, locald_shown, &caller, error);
  if (locald_fd < 0)
    return FALSE;

  /* The directory holding the target, relative to .locald. */
  {
    const char *saved = components[n - 1];
    components[n - 1] = NULL;
    where = g_strjoinv ("/", components + locald + 1);
    components[n - 1] = (char *) saved;
  }

  parent_fd
      = open_below_locald (locald_fd, components + locald + 1, n - locald - 2, locald_shown, &caller, error);
  if (parent_fd == -ENOENT)
    return TRUE; /* nothing there (or a file where a directory would be): the target does not exist */
  if (parent_fd < 0)
    return FALSE;

  return cleanup_tree_remove (parent_fd, components[n - 1], locald_shown, where, caller_uid, flags,
                              ret_removed, error);
}

gboolean
cleanup_remove_beneath_locald_for (const char *path,
                                   uid_t caller_uid,
                                   const gid_t *caller_gids,
                                   gsize n_caller_gids,
                                   guint64 *ret_removed,
                                   GError **error)
{
  return cleanup_remove_beneath_locald_full (path, caller_uid, caller_gids, n_caller_gids,
                                             CLEANUP_TREE_DEFAULT, ret_removed, error);
}

/* The groups of uid as the kernel would give them to a login of that user:
 * the passwd entry's primary group first, then its supplementary groups
 * (getgrouplist). No passwd entry, or a lookup that fails: no groups, so no
 * group class or group entry applies. That refuses more where a group would
 * let the caller in, but not where one would shut a member out while
 * "other" lets everyone in: the daemon passes the groups the bus recorded
 * for the connection, and uses this only when the bus reported none. */
static gid_t *
lookup_groups (uid_t uid, gsize *ret_n)
{
  g_autofree char *buf = NULL;
  g_autofree gid_t *list = NULL;
  g_autoptr (GArray) gids = NULL;
  struct passwd pw, *res = NULL;
  long size;
  int r, n;

  *ret_n = 0;

  size = sysconf (_SC_GETPW_R_SIZE_MAX);
  if (size <= 0)
    size = 1024;
  for (;;)
    {
      buf = g_realloc (buf, (gsize) size);
      r = getpwuid_r (uid, &pw, buf, (size_t) size, &res);
      if (r != ERANGE || size >= 1024 * 1024)
        break;
      size *= 2;
    }
  if (r != 0 || res == NULL)
    return NULL;

  gids = g_array_new (FALSE, FALSE, sizeof (gid_t));
  g_array_append_val (gids, pw.pw_gid);

  n = 32;
  for (guint attempt = 0; attempt < 16; attempt++)
    {
      int got = n;

      list = g_renew (gid_t, list, n);
      if (getgrouplist (pw.pw_name, pw.pw_gid, list, &got) >= 0)
        {
          for (int i = 0; i < got; i++)
            if (list[i] != pw.pw_gid)
              g_array_append_val (gids, list[i]);
          break;
        }
      /* Too small: got holds the number needed (glibc), else grow. */
      n = got > n ? got : n * 2;
      if (n > 65536 + 1)
        break;
    }

  *ret_n = gids->len;
  return (gid_t *) g_array_free (g_steal_pointer (&gids), FALSE);
}

gboolean
cleanup_remove_beneath_locald (const char *path, uid_t caller_uid, guint64 *ret_removed, GError **error)
{
  g_autofree gid_t *gids = NULL;
  gsize n_gids = 0;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gids = lookup_groups (caller_uid, &n_gids);
  return cleanup_remove_beneath_locald_for (path, caller_uid, gids, n_gids, ret_removed, error);
}
