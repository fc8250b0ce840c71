/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cleanup-tree.h"

#include "broker-error.h"
#include "cleanup-fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>

/* Directory streams kept open at once. The deepest ones stay open; shallower
 * ones are closed and re-opened through ".." on the way back up, so a tree
 * of any depth works under a small RLIMIT_NOFILE (glibc also gives each
 * stream a 32 KiB buffer). */
#define MAX_OPEN_DIRS 32

/* A directory found non-empty after reading it to the end got new entries
 * meanwhile; read it again this many times, then give up rather than loop
 * forever against someone who keeps filling it. */
#define MAX_PASSES 8

/* An entry that keeps flipping between directory and non-directory while we
 * look at it is being raced; stop after this many tries. */
#define MAX_ATTEMPTS 8

#define OPEN_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
/* Entries are single names straight from readdir(), never "." or "..", so
 * they cannot leave their directory and RESOLVE_BENEATH would add nothing -
 * except a spurious EXDEV when the entry is renamed away mid-lookup, which
 * would then be misreported as a mount point. So: no symlinks, same mount. */
#define OPEN_DIR_SCOPE CLEANUP_OPEN_SAME_MOUNT

typedef struct
{
  char *name;         /* the entry's name in the parent frame's directory */
  DIR *dir;           /* NULL while closed to save fds */
  CleanupIdentity id; /* what the directory was when first opened */
  guint passes;
  long pos;      /* telldir() when the stream was closed, for the first pass */
  gboolean kept; /* unprivileged: something in it had to stay */
  /* First pass: the stream was closed and re-opened, so this pass may have
   * missed entries (see walk_reopen_parent()). */
  gboolean reopened;
  /* Removal pass: no entry needs its owner checked again (see
   * walk_closed_to_others()). */
  gboolean owners_settled;
} Frame;

/* What the first pass learnt of a directory it entered. The identity comes
 * first, so a CleanupIdentity pointer looks a record up. */
typedef struct
{
  CleanupIdentity id;
  gboolean read_whole; /* every entry was read in one stream and checked */
} ScanRecord;

typedef struct
{
  int top_parent_fd; /* not owned; holds frame 0 */
  guint64 mnt_id;    /* the mount everything must stay on */
  GArray *frames;    /* Frame, frame 0 is the target directory */
  guint first_open;  /* frames[first_open..] have open streams */
  guint64 removed;
  const char *locald_path;
  const char *where;
  uid_t caller_uid;    /* entries of root and of this uid may go, nothing else */
  gboolean scanning;   /* the first pass: check every owner, remove nothing */
  GHashTable *scanned; /* ScanRecord of each directory the first pass entered */
  /* The file system's permissions are its mode bits and POSIX ACLs, which
   * walk_closed_to_others() relies on. */
  gboolean posix_permissions;
  gboolean unprivileged; /* keep what the kernel refuses, go on with the rest */
  guint64 kept;          /* entries kept that way (or, first pass: not looked into) */
} Walk;

static guint
identity_hash (gconstpointer key)
{
  const CleanupIdentity *id = key;
  return g_int64_hash (&id->ino) ^ g_int64_hash (&id->dev);
}

static gboolean
identity_equal (gconstpointer a, gconstpointer b)
{
  return cleanup_identity_same_inode (a, b);
}

static void
frame_clear (gpointer data)
{
  Frame *f = data;

  if (f->dir != NULL)
    closedir (f->dir);
  f->dir = NULL;
  g_clear_pointer (&f->name, g_free);
}

static Frame *
walk_frame (Walk *w, guint i)
{
  return &g_array_index (w->frames, Frame, i);
}

/* Unprivileged: an entry of the top frame's directory (or the target
 * itself, with no frame) stays for the broker. TRUE if that is what err
 * calls for. */
static gboolean
walk_keep (Walk *w, int err)
{
  if (!w->unprivileged || (err != EACCES && err != EPERM))
    return FALSE;
  w->kept++;
  if (w->frames->len > 0)
    walk_frame (w, w->frames->len - 1)->kept = TRUE;
  return TRUE;
}

/* "where/frame0/frame1/.../leaf", relative to .locald, for messages. */
static char *
walk_describe (Walk *w, const char *leaf)
{
  GString *s = g_string_new (w->where);

  for (guint i = 0; i < w->frames->len; i++)
    {
      if (s->len > 0)
        g_string_append_c (s, '/');
      g_string_append (s, walk_frame (w, i)->name);
    }
  if (leaf != NULL)
    {
      if (s->len > 0)
        g_string_append_c (s, '/');
      g_string_append (s, leaf);
    }
  return g_string_free (s, FALSE);
}

