/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bus.h"

#include "audit.h"
#include "authz.h"
#include "bindport.h"
#include "broker-error.h"
#include "bus-driver.h"
#include "bus-text.h"
#include "cgroup-join.h"
#include "cgroup-systemd.h"
#include "cgroup.h"
#include "cleanup.h"
#include "client/locald-names.h"
#include "fdprobe.h"
#include "helper-client.h"
#include "hosts-block.h"
#include "selfcheck.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

typedef struct BrokerRequest BrokerRequest;

/* One row per D-Bus method: its polkit action, how its argument is checked,
 * the work (run in a worker thread) and how the result is sent back.
 * Methods whose arguments are not one string read them with read_args
 * (which also sets the request's argument text for audit and polkit),
 * check them with check (main thread, before polkit), may need a check
 * that blocks (precheck, in a worker thread, still before polkit), and may
 * choose their action and polkit details from the arguments. */
typedef struct {
  const char *name;
  const char *action_id;
  gboolean has_argument;
  gboolean (*validate) (const char *argument, GError **error);
  gboolean (*work) (BrokerRequest *req, GError **error);
  int (*reply) (BrokerRequest *req);
  char *(*describe) (BrokerRequest *req); /* audit detail on success */
  int (*read_args) (BrokerRequest *req, sd_bus_message *message);
  gboolean (*check) (BrokerRequest *req, GError **error);
  gboolean (*precheck) (BrokerRequest *req, GError **error);
  const char *(*action_for) (BrokerRequest *req);
  char **(*details_for) (BrokerRequest *req); /* polkit details: key, value, ..., NULL */
  gboolean probe_fds;                         /* the reply carries an fd: ask the bus first (fdprobe.h) */
} BrokerMethod;

struct BrokerRequest {
  BrokerContext *ctx;
  const BrokerMethod *method;
  sd_bus_message *message;
  char *sender;
  char *argument;
  int argument_error; /* < 0: the argument could not be read (it is NULL) */
  gboolean interactive;
  uid_t uid;
  pid_t pid;
  gboolean have_creds;
  gboolean counted_for_uid;
  GArray *gids; /* the caller's groups from the bus (gid_t), or NULL when it did not say */
  GCancellable *cancellable; /* cancelled when the caller leaves the bus */
  uint64_t probe_cookie;     /* fdprobe_send(), 0 when none */
  gboolean prechecking;      /* the worker runs method->precheck, not ->work */

  /* arguments of methods that take more than one string */
  guint16 port;
  BindPortTarget target;
  char **names;

  /* results, written by the worker, read by the reply */
  char *out_path;
  guint32 out_killed;
  guint64 out_removed;
  SelfCheckReport *out_report;
  int out_fd; /* BindPort: the socket, closed once the reply is sent */
  guint out_count;
  gboolean out_in_place;
};

static guint
calls_of_uid (BrokerContext *ctx, uid_t uid)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (ctx->calls_by_uid, GUINT_TO_POINTER ((guint) uid)));
}

static guint
calls_of_sender (BrokerContext *ctx, const char *sender)
{
  GPtrArray *calls = g_hash_table_lookup (ctx->calls_by_sender, sender);
  return calls ? calls->len : 0;
}

static void
track_request (BrokerRequest *req)
{
  GPtrArray *calls = g_hash_table_lookup (req->ctx->calls_by_sender, req->sender);
  if (calls == NULL)
    {
      calls = g_ptr_array_new ();
      g_hash_table_insert (req->ctx->calls_by_sender, g_strdup (req->sender), calls);
    }
  g_ptr_array_add (calls, req);
}

static void
untrack_request (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;
  GPtrArray *calls = g_hash_table_lookup (ctx->calls_by_sender, req->sender);

  if (calls != NULL && g_ptr_array_remove_fast (calls, req) && calls->len == 0)
    g_hash_table_remove (ctx->calls_by_sender, req->sender);
  if (req->counted_for_uid)
    {
      guint n = calls_of_uid (ctx, req->uid);
      if (n <= 1)
        g_hash_table_remove (ctx->calls_by_uid, GUINT_TO_POINTER ((guint) req->uid));
      else
        g_hash_table_insert (ctx->calls_by_uid, GUINT_TO_POINTER ((guint) req->uid), GUINT_TO_POINTER (n - 1));
      req->counted_for_uid = FALSE;
    }
}

