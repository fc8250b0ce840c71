/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LocaldPrivileged: capability acquisition (the readiness probe) and the
 * privileged methods. The generated stub never leaves this file.
 *
 * Every call goes to the well-known name with g_dbus_connection_call(), not
 * through a GDBusProxy: a proxy remembers the broker's unique name, and the
 * broker exits when idle. A proxy built in the private main context of a
 * synchronous acquisition never sees NameOwnerChanged, so it would keep
 * calling a name that is gone. Addressed to the well-known name, a call
 * re-activates the broker and reaches whoever owns the name now. The stub
 * still supplies the interface description (the reply types). */
#include "config.h"

#include "client/locald-broker.h"
#include "client/locald-error-private.h"
#include "client/locald-report-private.h"
#include "client/locald-broker1-stub.h"
#include "client/locald-fastpath-private.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

G_STATIC_ASSERT (LOCALD_BROKER_CLIENT_API_VERSION == LOCALD_BROKER_API_VERSION);

#define BROKER_NAME LOCALD_BROKER_BUS_NAME
#define BROKER_PATH LOCALD_BROKER_OBJECT_PATH
#define BROKER_INTERFACE LOCALD_BROKER_INTERFACE

/* A human may be typing a password while a call waits. */
#define TIMEOUT_INTERACTIVE_MS (5 * 60 * 1000)
/* Kill waits (bounded) for a cgroup to empty; leave it room. */
#define TIMEOUT_METHOD_MS (2 * 60 * 1000)
#define TIMEOUT_PROBE_MS (30 * 1000)

struct _LocaldPrivileged
{
  GObject parent_instance;
  GDBusConnection *connection; /* NULL unless made by acquisition */
  LocaldAcquireFlags flags;
  /* Acquired with FOR_SETUP while the report blocks everything but setup:
   * only SetupCgroupRoot may be called, until it succeeds. */
  gboolean setup_only;
  LocaldReport *report;
  char *broker_version;
  guint api_version;
  char *strategy;
  char *cgroup_root;
  gboolean allow_interactive;
  Fastpath *fastpath; /* NULL unless made by acquisition */
  gboolean fast_path_enabled;
  LocaldOperationPath last_path;
};

G_DEFINE_FINAL_TYPE (LocaldPrivileged, locald_privileged, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ALLOW_INTERACTIVE_AUTHORIZATION,
  PROP_FAST_PATH,
  PROP_LAST_PATH,
  N_PROPS
};

/**
 * locald_operation_path_get_type:
 *
 * Returns: the #GType of #LocaldOperationPath
 */