static gboolean
walk_fail (Walk *w, const char *leaf, int code, const char *why, GError **error)
{
  g_autofree char *rel = walk_describe (w, leaf);

  g_set_error (error, BROKER_ERROR, code,
               "removed %" G_GUINT64_FORMAT " entries, then stopped at '%s' (relative to %s): %s", w->removed,
               rel, w->locald_path, why);
  return FALSE;
}

static gboolean
walk_fail_errno (Walk *w, const char *leaf, const char *what, int err, GError **error)
{
  g_autofree char *why = g_strdup_printf ("%s: %s", what, g_strerror (err));
  return walk_fail (w, leaf, BROKER_ERROR_FAILED, why, error);
}

/* The owner rule: the caller's .locald may hold entries of other users (a
 * shared project directory, a sticky world-writable one), and root may
 * remove anything, so root removes only what is root's (the leftovers this
 * method exists for) or the caller's own. */
static gboolean
walk_owner_allowed (const Walk *w, uid_t owner)
{
  return owner == 0 || owner == w->caller_uid;
}

/* Removal pass, a directory just opened: may its entries go without a
 * second look at their owners? The second look exists for entries that
 * appeared, or changed hands, after the first pass checked them. In a
 * directory that the first pass read whole, and that nobody but its owner
 * may write - its owner root or the caller, the group and other write bits
 * clear - only its owner or root can have changed anything since, or let
 * anyone else do so: a directory of root's is root's business (trusted),
 * and in one of the caller's the caller could remove every name alone (its
 * owner may always make it writable, and a sticky bit does not bind a
 * directory's owner), so no privilege is lent either way. The group bits
 * are the ACL mask where there is an ACL, which bounds every named user and
 * group entry, so they speak for the ACL too; on file systems whose
 * permissions may be something else (network, FUSE, ...) every owner is
 * checked again. */
static gboolean
walk_closed_to_others (const Walk *w, const CleanupIdentity *dir)
{
  const ScanRecord *scan;

  if (!w->posix_permissions || !walk_owner_allowed (w, (uid_t) dir->uid)
      || (dir->mode & (S_IWGRP | S_IWOTH)) != 0)
    return FALSE;
  scan = g_hash_table_lookup (w->scanned, dir);
  return scan != NULL && scan->read_whole;
}

static gboolean
walk_fail_owner (Walk *w, const char *leaf, uid_t owner, GError **error)
{
  g_autofree char *why = g_strdup_printf (
      "it is owned by uid %u, which is neither root nor you (uid %u); only entries "
      "owned by root or by the caller are removed%s - ask its owner to remove it or to "
      "move it out of the tree, then run the cleanup again",
      (unsigned) owner, (unsigned) w->caller_uid, w->scanning ? ", so nothing was removed" : "");
  return walk_fail (w, leaf, BROKER_ERROR_NOT_OWNER, why, error);
}

static gboolean
walk_fail_mount (Walk *w, const char *leaf, GError **error)
{
  return walk_fail (w, leaf, BROKER_ERROR_CROSSES_MOUNT,
                    "it is a mount point (or on another mount); it and everything in it were left alone - "
                    "unmount it, then run the cleanup again",
                    error);
}

/* Takes ownership of fd (a directory just opened beneath the top frame) and
 * makes it the new top frame. */