static void
request_free (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;

  untrack_request (req);
  g_cancellable_cancel (req->cancellable);
  g_clear_object (&req->cancellable);
  req->message = sd_bus_message_unref (req->message);
  g_free (req->sender);
  g_free (req->argument);
  g_free (req->out_path);
  g_clear_pointer (&req->gids, g_array_unref);
  g_strfreev (req->names);
  fdprobe_forget (req->probe_cookie);
  /* The broker never keeps a socket it handed out (or failed to). */
  if (req->out_fd >= 0)
    close (req->out_fd);
  selfcheck_report_free (req->out_report);
  g_free (req);
  broker_context_release (ctx);
}

static void
request_audit (BrokerRequest *req, BrokerAuditResult result, const char *detail)
{
  broker_audit (req->method->name, req->have_creds ? req->uid : (uid_t) -1, req->sender, req->argument, result,
                detail);
}

/* The last resort when a reply cannot be sent: an error whose text is
 * fixed, so the caller gets an answer rather than waiting for its timeout. */
static void
reply_fallback_error (BrokerRequest *req, const char *name, int r)
{
  g_debug ("Could not send the reply to %s: %s", req->sender, g_strerror (-r));
  r = sd_bus_reply_method_errorf (req->message, name,
                                  "The broker could not send its answer to this call (%s).", g_strerror (-r));
  if (r < 0)
    g_debug ("Could not send the fallback error to %s either: %s", req->sender, g_strerror (-r));
}

/* Sends the error reply, audits it and ends the request. */
static void
request_fail (BrokerRequest *req, const GError *error, BrokerAuditResult result)
{
  /* Messages quote arguments and file names: only text the bus carries. */
  g_autofree char *text = broker_bus_text (error->message);
  const char *name = broker_error_to_dbus_name (error);
  int r = sd_bus_reply_method_errorf (req->message, name, "%s", text);
  if (r < 0)
    reply_fallback_error (req, name, r);
  request_audit (req, result, text);
  request_free (req);
}

static BrokerAuditResult
audit_result_for (const GError *error)
{
  if (error->domain == BROKER_ERROR
      && (error->code == BROKER_ERROR_ACCESS_DENIED || error->code == BROKER_ERROR_INTERACTIVE_REQUIRED
          || error->code == BROKER_ERROR_AUTHORIZATION_UNAVAILABLE))
    return BROKER_AUDIT_DENIED;
  if (error->domain == BROKER_ERROR && error->code == BROKER_ERROR_INVALID_ARGS)
    return BROKER_AUDIT_REFUSED;
  return BROKER_AUDIT_ERROR;
}

/* ---- the work of each method (worker threads) ---- */

static gboolean
require_cgroup2 (BrokerRequest *req, GError **error)
{
  if (req->ctx->layout.mount != NULL)
    return TRUE;
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
               "No cgroup v2 hierarchy is mounted on this host; locald's cgroup features need cgroup v2.");
  return FALSE;
}

static gboolean
selfcheck_work (BrokerRequest *req, GError **error)
{
  const SelfCheckInput input = {
    .layout = &req->ctx->layout,
    .systemd_strategy = req->ctx->systemd_strategy,
    .strategy_reason = req->ctx->strategy_reason,
    .caller_uid = req->uid,
  };
  req->out_report = selfcheck_run (&input);
  return TRUE;
}

static gboolean
setup_work (BrokerRequest *req, GError **error)
{
  if (!require_cgroup2 (req, error))
    return FALSE;
  if (!req->ctx->systemd_strategy)
    return cgroup_direct_setup (&req->ctx->layout, req->uid, &req->out_path, error);

  return cgroup_systemd_setup (&req->ctx->layout, req->uid, &req->out_path, error);
}

static gboolean
kill_work (BrokerRequest *req, GError **error)
{
  if (!require_cgroup2 (req, error))
    return FALSE;
  return cgroup_direct_kill (&req->ctx->layout, req->uid, req->argument, req->ctx->options.kill_timeout_ms,
                             CGROUP_KILL_DEFAULT, &req->out_killed, error);
}

static gboolean
join_work (BrokerRequest *req, GError **error)
{
  g_auto (CgroupJoinTarget) target = { .pid = 0, .pidfd = -1 };

  if (!require_cgroup2 (req, error))
    return FALSE;
  /* The process that owns the caller's connection, pinned before anything
   * is created or moved. */
  if (!cgroup_join_pin (req->pid, req->uid, &target, error))
    return FALSE;
  if (req->ctx->systemd_strategy)
    return cgroup_systemd_join (&req->ctx->layout, req->uid, &target, req->argument, &req->out_path, error);
  return cgroup_direct_join (&req->ctx->layout, req->uid, &target, req->argument, &req->out_path, error);
}