GType
locald_operation_path_get_type (void)
{
  static gsize type_id;
  static const GEnumValue values[] = {
    { LOCALD_OPERATION_PATH_NONE, "LOCALD_OPERATION_PATH_NONE", "none" },
    { LOCALD_OPERATION_PATH_FAST, "LOCALD_OPERATION_PATH_FAST", "fast" },
    { LOCALD_OPERATION_PATH_BROKER, "LOCALD_OPERATION_PATH_BROKER", "broker" },
    { LOCALD_OPERATION_PATH_MIXED, "LOCALD_OPERATION_PATH_MIXED", "mixed" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id,
                       g_enum_register_static (g_intern_static_string ("LocaldOperationPath"), values));
  return (GType) type_id;
}

static GParamSpec *properties[N_PROPS];

static void
locald_privileged_finalize (GObject *object)
{
  LocaldPrivileged *self = LOCALD_PRIVILEGED (object);

  g_clear_object (&self->connection);
  g_clear_pointer (&self->fastpath, _locald_fastpath_free);
  g_clear_object (&self->report);
  g_free (self->broker_version);
  g_free (self->strategy);
  g_free (self->cgroup_root);
  G_OBJECT_CLASS (locald_privileged_parent_class)->finalize (object);
}

static void
locald_privileged_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LocaldPrivileged *self = LOCALD_PRIVILEGED (object);

  switch (prop_id)
    {
    case PROP_ALLOW_INTERACTIVE_AUTHORIZATION:
      g_value_set_boolean (value, self->allow_interactive);
      break;
    case PROP_FAST_PATH:
      g_value_set_boolean (value, self->fast_path_enabled);
      break;
    case PROP_LAST_PATH:
      g_value_set_enum (value, self->last_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
locald_privileged_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  LocaldPrivileged *self = LOCALD_PRIVILEGED (object);

  switch (prop_id)
    {
    case PROP_ALLOW_INTERACTIVE_AUTHORIZATION:
      locald_privileged_set_allow_interactive_authorization (self, g_value_get_boolean (value));
      break;
    case PROP_FAST_PATH:
      locald_privileged_set_fast_path (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
locald_privileged_class_init (LocaldPrivilegedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = locald_privileged_finalize;
  object_class->get_property = locald_privileged_get_property;
  object_class->set_property = locald_privileged_set_property;

  /**
   * LocaldPrivileged:allow-interactive-authorization:
   *
   * Whether calls may make polkit ask for a password (the D-Bus
   * ALLOW_INTERACTIVE_AUTHORIZATION flag). Starts from the acquire flags.
   */
  properties[PROP_ALLOW_INTERACTIVE_AUTHORIZATION]
      = g_param_spec_boolean ("allow-interactive-authorization", NULL, NULL, TRUE,
                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * LocaldPrivileged:fast-path:
   *
   * Whether kill and cleanup first try to do the work in the calling
   * process, without privilege, and ask the broker only for what the
   * kernel does not let the caller do (the default). Off: every kill and
   * cleanup is a broker call. The results, errors and counts are the same
   * either way; see #LocaldPrivileged:last-path for which path ran.
   */
  properties[PROP_FAST_PATH] = g_param_spec_boolean (
      "fast-path", NULL, NULL, TRUE, G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * LocaldPrivileged:last-path:
   *
   * Which path carried out the kill or cleanup that finished last on this
   * capability (%LOCALD_OPERATION_PATH_NONE before the first). With several
   * asynchronous calls in flight, ask each result instead:
   * locald_privileged_get_operation_path().
   */
  properties[PROP_LAST_PATH]
      = g_param_spec_enum ("last-path", NULL, NULL, LOCALD_TYPE_OPERATION_PATH, LOCALD_OPERATION_PATH_NONE,
                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
locald_privileged_init (LocaldPrivileged *self)
{
  self->allow_interactive = TRUE;
  self->fast_path_enabled = TRUE;
  self->last_path = LOCALD_OPERATION_PATH_NONE;
}

/* ---- acquisition --------------------------------------------------------- */

typedef struct
{
  LocaldAcquireFlags flags;
  GDBusConnection *connection;
  LocaldReport *report;
  char *version;
  guint api_version;
  char *strategy;
  char *cgroup_root;
} AcquireData;

static void
acquire_data_free (AcquireData *data)
{
  g_clear_object (&data->connection);
  g_clear_object (&data->report);
  g_free (data->version);
  g_free (data->strategy);
  g_free (data->cgroup_root);
  g_free (data);
}

static GDBusCallFlags
call_flags_for (gboolean allow_interactive)
{
  return allow_interactive ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION : G_DBUS_CALL_FLAGS_NONE;
}

static int
probe_timeout_for (gboolean allow_interactive)
{
  return allow_interactive ? TIMEOUT_INTERACTIVE_MS : TIMEOUT_PROBE_MS;
}

/* The reply type of @method, from the interface description in the stub
 * (generated from the same XML as the broker's). */
static GVariantType *
reply_type_for (const char *method)
{
  GDBusMethodInfo *info = g_dbus_interface_info_lookup_method (ldb_stub_broker1_interface_info (), method);
  g_autoptr (GString) type = g_string_new ("(");

  g_assert (info != NULL);
  for (GDBusArgInfo **arg = info->out_args; arg != NULL && *arg != NULL; arg++)
    g_string_append (type, (*arg)->signature);
  g_string_append_c (type, ')');
  return g_variant_type_new (type->str);
}

/* Calls @method of the broker on @connection, addressed to the well-known
 * name (so the bus activates the broker if it is not running). */
static void
broker_call (GDBusConnection *connection,
             const char *method,
             GVariant *parameters,
             GDBusCallFlags flags,
             int timeout_ms,
             GCancellable *cancellable,
             GAsyncReadyCallback callback,
             gpointer user_data)
{
  g_autoptr (GVariantType) reply_type = reply_type_for (method);

  g_dbus_connection_call (connection, BROKER_NAME, BROKER_PATH, BROKER_INTERFACE, method, parameters,
                          reply_type, flags, timeout_ms, cancellable, callback, user_data);
}

static gboolean
acquire_allows_interaction (AcquireData *data)
{
  return (data->flags & LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION) == 0;
}

/* A report for a failure before SelfCheck could answer: one critical
 * problem, no strategy known. */
static LocaldReport *
synthesized_report (
    const char *id, const char *summary, const char *fix, const char *stage, const GError *error)
{
  LocaldReport *report
      = locald_report_new ("unknown", "the broker did not answer, so no strategy was chosen", "degraded");
  g_autoptr (LocaldProblem) problem = locald_problem_new (id, "critical", summary, fix);
  g_autofree char *remote = NULL;

  locald_problem_add_evidence (problem, "stage", stage);
  if (error != NULL)
    {
      g_autoptr (GError) copy = g_error_copy (error);
      remote = g_dbus_error_get_remote_error (error);
      g_dbus_error_strip_remote_error (copy);
      if (remote != NULL)
        locald_problem_add_evidence (problem, "dbus_error", remote);
      locald_problem_add_evidence (problem, "error", copy->message);
    }
  locald_report_add_problem (report, problem);
  return report;
}

static LocaldReport *
report_for_call_error (const GError *error, const char *stage)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  const char *name = remote != NULL ? remote : "";

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)
      || g_str_has_prefix (name, "org.freedesktop.DBus.Error.Spawn."))
    return synthesized_report (
        LOCALD_PROBLEM_BROKER_INSTALLED,
        "The broker (dev.locald.Broker1) is not installed or cannot be activated on the system bus.",
        LOCALD_FIX_INSTALL_BROKER, stage, error);
  /* Not a refusal: nobody could be asked. Fixing it is not a policy change. */
  if (g_str_equal (name, "dev.locald.Broker1.Error.AuthorizationUnavailable"))
    return synthesized_report (LOCALD_PROBLEM_BROKER_POLKIT,
                               "The broker could not ask polkit whether you are authorized (polkitd is not "
                               "running or not answering).",
                               LOCALD_FIX_INSPECT_BROKER, stage, error);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)
      || g_str_equal (name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"))
    return synthesized_report (
        LOCALD_PROBLEM_BROKER_AUTHORIZED,
        "You are not authorized to use the broker (polkit or the bus policy refused the readiness check).",
        LOCALD_FIX_HOST_POLICY, stage, error);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY))
    return synthesized_report (
        LOCALD_PROBLEM_BROKER_API_VERSION,
        "The broker on the bus does not implement the dev.locald.Broker1 interface this client speaks.",
        LOCALD_FIX_UPGRADE_BROKER, stage, error);
  return synthesized_report (LOCALD_PROBLEM_BROKER_RESPONDING,
                             "The broker did not answer the readiness check.", LOCALD_FIX_INSPECT_BROKER,
                             stage, error);
}

/* Fails @task with NOT_READY; the report is already in the task data. */
static void
acquire_fail (GTask *task)
{
  AcquireData *data = g_task_get_task_data (task);
  GPtrArray *problems = locald_report_get_problems (data->report);
  const char *why = "a critical problem was found";

  for (guint i = 0; i < problems->len; i++)
    if (locald_problem_is_critical (g_ptr_array_index (problems, i)))
      {
        why = locald_problem_get_summary (g_ptr_array_index (problems, i));
        break;
      }
  g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_NOT_READY, "The locald broker is not ready: %s",
                           why);
}

static gboolean
report_blocks (LocaldReport *report, LocaldAcquireFlags flags)
{
  GPtrArray *problems = locald_report_get_problems (report);

  for (guint i = 0; i < problems->len; i++)
    {
      LocaldProblem *p = g_ptr_array_index (problems, i);
      if (!locald_problem_is_critical (p))
        continue;
      if ((flags & LOCALD_ACQUIRE_FLAGS_FOR_SETUP)
          && g_str_equal (locald_problem_get_fix (p), LOCALD_FIX_RUN_ADMIN_SETUP))
        continue;
      return TRUE;
    }
  return FALSE;
}

static void
self_check_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AcquireData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autofree char *strategy = NULL, *reason = NULL, *mode = NULL;
  g_autoptr (GVariant) problems = NULL, facts = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      data->report = report_for_call_error (error, "self_check");
      locald_report_set_broker_version (data->report, data->version, data->api_version);
      acquire_fail (task);
      return;
    }

  g_variant_get (reply, "(sss@a(sssa{ss}s)@a{ss})", &strategy, &reason, &mode, &problems, &facts);
  data->report = _locald_report_new_from_self_check (strategy, reason, mode, problems, facts);
  locald_report_set_broker_version (data->report, data->version, data->api_version);
  if (report_blocks (data->report, data->flags))
    {
      acquire_fail (task);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
get_all_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GCancellable *cancellable;
  AcquireData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) props = NULL;
  gboolean interactive = acquire_allows_interaction (data);

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      data->report = report_for_call_error (error, "properties");
      acquire_fail (task);
      return;
    }

  props = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (props, "ApiVersion", "u", &data->api_version))
    data->api_version = 0;
  g_variant_lookup (props, "Version", "s", &data->version);
  g_variant_lookup (props, "Strategy", "s", &data->strategy);
  g_variant_lookup (props, "CgroupRoot", "s", &data->cgroup_root);

  /* Check the version before SelfCheck: an incompatible broker may not even
   * have SelfCheck with this signature. */
  if (data->api_version != LOCALD_BROKER_API_VERSION)
    {
      g_autofree char *seen = g_strdup_printf ("%u", data->api_version);
      g_autofree char *wanted = g_strdup_printf ("%u", (unsigned) LOCALD_BROKER_API_VERSION);
      g_autoptr (LocaldProblem) problem = NULL;

      data->report
          = synthesized_report (LOCALD_PROBLEM_BROKER_API_VERSION,
                                "The running broker speaks a different API version than this client.",
                                LOCALD_FIX_UPGRADE_BROKER, "api_version", NULL);
      problem
          = locald_problem_ref (locald_report_find_problem (data->report, LOCALD_PROBLEM_BROKER_API_VERSION));
      locald_problem_add_evidence (problem, "broker_api_version", seen);
      locald_problem_add_evidence (problem, "client_api_version", wanted);
      if (data->version != NULL)
        locald_problem_add_evidence (problem, "broker_version", data->version);
      locald_report_set_broker_version (data->report, data->version, data->api_version);
      acquire_fail (task);
      return;
    }

  /* Read the cancellable first: argument evaluation order is unspecified
   * and the last argument steals the task. */
  cancellable = g_task_get_cancellable (task);
  broker_call (data->connection, "SelfCheck", g_variant_new ("()"), call_flags_for (interactive),
               probe_timeout_for (interactive), cancellable, self_check_cb, g_steal_pointer (&task));
}