static gboolean
walk_push (Walk *w, int fd_in, const char *name, GError **error)
{
  g_auto (BrokerFd) fd = fd_in;
  Frame f = { .pos = -1 };
  int r;

  r = cleanup_fd_identity (fd, &f.id);
  if (r < 0)
    return walk_fail_errno (w, name, "cannot inspect the directory", -r, error);
  /* openat2(RESOLVE_NO_XDEV) already refuses mount points; checking the
   * mount id as well keeps this walk safe even if that ever changes. */
  if (f.id.mnt_id != w->mnt_id)
    return walk_fail_mount (w, name, error);
  if (!walk_owner_allowed (w, (uid_t) f.id.uid))
    return walk_fail_owner (w, name, (uid_t) f.id.uid, error);
  /* Unprivileged, removing: a directory we may not write cannot be emptied,
   * so it is left whole instead of read (the first pass has read it). */
  if (w->unprivileged && !w->scanning && faccessat (fd, ".", W_OK, AT_EACCESS) < 0 && walk_keep (w, errno))
    return TRUE;
  /* The first pass changes nothing, so unlike the removal it would not
   * end by itself against someone moving a directory out and back in (it
   * reappears in its parent's stream), and a re-opened stream may show it
   * again: each directory is entered once, and met again it is skipped (the
   * removal pass checks its owners anyway). */
  if (w->scanning)
    {
      ScanRecord *seen;

      if (g_hash_table_contains (w->scanned, &f.id))
        return TRUE;
      seen = g_new0 (ScanRecord, 1);
      seen->id = f.id;
      g_hash_table_add (w->scanned, seen);
    }
  else
    f.owners_settled = walk_closed_to_others (w, &f.id);

  /* Keep the number of open streams bounded: close the shallowest one. */
  if (w->frames->len - w->first_open >= MAX_OPEN_DIRS)
    {
      Frame *old = walk_frame (w, w->first_open);
      old->pos = telldir (old->dir);
      old->reopened = TRUE;
      closedir (old->dir);
      old->dir = NULL;
      w->first_open++;
    }

  f.dir = fdopendir (fd);
  if (f.dir == NULL)
    return walk_fail_errno (w, name, "cannot read the directory", errno, error);
  (void) broker_fd_steal (&fd);
  f.name = g_strdup (name);
  g_array_append_val (w->frames, f);
  return TRUE;
}

static void
walk_pop (Walk *w)
{
  g_assert (w->frames->len > 0);
  g_array_set_size (w->frames, w->frames->len - 1);
  if (w->first_open > w->frames->len)
    w->first_open = w->frames->len;
}

/* Deals with one entry of the directory dfd: unlinks it, or opens it and
 * pushes a frame. owners_settled: the removal pass need not check the
 * owner of a non-directory again (walk_closed_to_others()). Returns FALSE
 * on error. */
static gboolean
walk_entry (
    Walk *w, int dfd, const char *name, gboolean looks_like_dir, gboolean owners_settled, GError **error)
{
  for (guint attempt = 0; attempt < MAX_ATTEMPTS; attempt++)
    {
      if (!looks_like_dir)
        {
          /* Whose it is decides whether it may go (walk_owner_allowed()),
           * checked right before the unlinkat(), in both passes - entries
           * can appear between them - unless nobody else can have put it
           * there since the first pass. */
          if (w->scanning || !owners_settled)
            {
              struct stat st;

              if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                {
                  if (errno == ENOENT)
                    return TRUE;
                  if (walk_keep (w, errno))
                    return TRUE;
                  return walk_fail_errno (w, name, "cannot inspect it", errno, error);
                }
              if (S_ISDIR (st.st_mode))
                {
                  looks_like_dir = TRUE;
                  continue;
                }
              if (!walk_owner_allowed (w, st.st_uid))
                return walk_fail_owner (w, name, st.st_uid, error);
              if (w->scanning)
                return TRUE;
            }
          /* Never follows anything: a symlink is removed as a link. */
          if (unlinkat (dfd, name, 0) == 0)
            {
              w->removed++;
              return TRUE;
            }
          if (errno == ENOENT)
            return TRUE;
          if (errno == EISDIR)
            {
              looks_like_dir = TRUE;
              continue;
            }
          if (errno == EBUSY)
            return walk_fail_mount (w, name, error);
          if (walk_keep (w, errno))
            return TRUE;
          return walk_fail_errno (w, name, "cannot remove it", errno, error);
        }
      else
        {
          int fd = cleanup_open_no_symlinks (dfd, name, OPEN_DIR_FLAGS, OPEN_DIR_SCOPE);
          if (fd >= 0)
            return walk_push (w, fd, name, error);
          if (fd == -ENOENT)
            return TRUE;
          /* Replaced by a symlink or a file since readdir(): remove that
           * instead (as a link, not what it points to). */
          if (fd == -ELOOP || fd == -ENOTDIR)
            {
              looks_like_dir = FALSE;
              continue;
            }
          if (fd == -EXDEV)
            return walk_fail_mount (w, name, error);
          if (walk_keep (w, -fd))
            return TRUE;
          return walk_fail_errno (w, name, "cannot open the directory", -fd, error);
        }
    }

  return walk_fail (w, name, BROKER_ERROR_UNSAFE_PATH,
                    "it kept changing between directory and non-directory while being removed; "
                    "stop whatever is modifying it and try again",
                    error);
}