static gboolean
cleanup_work (BrokerRequest *req, GError **error)
{
  /* The caller's groups as the bus saw them at connection time; without
   * them the cleanup code looks them up in the user database. */
  if (req->gids != NULL)
    return cleanup_remove_beneath_locald_for (req->argument, req->uid, (const gid_t *) (gpointer) req->gids->data,
                                              req->gids->len, &req->out_removed, error);
  return cleanup_remove_beneath_locald (req->argument, req->uid, &req->out_removed, error);
}

/* ---- BindPort ---- */

static int
bindport_read_args (BrokerRequest *req, sd_bus_message *message)
{
  const char *address = NULL;
  int r = sd_bus_message_read (message, "sq", &address, &req->port);
  if (r < 0)
    return r;
  if (strchr (address, ':') != NULL)
    req->argument = g_strdup_printf ("[%s]:%u", address, (unsigned) req->port);
  else
    req->argument = g_strdup_printf ("%s:%u", address, (unsigned) req->port);
  req->names = g_new0 (char *, 2);
  req->names[0] = g_strdup (address);
  return 0;
}

static gboolean
bindport_check (BrokerRequest *req, GError **error)
{
  if (fdprobe_refused (req->probe_cookie))
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
                   "Your bus connection does not accept file descriptors, and BindPort returns one: connect with "
                   "Unix fd passing negotiated (NEGOTIATE_UNIX_FD; GDBus and sd-bus do it by default on Unix "
                   "sockets). Nothing was bound.");
      return FALSE;
    }
  return bindport_parse (req->names[0], req->port, &req->target, error);
}

/* Whether the port needs privilege is known in the host's network
 * namespace only, which the broker may not share: the net helper says. */
static gboolean
bindport_precheck (BrokerRequest *req, GError **error)
{
  guint start = 0;
  if (!helper_port_limit (&start, error))
    return FALSE;
  return bindport_check_privileged (req->port, start, error);
}

static const char *
bindport_action_for (BrokerRequest *req)
{
  return req->target.loopback ? LOCALD_ACTION_BIND_PORT : LOCALD_ACTION_BIND_PORT_PUBLIC;
}

static char **
bindport_details_for (BrokerRequest *req)
{
  char **d = g_new0 (char *, 9);
  d[0] = g_strdup ("argument");
  d[1] = g_strdup (req->argument);
  d[2] = g_strdup ("address");
  d[3] = g_strdup (req->target.text);
  d[4] = g_strdup ("port");
  d[5] = g_strdup_printf ("%u", (unsigned) req->port);
  d[6] = g_strdup ("family");
  d[7] = g_strdup (req->target.family == AF_INET6 ? "ipv6" : "ipv4");
  return d;
}

static gboolean
bindport_work (BrokerRequest *req, GError **error)
{
  req->out_fd = helper_bind_port (req->target.text, req->port, error);
  return req->out_fd >= 0;
}

static int
bindport_reply (BrokerRequest *req)
{
  int r = sd_bus_reply_method_return (req->message, "h", req->out_fd);
  /* sd-bus sent its own copy. */
  close (req->out_fd);
  req->out_fd = -1;
  return r;
}

static char *
bindport_describe (BrokerRequest *req)
{
  if (req->target.family == AF_INET6)
    return g_strdup_printf ("bound [%s]:%u", req->target.text, (unsigned) req->port);
  return g_strdup_printf ("bound %s:%u", req->target.text, (unsigned) req->port);
}

/* ---- SyncHosts ---- */

static int
synchosts_read_args (BrokerRequest *req, sd_bus_message *message)
{
  int r = sd_bus_message_read_strv (message, &req->names);
  if (r < 0)
    return r;
  if (req->names == NULL)
    req->names = g_new0 (char *, 1);
  req->argument = g_strjoinv (" ", req->names);
  return 0;
}

static gboolean
synchosts_check (BrokerRequest *req, GError **error)
{
  const BrokerOptions *o = &req->ctx->options;
  g_auto (GStrv) valid
      = hosts_validate_names ((const char *const *) req->names, (const char *const *) o->hosts_suffixes,
                              o->hosts_max_names, error);
  if (valid == NULL)
    return FALSE;
  g_strfreev (req->names);
  req->names = g_steal_pointer (&valid);
  return TRUE;
}