static void
bus_get_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GCancellable *cancellable;
  AcquireData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  data->connection = g_bus_get_finish (result, &error);
  if (data->connection == NULL)
    {
      g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, NULL);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      /* Without a system bus there is no broker to reach: the remedy is the
       * same as for a missing broker, so it is reported as one. */
      data->report = synthesized_report (LOCALD_PROBLEM_BROKER_INSTALLED,
                                         "The system bus is not reachable, so the broker cannot be reached.",
                                         LOCALD_FIX_INSTALL_BROKER, "connect", error);
      if (address != NULL)
        locald_problem_add_evidence (
            locald_report_find_problem (data->report, LOCALD_PROBLEM_BROKER_INSTALLED), "bus_address",
            address);
      acquire_fail (task);
      return;
    }

  /* Reading the properties is the first message to the broker's name, so it
   * is what activates the broker. */
  cancellable = g_task_get_cancellable (task);
  g_dbus_connection_call (data->connection, BROKER_NAME, BROKER_PATH, "org.freedesktop.DBus.Properties",
                          "GetAll", g_variant_new ("(s)", BROKER_INTERFACE), G_VARIANT_TYPE ("(a{sv})"),
                          call_flags_for (acquire_allows_interaction (data)),
                          probe_timeout_for (acquire_allows_interaction (data)), cancellable, get_all_cb,
                          g_steal_pointer (&task));
}

/**
 * locald_privileged_acquire_async:
 * @flags: #LocaldAcquireFlags
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Runs the readiness probe: connects to the system bus (honouring
 * DBUS_SYSTEM_BUS_ADDRESS), activates the broker by reading its properties,
 * requires a compatible ApiVersion, and calls SelfCheck.
 */
void
locald_privileged_acquire_async (LocaldAcquireFlags flags,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  AcquireData *data = g_new0 (AcquireData, 1);

  g_task_set_source_tag (task, locald_privileged_acquire_async);
  data->flags = flags;
  g_task_set_task_data (task, data, (GDestroyNotify) acquire_data_free);
  g_bus_get (G_BUS_TYPE_SYSTEM, cancellable, bus_get_cb, g_steal_pointer (&task));
}

/**
 * locald_privileged_acquire_finish:
 * @result: the #GAsyncResult
 * @out_report: (out) (optional) (nullable) (transfer full): the readiness
 *   report, on success and on failure (%NULL only when cancelled)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the capability, or %NULL with
 *   %LOCALD_ERROR_NOT_READY and a report that says why
 */