/* The top frame's parent stream was closed to save fds: re-open it through
 * ".." of the top frame and make sure it is the same directory as before,
 * still on our mount. Something renamed in between is refused, not chased. */
static gboolean
walk_reopen_parent (Walk *w, GError **error)
{
  guint top = w->frames->len - 1;
  Frame *child = walk_frame (w, top);
  Frame *parent = walk_frame (w, top - 1);
  g_auto (BrokerFd) fd = -1;
  CleanupIdentity id;
  int r;

  g_assert (top >= 1 && w->first_open == top && parent->dir == NULL && child->dir != NULL);

  fd = openat (dirfd (child->dir), "..", OPEN_DIR_FLAGS);
  if (fd < 0)
    return walk_fail_errno (w, "..", "cannot re-open the parent directory", errno, error);
  r = cleanup_fd_identity (fd, &id);
  if (r < 0)
    return walk_fail_errno (w, "..", "cannot inspect the parent directory", -r, error);
  if (!cleanup_identity_same_inode (&id, &parent->id) || id.mnt_id != w->mnt_id)
    return walk_fail (w, NULL, BROKER_ERROR_UNSAFE_PATH,
                      "the directory was moved while being removed; refusing to continue "
                      "in a place that is no longer the tree that was asked for",
                      error);

  parent->dir = fdopendir (fd);
  if (parent->dir == NULL)
    return walk_fail_errno (w, "..", "cannot read the parent directory", errno, error);
  (void) broker_fd_steal (&fd);
  /* The removal pass starts over (what it saw is gone); the first pass
   * goes on where it was, so a deep tree is not read over and over. File
   * systems keep directory positions valid across streams; where one does
   * not, entries are read again or missed by this pass only, and the
   * removal pass checks every owner itself. */
  if (w->scanning && parent->pos >= 0)
    seekdir (parent->dir, parent->pos);
  w->first_open = top - 1;
  return TRUE;
}

/* The top frame has been read to the end: rmdir it from its parent. */
static gboolean
walk_finish_top (Walk *w, GError **error)
{
  guint top = w->frames->len - 1;
  Frame *f = walk_frame (w, top);
  int pfd;

  if (top == 0)
    pfd = w->top_parent_fd;
  else
    {
      if (walk_frame (w, top - 1)->dir == NULL && !walk_reopen_parent (w, error))
        return FALSE;
      f = walk_frame (w, top);
      pfd = dirfd (walk_frame (w, top - 1)->dir);
    }

  if (w->scanning)
    {
      ScanRecord *scan = g_hash_table_lookup (w->scanned, &f->id);

      if (scan != NULL && !f->reopened)
        scan->read_whole = TRUE;
      walk_pop (w);
      return TRUE;
    }

  /* Not empty, on purpose: it stays, and so does its parent. */
  if (f->kept)
    {
      walk_pop (w);
      w->kept++;
      if (w->frames->len > 0)
        walk_frame (w, w->frames->len - 1)->kept = TRUE;
      return TRUE;
    }

  if (unlinkat (pfd, f->name, AT_REMOVEDIR) == 0)
    {
      w->removed++;
      walk_pop (w);
      return TRUE;
    }
  /* Renamed away, or replaced by a non-directory (which the parent's next
   * pass meets as an entry of its own): this name no longer holds it. */
  if (errno == ENOENT || errno == ENOTDIR)
    {
      walk_pop (w);
      return TRUE;
    }
  if (errno == ENOTEMPTY && f->passes < MAX_PASSES)
    {
      f->passes++;
      rewinddir (f->dir);
      return TRUE;
    }
  if (errno == EBUSY)
    return walk_fail_mount (w, NULL, error);
  if ((errno == EACCES || errno == EPERM) && w->unprivileged)
    {
      /* Emptied, but its parent is not ours to change. */
      walk_pop (w);
      walk_keep (w, EACCES);
      return TRUE;
    }
  if (errno == ENOTEMPTY)
    return walk_fail (w, NULL, BROKER_ERROR_BUSY,
                      "entries kept appearing in it while it was being removed; "
                      "stop whatever writes there and try again",
                      error);
  return walk_fail_errno (w, NULL, "cannot remove the directory", errno, error);
}