static char **
synchosts_details_for (BrokerRequest *req)
{
  char **d = g_new0 (char *, 7);
  d[0] = g_strdup ("argument");
  d[1] = g_strdup (req->argument);
  d[2] = g_strdup ("names");
  d[3] = g_strjoinv (" ", req->names);
  d[4] = g_strdup ("count");
  d[5] = g_strdup_printf ("%u", g_strv_length (req->names));
  return d;
}

static gboolean
synchosts_work (BrokerRequest *req, GError **error)
{
  const BrokerOptions *o = &req->ctx->options;
  return helper_sync_hosts (o->hosts_file, req->uid, (const char *const *) req->names,
                            (const char *const *) o->hosts_suffixes, o->hosts_max_names, &req->out_count,
                            &req->out_in_place, error);
}

static int
synchosts_reply (BrokerRequest *req)
{
  return sd_bus_reply_method_return (req->message, "u", (uint32_t) req->out_count);
}

static char *
synchosts_describe (BrokerRequest *req)
{
  return g_strdup_printf ("%u name(s) in the block of uid %u in %s%s", req->out_count, (unsigned) req->uid,
                          req->ctx->options.hosts_file, req->out_in_place ? " (rewritten in place)" : "");
}

/* ---- replies (main thread) ---- */

static gint
compare_strings (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static int
append_string_map (sd_bus_message *reply, GHashTable *map)
{
  g_autofree const char **keys = (const char **) g_hash_table_get_keys_as_array (map, NULL);
  int r;

  /* Sorted, so the same state always produces the same reply. */
  g_qsort_with_data (keys, (gint) g_hash_table_size (map), sizeof (char *), compare_strings, NULL);
  r = sd_bus_message_open_container (reply, 'a', "{ss}");
  if (r < 0)
    return r;
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *key = broker_bus_text (keys[i]);
      g_autofree char *value = broker_bus_text (g_hash_table_lookup (map, keys[i]));
      r = sd_bus_message_append (reply, "{ss}", key, value);
      if (r < 0)
        return r;
    }
  return sd_bus_message_close_container (reply);
}