LocaldPrivileged *
locald_privileged_acquire_finish (GAsyncResult *result, LocaldReport **out_report, GError **error)
{
  GTask *task = G_TASK (result);
  AcquireData *data;
  LocaldPrivileged *self;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (task) == locald_privileged_acquire_async, NULL);

  data = g_task_get_task_data (task);
  if (out_report != NULL)
    *out_report = data->report != NULL ? g_object_ref (data->report) : NULL;
  if (!g_task_propagate_boolean (task, error))
    return NULL;

  self = g_object_new (LOCALD_TYPE_PRIVILEGED, NULL);
  self->connection = g_object_ref (data->connection);
  self->flags = data->flags;
  /* report_blocks() let FOR_SETUP through problems that setup fixes; until
   * it has, nothing else may be called. */
  self->setup_only = (data->flags & LOCALD_ACQUIRE_FLAGS_FOR_SETUP) != 0
                     && report_blocks (data->report, data->flags & ~LOCALD_ACQUIRE_FLAGS_FOR_SETUP);
  self->report = g_object_ref (data->report);
  self->broker_version = g_strdup (data->version);
  self->api_version = data->api_version;
  self->strategy = g_strdup (data->strategy);
  self->cgroup_root = g_strdup (data->cgroup_root);
  self->allow_interactive = acquire_allows_interaction (data);
  self->fastpath = _locald_fastpath_new (data->strategy, data->cgroup_root);
  return self;
}

/* The sync calls run the async code in a private main context, so sync and
 * async share one implementation and the caller's context is not iterated:
 *
 *   g_auto(SyncCall) call = { NULL, NULL };
 *   sync_call_begin (&call);
 *   foo_async (..., store_result_cb, &call.result);
 *   return foo_finish (..., sync_call_wait (&call), ...);
 *
 * The context is popped when call goes out of scope. */
typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} SyncCall;

static void
sync_call_begin (SyncCall *call)
{
  call->context = g_main_context_new ();
  g_main_context_push_thread_default (call->context);
}

static GAsyncResult *
sync_call_wait (SyncCall *call)
{
  while (call->result == NULL)
    g_main_context_iteration (call->context, TRUE);
  return call->result;
}

static void
sync_call_clear (SyncCall *call)
{
  if (call->context != NULL)
    g_main_context_pop_thread_default (call->context);
  g_clear_object (&call->result);
  g_clear_pointer (&call->context, g_main_context_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SyncCall, sync_call_clear)

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

/**
 * locald_privileged_acquire:
 * @flags: #LocaldAcquireFlags
 * @cancellable: (nullable): a #GCancellable
 * @out_report: (out) (optional) (nullable) (transfer full): the readiness
 *   report, on success and on failure
 * @error: return location for a #GError
 *
 * Synchronous locald_privileged_acquire_async().
 *
 * Returns: (transfer full) (nullable): the capability, or %NULL with
 *   %LOCALD_ERROR_NOT_READY and a report that says why
 */
LocaldPrivileged *
locald_privileged_acquire (LocaldAcquireFlags flags,
                           GCancellable *cancellable,
                           LocaldReport **out_report,
                           GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  sync_call_begin (&call);
  locald_privileged_acquire_async (flags, cancellable, store_result_cb, &call.result);
  return locald_privileged_acquire_finish (sync_call_wait (&call), out_report, error);
}

/**
 * locald_privileged_try_acquire:
 * @flags: #LocaldAcquireFlags
 * @cancellable: (nullable): a #GCancellable
 * @out_report: (out) (transfer full): the readiness report, always set
 *
 * locald_privileged_acquire() for callers that want the report rather than
 * an exception when the broker is not ready (language bindings turn a
 * #GError into an exception and would drop the report with it).
 *
 * Returns: (transfer full) (nullable): the capability, or %NULL when not
 *   ready (or cancelled)
 */
LocaldPrivileged *
locald_privileged_try_acquire (LocaldAcquireFlags flags, GCancellable *cancellable, LocaldReport **out_report)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LocaldReport) report = NULL;
  LocaldPrivileged *self;

  g_return_val_if_fail (out_report != NULL, NULL);

  self = locald_privileged_acquire (flags, cancellable, &report, &error);
  if (report == NULL)
    {
      /* Only cancellation leaves no report: say so in one. */
      report = locald_report_new ("unknown", "", "degraded");
      locald_report_set_fact (report, "acquire_error", error != NULL ? error->message : "unknown");
    }
  *out_report = g_steal_pointer (&report);
  return self;
}

/* ---- accessors ----------------------------------------------------------- */

/**
 * locald_privileged_get_report:
 * @self: a #LocaldPrivileged
 *
 * Returns: (transfer none): the report acquisition produced
 */
LocaldReport *
locald_privileged_get_report (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  return self->report;
}

/**
 * locald_privileged_get_broker_version:
 * @self: a #LocaldPrivileged
 *
 * Returns: (nullable): the broker's package version
 */
const char *
locald_privileged_get_broker_version (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  return self->broker_version;
}

guint
locald_privileged_get_api_version (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), 0);
  return self->api_version;
}

/**
 * locald_privileged_get_strategy:
 * @self: a #LocaldPrivileged
 *
 * Returns: (nullable): "systemd" or "direct"
 */
const char *
locald_privileged_get_strategy (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  return self->strategy;
}

/**
 * locald_privileged_get_cgroup_root:
 * @self: a #LocaldPrivileged
 *
 * Returns: (nullable): the locald cgroup root as a cgroup path
 */
const char *
locald_privileged_get_cgroup_root (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  return self->cgroup_root;
}

gboolean
locald_privileged_get_allow_interactive_authorization (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), FALSE);
  return self->allow_interactive;
}

void
locald_privileged_set_allow_interactive_authorization (LocaldPrivileged *self, gboolean allow)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  allow = !!allow;
  if (self->allow_interactive == allow)
    return;
  self->allow_interactive = allow;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_INTERACTIVE_AUTHORIZATION]);
}

/**
 * locald_privileged_get_fast_path:
 * @self: a #LocaldPrivileged
 *
 * Returns: whether the fast path is on (#LocaldPrivileged:fast-path)
 */
gboolean
locald_privileged_get_fast_path (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), FALSE);
  return self->fast_path_enabled;
}

/**
 * locald_privileged_set_fast_path:
 * @self: a #LocaldPrivileged
 * @enabled: %FALSE to send every kill and cleanup to the broker
 *
 * Turns the fast path on or off (#LocaldPrivileged:fast-path).
 */
