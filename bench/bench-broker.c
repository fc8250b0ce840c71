/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-broker: per-call latency of locald-brokerd, side by side with the
 * setuid-helper exec it replaces, in one run and from one unprivileged
 * client. See bench/README.md; bench/run sets up the sandbox and runs it.
 */
#include "config.h"

#include "bench-calls.h"
#include "bench-exec.h"
#include "bench-memory.h"
#include "bench-report.h"
#include "bench-stats.h"
#include "client/locald-names.h"

#include <errno.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  GDBusConnection *conn;
  const char *kill_cgroup;
  char *helper_argv[4]; /* setuid helper, cgroup root, cgroup, NULL */
  char *sudo_argv[4];   /* sudo -n true NULL */
  int stop_request_fd, stop_done_fd;
} Bench;

typedef gboolean (*BenchOnce) (Bench *b, GError **error);

/* ---------------------------------------------------------------- one sample each */

static gboolean
once_ping (Bench *b, GError **error)
{
  return bench_ping (b->conn, error);
}

static gboolean
once_get_api_version (Bench *b, GError **error)
{
  return bench_get_api_version (b->conn, NULL, error);
}

static gboolean
once_self_check (Bench *b, GError **error)
{
  return bench_self_check (b->conn, NULL, error);
}

static gboolean
once_kill_missing (Bench *b, GError **error)
{
  guint32 killed = 0;

  if (!bench_kill_cgroup (b->conn, b->kill_cgroup, &killed, error))
    return FALSE;
  /* Anything else means the bench hit a real cgroup: stop measuring. */
  if (killed != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "KillCgroup %s killed %u process(es); expected a missing cgroup", b->kill_cgroup,
                   (unsigned)killed);
      return FALSE;
    }
  return TRUE;
}

static gboolean
once_polkit_check (Bench *b, GError **error)
{
  return bench_polkit_check (b->conn, LOCALD_ACTION_KILL_CGROUP, error);
}

static gboolean
once_exec (char **argv, const char *expect, GError **error)
{
  g_autofree char *out = NULL;

  if (!bench_exec ((const char *const *)argv, &out, error))
    return FALSE;
  if (expect && !g_str_equal (out, expect))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s printed \"%s\", expected \"%s\"", argv[0],
                   out, expect);
      return FALSE;
    }
  return TRUE;
}

static gboolean
once_setuid_helper (Bench *b, GError **error)
{
  return once_exec (b->helper_argv, "0\n", error);
}

static gboolean
once_sudo (Bench *b, GError **error)
{
  return once_exec (b->sudo_argv, NULL, error);
}

/* ---------------------------------------------------------------- loops */

/* Warm-up calls first (not counted): they fault in code paths and caches on
 * both sides, which a long-running client would have done long ago. */
static gboolean
measure_warm (Bench *b, BenchOnce once, guint warmup, guint calls, BenchRow *row, GError **error)
{
  g_autoptr (GArray) samples = g_array_sized_new (FALSE, FALSE, sizeof (double), calls);
  gint64 start;

  for (guint i = 0; i < warmup; i++)
    if (!once (b, error))
      return FALSE;

  start = bench_now_ns ();
  for (guint i = 0; i < calls; i++)
    {
      gint64 t0 = bench_now_ns ();
      double ms;

      if (!once (b, error))
        return FALSE;
      ms = (bench_now_ns () - t0) / 1e6;
      g_array_append_val (samples, ms);
    }
  bench_summarize (samples, bench_now_ns () - start, &row->summary);
  return TRUE;
}

/* The driver runs unprivileged and cannot stop a root daemon: it asks its
 * root parent (bench/run) over two pipes, one line each way. The parent
 * answers only after the name is gone from the bus. */
static gboolean
stop_broker (Bench *b, GError **error)
{
  char reply[16] = "";
  gsize have = 0;

  if (write (b->stop_request_fd, "stop\n", 5) != 5)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot ask for a broker stop: %s",
                   g_strerror (e));
      return FALSE;
    }
  while (have < sizeof reply - 1 && (have == 0 || reply[have - 1] != '\n'))
    {
      ssize_t n = read (b->stop_done_fd, reply + have, sizeof reply - 1 - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      have += n;
    }
  if (!g_str_equal (reply, "ok\n"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "stopping the broker failed (answer \"%s\")",
                   g_strchomp (reply));
      return FALSE;
    }
  return TRUE;
}

