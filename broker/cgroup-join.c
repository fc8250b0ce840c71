/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cgroup-join.h"

#include "broker-error.h"
#include "cgroup-private.h"
#include "fd-util.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* PIDFD_GET_INFO (Linux 6.13): the credentials of a pidfd's process, read
 * without /proc (which the hardened unit hides: ProtectProc=invisible).
 * Debian 12's headers predate it, so the first (64-byte) version of the
 * structure is spelled out here; the kernel accepts any size from that on. */
struct broker_pidfd_info
{
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  uint32_t spare0;
};
G_STATIC_ASSERT (sizeof (struct broker_pidfd_info) == 64);
#define BROKER_PIDFD_GET_INFO _IOWR (0xFF, 11, struct broker_pidfd_info)
#define BROKER_PIDFD_INFO_CREDS (1u << 1)

void
cgroup_join_target_clear (CgroupJoinTarget *target)
{
  if (target->pidfd >= 0)
    close (target->pidfd);
  target->pidfd = -1;
  target->pid = 0;
}

static void
set_process_gone (GError **error, pid_t pid)
{
  g_set_error (
      error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND,
      "The calling process (pid %d) exited during the call; nothing was moved. Call JoinCgroup from the "
      "process that should join",
      (int) pid);
}

gboolean
cgroup_join_pin (pid_t pid, uid_t uid, CgroupJoinTarget *ret, GError **error)
{
  struct broker_pidfd_info info = { .mask = BROKER_PIDFD_INFO_CREDS };
  g_auto (BrokerFd) fd = -1;

  g_return_val_if_fail (ret != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ret->pid = 0;
  ret->pidfd = -1;
  if (pid <= 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                   "The bus did not say which process made the call; nothing was moved");
      return FALSE;
    }

  fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0)
    {
      int e = errno;
      if (e == ESRCH)
        set_process_gone (error, pid);
      else
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot pin the calling process (pid %d): %s",
                     (int) pid, g_strerror (e));
      return FALSE;
    }

  /* The pid came from the bus when the caller connected; the pidfd says
   * who holds it now. Kernels before 6.13 cannot tell (ENOTTY/EINVAL): then
   * the connection's pid is all there is, as for every D-Bus service. */
  if (ioctl (fd, BROKER_PIDFD_GET_INFO, &info) == 0)
    {
      if ((info.mask & BROKER_PIDFD_INFO_CREDS) != 0 && (uid_t) info.euid != uid)
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER,
                       "Process %d belongs to uid %u, not to the caller (uid %u); nothing was moved",
                       (int) pid, (unsigned) info.euid, (unsigned) uid);
          return FALSE;
        }
    }
  else if (errno == ESRCH)
    {
      set_process_gone (error, pid);
      return FALSE;
    }

  ret->pid = pid;
  ret->pidfd = broker_fd_steal (&fd);
  return TRUE;
}

gboolean
cgroup_join_still_alive (const CgroupJoinTarget *target, GError **error)
{
  /* A pidfd polls readable once its process has exited. */
  struct pollfd pfd = { .fd = target->pidfd, .events = POLLIN };
  int r;

  do
    r = poll (&pfd, 1, 0);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return TRUE;
  set_process_gone (error, target->pid);
  return FALSE;
}

int
cgroup_join_open_subtree (int mount_fd, const CgroupLayout *layout, uid_t uid, GError **error)
{
  g_autofree char *user_path = cgroup_user_path (layout, uid);
  g_autoptr (GError) local_error = NULL;
  g_auto (BrokerFd) fd = -1;
  struct stat st;

  fd = cgroup_open_beneath (mount_fd, user_path + 1, "delegated cgroup subtree", &local_error);
  if (fd < 0)
    {
      if (g_error_matches (local_error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND))
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_SET_UP,
                     "Your delegated cgroup subtree %s does not exist yet; run \"localdctl setup\" "
                     "(SetupCgroupRoot) once, then retry",
                     user_path);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", user_path);
      return -1;
    }
  if (fstat (fd, &st) < 0 || st.st_uid != uid)
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_NOT_SET_UP,
          "The cgroup subtree %s is not delegated to you; run \"localdctl setup\" (SetupCgroupRoot) to "
          "repair it, then retry",
          user_path);
      return -1;
    }
  return broker_fd_steal (&fd);
}

