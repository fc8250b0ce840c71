/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locald-brokerd: start-up (environment, options, capability drop, cgroup
 * discovery), the main loop, and the lifecycle: exit after an idle timeout
 * without losing a call (release the name, drain what was queued, then exit).
 */
#include "config.h"

#include "audit.h"
#include "authz.h"
#include "broker-context.h"
#include "bus.h"
#include "caps.h"
#include "cgroup-systemd.h"
#include "memory.h"
#include "sdbus-source.h"

#include <errno.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* After the name is released, calls already routed to us may still be in
 * flight inside the bus; wait this long without new ones before exiting. */
#define DRAIN_GRACE_MS 200
#define DRAIN_MAX_ROUNDS 25

static void arm_idle (BrokerContext *ctx);
static void begin_exit (BrokerContext *ctx);

/* Only what the daemon itself needs survives; nothing the activating
 * environment carries can steer it (PATH, locale, GLib/GIO module paths).
 * G_SLICE and GLIBC_TUNABLES, which the systemd unit sets, need not:
 * GLib's library constructor and the dynamic loader have read them before
 * main() runs (which is also why setting them here would be too late). */
static void
reset_environment (void)
{
  static const char *const keep[]
      = { "DBUS_SYSTEM_BUS_ADDRESS", "G_MESSAGES_DEBUG", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
  g_autofree char *values[G_N_ELEMENTS (keep)] = { NULL };

  for (gsize i = 0; i < G_N_ELEMENTS (keep); i++)
    values[i] = g_strdup (g_getenv (keep[i]));
  clearenv ();
  for (gsize i = 0; i < G_N_ELEMENTS (keep); i++)
    {
      if (values[i] != NULL)
        setenv (keep[i], values[i], 1);
      g_clear_pointer (&values[i], g_free);
    }
  setenv ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
  setenv ("LC_ALL", "C", 1);
  /* GIO must not load modules or talk to a session bus. */
  setenv ("GIO_USE_VFS", "local", 1);
  setenv ("GSETTINGS_BACKEND", "memory", 1);
}

/* Deep trees need one descriptor per level during cleanup; allow what the
 * hard limit allows. */
static void
raise_fd_limit (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      (void) setrlimit (RLIMIT_NOFILE, &rl);
    }
}

/* libpolkit warns when it cancels a check that polkitd has already
 * dropped (the caller left and its agent with it). The daemon cancels on
 * purpose and fails the call closed either way, so that one message is
 * debug output, not a warning. Everything else passes through unchanged.
 *
 * This runs inside g_log(): any g_log() call from here (g_debug() and
 * friends included) is recursion to GLib, which it treats as fatal, so a
 * caller who merely disconnects at the right moment would abort the
 * daemon. The message is handed to the default handler with its level
 * lowered instead (a recursion flag GLib set is kept). */
static void
on_library_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
  if (message != NULL && g_str_has_prefix (message, "Error cancelling authorization check"))
    level = (level & ~G_LOG_LEVEL_MASK & ~G_LOG_FLAG_FATAL) | G_LOG_LEVEL_DEBUG;
  g_log_default_handler (domain, level, message, user_data);
}

static gboolean
on_drain_done (gpointer user_data)
{
  BrokerContext *ctx = user_data;
  static guint64 seen_at_arm;

  ctx->drain_source = 0;
  if (ctx->in_flight > 0)
    return G_SOURCE_REMOVE; /* broker_context_release() re-arms */
  /* Calls sent straight to our unique name keep arriving after the release
   * only from callers that ignore the name change; they cannot keep this
   * instance alive forever. */
  if (ctx->calls_seen != seen_at_arm && ++ctx->drain_rounds < DRAIN_MAX_ROUNDS)
    {
      seen_at_arm = ctx->calls_seen;
      ctx->drain_source = g_timeout_add (DRAIN_GRACE_MS, on_drain_done, ctx);
      return G_SOURCE_REMOVE;
    }
  g_debug ("Idle, name released and drained: exiting");
  g_main_loop_quit (ctx->loop);
  return G_SOURCE_REMOVE;
}

static void
arm_drain (BrokerContext *ctx)
{
  if (ctx->drain_source == 0)
    ctx->drain_source = g_timeout_add (DRAIN_GRACE_MS, on_drain_done, ctx);
}

static int
on_name_released (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  if (sd_bus_message_is_method_error (reply, NULL))
    g_warning ("Releasing %s failed: %s", BROKER_BUS_NAME, sd_bus_message_get_error (reply)->message);
  arm_drain (ctx);
  return 0;
}

