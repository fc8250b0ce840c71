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
typedef struct BrokerSender BrokerSender;

/* One row per D-Bus method: its polkit action, how its argument is checked,
 * the work (run in a worker thread) and how the result is sent back.
 * Methods whose arguments are not one string read them with read_args
 * (which also sets the request's argument text for audit and polkit),
 * check them with check (main thread, before polkit), may need a check
 * that blocks (precheck, in a worker thread, still before polkit), and may
 * choose their action and polkit details from the arguments. */
typedef struct
{
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
  char **(*details_for) (BrokerRequest *req); /* polkit details (broker_authz_details_new) */
  gboolean probe_fds;                         /* the reply carries an fd: ask the bus first (fdprobe.h) */
} BrokerMethod;

struct BrokerRequest
{
  BrokerContext *ctx;
  const BrokerMethod *method;
  sd_bus_message *message;
  char *sender;
  BrokerSender *who; /* the sender's entry in ctx->senders, valid while the request exists */
  char *argument;
  int argument_error; /* < 0: the argument could not be read (it is NULL) */
  gboolean interactive;
  uid_t uid;
  pid_t pid;
  gboolean have_creds;
  gboolean counted_for_uid;
  gboolean waiting_for_creds; /* counted in ctx->calls_unidentified */
  gboolean running;           /* counted in ctx->running and running_by_uid */
  GArray *gids;               /* the caller's groups from the bus (gid_t), or NULL when it did not say */
  GCancellable *cancellable;  /* cancelled when the caller leaves the bus */
  uint64_t probe_cookie;      /* fdprobe_send(), 0 when none */
  gboolean prechecking;       /* the worker runs method->precheck, not ->work */

  /* arguments of methods that take more than one string */
  guint16 port;
  BindPortTarget target;
  char **names;

  /* results, written by the worker, read by the reply */
  gboolean work_ok;
  GError *work_error;
  char *out_path;
  guint32 out_killed;
  guint64 out_removed;
  SelfCheckReport *out_report;
  int out_fd; /* BindPort: the socket, closed once the reply is sent */
  guint out_count;
  gboolean out_in_place;
};

/* What the daemon knows about one caller connection. The bus recorded its
 * credentials when it connected and a unique name is never reused, so they
 * are asked for once, on its first call, and kept until the bus driver says
 * the connection left. So a known caller's calls count against its uid from
 * the moment they arrive, with no round trip first. */
struct BrokerSender
{
  BrokerContext *ctx;
  char *name;
  GPtrArray *calls;   /* its requests in progress (not owned) */
  GPtrArray *waiting; /* those waiting for its credentials (not owned) */
  gboolean identified;
  gboolean lookup_running;
  gboolean gone; /* the bus driver said it left */
  uid_t uid;
  pid_t pid;
  GArray *gids; /* gid_t, or NULL when the bus did not say */
};

static void
sender_free (BrokerSender *s)
{
  g_ptr_array_unref (s->calls);
  g_ptr_array_unref (s->waiting);
  g_clear_pointer (&s->gids, g_array_unref);
  g_free (s->name);
  g_free (s);
}

static BrokerSender *
sender_get (BrokerContext *ctx, const char *name)
{
  BrokerSender *s = g_hash_table_lookup (ctx->senders, name);
  if (s == NULL)
    {
      s = g_new0 (BrokerSender, 1);
      s->ctx = ctx;
      s->name = g_strdup (name);
      s->calls = g_ptr_array_new ();
      s->waiting = g_ptr_array_new ();
      s->uid = (uid_t) -1;
      g_hash_table_insert (ctx->senders, s->name, s);
    }
  return s;
}

/* Drops the entry of a connection that left once nothing refers to it. */
static void
sender_maybe_forget (BrokerContext *ctx, BrokerSender *s)
{
  if (s->gone && s->calls->len == 0 && !s->lookup_running)
    g_hash_table_remove (ctx->senders, s->name);
}

static guint
count_of (GHashTable *counts, uid_t uid)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, GUINT_TO_POINTER ((guint) uid)));
}

static void
count_add (GHashTable *counts, uid_t uid, int delta)
{
  guint n = count_of (counts, uid) + (guint) delta;
  if (n == 0)
    g_hash_table_remove (counts, GUINT_TO_POINTER ((guint) uid));
  else
    g_hash_table_insert (counts, GUINT_TO_POINTER ((guint) uid), GUINT_TO_POINTER (n));
}

static void
track_request (BrokerRequest *req, BrokerSender *who)
{
  req->who = who;
  g_ptr_array_add (who->calls, req);
}