int
cgroup_join_ensure_path (int subtree_fd, const char *cgroup_rel, uid_t uid, const char *shown, GError **error)
{
  g_auto (GStrv) comps = g_strsplit (cgroup_rel, "/", -1);
  g_auto (BrokerFd) cur = -1;

  cur = cgroup_open_node (subtree_fd, "");
  if (cur < 0)
    {
      int e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot open %s: %s", shown, g_strerror (e));
      return -1;
    }
  for (char **c = comps; *c != NULL; c++)
    {
      g_auto (BrokerFd) next = -1;
      gboolean created = FALSE;

      if (mkdirat (cur, *c, 0755) == 0)
        created = TRUE;
      else if (errno != EEXIST)
        {
          int e = errno;
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot create the cgroup %s: %s", shown,
                       g_strerror (e));
          return -1;
        }
      next = cgroup_open_beneath (cur, *c, "cgroup", error);
      if (next < 0)
        {
          g_prefix_error (error, "%s: ", shown);
          return -1;
        }
      /* New directories belong to the caller, as if it had made them in its
       * delegated subtree itself; existing ones keep their owner. */
      if (created && !cgroup_delegate_to (next, uid, shown, error))
        return -1;
      close (cur);
      cur = broker_fd_steal (&next);
    }
  return broker_fd_steal (&cur);
}

int
cgroup_join_prepare (
    const CgroupLayout *layout, uid_t uid, const char *cgroup_rel, char **ret_shown, GError **error)
{
  g_auto (BrokerFd) mount_fd = -1;
  g_auto (BrokerFd) subtree_fd = -1;
  g_autofree char *user_path = NULL;
  g_autofree char *shown = NULL;
  int target_fd;

  g_return_val_if_fail (layout != NULL && layout->mount != NULL, -1);
  g_return_val_if_fail (ret_shown != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  /* The daemon validated already; checking again keeps this safe on its own. */
  if (!cgroup_validate_root (layout->root, error) || !cgroup_validate_relative (cgroup_rel, error))
    return -1;
  user_path = cgroup_user_path (layout, uid);
  shown = g_strdup_printf ("%s/%s", user_path, cgroup_rel);

  mount_fd = cgroup_open_mount (layout, error);
  if (mount_fd < 0)
    return -1;
  /* Joining never creates the subtree: that is SetupCgroupRoot's, which an
   * administrator may have to approve. */
  subtree_fd = cgroup_join_open_subtree (mount_fd, layout, uid, error);
  if (subtree_fd < 0)
    return -1;
  target_fd = cgroup_join_ensure_path (subtree_fd, cgroup_rel, uid, shown, error);
  if (target_fd >= 0)
    *ret_shown = g_steal_pointer (&shown);
  return target_fd;
}

gboolean
cgroup_direct_join (const CgroupLayout *layout,
                    uid_t uid,
                    const CgroupJoinTarget *target,
                    const char *cgroup_rel,
                    char **ret_cgroup_path,
                    GError **error)
{
  g_auto (BrokerFd) target_fd = -1;
  g_autofree char *shown = NULL;
  char pid_text[32];
  int r;

  g_return_val_if_fail (target != NULL && target->pidfd >= 0, FALSE);
  g_return_val_if_fail (ret_cgroup_path != NULL, FALSE);

  target_fd = cgroup_join_prepare (layout, uid, cgroup_rel, &shown, error);
  if (target_fd < 0)
    return FALSE;

  g_snprintf (pid_text, sizeof pid_text, "%d", (int) target->pid);
  r = cgroup_write_at (target_fd, "cgroup.procs", pid_text);
  if (r == -ESRCH)
    {
      set_process_gone (error, target->pid);
      return FALSE;
    }
  if (r == -EBUSY)
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_FAILED,
          "The cgroup %s hands controllers to child cgroups (cgroup.subtree_control), so no process may "
          "live in it; join a leaf cgroup below it instead",
          shown);
      return FALSE;
    }
  if (r < 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot move process %d into %s: %s",
                   (int) target->pid, shown, g_strerror (-r));
      return FALSE;
    }
  if (!cgroup_join_still_alive (target, error))
    return FALSE;

  *ret_cgroup_path = g_steal_pointer (&shown);
  return TRUE;
}