static gboolean
walk_run (Walk *w, GError **error)
{
  while (w->frames->len > 0)
    {
      Frame *f = walk_frame (w, w->frames->len - 1);
      struct dirent *de;

      g_assert (f->dir != NULL);
      errno = 0;
      de = readdir (f->dir);
      if (de == NULL)
        {
          if (errno != 0)
            return walk_fail_errno (w, NULL, "cannot read the directory", errno, error);
          if (!walk_finish_top (w, error))
            return FALSE;
          continue;
        }
      if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
        continue;
      /* d_type saves a stat per entry; DT_UNKNOWN is sorted out by
       * unlinkat() failing with EISDIR. */
      if (!walk_entry (w, dirfd (f->dir), de->d_name, de->d_type == DT_DIR, f->owners_settled, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
cleanup_tree_remove (int parent_fd,
                     const char *name,
                     const char *locald_path,
                     const char *where,
                     uid_t caller_uid,
                     CleanupTreeFlags flags,
                     guint64 *ret_removed,
                     GError **error)
{
  g_autoptr (GArray) frames = NULL;
  g_autoptr (GHashTable) scanned = NULL;
  CleanupIdentity parent_id;
  Walk w = { 0 };
  gboolean ok;
  int r;

  g_return_val_if_fail (parent_fd >= 0, FALSE);
  g_return_val_if_fail (name != NULL && *name != '\0' && strchr (name, '/') == NULL, FALSE);
  g_return_val_if_fail (!g_str_equal (name, ".") && !g_str_equal (name, ".."), FALSE);
  g_return_val_if_fail (locald_path != NULL && where != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (ret_removed != NULL)
    *ret_removed = 0;

  r = cleanup_fd_identity (parent_fd, &parent_id);
  if (r < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "cannot inspect '%s' below %s: %s", where,
                   locald_path, g_strerror (-r));
      return FALSE;
    }

  frames = g_array_new (FALSE, TRUE, sizeof (Frame));
  g_array_set_clear_func (frames, frame_clear);

  w.top_parent_fd = parent_fd;
  w.mnt_id = parent_id.mnt_id;
  w.frames = frames;
  w.locald_path = locald_path;
  w.where = where;
  w.caller_uid = caller_uid;
  w.unprivileged = (flags & CLEANUP_TREE_UNPRIVILEGED) != 0;
  w.posix_permissions = cleanup_fs_has_posix_permissions (parent_fd);

  /* First a pass that removes nothing: an entry of another user anywhere
   * in the tree stops the call before anything is gone, rather than
   * halfway through. The removal pass checks every owner again. */
  scanned = g_hash_table_new_full (identity_hash, identity_equal, g_free, NULL);
  w.scanned = scanned;
  w.scanning = TRUE;
  ok = walk_entry (&w, parent_fd, name, FALSE, FALSE, error) && walk_run (&w, error);
  if (!ok)
    return FALSE;
  /* Unprivileged and some of it could not be looked into: only the broker
   * can tell whether the owner rule lets anything go, so it decides, and
   * nothing is removed here first. */
  if (w.kept > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "%" G_GUINT64_FORMAT " entries of the tree cannot be looked into without privilege",
                   w.kept);
      return FALSE;
    }
  g_assert (w.frames->len == 0);
  w.first_open = 0;
  w.scanning = FALSE;

  /* The target itself: unlinkat() first, which also tells a directory apart
   * (EISDIR) without a separate stat that could race. If something else
   * took its name while we worked (only the caller can do that, in their
   * own .locald), go again, a bounded number of times. */
  for (guint pass = 0;; pass++)
    {
      struct stat st;

      ok = walk_entry (&w, parent_fd, name, FALSE, FALSE, error) && walk_run (&w, error);
      if (!ok || w.kept > 0 || fstatat (parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        break;
      if (pass + 1 == MAX_PASSES)
        {
          ok = walk_fail (&w, name, BROKER_ERROR_BUSY,
                          "it kept coming back while being removed; stop whatever writes there and try again",
                          error);
          break;
        }
    }

  if (ok && w.kept > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "removed %" G_GUINT64_FORMAT " entries; %" G_GUINT64_FORMAT
                   " (and what they hold) need privilege to remove",
                   w.removed, w.kept);
      ok = FALSE;
    }
  if (ret_removed != NULL)
    *ret_removed = w.removed;
  return ok;
}
