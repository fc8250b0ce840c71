/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * systemd strategy: the caller's delegated subtree is the transient scope
 * "locald-user-<uid>.scope" in "locald.slice", created through the systemd
 * manager's D-Bus API with:
 *
 *   Description  "locald delegated cgroup of uid <uid>"
 *   Slice        "locald.slice"
 *   Delegate     true   (systemd leaves the subtree below the scope alone)
 *   PIDs         [keeper pid]
 *   User         "<uid>" (numeric string)
 *
 * A scope lives exactly as long as it holds a process: systemd removes it,
 * and with it the whole delegated subtree, as soon as its last process is
 * gone. So the scope starts with a keeper of its own, not with the caller
 * (which exits right after the setup): a root-owned "sleep infinity" with
 * no capabilities and an empty environment, moved into the root-owned leaf
 * "<scope>/.keeper" so the scope's top stays free of processes and the user
 * can still enable controllers for its children (no-internal-process rule).
 * Names starting with '.' are refused in callers' cgroup paths, so nobody
 * can join or kill the keeper's cgroup through the broker. A setup finding
 * the scope without a living keeper gives it a new one.
 *
 * User= is set because on a scope it is what makes systemd chown the
 * delegated cgroup (directory, cgroup.procs, cgroup.subtree_control,
 * cgroup.threads) to that user, exactly what the direct strategy does by
 * hand; without it the scope would belong to root and the user could not
 * create cgroups in it. A numeric string needs no user database lookup.
 * Older managers that reject User= on scopes fail the call, with systemd's
 * message passed on.
 *
 * JoinCgroup moves the caller with AttachProcessesToUnit into a subcgroup
 * of its scope, after the broker created the missing directories.
 */
#include "config.h"

#include "cgroup-systemd.h"
#include "broker-error.h"
#include "bus-driver.h"
#include "cgroup-private.h"
#include "fd-util.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SCOPE_IFACE "org.freedesktop.systemd1.Scope"
#define UNIT_EXISTS_ERROR "org.freedesktop.systemd1.UnitExists"
#define LOCALD_SLICE "locald.slice"
#define KEEPER_CGROUP ".keeper"
#define KEEPER_PROGRAM "/bin/sleep"

/* Bound for one method call and for the start job as a whole. */
#define SYSTEMD_TIMEOUT_US (10 * G_USEC_PER_SEC)

gboolean
cgroup_systemd_detect (char **ret_reason)
{
  struct stat st;

  g_return_val_if_fail (ret_reason != NULL, FALSE);

  /* Same test as sd_booted(3): the directory only a running systemd (as
   * PID 1) creates. */
  if (lstat ("/run/systemd/system", &st) == 0 && S_ISDIR (st.st_mode))
    {
      *ret_reason
          = g_strdup ("/run/systemd/system exists: the host runs systemd as PID 1, so cgroups are created "
                      "as delegated scopes through systemd");
      return TRUE;
    }
  *ret_reason
      = g_strdup ("/run/systemd/system does not exist: PID 1 is not systemd, so the broker manages its "
                  "cgroup subtree on the cgroup2 hierarchy directly");
  return FALSE;
}

/* "systemd did not answer in time" is one condition, whichever call it hit:
 * BROKER_ERROR_BUSY, like a start job that does not finish. */
static void
set_bus_error (GError **error, int r, const sd_bus_error *bus_error, const char *what)
{
  if (r == -ETIMEDOUT || (bus_error != NULL && sd_bus_error_has_name (bus_error, SD_BUS_ERROR_NO_REPLY)))
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_BUSY,
                 "%s: systemd did not answer in time; check that the system manager is responsive and retry",
                 what);
  else if (bus_error != NULL && sd_bus_error_is_set (bus_error))
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "%s: %s (%s)", what,
                 bus_error->message != NULL ? bus_error->message : "no message", bus_error->name);
  else
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "%s: %s", what, g_strerror (-r));
}

/* JobRemoved of every job seen, job path -> result. The reply to
 * StartTransientUnit may be processed after the signal arrived, so signals
 * are recorded rather than matched against a job known in advance. */
typedef struct
{
  GHashTable *results;
  const char *manager; /* unique name of the manager the job was started with */
} JobWatch;

static int
on_job_removed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  JobWatch *watch = userdata;
  uint32_t id;
  const char *job, *unit, *result;

  /* Any user can unicast a JobRemoved to this connection: the bus delivers
   * it whatever the match says, and sd-bus lets a match on the well-known
   * name pass any unique sender. Only the manager's own signal counts. */
  if (g_strcmp0 (sd_bus_message_get_sender (m), watch->manager) != 0)
    return 0;
  if (sd_bus_message_read (m, "uoss", &id, &job, &unit, &result) >= 0)
    g_hash_table_insert (watch->results, g_strdup (job), g_strdup (result));
  return 0;
}