static void
untrack_request (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;

  g_ptr_array_remove_fast (req->who->waiting, req);
  g_ptr_array_remove_fast (req->who->calls, req);
  if (req->waiting_for_creds)
    {
      ctx->calls_unidentified--;
      req->waiting_for_creds = FALSE;
    }
  if (req->counted_for_uid)
    {
      count_add (ctx->calls_by_uid, req->uid, -1);
      ctx->calls_identified--;
      req->counted_for_uid = FALSE;
    }
  sender_maybe_forget (ctx, req->who);
  req->who = NULL;
}

static void
request_free (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;

  g_assert (!req->running);
  untrack_request (req);
  g_cancellable_cancel (req->cancellable);
  g_clear_object (&req->cancellable);
  req->message = sd_bus_message_unref (req->message);
  g_free (req->sender);
  g_free (req->argument);
  g_free (req->out_path);
  g_clear_error (&req->work_error);
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

/* Work done is always audited one entry per call; refusals and errors go
 * through the per-uid limiter, so a flood cannot bury the journal. */
static void
request_audit (BrokerRequest *req, BrokerAuditResult result, const char *detail)
{
  uid_t uid = req->have_creds ? req->uid : (uid_t) -1;

  if (result == BROKER_AUDIT_OK)
    broker_audit (req->method->name, uid, req->sender, req->argument, result, detail);
  else
    broker_audit_refusal (req->method->name, uid, req->sender, req->argument, result, detail);
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
    return cleanup_remove_beneath_locald_for (req->argument, req->uid,
                                              (const gid_t *) (gpointer) req->gids->data, req->gids->len,
                                              &req->out_removed, error);
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
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_UNSUPPORTED,
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
  g_autofree char *port = g_strdup_printf ("%u", (unsigned) req->port);
  return broker_authz_details_new ("argument", req->argument, "address", req->target.text, "port", port,
                                   "family", req->target.family == AF_INET6 ? "ipv6" : "ipv4", NULL);
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
  g_auto (GStrv) valid = hosts_validate_names (
      (const char *const *) req->names, (const char *const *) o->hosts_suffixes, o->hosts_max_names, error);
  if (valid == NULL)
    return FALSE;
  g_strfreev (req->names);
  req->names = g_steal_pointer (&valid);
  return TRUE;
}

static char **
synchosts_details_for (BrokerRequest *req)
{
  g_autofree char *names = g_strjoinv (" ", req->names);
  g_autofree char *count = g_strdup_printf ("%u", g_strv_length (req->names));
  return broker_authz_details_new ("argument", req->argument, "names", names, "count", count, NULL);
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

static void start_waiting_work (BrokerContext *ctx);
static void on_precheck_done (BrokerRequest *req);

static void
on_work_finished_reply (BrokerRequest *req)
{
  if (!req->work_ok)
    {
      request_fail (req, req->work_error, audit_result_for (req->work_error));
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

/* Back in the main thread: free the worker slot, start what waited for one,
 * answer. */
static gboolean
on_work_finished (gpointer user_data)
{
  BrokerRequest *req = user_data;
  BrokerContext *ctx = req->ctx;

  req->running = FALSE;
  ctx->running--;
  count_add (ctx->running_by_uid, req->uid, -1);
  start_waiting_work (ctx);
  if (req->prechecking)
    on_precheck_done (req);
  else
    on_work_finished_reply (req);
  return G_SOURCE_REMOVE;
}

/* The same worker runs the check before polkit (precheck) and the work
 * after it; never both at once for one request. */
static void
worker_main (gpointer data, gpointer user_data)
{
  BrokerRequest *req = data;

  req->work_ok = (req->prechecking ? req->method->precheck : req->method->work) (req, &req->work_error);
  if (!req->work_ok && req->work_error == NULL)
    req->work_error
        = g_error_new (BROKER_ERROR, BROKER_ERROR_FAILED, "%s failed without saying why", req->method->name);
  /* The priority of the bus source: a flood of calls must not starve the
   * answers. */
  g_idle_add_full (G_PRIORITY_DEFAULT, on_work_finished, req, NULL);
}

static void
run_request (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;

  req->running = TRUE;
  ctx->running++;
  count_add (ctx->running_by_uid, req->uid, +1);
  g_thread_pool_push (ctx->workers, req, NULL);
}

static gboolean
may_run_now (BrokerContext *ctx, uid_t uid)
{
  return ctx->running < BROKER_WORKERS && count_of (ctx->running_by_uid, uid) < BROKER_WORKERS_PER_UID;
}

/* One uid's slow operations (a kill waiting out its timeout) take at most
 * BROKER_WORKERS_PER_UID of the workers; its further work waits in line
 * without holding a thread, so everyone else's calls still find one. */
static void
schedule_work (BrokerRequest *req)
{
  if (may_run_now (req->ctx, req->uid))
    run_request (req);
  else
    g_queue_push_tail (&req->ctx->work_waiting, req);
}

static void
start_waiting_work (BrokerContext *ctx)
{
  GList *l = ctx->work_waiting.head;

  while (l != NULL && ctx->running < BROKER_WORKERS)
    {
      GList *next = l->next;
      BrokerRequest *req = l->data;

      if (g_cancellable_is_cancelled (req->cancellable))
        {
          /* The caller left while its work waited: nothing is done. */
          g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                                  "The caller disconnected before its call could be carried "
                                                  "out; nothing was done.");
          g_queue_delete_link (&ctx->work_waiting, l);
          request_fail (req, error, BROKER_AUDIT_DENIED);
        }
      else if (count_of (ctx->running_by_uid, req->uid) < BROKER_WORKERS_PER_UID)
        {
          g_queue_delete_link (&ctx->work_waiting, l);
          run_request (req);
        }
      l = next;
    }
}

/* Reads UnixGroupIDs ("au") into a new array of gid_t. */
static GArray *
read_group_ids (sd_bus_message *reply)
{
  g_autoptr (GArray) gids = g_array_new (FALSE, FALSE, sizeof (gid_t));
  uint32_t gid;
  int r;

  if (sd_bus_message_enter_container (reply, 'v', "au") < 0
      || sd_bus_message_enter_container (reply, 'a', "u") < 0)
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
on_precheck_done (BrokerRequest *req)
{
  req->prechecking = FALSE;
  if (!req->work_ok)
    {
      request_fail (req, req->work_error, audit_result_for (req->work_error));
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
  if (g_cancellable_is_cancelled (req->cancellable) || !parse_credentials (reply, &uid, &pid, NULL)
      || uid != req->uid)
    {
      g_autoptr (GError) error
          = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                         "The caller disconnected or changed during authorization; nothing "
                         "was done.");
      request_fail (req, error, BROKER_AUDIT_DENIED);
      return 0;
    }

  schedule_work (req);
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
      g_autoptr (GError) e
          = g_error_new (BROKER_ERROR, BROKER_ERROR_FAILED,
                         "Could not confirm the caller's identity with the bus; nothing was done.");
      request_fail (req, e, BROKER_AUDIT_ERROR);
    }
}

/* The caller's uid is known: count the call against it (and against the
 * total of identified calls), validate, ask polkit. */
static void
request_admit (BrokerRequest *req)
{
  BrokerContext *ctx = req->ctx;
  g_autoptr (GError) error = NULL;

  if (count_of (ctx->calls_by_uid, req->uid) >= BROKER_MAX_CALLS_PER_UID
      || ctx->calls_identified >= BROKER_MAX_CALLS)
    {
      error = g_error_new (BROKER_ERROR, BROKER_ERROR_BUSY,
                           "Too many calls are in progress (at most %d of one uid, %d in all); wait for "
                           "yours to finish and retry.",
                           BROKER_MAX_CALLS_PER_UID, BROKER_MAX_CALLS);
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return;
    }
  count_add (ctx->calls_by_uid, req->uid, +1);
  ctx->calls_identified++;
  req->counted_for_uid = TRUE;

  /* Validate before asking polkit: a malformed call never reaches a prompt. */
  if (req->argument_error < 0)
    {
      if (req->argument_error == -EBADMSG)
        error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                             "An argument of %s holds a Unicode noncharacter (U+FDD0 to U+FDEF, or one "
                             "ending in FFFE or FFFF), which the broker does not accept in text; remove it "
                             "and call again",
                             req->method->name);
      else if (req->method->read_args != NULL)
        error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "Cannot read the arguments of %s: %s",
                             req->method->name, g_strerror (-req->argument_error));
      else
        error = g_error_new (BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                             "The argument of %s could not be read (%s); pass a plain string",
                             req->method->name, g_strerror (-req->argument_error));
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return;
    }
  if ((req->method->validate != NULL && !req->method->validate (req->argument, &error))
      || (req->method->check != NULL && !req->method->check (req, &error)))
    {
      request_fail (req, error, BROKER_AUDIT_REFUSED);
      return;
    }
  if (req->method->precheck != NULL)
    {
      /* In a worker, under the same per-uid bound as the work. */
      req->prechecking = TRUE;
      schedule_work (req);
      return;
    }

  request_authorize (req);
}

static void
request_take_credentials (BrokerRequest *req, const BrokerSender *s)
{
  req->uid = s->uid;
  req->pid = s->pid;
  req->gids = s->gids != NULL ? g_array_ref (s->gids) : NULL;
  req->have_creds = TRUE;
}

static int
on_sender_credentials (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerSender *s = userdata;
  BrokerContext *ctx = s->ctx;
  g_autoptr (GPtrArray) waiting = NULL;

  if (parse_credentials (reply, &s->uid, &s->pid, &s->gids))
    s->identified = TRUE;
  else
    {
      /* Usually the connection is already gone; either way the entry is
       * forgotten once its calls are answered, and a later call of the same
       * connection asks again. */
      s->uid = (uid_t) -1;
      g_clear_pointer (&s->gids, g_array_unref);
      s->gone = TRUE;
    }

  /* lookup_running stays set until the end: handling the waiting calls may
   * end them all, and the entry must outlive this loop. */
  waiting = g_steal_pointer (&s->waiting);
  s->waiting = g_ptr_array_new ();
  for (guint i = 0; i < waiting->len; i++)
    {
      BrokerRequest *req = waiting->pdata[i];

      req->waiting_for_creds = FALSE;
      ctx->calls_unidentified--;
      if (s->identified)
        {
          request_take_credentials (req, s);
          request_admit (req);
        }
      else
        {
          g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                                  "Could not identify the caller through the bus; the call "
                                                  "was refused.");
          request_fail (req, error, BROKER_AUDIT_DENIED);
        }
    }
  s->lookup_running = FALSE;
  sender_maybe_forget (ctx, s);
  return 0;
}