static int
selfcheck_reply (BrokerRequest *req)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  SelfCheckReport *report = req->out_report;
  int r;

  r = sd_bus_message_new_method_return (req->message, &reply);
  if (r < 0)
    return r;
  {
    g_autofree char *strategy = broker_bus_text (report->strategy);
    g_autofree char *reason = broker_bus_text (report->strategy_reason);
    g_autofree char *mode = broker_bus_text (report->mode);
    r = sd_bus_message_append (reply, "sss", strategy, reason, mode);
    if (r < 0)
      return r;
  }
  r = sd_bus_message_open_container (reply, 'a', "(sssa{ss}s)");
  if (r < 0)
    return r;
  for (guint i = 0; i < report->problems->len; i++)
    {
      const SelfCheckProblem *p = report->problems->pdata[i];
      g_autofree char *id = broker_bus_text (p->id);
      g_autofree char *severity = broker_bus_text (p->severity);
      g_autofree char *summary = broker_bus_text (p->summary);
      g_autofree char *fix = broker_bus_text (p->fix);
      if ((r = sd_bus_message_open_container (reply, 'r', "sssa{ss}s")) < 0
          || (r = sd_bus_message_append (reply, "sss", id, severity, summary)) < 0
          || (r = append_string_map (reply, p->evidence)) < 0
          || (r = sd_bus_message_append (reply, "s", fix)) < 0
          || (r = sd_bus_message_close_container (reply)) < 0)
        return r;
    }
  r = sd_bus_message_close_container (reply);
  if (r < 0)
    return r;
  r = append_string_map (reply, report->facts);
  if (r < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
setup_reply (BrokerRequest *req)
{
  g_autofree char *path = broker_bus_text (req->out_path);
  return sd_bus_reply_method_return (req->message, "s", path);
}

static int
kill_reply (BrokerRequest *req)
{
  return sd_bus_reply_method_return (req->message, "u", req->out_killed);
}

static int
join_reply (BrokerRequest *req)
{
  return sd_bus_reply_method_return (req->message, "s", req->out_path);
}

static int
cleanup_reply (BrokerRequest *req)
{
  return sd_bus_reply_method_return (req->message, "t", req->out_removed);
}

static char *
selfcheck_describe (BrokerRequest *req)
{
  return g_strdup_printf ("mode %s, %u problem(s)", req->out_report->mode, req->out_report->problems->len);
}

static char *
setup_describe (BrokerRequest *req)
{
  return g_strdup_printf ("delegated %s", req->out_path);
}

static char *
kill_describe (BrokerRequest *req)
{
  return g_strdup_printf ("killed %u process(es)", (unsigned) req->out_killed);
}

static char *
join_describe (BrokerRequest *req)
{
  return g_strdup_printf ("moved pid %d into %s", (int) req->pid, req->out_path);
}

static char *
cleanup_describe (BrokerRequest *req)
{
  return g_strdup_printf ("removed %" G_GUINT64_FORMAT " entr(ies)", req->out_removed);
}

static const BrokerMethod methods[] = {
  { "SelfCheck", LOCALD_ACTION_SELF_CHECK, FALSE, NULL, selfcheck_work, selfcheck_reply, selfcheck_describe },
  { "SetupCgroupRoot", LOCALD_ACTION_SETUP_CGROUP, FALSE, NULL, setup_work, setup_reply, setup_describe },
  { "KillCgroup", LOCALD_ACTION_KILL_CGROUP, TRUE, cgroup_validate_relative, kill_work, kill_reply,
    kill_describe },
  { "CleanupPath", LOCALD_ACTION_CLEANUP_PATH, TRUE, cleanup_validate_path, cleanup_work, cleanup_reply,
    cleanup_describe },
  { "JoinCgroup", LOCALD_ACTION_JOIN_CGROUP, TRUE, cgroup_validate_relative, join_work, join_reply,
    join_describe },
  { "BindPort", LOCALD_ACTION_BIND_PORT, FALSE, NULL, bindport_work, bindport_reply, bindport_describe,
    .read_args = bindport_read_args, .check = bindport_check, .precheck = bindport_precheck,
    .action_for = bindport_action_for, .details_for = bindport_details_for, .probe_fds = TRUE },
  { "SyncHosts", LOCALD_ACTION_SYNC_HOSTS, FALSE, NULL, synchosts_work, synchosts_reply, synchosts_describe,
    .read_args = synchosts_read_args, .check = synchosts_check, .details_for = synchosts_details_for },
};

/* ---- the call pipeline (main thread) ---- */

static void
work_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  BrokerRequest *req = task_data;
  GError *error = NULL;

  /* The same thread function runs the check before polkit (precheck) and
   * the work after it; never both at once for one request. */
  if ((req->prechecking ? req->method->precheck : req->method->work) (req, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_work_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BrokerRequest *req = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      request_fail (req, error, audit_result_for (error));
      return;
    }

  int r = req->method->reply (req);
  g_autofree char *detail = req->method->describe (req);
  if (r < 0)
    {
      /* The work is done (and audited as done); the caller learns that its
       * answer was lost instead of waiting for its timeout. */
      reply_fallback_error (req, broker_error_code_to_dbus_name (BROKER_ERROR_FAILED), r);
      char *lost = g_strdup_printf ("%s (the reply could not be sent)", detail);
      g_free (detail);
      detail = lost;
    }
  request_audit (req, BROKER_AUDIT_OK, detail);
  request_free (req);
}

/* Reads UnixGroupIDs ("au") into a new array of gid_t. */
static GArray *
read_group_ids (sd_bus_message *reply)
{
  g_autoptr (GArray) gids = g_array_new (FALSE, FALSE, sizeof (gid_t));
  uint32_t gid;
  int r;

  if (sd_bus_message_enter_container (reply, 'v', "au") < 0 || sd_bus_message_enter_container (reply, 'a', "u") < 0)
    return NULL;
  while ((r = sd_bus_message_read (reply, "u", &gid)) > 0)
    {
      gid_t g = (gid_t) gid;
      g_array_append_val (gids, g);
    }
  if (r < 0 || sd_bus_message_exit_container (reply) < 0 || sd_bus_message_exit_container (reply) < 0)
    return NULL;
  return g_steal_pointer (&gids);
}

/* Reads UnixUserID and ProcessID (and UnixGroupIDs, when ret_gids is given)
 * from a GetConnectionCredentials reply. */
static gboolean
parse_credentials (sd_bus_message *reply, uid_t *ret_uid, pid_t *ret_pid, GArray **ret_gids)
{
  gboolean have_uid = FALSE;
  uint32_t value;
  int r;

  *ret_pid = 0;
  if (sd_bus_message_is_method_error (reply, NULL))
    return FALSE;
  if (sd_bus_message_enter_container (reply, 'a', "{sv}") < 0)
    return FALSE;
  while ((r = sd_bus_message_enter_container (reply, 'e', "sv")) > 0)
    {
      const char *key = NULL;
      if (sd_bus_message_read (reply, "s", &key) < 0)
        return FALSE;
      if (g_str_equal (key, "UnixUserID"))
        {
          if (sd_bus_message_read (reply, "v", "u", &value) < 0)
            return FALSE;
          *ret_uid = (uid_t) value;
          have_uid = TRUE;
        }
      else if (g_str_equal (key, "ProcessID"))
        {
          if (sd_bus_message_read (reply, "v", "u", &value) < 0)
            return FALSE;
          *ret_pid = (pid_t) value;
        }
      else if (ret_gids != NULL && g_str_equal (key, "UnixGroupIDs"))
        {
          GArray *gids = read_group_ids (reply);
          if (gids == NULL)
            return FALSE;
          g_clear_pointer (ret_gids, g_array_unref);
          *ret_gids = gids;
        }
      else if (sd_bus_message_skip (reply, "v") < 0)
        return FALSE;
      if (sd_bus_message_exit_container (reply) < 0)
        return FALSE;
    }
  return r >= 0 && have_uid;
}

static int request_credentials (BrokerRequest *req, sd_bus_message_handler_t callback);
static void on_authorized (GObject *source, GAsyncResult *result, gpointer user_data);

/* Asks polkit for the method's action (or the one its arguments call for),
 * with the method's details. */
static void
request_authorize (BrokerRequest *req)
{
  const BrokerMethod *m = req->method;
  const char *action = m->action_for != NULL ? m->action_for (req) : m->action_id;

  if (m->details_for == NULL)
    {
      broker_authz_check_async (req->sender, action, req->argument, req->interactive, req->cancellable,
                                on_authorized, req);
      return;
    }
  g_auto (GStrv) details = m->details_for (req);
  broker_authz_check_details_async (req->sender, action, (const char *const *) details, req->interactive,
                                    req->cancellable, on_authorized, req);
}

static void
on_precheck_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BrokerRequest *req = user_data;
  g_autoptr (GError) error = NULL;

  req->prechecking = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      request_fail (req, error, audit_result_for (error));
      return;
    }
  if (g_cancellable_is_cancelled (req->cancellable))
    {
      g_autoptr (GError) e = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                          "The caller disconnected before authorization; nothing was done.");
      request_fail (req, e, BROKER_AUDIT_DENIED);
      return;
    }
  request_authorize (req);
}