/* The unique name that owns the manager's name now; the job's JobRemoved
 * must come from it. */
static gboolean
get_manager_owner (sd_bus *bus, const char *unit, char **ret_owner, GError **error)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
  const char *owner = NULL;
  int r;

  r = sd_bus_call_method (bus, BUS_DRIVER_NAME, BUS_DRIVER_PATH, BUS_DRIVER_INTERFACE, "GetNameOwner",
                          &bus_error, &reply, "s", SYSTEMD_DEST);
  if (r >= 0)
    r = sd_bus_message_read (reply, "s", &owner);
  if (r < 0 || owner == NULL || owner[0] != ':')
    {
      g_autofree char *what = g_strdup_printf (
          "Could not create the scope %s: systemd (%s) is not on the system bus", unit, SYSTEMD_DEST);
      set_bus_error (error, r < 0 ? r : -EBADMSG, &bus_error, what);
      return FALSE;
    }
  *ret_owner = g_strdup (owner);
  return TRUE;
}

static gboolean
start_scope (sd_bus *bus,
             const char *unit,
             uid_t uid,
             pid_t keeper_pid,
             char **ret_job,
             gboolean *ret_exists,
             GError **error)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *m = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
  g_autofree char *description = g_strdup_printf ("locald delegated cgroup of uid %u", (unsigned) uid);
  g_autofree char *user = g_strdup_printf ("%u", (unsigned) uid);
  const char *job;
  int r;

  r = sd_bus_message_new_method_call (bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE,
                                      "StartTransientUnit");
  if (r >= 0)
    r = sd_bus_message_append (m, "ss", unit, "fail");
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = sd_bus_message_append (m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                               LOCALD_SLICE, "Delegate", "b", 1, "PIDs", "au", 1, (uint32_t) keeper_pid,
                               "User", "s", user);
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  if (r >= 0)
    r = sd_bus_message_append (m, "a(sa(sv))", 0);
  if (r < 0)
    {
      set_bus_error (error, r, NULL, "Cannot build the StartTransientUnit call");
      return FALSE;
    }

  r = sd_bus_call (bus, m, SYSTEMD_TIMEOUT_US, &bus_error, &reply);
  if (r < 0 && sd_bus_error_has_name (&bus_error, UNIT_EXISTS_ERROR))
    {
      *ret_exists = TRUE;
      return TRUE;
    }
  if (r < 0)
    {
      g_autofree char *what = g_strdup_printf ("Could not create the scope %s through systemd", unit);
      set_bus_error (error, r, &bus_error, what);
      return FALSE;
    }

  r = sd_bus_message_read (reply, "o", &job);
  if (r < 0)
    {
      set_bus_error (error, r, NULL, "systemd answered StartTransientUnit with an unexpected reply");
      return FALSE;
    }
  *ret_exists = FALSE;
  *ret_job = g_strdup (job);
  return TRUE;
}

static gboolean
wait_for_job (sd_bus *bus, GHashTable *results, const char *job, const char *unit, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + SYSTEMD_TIMEOUT_US;
  const char *result;

  while (!g_hash_table_contains (results, job))
    {
      gint64 now = g_get_monotonic_time ();
      int r;

      if (now >= deadline)
        {
          g_set_error (
              error, BROKER_ERROR, BROKER_ERROR_BUSY,
              "systemd did not finish starting %s within %d s (job %s); check \"systemctl status %s\" and "
              "try again",
              unit, (int) (SYSTEMD_TIMEOUT_US / G_USEC_PER_SEC), job, unit);
          return FALSE;
        }
      r = sd_bus_process (bus, NULL);
      if (r > 0)
        continue;
      if (r == 0)
        r = sd_bus_wait (bus, (uint64_t) (deadline - now));
      if (r < 0 && r != -EINTR)
        {
          set_bus_error (error, r, NULL, "Lost the system bus while waiting for systemd");
          return FALSE;
        }
    }

  result = g_hash_table_lookup (results, job);
  if (!g_str_equal (result, "done"))
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                   "systemd could not start %s (job result \"%s\"); see \"journalctl -u %s\"", unit, result,
                   unit);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_control_group (sd_bus *bus, const char *unit, char **ret_cgroup_path, GError **error)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
  g_autofree char *cgroup = NULL;
  char *value = NULL;
  const char *unit_path;
  int r;

  r = sd_bus_call_method (bus, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "GetUnit", &bus_error, &reply, "s",
                          unit);
  if (r >= 0)
    r = sd_bus_message_read (reply, "o", &unit_path);
  if (r < 0)
    {
      g_autofree char *what = g_strdup_printf ("Cannot look up the scope %s", unit);
      set_bus_error (error, r, &bus_error, what);
      return FALSE;
    }

  r = sd_bus_get_property_string (bus, SYSTEMD_DEST, unit_path, SCOPE_IFACE, "ControlGroup", &bus_error,
                                  &value);
  if (r < 0)
    {
      g_autofree char *what = g_strdup_printf ("Cannot read the control group of %s", unit);
      set_bus_error (error, r, &bus_error, what);
      return FALSE;
    }
  /* sd-bus hands out malloc()ed strings; keep GLib ownership consistent. */
  cgroup = g_strdup (value);
  free (value);

  if (cgroup[0] != '/')
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_FAILED,
          "The scope %s has no control group (it is not running: systemd stops a scope once its last "
          "process is gone); call SetupCgroupRoot again",
          unit);
      return FALSE;
    }
  *ret_cgroup_path = g_steal_pointer (&cgroup);
  return TRUE;
}