static void
begin_exit (BrokerContext *ctx)
{
  if (ctx->exiting)
    return;
  ctx->exiting = TRUE;
  g_clear_handle_id (&ctx->idle_source, g_source_remove);
  /* From here on the bus activates a new instance for new callers, while we
   * answer everything already addressed to us. */
  if (sd_bus_release_name_async (ctx->bus, NULL, BROKER_BUS_NAME, on_name_released, ctx) < 0)
    arm_drain (ctx);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  BrokerContext *ctx = user_data;
  ctx->idle_source = 0;
  if (ctx->in_flight == 0)
    begin_exit (ctx);
  return G_SOURCE_REMOVE;
}

static void
arm_idle (BrokerContext *ctx)
{
  g_clear_handle_id (&ctx->idle_source, g_source_remove);
  if (ctx->options.idle_timeout_s > 0 && !ctx->exiting)
    ctx->idle_source = g_timeout_add_seconds (ctx->options.idle_timeout_s, on_idle_timeout, ctx);
  broker_memory_release_later ();
}

void
broker_context_hold (BrokerContext *ctx)
{
  ctx->in_flight++;
  ctx->calls_seen++;
  g_clear_handle_id (&ctx->idle_source, g_source_remove);
}

void
broker_context_release (BrokerContext *ctx)
{
  g_return_if_fail (ctx->in_flight > 0);
  if (--ctx->in_flight > 0)
    return;
  if (ctx->exiting)
    arm_drain (ctx);
  else
    arm_idle (ctx);
}

/* A mask inherited from whoever started us must not hold SIGTERM back
 * (the handlers main() installs would never run, nor the drain). */
static void
unblock_exit_signals (void)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  (void) pthread_sigmask (SIG_UNBLOCK, &set, NULL);
}