static int
on_recheck_credentials (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerRequest *req = userdata;
  uid_t uid = (uid_t) -1;
  pid_t pid = 0;

  /* Act only for the same caller, still connected, with the same uid: a
   * caller that left (or a name that changed hands) gets nothing done. */
  if (g_cancellable_is_cancelled (req->cancellable) || !parse_credentials (reply, &uid, &pid, NULL) || uid != req->uid)
    {
      g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                              "The caller disconnected or changed during authorization; nothing "
                                              "was done.");
      request_fail (req, error, BROKER_AUDIT_DENIED);
      return 0;
    }

  GTask *task = g_task_new (NULL, NULL, on_work_done, req);
  g_task_set_task_data (task, req, NULL);
  g_task_run_in_thread (task, work_thread);
  g_object_unref (task);
  return 0;
}

static void
on_authorized (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BrokerRequest *req = user_data;
  g_autoptr (GError) error = NULL;

  if (!broker_authz_check_finish (result, &error))
    {
      request_fail (req, error, BROKER_AUDIT_DENIED);
      return;
    }
  if (request_credentials (req, on_recheck_credentials) < 0)
    {
      g_autoptr (GError) e = g_error_new (BROKER_ERROR, BROKER_ERROR_FAILED,
                                          "Could not confirm the caller's identity with the bus; nothing was done.");
      request_fail (req, e, BROKER_AUDIT_ERROR);
    }
}