void
locald_privileged_set_fast_path (LocaldPrivileged *self, gboolean enabled)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  enabled = !!enabled;
  if (self->fast_path_enabled == enabled)
    return;
  self->fast_path_enabled = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAST_PATH]);
}

/**
 * locald_privileged_get_last_path:
 * @self: a #LocaldPrivileged
 *
 * Returns: the path of the kill or cleanup that finished last
 *   (#LocaldPrivileged:last-path)
 */
LocaldOperationPath
locald_privileged_get_last_path (LocaldPrivileged *self)
{
  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), LOCALD_OPERATION_PATH_NONE);
  return self->last_path;
}

static GDBusCallFlags
method_flags (LocaldPrivileged *self)
{
  return call_flags_for (self->allow_interactive);
}

static int
method_timeout (LocaldPrivileged *self)
{
  return self->allow_interactive ? TIMEOUT_INTERACTIVE_MS : TIMEOUT_METHOD_MS;
}

/* Each privileged method is one call on the broker: its _async function
 * starts it with method_call_async() and its _finish function reads the
 * reply with method_call_finish(). */

static void
method_call_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    g_task_return_error (task, _locald_error_from_call (g_steal_pointer (&error)));
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

/* What every method checks before anything reaches either path: a UTF-8
 * argument (INVALID_ARGS), a capability made by acquisition (NOT_READY),
 * and one that may do more than set up (NOT_READY). */
static gboolean
method_precheck (
    LocaldPrivileged *self, const char *method, const char *arg_name, const char *arg, GError **error)
{
  if (arg != NULL && !g_utf8_validate (arg, -1, NULL))
    {
      g_set_error (error, LOCALD_ERROR, LOCALD_ERROR_INVALID_ARGS, "The %s is not valid UTF-8", arg_name);
      return FALSE;
    }
  if (self->connection == NULL)
    {
      g_set_error (
          error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY,
          "This LocaldPrivileged was not made by acquisition; use locald_privileged_acquire() to get one");
      return FALSE;
    }
  if (self->setup_only && !g_str_equal (method, "SetupCgroupRoot"))
    {
      g_set_error (
          error, LOCALD_ERROR, LOCALD_ERROR_NOT_READY,
          "The locald broker is not ready: this capability was acquired for setup only, and setup has "
          "not been done yet");
      return FALSE;
    }
  return TRUE;
}

/* Fails @task at once, without a call, if @self was not made by
 * acquisition or may only set up and @method is not SetupCgroupRoot
 * (NOT_READY). Returns the connection to call on, or %NULL. */
static GDBusConnection *
method_call_check (LocaldPrivileged *self, GTask *task, const char *method)
{
  GError *error = NULL;

  if (!method_precheck (self, method, NULL, NULL, &error))
    {
      g_task_return_error (task, error);
      return NULL;
    }
  return self->connection;
}

/* Calls @method in a task tagged @source_tag, with no argument, or with the
 * one string @arg (named @arg_name in errors) if it is not %NULL. Fails at
 * once, without a call, if @arg is not UTF-8 (INVALID_ARGS), or as
 * method_call_check() says. */
static void
method_call_async (LocaldPrivileged *self,
                   gpointer source_tag,
                   const char *method,
                   const char *arg_name,
                   const char *arg,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  if (!method_precheck (self, method, arg_name, arg, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  broker_call (self->connection, method, arg != NULL ? g_variant_new ("(s)", arg) : g_variant_new ("()"),
               method_flags (self), method_timeout (self), cancellable, method_call_cb,
               g_steal_pointer (&task));
}

/* Returns %FALSE with @error set if the call failed; otherwise reads the
 * reply into the pointers that follow @format, as g_variant_get() does (a
 * %NULL pointer skips its value). */
static gboolean
method_call_finish (GAsyncResult *result, GError **error, const char *format, ...)
{
  g_autoptr (GVariant) reply = g_task_propagate_pointer (G_TASK (result), error);
  va_list ap;

  if (reply == NULL)
    return FALSE;
  va_start (ap, format);
  g_variant_get_va (reply, format, NULL, &ap);
  va_end (ap);
  return TRUE;
}

/* ---- SetupCgroupRoot ----------------------------------------------------- */

/**
 * locald_privileged_setup_cgroup_root_async:
 * @self: a #LocaldPrivileged
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Creates the locald cgroup root and the caller's delegated subtree
 * (idempotent). May ask for administrator authentication.
 */
void
locald_privileged_setup_cgroup_root_async (LocaldPrivileged *self,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  method_call_async (self, locald_privileged_setup_cgroup_root_async, "SetupCgroupRoot", NULL, NULL,
                     cancellable, callback, user_data);
}

/**
 * locald_privileged_setup_cgroup_root_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the caller's delegated cgroup path
 */
char *
locald_privileged_setup_cgroup_root_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error)
{
  char *cgroup = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_setup_cgroup_root_async,
                        NULL);
  if (method_call_finish (result, error, "(s)", &cgroup))
    self->setup_only = FALSE; /* what blocked the other methods is fixed now */
  return cgroup;
}

/**
 * locald_privileged_setup_cgroup_root:
 * @self: a #LocaldPrivileged
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the caller's delegated cgroup path
 */
char *
locald_privileged_setup_cgroup_root (LocaldPrivileged *self, GCancellable *cancellable, GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  sync_call_begin (&call);
  locald_privileged_setup_cgroup_root_async (self, cancellable, store_result_cb, &call.result);
  return locald_privileged_setup_cgroup_root_finish (self, sync_call_wait (&call), error);
}

/* ---- KillCgroup and CleanupPath: try, then delegate ------------------------
 *
 * Both run as one operation in two steps. First the fast path (unless it
 * is off): the calling process does the work itself with the broker's own
 * code (locald-fastpath.c), in a worker thread for the async calls and in
 * the calling thread for the sync ones. What it cannot do goes to the
 * broker as the same method call, and the broker's count is added to what
 * the caller already did. Which of the two ran is recorded in the result
 * (locald_privileged_get_operation_path()) and in #LocaldPrivileged:last-path. */

typedef enum
{
  OP_KILL,
  OP_CLEANUP,
} OpKind;