static gboolean
on_terminate (gpointer user_data)
{
  begin_exit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_disconnected (gpointer user_data)
{
  BrokerContext *ctx = user_data;
  ctx->exit_code = EXIT_FAILURE;
  g_main_loop_quit (ctx->loop);
}

/* The answer to the name request: another instance owning the name is a
 * success (it serves), any other failure ends this one. */
static int
on_name_requested (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BrokerContext *ctx = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  uint32_t ret = 0;

  if (e == NULL && sd_bus_message_read (reply, "u", &ret) >= 0
      && (ret == 1 /* PRIMARY_OWNER */ || ret == 4 /* ALREADY_OWNER */))
    return 0;
  if (e == NULL && ret == 3 /* EXISTS */)
    g_debug ("%s is owned by another instance; exiting", BROKER_BUS_NAME);
  else
    {
      g_printerr ("locald-brokerd: cannot own %s: %s\n", BROKER_BUS_NAME,
                  e != NULL && e->message != NULL ? e->message : "unexpected answer");
      ctx->exit_code = EXIT_FAILURE;
    }
  g_main_loop_quit (ctx->loop);
  return 0;
}

static void
resolve_cgroups (BrokerContext *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *reason = NULL;

  ctx->layout.root = g_strdup (ctx->options.cgroup_root);
  if (!cgroup_find_v2_mount ("/proc/self/mountinfo", &ctx->layout.mount, &error))
    {
      g_message ("No cgroup v2 hierarchy: %s", error->message);
      ctx->layout.mount = NULL;
    }

  switch (ctx->options.strategy)
    {
    case BROKER_STRATEGY_DIRECT:
      ctx->systemd_strategy = FALSE;
      ctx->strategy_reason = g_strdup ("set by --strategy=direct");
      break;
    case BROKER_STRATEGY_SYSTEMD:
      ctx->systemd_strategy = TRUE;
      ctx->strategy_reason = g_strdup ("set by --strategy=systemd");
      break;
    case BROKER_STRATEGY_AUTO:
    default:
      ctx->systemd_strategy = cgroup_systemd_detect (&reason);
      ctx->strategy_reason = g_steal_pointer (&reason);
      break;
    }

  /* Under systemd the delegated subtrees are scopes "locald-user-<uid>.scope"
   * in locald.slice, which systemd puts at /locald.slice. An explicitly
   * configured root names where that slice lives instead (tests run the
   * strategy inside a scratch cgroup). */
  if (ctx->systemd_strategy)
    {
      ctx->layout.systemd_scopes = TRUE;
      if (ctx->options.cgroup_root_set && !g_str_equal (ctx->options.cgroup_root, "locald.slice")
          && !g_str_has_suffix (ctx->options.cgroup_root, "/locald.slice"))
        g_warning (
            "With the systemd strategy the scopes live in locald.slice; --cgroup-root=%s does not end in "
            "it, so every SetupCgroupRoot will fail",
            ctx->options.cgroup_root);
      if (!ctx->options.cgroup_root_set)
        {
          g_free (ctx->layout.root);
          ctx->layout.root = g_strdup ("locald.slice");
        }
    }
  ctx->cgroup_root_path = ctx->layout.mount ? g_strdup_printf ("/%s", ctx->layout.root) : g_strdup ("");
}

/* polkit-gobject-1 takes a few ms to connect to polkitd (a bus connection
 * of its own, SASL, matches, polkitd's properties), and the first call -
 * the one that activated us - would wait for all of it before its check.
 * Started when the main loop first has nothing to do (while the bus
 * answers the Hello and the name request), it overlaps that wait and the
 * first call's way to us. Not before the loop: done there, its start on
 * this thread held back the name request by about 0.4 ms, which calls
 * polkit never sees (Properties.Get) paid for. */
static gboolean
on_first_idle (gpointer user_data)
{
  broker_authz_prepare ();
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  static BrokerContext ctx;
  g_autoptr (GError) error = NULL;
  gboolean stop = FALSE;
  int r;

  broker_memory_init ();
  reset_environment ();
  g_log_set_handler (NULL, G_LOG_LEVEL_WARNING, on_library_log, NULL);
  umask (022); /* cgroup directories must stay traversable for their delegates */

  if (!broker_options_parse (&ctx.options, &argc, &argv, &stop, &error))
    {
      g_printerr ("locald-brokerd: %s\n", error->message);
      return 2;
    }
  if (stop)
    return EXIT_SUCCESS;
  if (geteuid () != 0)
    {
      g_printerr ("locald-brokerd: must run as root (it is started by the system bus or systemd)\n");
      return EXIT_FAILURE;
    }

  raise_fd_limit ();
  /* Fail closed: a broker that cannot shed its extra privilege does not serve. */
  if (!broker_caps_drop (&error))
    {
      g_printerr ("locald-brokerd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  resolve_cgroups (&ctx);

  r = sd_bus_open_system (&ctx.bus);
  if (r < 0)
    {
      g_printerr ("locald-brokerd: cannot connect to the system bus: %s\n", g_strerror (-r));
      return EXIT_FAILURE;
    }

  r = broker_bus_add_object (&ctx);
  if (r < 0)
    {
      g_printerr ("locald-brokerd: cannot register the object: %s\n", g_strerror (-r));
      return EXIT_FAILURE;
    }
  /* The handlers exist before the name: from the moment callers can reach
   * us, SIGTERM means "release the name and drain", never an exit that
   * drops what was queued. A signal that comes earlier ends a broker that
   * nobody could call yet. They run once the loop does. */
  ctx.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_terminate, &ctx);
  g_unix_signal_add (SIGINT, on_terminate, &ctx);
  unblock_exit_signals ();

  /* The object exists before the name, so no call that arrives finds
   * nothing. Asynchronous: the Hello, the match and this go out together
   * and start-up waits for none of them (on_name_requested). */
  r = sd_bus_request_name_async (ctx.bus, NULL, BROKER_BUS_NAME, 0, on_name_requested, &ctx);
  if (r < 0)
    {
      g_printerr ("locald-brokerd: cannot own %s: %s\n", BROKER_BUS_NAME, g_strerror (-r));
      return EXIT_FAILURE;
    }

  sdbus_source_attach (ctx.bus, NULL, on_bus_disconnected, &ctx);
  arm_idle (&ctx);

  g_debug ("Serving %s (strategy %s: %s)", BROKER_BUS_NAME, ctx.systemd_strategy ? "systemd" : "direct",
           ctx.strategy_reason);
  /* After the capability drop: polkit-gobject-1's set-up runs in a thread,
   * which must not keep what main() dropped. */
  g_idle_add_full (G_PRIORITY_LOW, on_first_idle, NULL, NULL);
  g_main_loop_run (ctx.loop);

  broker_audit_flush ();
  sd_bus_flush (ctx.bus);
  /* Lost the bus with work still running in worker threads: they read the
   * context, so leave without tearing it down. */
  if (ctx.in_flight > 0)
    _exit (ctx.exit_code);
  ctx.owner_changes_slot = sd_bus_slot_unref (ctx.owner_changes_slot);
  ctx.vtable_slot = sd_bus_slot_unref (ctx.vtable_slot);
  ctx.bus = sd_bus_flush_close_unref (ctx.bus);
  g_main_loop_unref (ctx.loop);
  broker_bus_clear (&ctx);
  cgroup_layout_clear (&ctx.layout);
  g_free (ctx.strategy_reason);
  g_free (ctx.cgroup_root_path);
  broker_options_clear (&ctx.options);
  return ctx.exit_code;
}