/* The own lookup of a call whose reply carries an fd (see method_handler). */
static int
on_probe_credentials (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerRequest *req = userdata;

  if (req->waiting_for_creds)
    {
      req->waiting_for_creds = FALSE;
      req->ctx->calls_unidentified--;
    }
  if (!parse_credentials (reply, &req->uid, &req->pid, &req->gids))
    {
      g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                              "Could not identify the caller through the bus; the call was "
                                              "refused.");
      req->uid = (uid_t) -1;
      request_fail (req, error, BROKER_AUDIT_DENIED);
      return 0;
    }
  req->have_creds = TRUE;
  request_admit (req);
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
 * for it; see on_recheck_credentials), and forget it. */
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
  if (sd_bus_message_read (message, "sss", &name, &old_owner, &new_owner) < 0 || name == NULL
      || name[0] != ':' || (new_owner != NULL && *new_owner != '\0'))
    return 0;

  BrokerSender *s = g_hash_table_lookup (ctx->senders, name);
  if (s == NULL)
    return 0;
  s->gone = TRUE;
  for (guint i = 0; i < s->calls->len; i++)
    g_cancellable_cancel (((BrokerRequest *) s->calls->pdata[i])->cancellable);
  sender_maybe_forget (ctx, s);
  return 0;
}

