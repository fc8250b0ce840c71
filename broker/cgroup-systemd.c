/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * systemd strategy: the caller's delegated subtree is the transient scope
 * "locald-user-<uid>.scope" in "locald.slice", created through the systemd
 * manager's D-Bus API with:
 *
 *   Description  "locald delegated cgroup of uid <uid>"
 *   Slice        "locald.slice"
 *   Delegate     true   (systemd leaves the subtree below the scope alone)
 *   PIDs         [caller_pid]  (a scope must start with at least one process)
 *   User         "<uid>" (numeric string)
 *
 * User= is set because on a scope it is what makes systemd chown the
 * delegated cgroup (directory, cgroup.procs, cgroup.subtree_control,
 * cgroup.threads) to that user, exactly what the direct strategy does by
 * hand; without it the scope would belong to root and the user could not
 * create cgroups in it. A numeric string needs no user database lookup.
 * Older managers that reject User= on scopes fail the call, with systemd's
 * message passed on.
 */
#include "config.h"

#include "cgroup-systemd.h"
#include "broker-error.h"
#include "bus-driver.h"

#include <errno.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SCOPE_IFACE "org.freedesktop.systemd1.Scope"
#define UNIT_EXISTS_ERROR "org.freedesktop.systemd1.UnitExists"
#define LOCALD_SLICE "locald.slice"

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
      *ret_reason = g_strdup ("/run/systemd/system exists: the host runs systemd as PID 1, so cgroups are created "
                              "as delegated scopes through systemd");
      return TRUE;
    }
  *ret_reason = g_strdup ("/run/systemd/system does not exist: PID 1 is not systemd, so the broker manages its "
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
                 "%s: systemd did not answer in time; check that the system manager is responsive and retry", what);
  else if (bus_error != NULL && sd_bus_error_is_set (bus_error))
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "%s: %s (%s)", what,
                 bus_error->message != NULL ? bus_error->message : "no message", bus_error->name);
  else
    g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "%s: %s", what, g_strerror (-r));
}

/* JobRemoved of every job seen, job path -> result. The reply to
 * StartTransientUnit may be processed after the signal arrived, so signals
 * are recorded rather than matched against a job known in advance. */
typedef struct {
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
      g_autofree char *what
          = g_strdup_printf ("Could not create the scope %s: systemd (%s) is not on the system bus", unit,
                             SYSTEMD_DEST);
      set_bus_error (error, r < 0 ? r : -EBADMSG, &bus_error, what);
      return FALSE;
    }
  *ret_owner = g_strdup (owner);
  return TRUE;
}

static gboolean
start_scope (sd_bus *bus, const char *unit, uid_t uid, pid_t caller_pid, char **ret_job, gboolean *ret_exists,
             GError **error)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *m = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
  g_autofree char *description = g_strdup_printf ("locald delegated cgroup of uid %u", (unsigned) uid);
  g_autofree char *user = g_strdup_printf ("%u", (unsigned) uid);
  const char *job;
  int r;

  r = sd_bus_message_new_method_call (bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "StartTransientUnit");
  if (r >= 0)
    r = sd_bus_message_append (m, "ss", unit, "fail");
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = sd_bus_message_append (m, "(sv)(sv)(sv)(sv)(sv)",
                               "Description", "s", description,
                               "Slice", "s", LOCALD_SLICE,
                               "Delegate", "b", 1,
                               "PIDs", "au", 1, (uint32_t) caller_pid,
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
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_BUSY,
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
                   "systemd could not start %s (job result \"%s\"); see \"journalctl -u %s\"", unit, result, unit);
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

  r = sd_bus_call_method (bus, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "GetUnit", &bus_error, &reply, "s", unit);
  if (r >= 0)
    r = sd_bus_message_read (reply, "o", &unit_path);
  if (r < 0)
    {
      g_autofree char *what = g_strdup_printf ("Cannot look up the scope %s", unit);
      set_bus_error (error, r, &bus_error, what);
      return FALSE;
    }

  r = sd_bus_get_property_string (bus, SYSTEMD_DEST, unit_path, SCOPE_IFACE, "ControlGroup", &bus_error, &value);
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
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED,
                   "The scope %s has no control group (it is not running: systemd stops a scope once its last "
                   "process is gone); call SetupCgroupRoot again",
                   unit);
      return FALSE;
    }
  *ret_cgroup_path = g_steal_pointer (&cgroup);
  return TRUE;
}

gboolean
cgroup_systemd_setup (uid_t uid, pid_t caller_pid, char **ret_cgroup_path, GError **error)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_slot_unrefp))) sd_bus_slot *slot = NULL;
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *unit = NULL;
  g_autofree char *job = NULL;
  g_autofree char *manager = NULL;
  JobWatch watch = { results, NULL };
  gboolean exists = FALSE;
  int r;

  g_return_val_if_fail (ret_cgroup_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (uid == (uid_t) -1 || caller_pid <= 0)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "Cannot create a scope for uid %u and pid %d; both must identify a real caller", (unsigned) uid,
                   (int) caller_pid);
      return FALSE;
    }

  /* Its own connection: this runs in a worker thread and sd-bus objects
   * must not be shared across threads. */
  r = sd_bus_open_system (&bus);
  if (r < 0)
    {
      set_bus_error (error, r, NULL, "Cannot connect to the system bus to reach systemd");
      return FALSE;
    }

  unit = g_strdup_printf ("locald-user-%u.scope", (unsigned) uid);
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

  if (!start_scope (bus, unit, uid, caller_pid, &job, &exists, error))
    return FALSE;
  if (!exists && !wait_for_job (bus, results, job, unit, error))
    return FALSE;

  return read_control_group (bus, unit, ret_cgroup_path, error);
}