/* Runs in the keeper between fork and exec (plain syscalls only): it must
 * hold no capability. A root exec would give back the whole bounding set;
 * with no_new_privs (set by the broker already, and here again so the
 * keeper never depends on it) an exec grants nothing beyond the empty set. */
static void
keeper_child_setup (gpointer user_data)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall (SYS_capset, &header, data) < 0)
    _exit (127);
}

/* Starts the keeper. g_spawn_async() without G_SPAWN_DO_NOT_REAP_CHILD
 * double-forks, so the keeper is nobody's child here and never a zombie. */
static pid_t
spawn_keeper (GError **error)
{
  const char *argv[] = { KEEPER_PROGRAM, "infinity", NULL };
  const char *envp[] = { NULL };
  GPid pid = 0;

  if (!g_spawn_async ("/", (char **) argv, (char **) envp,
                      G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                      keeper_child_setup, NULL, &pid, error))
    {
      g_prefix_error (error, "Cannot start the process that keeps the scope alive: ");
      return 0;
    }
  return (pid_t) pid;
}

/* The scope's cgroup (as an fd below the mount) when it exists. */
static int
open_scope (const CgroupLayout *layout, uid_t uid)
{
  g_autofree char *user_path = cgroup_user_path (layout, uid);
  g_auto (BrokerFd) mount_fd = cgroup_open_mount (layout, NULL);

  if (mount_fd < 0)
    return -1;
  return cgroup_open_beneath (mount_fd, user_path + 1, "scope", NULL);
}

static gboolean
keeper_alive (int scope_fd)
{
  g_auto (BrokerFd) keeper_fd = cgroup_open_node (scope_fd, KEEPER_CGROUP);
  g_autoptr (GArray) pids = keeper_fd >= 0 ? cgroup_read_pids (keeper_fd) : NULL;

  return pids != NULL && pids->len > 0;
}

/* Moves the keeper from the scope's top into <scope>/.keeper (root-owned).
 * Best effort: a keeper left in the top still keeps the scope alive; only
 * enabling controllers at the top is then refused. */
static void
park_keeper (const CgroupLayout *layout, uid_t uid, pid_t keeper)
{
  g_auto (BrokerFd) scope_fd = open_scope (layout, uid);
  g_auto (BrokerFd) keeper_fd = -1;
  g_autoptr (GError) error = NULL;
  char pid_text[32];
  int r;

  if (scope_fd < 0)
    return;
  keeper_fd = cgroup_ensure_dir (scope_fd, KEEPER_CGROUP, KEEPER_CGROUP, &error);
  if (keeper_fd < 0)
    {
      g_message ("Keeper of uid %u stays in the scope's top: %s", (unsigned) uid, error->message);
      return;
    }
  g_snprintf (pid_text, sizeof pid_text, "%d", (int) keeper);
  r = cgroup_write_at (keeper_fd, "cgroup.procs", pid_text);
  if (r < 0)
    g_message ("Keeper of uid %u stays in the scope's top: %s", (unsigned) uid, g_strerror (-r));
}

/* AttachProcessesToUnit(unit, subcgroup, [pid]): systemd moves the process
 * into the unit's cgroup ("" ) or a subcgroup of a delegated unit. */