typedef struct
{
  OpKind kind;
  char *arg;
  Fastpath *fastpath; /* borrowed from the capability, which the task holds */
  guint64 fast_count; /* what the fast path did before delegating */
  guint64 total;
  LocaldOperationPath path;
} OpData;

static void
op_data_free (OpData *op)
{
  g_free (op->arg);
  g_free (op);
}

static const char *
op_method (const OpData *op)
{
  return op->kind == OP_KILL ? "KillCgroup" : "CleanupPath";
}

/* The fast step's outcome, handed from the worker thread to the task's
 * context. */
typedef struct
{
  FastpathOutcome outcome;
  guint64 count;
  GError *error;
} FastResult;

static void
fast_result_free (FastResult *r)
{
  g_clear_error (&r->error);
  g_free (r);
}

static FastResult *
op_run_fast (const OpData *op)
{
  FastResult *r = g_new0 (FastResult, 1);

  if (op->kind == OP_KILL)
    {
      guint killed = 0;
      r->outcome = _locald_fastpath_kill (op->fastpath, op->arg, &killed, &r->error);
      r->count = killed;
    }
  else
    r->outcome = _locald_fastpath_cleanup (op->fastpath, op->arg, &r->count, &r->error);
  return r;
}

static void
op_broker_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  OpData *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL)
    {
      g_task_return_error (task, _locald_error_from_call (g_steal_pointer (&error)));
      return;
    }
  if (op->kind == OP_KILL)
    {
      guint32 killed = 0;
      g_variant_get (reply, "(u)", &killed);
      op->total = op->fast_count + killed;
    }
  else
    {
      guint64 removed = 0;
      g_variant_get (reply, "(t)", &removed);
      op->total = op->fast_count + removed;
    }
  g_task_return_boolean (task, TRUE);
}

/* Takes over @task: the broker does (the rest of) it. */
static void
op_delegate (GTask *task)
{
  LocaldPrivileged *self = g_task_get_source_object (task);
  OpData *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (op->path != LOCALD_OPERATION_PATH_MIXED)
    op->path = LOCALD_OPERATION_PATH_BROKER;
  broker_call (self->connection, op_method (op), g_variant_new ("(s)", op->arg), method_flags (self),
               method_timeout (self), cancellable, op_broker_cb, task);
}

/* Takes over @task and @r (the fast step's outcome). */
static void
op_after_fast (GTask *task, FastResult *r)
{
  OpData *op = g_task_get_task_data (task);

  op->fast_count = r->count;
  if (r->outcome == FASTPATH_DONE)
    {
      op->path = LOCALD_OPERATION_PATH_FAST;
      op->total = r->count;
      if (r->error != NULL)
        g_task_return_error (task, g_steal_pointer (&r->error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  else
    {
      op->path = r->count > 0 ? LOCALD_OPERATION_PATH_MIXED : LOCALD_OPERATION_PATH_BROKER;
      if (g_task_return_error_if_cancelled (task))
        g_object_unref (task);
      else
        op_delegate (task);
    }
  fast_result_free (r);
}

static void
op_fast_thread (GTask *inner, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  g_task_return_pointer (inner, op_run_fast (task_data), (GDestroyNotify) fast_result_free);
}

static void
op_fast_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;

  op_after_fast (task, g_task_propagate_pointer (G_TASK (result), NULL));
}

/* Starts a kill or cleanup. @inline_fast: run the fast step right here
 * (the sync calls, which wait anyway) instead of in a worker thread. */
static void
op_start (LocaldPrivileged *self,
          OpKind kind,
          gpointer source_tag,
          const char *arg_name,
          const char *arg,
          gboolean inline_fast,
          GCancellable *cancellable,
          GAsyncReadyCallback callback,
          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  OpData *op = g_new0 (OpData, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  op->kind = kind;
  op->arg = g_strdup (arg);
  op->fastpath = self->fastpath;
  op->path = LOCALD_OPERATION_PATH_NONE;
  g_task_set_task_data (task, op, (GDestroyNotify) op_data_free);

  if (!method_precheck (self, op_method (op), arg_name, arg, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  if (!self->fast_path_enabled || self->fastpath == NULL)
    {
      op_delegate (task);
      return;
    }
  if (inline_fast)
    {
      op_after_fast (task, op_run_fast (op));
      return;
    }
  {
    g_autoptr (GTask) inner = g_task_new (NULL, NULL, op_fast_done_cb, task);

    g_task_set_task_data (inner, op, NULL);
    g_task_run_in_thread (inner, op_fast_thread);
  }
}

/* Reads the outcome of an operation and records its path. */
static gboolean
op_finish (LocaldPrivileged *self, GAsyncResult *result, guint64 *out_count, GError **error)
{
  OpData *op = g_task_get_task_data (G_TASK (result));
  gboolean ok = g_task_propagate_boolean (G_TASK (result), error);

  if (ok && out_count != NULL)
    *out_count = op->total;
  if (self->last_path != op->path)
    {
      self->last_path = op->path;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_PATH]);
    }
  return ok;
}

/**
 * locald_privileged_get_operation_path:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult of a kill or cleanup on @self, finished or not
 *   yet passed to its _finish function
 *
 * Which path carried out that operation: for callers with several
 * asynchronous kills or cleanups in flight, where #LocaldPrivileged:last-path
 * only tells about the one that finished last.
 *
 * Returns: the #LocaldOperationPath of @result
 */
LocaldOperationPath
locald_privileged_get_operation_path (LocaldPrivileged *self, GAsyncResult *result)
{
  gpointer tag;

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), LOCALD_OPERATION_PATH_NONE);
  g_return_val_if_fail (g_task_is_valid (result, self), LOCALD_OPERATION_PATH_NONE);
  tag = g_task_get_source_tag (G_TASK (result));
  g_return_val_if_fail (tag == locald_privileged_kill_cgroup_async
                            || tag == locald_privileged_cleanup_path_async,
                        LOCALD_OPERATION_PATH_NONE);
  return ((OpData *) g_task_get_task_data (G_TASK (result)))->path;
}

/* ---- KillCgroup ---------------------------------------------------------- */

/**
 * locald_privileged_kill_cgroup_async:
 * @self: a #LocaldPrivileged
 * @cgroup: a cgroup relative to the caller's subtree, e.g. "svc/web"
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Kills every process in @cgroup and removes it. With the fast path on
 * (#LocaldPrivileged:fast-path) the calling process does it itself where
 * the kernel lets it (cgroup.kill and rmdir of a cgroup it created in its
 * delegated subtree, which also kills root's processes there) and asks the
 * broker only when it cannot: a kernel without cgroup.kill, a cgroup or
 * directory it may not write, a subtree it does not see.
 */
void
locald_privileged_kill_cgroup_async (LocaldPrivileged *self,
                                     const char *cgroup,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  g_return_if_fail (cgroup != NULL);
  op_start (self, OP_KILL, locald_privileged_kill_cgroup_async, "cgroup", cgroup, FALSE, cancellable,
            callback, user_data);
}

/**
 * locald_privileged_kill_cgroup_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @out_killed: (out) (optional): number of processes signalled
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_kill_cgroup_finish (LocaldPrivileged *self,
                                      GAsyncResult *result,
                                      guint *out_killed,
                                      GError **error)
{
  guint64 killed = 0;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_kill_cgroup_async,
                        FALSE);
  if (!op_finish (self, result, &killed, error))
    return FALSE;
  if (out_killed != NULL)
    *out_killed = (guint) MIN (killed, G_MAXUINT);
  return TRUE;
}

/**
 * locald_privileged_kill_cgroup:
 * @self: a #LocaldPrivileged
 * @cgroup: a cgroup relative to the caller's subtree, e.g. "svc/web"
 * @out_killed: (out) (optional): number of processes signalled
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Synchronous locald_privileged_kill_cgroup_async(); the fast path runs in
 * the calling thread.
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_kill_cgroup (
    LocaldPrivileged *self, const char *cgroup, guint *out_killed, GCancellable *cancellable, GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), FALSE);
  g_return_val_if_fail (cgroup != NULL, FALSE); /* the async call would never complete */
  sync_call_begin (&call);
  op_start (self, OP_KILL, locald_privileged_kill_cgroup_async, "cgroup", cgroup, TRUE, cancellable,
            store_result_cb, &call.result);
  return locald_privileged_kill_cgroup_finish (self, sync_call_wait (&call), out_killed, error);
}