/* Cold rows are interleaved sample by sample, so a drift of the host over
 * the run (page cache, CPU frequency) hits every row alike. */
static gboolean
measure_cold (Bench *b, const BenchOnce *onces, BenchRow **rows, guint n_rows, guint samples, GError **error)
{
  g_autoptr (GPtrArray) series = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  g_autoptr (GArray) wall = g_array_new (FALSE, TRUE, sizeof (gint64));

  g_array_set_size (wall, n_rows);
  for (guint r = 0; r < n_rows; r++)
    g_ptr_array_add (series, g_array_new (FALSE, FALSE, sizeof (double)));

  for (guint i = 0; i < samples; i++)
    for (guint r = 0; r < n_rows; r++)
      {
        gint64 t0, dt;
        double ms;

        if (!stop_broker (b, error))
          return FALSE;
        t0 = bench_now_ns ();
        if (!onces[r](b, error))
          return FALSE;
        dt = bench_now_ns () - t0;
        ms = dt / 1e6;
        g_array_append_val (series->pdata[r], ms);
        g_array_index (wall, gint64, r) += dt;
      }

  for (guint r = 0; r < n_rows; r++)
    bench_summarize (series->pdata[r], g_array_index (wall, gint64, r), &rows[r]->summary);
  return TRUE;
}

/* ---------------------------------------------------------------- setup */

static GDBusConnection *
connect_bus (const char *address, GError **error)
{
  if (!address)
    address = g_getenv ("DBUS_SYSTEM_BUS_ADDRESS");
  if (!address)
    return g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  return g_dbus_connection_new_for_address_sync (
      address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, error);
}

/* The helper is given the broker's own cgroup root, so both look in the same
 * place. */
static char *
broker_cgroup_root (GDBusConnection *conn, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;
  const char *root;

  reply = bench_broker_call (conn, "org.freedesktop.DBus.Properties", "Get",
                             g_variant_new ("(ss)", BENCH_BROKER_IFACE, "CgroupRoot"), "(v)", error);
  if (!reply)
    return NULL;
  g_variant_get (reply, "(v)", &value);
  root = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ? g_variant_get_string (value, NULL) : "";
  while (*root == '/')
    root++;
  if (!*root)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the broker reports no cgroup root");
      return NULL;
    }
  return g_strdup (root);
}

static gboolean
parse_fd_pair (const char *text, int *ret_a, int *ret_b)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", 3);
  guint64 a, b;

  if (g_strv_length (parts) != 2 || !g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXINT, &a, NULL)
      || !g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT, &b, NULL))
    return FALSE;
  *ret_a = (int)a;
  *ret_b = (int)b;
  return TRUE;
}

static gboolean
write_file (const char *path, const char *contents, GError **error)
{
  /* Atomic, so a crashed run never leaves half a results file behind. */
  return g_file_set_contents (path, contents, -1, error);
}

G_NORETURN static void
fail (const char *what, const GError *error)
{
  g_printerr ("bench-broker: %s: %s\n", what, error->message);
  exit (1);
}