static int
on_initial_credentials (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerRequest *req = userdata;
  g_autoptr (GError) error = NULL;

  if (!parse_credentials (reply, &req->uid, &req->pid, &req->gids))
    {
      error = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                           "Could not identify the caller through the bus; the call was refused.");
      request_fail (req, error, BROKER_AUDIT_DENIED);
      return 0;
    }
  req->have_creds = TRUE;

  if (calls_of_uid (req->ctx, req->uid) >= BROKER_MAX_CALLS_PER_UID)
    {
      error = g_error_new (BROKER_ERROR, BROKER_ERROR_BUSY,
                           "Too many calls of uid %u are in progress (at most %d); wait for them to finish and "
                           "retry.",
                           (unsigned) req->uid, BROKER_MAX_CALLS_PER_UID);
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return 0;
    }
  g_hash_table_insert (req->ctx->calls_by_uid, GUINT_TO_POINTER ((guint) req->uid),
                       GUINT_TO_POINTER (calls_of_uid (req->ctx, req->uid) + 1));
  req->counted_for_uid = TRUE;

  /* Validate before asking polkit: a malformed call never reaches a prompt. */
  if (req->argument_error < 0)
    {
      if (req->argument_error == -EBADMSG)
        error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                             "The argument of %s holds a Unicode noncharacter (U+FDD0 to U+FDEF, or one "
                             "ending in FFFE or FFFF), which the broker does not accept in text; remove it "
                             "and call again",
                             req->method->name);
      else
        error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                             "The argument of %s could not be read (%s); pass a plain string",
                             req->method->name, g_strerror (-req->argument_error));
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return 0;
    }
  if ((req->method->validate != NULL && !req->method->validate (req->argument, &error))
      || (req->method->check != NULL && !req->method->check (req, &error)))
    {
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return 0;
    }
  if (req->method->precheck != NULL)
    {
      GTask *task = g_task_new (NULL, NULL, on_precheck_done, req);
      req->prechecking = TRUE;
      g_task_set_task_data (task, req, NULL);
      g_task_run_in_thread (task, work_thread);
      g_object_unref (task);
      return 0;
    }

  request_authorize (req);
  return 0;
}

static int
request_credentials (BrokerRequest *req, sd_bus_message_handler_t callback)
{
  return sd_bus_call_method_async (req->ctx->bus, NULL, BUS_DRIVER_NAME, BUS_DRIVER_PATH,
                                   BUS_DRIVER_INTERFACE, "GetConnectionCredentials", callback, req, "s",
                                   req->sender);
}

/* A caller left the bus: abandon its pending checks (nothing will be done
 * for it; see on_recheck_credentials). */
static int
on_name_owner_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;

  /* Only the bus driver's own notice counts. Anyone can unicast a signal
   * to us, the bus delivers it whatever our match says, and sd-bus lets a
   * match on the well-known sender "org.freedesktop.DBus" pass any unique
   * sender; the driver alone sends with that exact sender name. */
  if (g_strcmp0 (sd_bus_message_get_sender (message), BUS_DRIVER_NAME) != 0)
    return 0;
  if (sd_bus_message_read (message, "sss", &name, &old_owner, &new_owner) < 0 || name == NULL || name[0] != ':'
      || (new_owner != NULL && *new_owner != '\0'))
    return 0;

  GPtrArray *calls = g_hash_table_lookup (ctx->calls_by_sender, name);
  for (guint i = 0; calls != NULL && i < calls->len; i++)
    g_cancellable_cancel (((BrokerRequest *) calls->pdata[i])->cancellable);
  return 0;
}

static const BrokerMethod *
find_method (const char *member)
{
  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    if (g_strcmp0 (methods[i].name, member) == 0)
      return &methods[i];
  return NULL;
}