/* ---- CleanupPath --------------------------------------------------------- */

/**
 * locald_privileged_cleanup_path_async:
 * @self: a #LocaldPrivileged
 * @path: absolute path strictly beneath a .locald directory you own
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Removes the tree at @path. With the fast path on
 * (#LocaldPrivileged:fast-path) the calling process removes what it may
 * itself, by the broker's rules and walk, and the broker removes only what
 * is left (root-owned leftovers).
 */
void
locald_privileged_cleanup_path_async (LocaldPrivileged *self,
                                      const char *path,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  g_return_if_fail (path != NULL);
  op_start (self, OP_CLEANUP, locald_privileged_cleanup_path_async, "path", path, FALSE, cancellable,
            callback, user_data);
}

/**
 * locald_privileged_cleanup_path_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @out_removed: (out) (optional): number of entries removed
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_cleanup_path_finish (LocaldPrivileged *self,
                                       GAsyncResult *result,
                                       guint64 *out_removed,
                                       GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_cleanup_path_async,
                        FALSE);
  return op_finish (self, result, out_removed, error);
}

/**
 * locald_privileged_cleanup_path:
 * @self: a #LocaldPrivileged
 * @path: absolute path strictly beneath a .locald directory you own
 * @out_removed: (out) (optional): number of entries removed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Synchronous locald_privileged_cleanup_path_async(); the fast path runs in
 * the calling thread.
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_cleanup_path (
    LocaldPrivileged *self, const char *path, guint64 *out_removed, GCancellable *cancellable, GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE); /* the async call would never complete */
  sync_call_begin (&call);
  op_start (self, OP_CLEANUP, locald_privileged_cleanup_path_async, "path", path, TRUE, cancellable,
            store_result_cb, &call.result);
  return locald_privileged_cleanup_path_finish (self, sync_call_wait (&call), out_removed, error);
}

/* ---- JoinCgroup ---------------------------------------------------------- */

/**
 * locald_privileged_join_cgroup_async:
 * @self: a #LocaldPrivileged
 * @cgroup: a cgroup relative to the caller's subtree, e.g. "svc/web"
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Moves the calling process (the one that owns @self's bus connection)
 * into @cgroup below its delegated subtree, creating what is missing. Its
 * children are born there afterwards. Fails with %LOCALD_ERROR_NOT_SET_UP
 * when the subtree has not been set up.
 */
void
locald_privileged_join_cgroup_async (LocaldPrivileged *self,
                                     const char *cgroup,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  g_return_if_fail (cgroup != NULL);
  method_call_async (self, locald_privileged_join_cgroup_async, "JoinCgroup", "cgroup", cgroup, cancellable,
                     callback, user_data);
}

/**
 * locald_privileged_join_cgroup_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the cgroup joined, as in
 *   /proc/self/cgroup (e.g. "/locald/user-1000/svc/web")
 */
char *
locald_privileged_join_cgroup_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error)
{
  char *path = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_join_cgroup_async, NULL);
  if (!method_call_finish (result, error, "(s)", &path))
    return NULL;
  return path;
}

/**
 * locald_privileged_join_cgroup:
 * @self: a #LocaldPrivileged
 * @cgroup: a cgroup relative to the caller's subtree, e.g. "svc/web"
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the cgroup joined, as in
 *   /proc/self/cgroup
 */
char *
locald_privileged_join_cgroup (LocaldPrivileged *self,
                               const char *cgroup,
                               GCancellable *cancellable,
                               GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  g_return_val_if_fail (cgroup != NULL, NULL); /* the async call would never complete */
  sync_call_begin (&call);
  locald_privileged_join_cgroup_async (self, cgroup, cancellable, store_result_cb, &call.result);
  return locald_privileged_join_cgroup_finish (self, sync_call_wait (&call), error);
}