int
main (int argc, char **argv)
{
  g_autofree char *address = NULL, *stop_fds = NULL, *helper = NULL, *json_path = NULL, *text_path = NULL;
  g_autofree char *kill_cgroup = NULL, *cgroup_root = NULL, *sudo = NULL;
  g_auto (GStrv) meta = NULL;
  gint calls = 2000, warmup = 50, cold = 20;
  gboolean want_sudo = FALSE;
  g_autoptr (GOptionContext) octx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) conn = NULL;
  g_autoptr (GPtrArray) warm_rows = g_ptr_array_new_with_free_func ((GDestroyNotify)bench_row_free);
  g_autoptr (GPtrArray) cold_rows = g_ptr_array_new_with_free_func ((GDestroyNotify)bench_row_free);
  g_autoptr (GPtrArray) meta_list = g_ptr_array_new ();
  g_autofree char *text = NULL, *json = NULL;
  BenchResults results = { 0 };
  Bench b = { .stop_request_fd = -1, .stop_done_fd = -1 };
  guint32 pid_before, pid_after;

  const GOptionEntry entries[] = {
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address,
      "Bus address (default: $DBUS_SYSTEM_BUS_ADDRESS or the system bus)", "ADDR" },
    { "calls", 'n', 0, G_OPTION_ARG_INT, &calls, "Timed calls per warm row (default 2000)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "Untimed calls before each warm row (default 50)", "N" },
    { "cold", 0, 0, G_OPTION_ARG_INT, &cold, "Samples per cold row (default 20; needs --stop-fds)", "N" },
    { "stop-fds", 0, 0, G_OPTION_ARG_STRING, &stop_fds,
      "Ask for a broker stop on fd W, wait for \"ok\" on fd R", "W,R" },
    { "setuid-helper", 0, 0, G_OPTION_ARG_FILENAME, &helper, "The setuid-root helper to exec for comparison",
      "PATH" },
    { "sudo", 0, 0, G_OPTION_ARG_NONE, &want_sudo,
      "Also time 'sudo -n true' (skipped when sudo is missing or refuses)", NULL },
    { "kill-cgroup", 0, 0, G_OPTION_ARG_STRING, &kill_cgroup,
      "Missing cgroup for KillCgroup (default bench/none)", "CGROUP" },
    { "meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &meta, "Recorded in the results as is", "KEY=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Write the figures as JSON to FILE", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_FILENAME, &text_path, "Write the table to FILE", "FILE" },
    { NULL },
  };

  setlocale (LC_ALL, "C"); /* '.' as the decimal point in table and JSON */

  octx = g_option_context_new ("- time locald-brokerd calls against a setuid helper exec");
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    fail ("options", error);
  if (calls < 1 || warmup < 0 || cold < 0)
    {
      g_printerr ("bench-broker: --calls must be positive, --warmup and --cold not negative\n");
      return 2;
    }
  if (stop_fds && !parse_fd_pair (stop_fds, &b.stop_request_fd, &b.stop_done_fd))
    {
      g_printerr ("bench-broker: --stop-fds wants two fd numbers, W,R\n");
      return 2;
    }
  if (!stop_fds)
    cold = 0;
  b.kill_cgroup = kill_cgroup ? kill_cgroup : "bench/none";
  for (char **m = meta; m && *m; m++)
    {
      if (!strchr (*m, '=') || **m == '=')
        {
          g_printerr ("bench-broker: --meta wants KEY=VALUE, got \"%s\"\n", *m);
          return 2;
        }
      g_ptr_array_add (meta_list, *m);
    }

  conn = connect_bus (address, &error);
  if (!conn)
    fail ("connecting to the bus", error);
  b.conn = conn;

  /* Cold activation: the broker is stopped before every sample. */
  if (cold > 0)
    {
      static const BenchOnce cold_onces[] = { once_get_api_version, once_self_check };
      BenchRow *rows[] = {
        bench_row_new ("cold-get-api-version", "activation + Properties.Get ApiVersion", "bus policy"),
        bench_row_new ("cold-self-check", "activation + SelfCheck (first polkit check)", "polkit"),
      };

      for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
        g_ptr_array_add (cold_rows, rows[i]);
      if (!measure_cold (&b, cold_onces, rows, G_N_ELEMENTS (rows), cold, &error))
        fail ("cold activation", error);
      /* A fresh broker for the idle reading: activated by one Ping only. */
      if (!stop_broker (&b, &error))
        fail ("cold activation", error);
    }

  if (!bench_ping (conn, &error))
    fail ("activating the broker", error);
  pid_before = bench_broker_pid (conn, &error);
  if (!pid_before)
    fail ("finding the broker's pid", error);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND); /* let start-up settle: idle means idle */
  results.have_memory_fresh = bench_memory_read (pid_before, &results.memory_fresh, &error);
  if (!results.have_memory_fresh)
    {
      g_printerr ("bench-broker: warning: broker memory: %s\n", error->message);
      g_clear_error (&error);
    }

  /* With a delegated subtree KillCgroup walks one level further before it
   * finds nothing, as it would for a real locald user. */
  if (!bench_setup_cgroup_root (conn, NULL, &error))
    {
      g_printerr ("bench-broker: warning: SetupCgroupRoot: %s (KillCgroup stops at the missing subtree)\n",
                  error->message);
      g_clear_error (&error);
    }

  /* Warm rows against the broker. */
  {
    static const struct
    {
      const char *id, *label, *checked_by;
      BenchOnce once;
    } cases[] = {
      { "ping", "Peer.Ping (bus round trip, no polkit)", "bus policy", once_ping },
      { "get-api-version", "Properties.Get ApiVersion (no polkit)", "bus policy", once_get_api_version },
      { "self-check", "SelfCheck (polkit + privilege probes)", "polkit", once_self_check },
      { "kill-missing", "KillCgroup on a missing cgroup (0 killed)", "polkit", once_kill_missing },
      /* Not a broker call: the share of the two rows above that is polkit. */
      { "polkit-check", "polkit CheckAuthorization alone (kill-cgroup)", "polkit", once_polkit_check },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        BenchRow *row = bench_row_new (cases[i].id, cases[i].label, cases[i].checked_by);

        g_ptr_array_add (warm_rows, row);
        if (!measure_warm (&b, cases[i].once, warmup, calls, row, &error))
          fail (cases[i].label, error);
        results.warm_calls_total += warmup + calls;
      }
  }

  /* Read before the exec rows: they leave the broker idle, and its idle
   * timeout must not end it between here and the last broker call. */
  pid_after = bench_broker_pid (conn, &error);
  if (!pid_after)
    fail ("finding the broker's pid after the warm rows", error);
  results.broker_reused = pid_after == pid_before;
  results.have_memory_after = bench_memory_read (pid_after, &results.memory_after, &error);
  if (!results.have_memory_after)
    {
      g_printerr ("bench-broker: warning: broker memory: %s\n", error->message);
      g_clear_error (&error);
    }

  /* The exec rows: what a client of a setuid helper pays per operation. */
  {
    BenchRow *row
        = bench_row_new ("setuid-exec", "exec setuid-root helper (same lookup, 0 killed)", "nothing");

    g_ptr_array_add (warm_rows, row);
    if (!helper)
      row->skipped = g_strdup ("no --setuid-helper given");
    else if (!(cgroup_root = broker_cgroup_root (conn, &error)))
      fail ("the broker's cgroup root", error);
    else
      {
        b.helper_argv[0] = helper;
        b.helper_argv[1] = cgroup_root;
        b.helper_argv[2] = (char *)b.kill_cgroup;
        if (!measure_warm (&b, once_setuid_helper, warmup, calls, row, &error))
          fail (row->label, error);
      }
  }
  {
    BenchRow *row = bench_row_new ("sudo", "exec sudo -n true", "sudoers");

    g_ptr_array_add (warm_rows, row);
    if (!want_sudo)
      row->skipped = g_strdup ("not asked for (--sudo)");
    else if (!(sudo = g_find_program_in_path ("sudo")))
      row->skipped = g_strdup ("sudo is not installed");
    else
      {
        b.sudo_argv[0] = sudo;
        b.sudo_argv[1] = (char *)"-n";
        b.sudo_argv[2] = (char *)"true";
        /* One try decides: sudo refusing is a setup matter, not a figure. */
        if (!once_sudo (&b, &error))
          {
            row->skipped = g_strdup_printf ("sudo -n true failed: %s", error->message);
            g_strchomp (row->skipped);
            g_clear_error (&error);
          }
        else if (!measure_warm (&b, once_sudo, warmup, calls, row, &error))
          fail (row->label, error);
      }
  }

  results.meta = meta_list;
  results.warm_calls = calls;
  results.warm = warm_rows;
  results.cold = cold_rows;

  text = bench_report_text (&results);
  json = bench_report_json (&results);
  if (text_path && !write_file (text_path, text, &error))
    fail ("writing the table", error);
  if (json_path && !write_file (json_path, json, &error))
    fail ("writing the JSON", error);
  fputs (text, stdout);
  return 0;
}