static int
method_handler (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  const BrokerMethod *method = find_method (sd_bus_message_get_member (message));
  const char *sender = sd_bus_message_get_sender (message);
  const char *argument = NULL;
  int argument_error = 0;
  int r;

  if (method == NULL)
    return sd_bus_error_setf (ret_error, SD_BUS_ERROR_UNKNOWN_METHOD, "Unknown method");
  if (sender == NULL || sender[0] != ':')
    return sd_bus_error_setf (ret_error, SD_BUS_ERROR_ACCESS_DENIED, "Calls must come through the bus.");
  /* The bus passes strings holding Unicode noncharacters, which sd-bus
   * refuses to read (-EBADMSG). Such a call is malformed input like any
   * other: it goes down the same path, to an audited InvalidArgs, instead of
   * sd-bus's unaudited InconsistentMessage. */
  if (method->has_argument)
    {
      r = sd_bus_message_read (message, "s", &argument);
      if (r < 0)
        {
          argument = NULL;
          argument_error = r;
        }
    }

  /* Refused before any work or bus traffic: one caller cannot starve others. */
  if (ctx->in_flight >= BROKER_MAX_CALLS || calls_of_sender (ctx, sender) >= BROKER_MAX_CALLS_PER_SENDER)
    {
      broker_audit (method->name, (uid_t) -1, sender, argument, BROKER_AUDIT_REFUSED, "too many calls in progress");
      return sd_bus_error_setf (ret_error, LOCALD_DBUS_ERROR_BUSY,
                                "Too many calls are in progress (at most %d in all, %d per connection); wait for "
                                "them to finish and retry.",
                                BROKER_MAX_CALLS, BROKER_MAX_CALLS_PER_SENDER);
    }

  BrokerRequest *req = g_new0 (BrokerRequest, 1);
  broker_context_hold (ctx);
  req->ctx = ctx;
  req->method = method;
  req->message = sd_bus_message_ref (message);
  req->sender = g_strdup (sender);
  req->argument = g_strdup (argument);
  req->argument_error = argument_error;
  req->interactive = sd_bus_message_get_allow_interactive_authorization (message) > 0;
  req->uid = (uid_t) -1;
  req->out_fd = -1;
  req->cancellable = g_cancellable_new ();
  track_request (req);

  r = method->read_args != NULL ? method->read_args (req, message) : 0;
  if (r < 0)
    {
      g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                                              "Cannot read the arguments of %s: %s", method->name, g_strerror (-r));
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return 1;
    }
  /* Before the credentials: the bus answers the probe first (fdprobe.h). */
  if (method->probe_fds && fdprobe_send (ctx->bus, sender, &req->probe_cookie) < 0)
    req->probe_cookie = 0;
  r = request_credentials (req, on_initial_credentials);
  if (r < 0)
    {
      g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_FAILED,
                                              "Could not start processing the call: %s", g_strerror (-r));
      request_fail (req, error, BROKER_AUDIT_ERROR);
    }
  return 1;
}

/* ---- properties ---- */

static int
get_version (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
             void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

static int
get_api_version (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                 void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "u", (uint32_t) LOCALD_BROKER_API_VERSION);
}

static int
get_strategy (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
              void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  return sd_bus_message_append (reply, "s", ctx->systemd_strategy ? "systemd" : "direct");
}

static int
get_cgroup_root (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                 void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  g_autofree char *root = broker_bus_text (ctx->cgroup_root_path);
  return sd_bus_message_append (reply, "s", root);
}

/* Mirrors dbus/dev.locald.Broker1.xml; the integration suite compares the two. */
static const sd_bus_vtable broker_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("SelfCheck", SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("s", strategy, "s", strategy_reason, "s", mode, "a(sssa{ss}s)", problems,
                                          "a{ss}", facts),
                           method_handler, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetupCgroupRoot", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", cgroup), method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("KillCgroup", SD_BUS_ARGS ("s", cgroup), SD_BUS_RESULT ("u", killed), method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("CleanupPath", SD_BUS_ARGS ("s", path), SD_BUS_RESULT ("t", removed), method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("JoinCgroup", SD_BUS_ARGS ("s", cgroup), SD_BUS_RESULT ("s", path), method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("BindPort", SD_BUS_ARGS ("s", address, "q", port), SD_BUS_RESULT ("h", socket),
                           method_handler, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SyncHosts", SD_BUS_ARGS ("as", names), SD_BUS_RESULT ("u", count), method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_PROPERTY ("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ApiVersion", "u", get_api_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Strategy", "s", get_strategy, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("CgroupRoot", "s", get_cgroup_root, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_VTABLE_END,
};

int
broker_bus_add_object (BrokerContext *ctx)
{
  int r;

  g_return_val_if_fail (ctx != NULL && ctx->bus != NULL, -EINVAL);
  ctx->calls_by_sender = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  ctx->calls_by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);

  /* One subscription for every caller, installed before any call is served
   * (a match per call would let a flood exhaust the bus's per-connection
   * match quota and cut the daemon off the bus). */
  r = fdprobe_install (ctx->bus);
  if (r < 0)
    return r;
  /* Asynchronous, so start-up does not wait a round trip for it: the bus
   * handles it before the name request that follows, so it is in place
   * before any call can reach us; if it fails, sd-bus closes the
   * connection. */
  r = sd_bus_match_signal_async (ctx->bus, &ctx->owner_changes_slot, BUS_DRIVER_NAME, BUS_DRIVER_PATH,
                                 BUS_DRIVER_INTERFACE, "NameOwnerChanged", on_name_owner_changed, NULL, ctx);
  if (r < 0)
    return r;
  return sd_bus_add_object_vtable (ctx->bus, &ctx->vtable_slot, BROKER_OBJECT_PATH, BROKER_INTERFACE, broker_vtable,
                                   ctx);
}