/* ---- BindPort ------------------------------------------------------------ */

static void
bind_port_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GUnixFDList) fds = NULL;
  g_autoptr (GVariant) reply = NULL;
  gint32 index = -1;
  int fd;
  GSocket *socket;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, _locald_error_from_call (g_steal_pointer (&error)));
      return;
    }
  g_variant_get (reply, "(h)", &index);
  if (fds == NULL || index < 0 || index >= g_unix_fd_list_get_length (fds))
    {
      g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_FAILED,
                               "The broker's BindPort reply carried no socket");
      return;
    }
  fd = g_unix_fd_list_get (fds, index, &error); /* a close-on-exec copy */
  if (fd < 0)
    {
      g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_FAILED, "Cannot take the bound socket: %s",
                               error->message);
      return;
    }
  socket = g_socket_new_from_fd (fd, &error);
  if (socket == NULL)
    {
      close (fd);
      g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_FAILED,
                               "The broker returned no usable socket: %s", error->message);
      return;
    }
  g_task_return_pointer (task, socket, g_object_unref);
}

/**
 * locald_privileged_bind_port_async:
 * @self: a #LocaldPrivileged
 * @address: a numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "0.0.0.0")
 * @port: a port below the host's net.ipv4.ip_unprivileged_port_start
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Asks the broker for a TCP socket bound to @address:@port. Loopback
 * addresses are allowed by default; any other address needs an
 * administrator (polkit action dev.locald.broker.bind-port-public).
 */
void
locald_privileged_bind_port_async (LocaldPrivileged *self,
                                   const char *address,
                                   guint16 port,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GVariantType) reply_type = NULL;
  GDBusConnection *connection;

  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  g_return_if_fail (address != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, locald_privileged_bind_port_async);
  if (!g_utf8_validate (address, -1, NULL))
    {
      g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_INVALID_ARGS,
                               "The address is not valid UTF-8");
      return;
    }
  if ((connection = method_call_check (self, task, "BindPort")) == NULL)
    return;
  reply_type = reply_type_for ("BindPort");
  g_dbus_connection_call_with_unix_fd_list (connection, BROKER_NAME, BROKER_PATH, BROKER_INTERFACE,
                                            "BindPort", g_variant_new ("(sq)", address, port), reply_type,
                                            method_flags (self), method_timeout (self), NULL, cancellable,
                                            bind_port_cb, g_steal_pointer (&task));
}

/**
 * locald_privileged_bind_port_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the bound socket, not listening yet
 *   (call g_socket_listen()), or %NULL with @error (e.g.
 *   %LOCALD_ERROR_ADDRESS_IN_USE, %LOCALD_ERROR_INVALID_ARGS for a port that
 *   needs no privilege)
 */
GSocket *
locald_privileged_bind_port_finish (LocaldPrivileged *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_bind_port_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * locald_privileged_bind_port:
 * @self: a #LocaldPrivileged
 * @address: a numeric IPv4 or IPv6 address
 * @port: a privileged port
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Synchronous locald_privileged_bind_port_async().
 *
 * Returns: (transfer full) (nullable): the bound socket, not listening yet
 */
GSocket *
locald_privileged_bind_port (
    LocaldPrivileged *self, const char *address, guint16 port, GCancellable *cancellable, GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), NULL);
  g_return_val_if_fail (address != NULL, NULL); /* the async call would never complete */
  sync_call_begin (&call);
  locald_privileged_bind_port_async (self, address, port, cancellable, store_result_cb, &call.result);
  return locald_privileged_bind_port_finish (self, sync_call_wait (&call), error);
}

/* ---- SyncHosts ----------------------------------------------------------- */

/**
 * locald_privileged_sync_hosts_async:
 * @self: a #LocaldPrivileged
 * @names: (array zero-terminated=1): host names ending in .localhost or .test
 *   (or a suffix the broker's configuration allows); empty removes your block
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Makes your block of the hosts file point exactly @names at 127.0.0.1 and
 * ::1.
 */
void
locald_privileged_sync_hosts_async (LocaldPrivileged *self,
                                    const char *const *names,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GDBusConnection *connection;

  g_return_if_fail (LOCALD_IS_PRIVILEGED (self));
  g_return_if_fail (names != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, locald_privileged_sync_hosts_async);
  for (const char *const *n = names; *n != NULL; n++)
    if (!g_utf8_validate (*n, -1, NULL))
      {
        g_task_return_new_error (task, LOCALD_ERROR, LOCALD_ERROR_INVALID_ARGS,
                                 "A host name is not valid UTF-8");
        return;
      }
  if ((connection = method_call_check (self, task, "SyncHosts")) == NULL)
    return;
  broker_call (connection, "SyncHosts", g_variant_new ("(^as)", names), method_flags (self),
               method_timeout (self), cancellable, method_call_cb, g_steal_pointer (&task));
}

/**
 * locald_privileged_sync_hosts_finish:
 * @self: a #LocaldPrivileged
 * @result: the #GAsyncResult
 * @out_count: (out) (optional): names in your block now
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_sync_hosts_finish (LocaldPrivileged *self,
                                     GAsyncResult *result,
                                     guint *out_count,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == locald_privileged_sync_hosts_async, FALSE);
  return method_call_finish (result, error, "(u)", out_count);
}

/**
 * locald_privileged_sync_hosts:
 * @self: a #LocaldPrivileged
 * @names: (array zero-terminated=1): host names; empty removes your block
 * @out_count: (out) (optional): names in your block now
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
locald_privileged_sync_hosts (LocaldPrivileged *self,
                              const char *const *names,
                              guint *out_count,
                              GCancellable *cancellable,
                              GError **error)
{
  g_auto (SyncCall) call = { NULL, NULL };

  g_return_val_if_fail (LOCALD_IS_PRIVILEGED (self), FALSE);
  g_return_val_if_fail (names != NULL, FALSE); /* the async call would never complete */
  sync_call_begin (&call);
  locald_privileged_sync_hosts_async (self, names, cancellable, store_result_cb, &call.result);
  return locald_privileged_sync_hosts_finish (self, sync_call_wait (&call), out_count, error);
}