/* The bus refused to take a message the call needs (r: -errno). */
static void
request_fail_to_start (BrokerRequest *req, int r)
{
  g_autoptr (GError) error = g_error_new (BROKER_ERROR, BROKER_ERROR_FAILED,
                                          "Could not start processing the call: %s", g_strerror (-r));
  request_fail (req, error, BROKER_AUDIT_ERROR);
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
  BrokerSender *who;
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

  /* Refused before any work or bus traffic: one caller cannot starve
   * others. A known caller's uid limit applies from here (request_admit);
   * calls of connections not identified yet are bounded on their own. */
  who = sender_get (ctx, sender);
  if (who->calls->len >= BROKER_MAX_CALLS_PER_SENDER
      || (!who->identified && ctx->calls_unidentified >= BROKER_MAX_CALLS_UNIDENTIFIED))
    {
      broker_audit_refusal (method->name, who->uid, sender, argument, BROKER_AUDIT_REFUSED,
                            "too many calls in progress");
      sender_maybe_forget (ctx, who);
      return sd_bus_error_setf (ret_error, broker_error_code_to_dbus_name (BROKER_ERROR_BUSY),
                                "Too many calls are in progress (at most %d per connection, %d from "
                                "connections not identified yet); wait for them to finish and retry.",
                                BROKER_MAX_CALLS_PER_SENDER, BROKER_MAX_CALLS_UNIDENTIFIED);
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
  track_request (req, who);

  /* A read failure is answered like any malformed input, with the caller's
   * uid in its audit entry (request_admit). */
  r = method->read_args != NULL ? method->read_args (req, message) : 0;
  if (r < 0)
    req->argument_error = r;

  if (method->probe_fds)
    {
      /* The probe goes out before a bus round trip of this call's own, so
       * by the time that is answered, a refusal of the probe has arrived
       * too (fdprobe.h); a cached identity would skip the round trip. */
      if (fdprobe_send (ctx->bus, sender, &req->probe_cookie) < 0)
        req->probe_cookie = 0;
      if (!who->identified)
        {
          req->waiting_for_creds = TRUE;
          ctx->calls_unidentified++;
        }
      r = request_credentials (req, on_probe_credentials);
      if (r < 0)
        request_fail_to_start (req, r);
      return 1;
    }

  if (who->identified)
    {
      request_take_credentials (req, who);
      request_admit (req);
      return 1;
    }

  /* The first call of a connection: one lookup, shared by all its calls. */
  g_ptr_array_add (who->waiting, req);
  req->waiting_for_creds = TRUE;
  ctx->calls_unidentified++;
  if (!who->lookup_running)
    {
      r = sd_bus_call_method_async (ctx->bus, NULL, BUS_DRIVER_NAME, BUS_DRIVER_PATH, BUS_DRIVER_INTERFACE,
                                    "GetConnectionCredentials", on_sender_credentials, who, "s", sender);
      if (r < 0)
        {
          request_fail_to_start (req, r);
          return 1;
        }
      who->lookup_running = TRUE;
    }
  return 1;
}

/* ---- properties ---- */

static int
get_version (sd_bus *bus,
             const char *path,
             const char *interface,
             const char *property,
             sd_bus_message *reply,
             void *userdata,
             sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

static int
get_api_version (sd_bus *bus,
                 const char *path,
                 const char *interface,
                 const char *property,
                 sd_bus_message *reply,
                 void *userdata,
                 sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "u", (uint32_t) LOCALD_BROKER_API_VERSION);
}

static int
get_strategy (sd_bus *bus,
              const char *path,
              const char *interface,
              const char *property,
              sd_bus_message *reply,
              void *userdata,
              sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  return sd_bus_message_append (reply, "s", ctx->systemd_strategy ? "systemd" : "direct");
}

static int
get_cgroup_root (sd_bus *bus,
                 const char *path,
                 const char *interface,
                 const char *property,
                 sd_bus_message *reply,
                 void *userdata,
                 sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  g_autofree char *root = broker_bus_text (ctx->cgroup_root_path);
  return sd_bus_message_append (reply, "s", root);
}

/* Mirrors dbus/dev.locald.Broker1.xml; the integration suite compares the two. */
static const sd_bus_vtable broker_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS (
      "SelfCheck",
      SD_BUS_NO_ARGS,
      SD_BUS_RESULT (
          "s", strategy, "s", strategy_reason, "s", mode, "a(sssa{ss}s)", problems, "a{ss}", facts),
      method_handler,
      SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetupCgroupRoot",
                           SD_BUS_NO_ARGS,
                           SD_BUS_RESULT ("s", cgroup),
                           method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("KillCgroup",
                           SD_BUS_ARGS ("s", cgroup),
                           SD_BUS_RESULT ("u", killed),
                           method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("CleanupPath",
                           SD_BUS_ARGS ("s", path),
                           SD_BUS_RESULT ("t", removed),
                           method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("JoinCgroup",
                           SD_BUS_ARGS ("s", cgroup),
                           SD_BUS_RESULT ("s", path),
                           method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("BindPort",
                           SD_BUS_ARGS ("s", address, "q", port),
                           SD_BUS_RESULT ("h", socket),
                           method_handler,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SyncHosts",
                           SD_BUS_ARGS ("as", names),
                           SD_BUS_RESULT ("u", count),
                           method_handler,
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
  ctx->senders = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sender_free);
  ctx->calls_by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
  ctx->running_by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_queue_init (&ctx->work_waiting);
  ctx->workers = g_thread_pool_new (worker_main, NULL, BROKER_WORKERS, FALSE, NULL);
  if (ctx->workers == NULL)
    return -ENOMEM;

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
  return sd_bus_add_object_vtable (ctx->bus, &ctx->vtable_slot, BROKER_OBJECT_PATH, BROKER_INTERFACE,
                                   broker_vtable, ctx);
}

void
broker_bus_clear (BrokerContext *ctx)
{
  g_return_if_fail (ctx != NULL);

  /* Called with no call in progress: the workers are idle. */
  if (ctx->workers != NULL)
    g_thread_pool_free (g_steal_pointer (&ctx->workers), FALSE, TRUE);
  g_queue_clear (&ctx->work_waiting);
  g_clear_pointer (&ctx->senders, g_hash_table_unref);
  g_clear_pointer (&ctx->calls_by_uid, g_hash_table_unref);
  g_clear_pointer (&ctx->running_by_uid, g_hash_table_unref);
}