static gboolean
attach_to_unit (sd_bus *bus, const char *unit, const char *subcgroup, pid_t pid, GError **error)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
  int r;

  r = sd_bus_call_method (bus, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "AttachProcessesToUnit", &bus_error,
                          &reply, "ssau", unit, subcgroup, 1, (uint32_t) pid);
  if (r < 0)
    {
      g_autofree char *what
          = g_strdup_printf ("systemd could not move process %d into %s%s", (int) pid, unit, subcgroup);
      set_bus_error (error, r, &bus_error, what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
open_manager_bus (sd_bus **ret_bus, GError **error)
{
  /* Its own connection: this runs in a worker thread and sd-bus objects
   * must not be shared across threads. */
  int r = sd_bus_open_system (ret_bus);
  if (r < 0)
    {
      set_bus_error (error, r, NULL, "Cannot connect to the system bus to reach systemd");
      return FALSE;
    }
  return TRUE;
}

/* KillCgroup, JoinCgroup and SelfCheck look for the subtree where the
 * layout says; a scope systemd put elsewhere would be a subtree nobody can
 * manage. Clears *cgroup_path when refusing. */
static gboolean
check_placement (const CgroupLayout *layout, uid_t uid, char **cgroup_path, GError **error)
{
  g_autofree char *expected = cgroup_user_path (layout, uid);

  if (g_str_equal (*cgroup_path, expected))
    return TRUE;
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
               "systemd placed the delegated scope at %s, but the broker manages %s; check the broker's "
               "--cgroup-root setting",
               *cgroup_path, expected);
  g_clear_pointer (cgroup_path, g_free);
  return FALSE;
}

gboolean
cgroup_systemd_setup (const CgroupLayout *layout, uid_t uid, char **ret_cgroup_path, GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_slot_unrefp))) sd_bus_slot *slot = NULL;
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *unit = NULL;
  g_autofree char *job = NULL;
  g_autofree char *manager = NULL;
  JobWatch watch = { results, NULL };
  gboolean exists = FALSE;
  pid_t keeper;
  int r;

  g_return_val_if_fail (layout != NULL && layout->mount != NULL, FALSE);
  g_return_val_if_fail (ret_cgroup_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (uid == (uid_t) -1)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "Cannot create a scope for uid %u",
                   (unsigned) uid);
      return FALSE;
    }
  if (!open_manager_bus (&bus, error))
    return FALSE;
  unit = g_strdup_printf ("locald-user-%u.scope", (unsigned) uid);

  /* Set up and kept alive already: nothing to ask systemd but where. */
  {
    g_auto (BrokerFd) scope_fd = open_scope (layout, uid);
    if (scope_fd >= 0 && keeper_alive (scope_fd))
      return read_control_group (bus, unit, ret_cgroup_path, error)
             && check_placement (layout, uid, ret_cgroup_path, error);
  }

  if (!get_manager_owner (bus, unit, &manager, error))
    return FALSE;
  watch.manager = manager;

  /* Subscribe before starting the job so its JobRemoved cannot be missed;
   * by unique name, which sd-bus compares exactly (on_job_removed checks
   * the sender all the same). */
  r = sd_bus_match_signal (bus, &slot, manager, SYSTEMD_PATH, MANAGER_IFACE, "JobRemoved", on_job_removed,
                           &watch);
  if (r < 0)
    {
      set_bus_error (error, r, NULL, "Cannot watch systemd's job signals");
      return FALSE;
    }

  keeper = spawn_keeper (error);
  if (keeper <= 0)
    return FALSE;
  if (!start_scope (bus, unit, uid, keeper, &job, &exists, error)
      || (!exists && !wait_for_job (bus, results, job, unit, error))
      /* The scope outlived its keeper (the user's own processes hold it):
       * give it a new one. */
      || (exists && !attach_to_unit (bus, unit, "", keeper, error))
      || !read_control_group (bus, unit, ret_cgroup_path, error)
      || !check_placement (layout, uid, ret_cgroup_path, error))
    {
      (void) kill (keeper, SIGKILL);
      return FALSE;
    }
  park_keeper (layout, uid, keeper);
  return TRUE;
}

gboolean
cgroup_systemd_join (const CgroupLayout *layout,
                     uid_t uid,
                     const CgroupJoinTarget *target,
                     const char *cgroup_rel,
                     char **ret_cgroup_path,
                     GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  g_auto (BrokerFd) target_fd = -1;
  g_autofree char *shown = NULL;
  g_autofree char *unit = NULL;
  g_autofree char *subcgroup = NULL;

  g_return_val_if_fail (target != NULL && target->pidfd >= 0, FALSE);
  g_return_val_if_fail (ret_cgroup_path != NULL, FALSE);

  /* systemd moves a process only into a subcgroup that exists. */
  target_fd = cgroup_join_prepare (layout, uid, cgroup_rel, &shown, error);
  if (target_fd < 0 || !open_manager_bus (&bus, error))
    return FALSE;
  unit = g_strdup_printf ("locald-user-%u.scope", (unsigned) uid);
  subcgroup = g_strconcat ("/", cgroup_rel, NULL);
  if (!attach_to_unit (bus, unit, subcgroup, target->pid, error) || !cgroup_join_still_alive (target, error))
    return FALSE;

  *ret_cgroup_path = g_steal_pointer (&shown);
  return TRUE;
}
