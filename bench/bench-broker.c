/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-broker: what locald's privileged operations cost through
 * locald-brokerd (sd-bus, and liblocald-broker with its fast path on and
 * off) side by side with the setuid helper it replaces, exec'd plainly, by
 * sudo -n and by pkexec, in one run, from one unprivileged client. See
 * bench/README.md; bench/run sets up the sandbox and runs this as the bench
 * user, and does for it what needs root (broker stops, fixtures, rm -rf).
 */
#include "config.h"

#include "bench-exec.h"
#include "bench-load.h"
#include "bench-memory.h"
#include "bench-report.h"
#include "bench-sdbus.h"
#include "bench-stats.h"
#include "bench-tree.h"
#include "broker/cgroup.h"
#include "client/locald-broker.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Entries of the tree each warm CleanupPath call removes. */
#define SMALL_TREE 10
/* Concurrency levels of the warm rows. */
static const guint CLIENTS[] = { 1, 8, 64 };
/* Untimed calls per client before each warm row. */
#define WARMUP_PER_CLIENT 2

static gint64 run_start_ns;

/* Progress on stderr, with the time into the run. */
static void progress (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
progress (const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("bench-broker: [%6.1f s] %s\n", (bench_now_ns () - run_start_ns) / 1e9, text);
}

typedef enum
{
  OP_PING,
  OP_POLKIT,
  OP_SELF_CHECK,
  OP_KILL_EMPTY,
  OP_CLEANUP_SMALL,
} Op;

typedef enum
{
  VIA_SDBUS,
  VIA_LIB_FAST,
  VIA_LIB_BROKER,
  VIA_SETUID,
  VIA_SUDO,
  VIA_PKEXEC,
  VIA_RAW, /* the bare kernel work, in-process: the floor of kill and cleanup */
} Via;

typedef struct
{
  sd_bus *bus;       /* the main thread's connection */
  char *cgroup_root; /* the broker's, relative to the mount */
  char *subtree;     /* absolute directory of the bench user's delegated subtree */
  char *locald;      /* the bench project's .locald directory */
  char *helper, *sudo, *pkexec;
  int stop_request_fd, stop_done_fd;
  guint seq; /* fixture names */
  guint calls;
  GPtrArray *rows;
} Bench;

typedef struct
{
  Bench *b;
  Op op;
  Via via;
  char *tag; /* fixture name prefix of the row */
} RowCtx;

typedef struct
{
  Via via;
  sd_bus *bus;
  LocaldPrivileged *cap;
} Client;

static const BenchSection SECTIONS[] = {
  { "floor", "Floor: what every checked call pays at least (warm)", TRUE },
  { "warm", "Warm: checked operations, N concurrent clients, back to back", TRUE },
  { "exec", "The setuid helper it replaces: the same operations, exec'd", TRUE },
  { "cold", "Cold: broker stopped before each sample, first call to reply", FALSE },
  { "kill-size", "KillCgroup of a populated cgroup, until empty and removed", FALSE },
  { "cleanup-size", "CleanupPath of a large tree", FALSE },
};

/* ---------------------------------------------------------------- root's help */

/* One request line to bench/run (root) and its one-line answer, which must
 * start with "ok"; the rest of the answer is returned. */
static gboolean root_request (Bench *b, char **ret_rest, GError **error, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

static gboolean
root_request (Bench *b, char **ret_rest, GError **error, const char *format, ...)
{
  g_autofree char *line = NULL;
  char reply[256] = "";
  gsize have = 0;
  va_list ap;

  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (b->stop_request_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "no root helper (--stop-fds) for \"%s\"",
                   line);
      return FALSE;
    }
  {
    g_autofree char *msg = g_strconcat (line, "\n", NULL);
    if (write (b->stop_request_fd, msg, strlen (msg)) != (ssize_t) strlen (msg))
      {
        int e = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "asking root for \"%s\": %s", line,
                     g_strerror (e));
        return FALSE;
      }
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
  g_strchomp (reply);
  if (!g_str_has_prefix (reply, "ok"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "root could not do \"%s\" (answer \"%s\")", line,
                   reply);
      return FALSE;
    }
  if (ret_rest)
    *ret_rest = g_strdup (g_strstrip (reply + 2));
  return TRUE;
}

static gboolean
stop_broker (Bench *b, GError **error)
{
  return root_request (b, NULL, error, "stop");
}

/* ---------------------------------------------------------------- clients */

static const char *
via_name (Via via)
{
  static const char *const names[]
      = { "sd-bus", "lib-fast", "lib-broker", "setuid", "sudo", "pkexec", "raw" };
  return names[via];
}

static const char *
op_name (Op op)
{
  static const char *const names[] = { "ping", "polkit", "self-check", "kill-empty", "cleanup-small" };
  return names[op];
}

static LocaldPrivileged *
acquire (gboolean fast, GError **error)
{
  g_autoptr (LocaldReport) report = NULL;
  LocaldPrivileged *cap
      = locald_privileged_acquire (LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION, NULL, &report, error);
  if (cap)
    locald_privileged_set_fast_path (cap, fast);
  return cap;
}

static gpointer
client_new (gpointer shared, guint index, GError **error)
{
  /* One at a time: 64 acquisitions at once would meet the broker's per-uid
   * call limit, and this part is not timed. */
  static GMutex lock;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);
  RowCtx *row = shared;
  Client *c = g_new0 (Client, 1);

  c->via = row->via;
  if (c->via == VIA_SDBUS && !(c->bus = bench_sdbus_open (error)))
    goto fail;
  if ((c->via == VIA_LIB_FAST || c->via == VIA_LIB_BROKER) && row->op != OP_SELF_CHECK
      && !(c->cap = acquire (c->via == VIA_LIB_FAST, error)))
    goto fail;
  return c;
fail:
  g_free (c);
  return NULL;
}

static void
client_free (gpointer data)
{
  Client *c = data;

  if (c->bus)
    sd_bus_flush_close_unref (c->bus);
  g_clear_object (&c->cap);
  g_free (c);
}

static gboolean
is_busy (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY)
         || g_error_matches (error, LOCALD_ERROR, LOCALD_ERROR_BUSY);
}

static gboolean
expect_count (guint64 got, guint64 want, const char *what, GError **error)
{
  if (got == want)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s returned %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, what, got, want);
  return FALSE;
}

static gboolean
expect_path (Client *c, GError **error)
{
  LocaldOperationPath want
      = c->via == VIA_LIB_FAST ? LOCALD_OPERATION_PATH_FAST : LOCALD_OPERATION_PATH_BROKER;

  if (locald_privileged_get_last_path (c->cap) == want)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the %s call ran path %d, expected %d",
               via_name (c->via), locald_privileged_get_last_path (c->cap), want);
  return FALSE;
}

/* A library acquisition that met the broker's call limit says so in its
 * report, not in an error code. */
static gboolean
report_says_busy (LocaldReport *report)
{
  GPtrArray *problems = report ? locald_report_get_problems (report) : NULL;

  for (guint i = 0; problems && i < problems->len; i++)
    if (g_strcmp0 (locald_problem_get_evidence_value (problems->pdata[i], "dbus_error"),
                   LOCALD_DBUS_ERROR_BUSY)
        == 0)
      return TRUE;
  return FALSE;
}

static gboolean
exec_helper (RowCtx *row, const char *op, const char *arg1, const char *arg2, guint64 want, GError **error)
{
  Bench *b = row->b;
  const char *argv[8];
  g_autofree char *out = NULL;
  guint n = 0;

  if (row->via == VIA_SUDO)
    {
      argv[n++] = b->sudo;
      argv[n++] = "-n";
    }
  else if (row->via == VIA_PKEXEC)
    argv[n++] = b->pkexec;
  argv[n++] = b->helper;
  argv[n++] = op;
  argv[n++] = arg1;
  if (arg2)
    argv[n++] = arg2;
  argv[n] = NULL;
  if (!bench_exec (argv, &out, error))
    return FALSE;
  return expect_count (g_ascii_strtoull (out, NULL, 10), want, argv[0], error);
}

static gboolean raw_kill (const char *dir, GError **error);

static gboolean
raw_cleanup (const char *path, guint64 want, GError **error)
{
  unsigned long removed = 0;
  int r = bench_tree_remove (path, &removed);

  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "removing %s: %s", path, g_strerror (-r));
      return FALSE;
    }
  return expect_count (removed, want, "the raw walk", error);
}

static gboolean
client_call (gpointer data, gpointer shared, guint index, gboolean *ret_busy, GError **error)
{
  Client *c = data;
  RowCtx *row = shared;
  Bench *b = row->b;
  g_autofree char *name = NULL;
  gboolean ok = FALSE;

  switch (row->op)
    {
    case OP_PING:
      ok = bench_sdbus_ping (c->bus, error);
      break;
    case OP_POLKIT:
      ok = bench_sdbus_polkit_check (c->bus, LOCALD_ACTION_KILL_CGROUP, error);
      break;
    case OP_SELF_CHECK:
      if (c->via == VIA_SDBUS)
        ok = bench_sdbus_self_check (c->bus, error);
      else
        {
          g_autoptr (LocaldReport) report = NULL;
          g_autoptr (LocaldPrivileged) cap = locald_privileged_acquire (
              LOCALD_ACQUIRE_FLAGS_NO_INTERACTIVE_AUTHORIZATION, NULL, &report, error);
          ok = cap != NULL;
          if (!ok && report_says_busy (report))
            *ret_busy = TRUE;
        }
      break;
    case OP_KILL_EMPTY:
      name = g_strdup_printf ("bench/%s-%u", row->tag, index);
      if (c->via == VIA_SDBUS)
        {
          guint32 killed = 1;
          ok = bench_sdbus_kill (c->bus, name, &killed, error)
               && expect_count (killed, 0, "KillCgroup", error);
        }
      else if (c->via == VIA_RAW)
        {
          g_autofree char *dir = g_strdup_printf ("%s/%s", b->subtree, name);
          ok = raw_kill (dir, error);
        }
      else if (c->cap)
        {
          guint killed = 1;
          ok = locald_privileged_kill_cgroup (c->cap, name, &killed, NULL, error)
               && expect_count (killed, 0, "kill_cgroup", error) && expect_path (c, error);
        }
      else
        ok = exec_helper (row, "kill", b->cgroup_root, name, 0, error);
      break;
    case OP_CLEANUP_SMALL:
      name = g_strdup_printf ("%s/%s-%u", b->locald, row->tag, index);
      if (c->via == VIA_SDBUS)
        {
          guint64 removed = 0;
          ok = bench_sdbus_cleanup (c->bus, name, &removed, error)
               && expect_count (removed, SMALL_TREE, "CleanupPath", error);
        }
      else if (c->via == VIA_RAW)
        ok = raw_cleanup (name, SMALL_TREE, error);
      else if (c->cap)
        {
          guint64 removed = 0;
          ok = locald_privileged_cleanup_path (c->cap, name, &removed, NULL, error)
               && expect_count (removed, SMALL_TREE, "cleanup_path", error) && expect_path (c, error);
        }
      else
        ok = exec_helper (row, "cleanup", name, NULL, SMALL_TREE, error);
      break;
    }
  if (!ok && error && *error && is_busy (*error))
    *ret_busy = TRUE;
  return ok;
}

/* ---------------------------------------------------------------- fixtures */

static gboolean
make_fixtures (RowCtx *row, guint n, GError **error)
{
  Bench *b = row->b;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = NULL;
      int r = 0;

      if (row->op == OP_KILL_EMPTY)
        {
          path = g_strdup_printf ("%s/bench/%s-%u", b->subtree, row->tag, i);
          r = mkdir (path, 0755) < 0 ? -errno : 0;
        }
      else if (row->op == OP_CLEANUP_SMALL)
        {
          path = g_strdup_printf ("%s/%s-%u", b->locald, row->tag, i);
          r = bench_tree_make (path, SMALL_TREE);
        }
      if (r < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "fixture %s: %s", path,
                       g_strerror (-r));
          return FALSE;
        }
    }
  return TRUE;
}

/* ---------------------------------------------------------------- warm rows */

static const char *
checked_by (Via via, Op op)
{
  if (op == OP_PING)
    return "bus";
  switch (via)
    {
    case VIA_LIB_FAST:
    case VIA_RAW:
      return "kernel";
    case VIA_SETUID:
      return "nothing";
    case VIA_SUDO:
      return "sudoers";
    case VIA_PKEXEC:
      return "polkit";
    default:
      return "polkit";
    }
}

static char *
label_for (Op op, Via via)
{
  static const char *const ops[] = { "Peer.Ping", "polkit CheckAuthorization (kill-cgroup)", "SelfCheck",
                                     "KillCgroup, empty cgroup", "CleanupPath, 10-entry tree" };
  static const char *const vias[] = { "sd-bus",
                                      "library, fast path",
                                      "library, fast path off",
                                      "exec setuid helper",
                                      "sudo -n setuid helper",
                                      "pkexec setuid helper",
                                      "raw syscalls in-process (the kernel's part)" };

  if (op == OP_SELF_CHECK && via != VIA_SDBUS)
    return g_strdup ("SelfCheck: library acquire (GetAll + SelfCheck)");
  if (op == OP_PING || op == OP_POLKIT)
    return g_strdup_printf ("%s (%s)", ops[op], vias[via]);
  return g_strdup_printf ("%s: %s", ops[op], vias[via]);
}

static BenchRow *
run_warm (Bench *b, const char *section, Op op, Via via, guint clients, guint calls, GError **error)
{
  g_autofree char *series = g_strdup_printf ("%s/%s", op_name (op), via_name (via));
  g_autofree char *label = label_for (op, via);
  BenchRow *row = bench_row_new (section, series, clients, label, checked_by (via, op));
  RowCtx ctx = { .b = b, .op = op, .via = via };
  BenchOp bop = { .client_new = client_new, .client_free = client_free, .call = client_call, .shared = &ctx };
  BenchLoadResult res = { 0 };
  g_autofree char *tag = g_strdup_printf ("r%u", ++b->seq);

  ctx.tag = tag;
  g_ptr_array_add (b->rows, row);
  if ((via == VIA_SUDO && !b->sudo) || (via == VIA_PKEXEC && !b->pkexec))
    {
      row->skipped = g_strdup_printf ("%s is not installed or refuses the bench user", via_name (via));
      return row;
    }
  if (!make_fixtures (&ctx, clients * WARMUP_PER_CLIENT + calls, error))
    return NULL;
  if (!bench_load_run (&bop, clients, WARMUP_PER_CLIENT, calls, &res, error))
    {
      bench_load_result_clear (&res);
      /* sudo or pkexec refusing is a matter of the host's set-up, not a
       * figure: say why the row is missing. */
      if (via != VIA_SUDO && via != VIA_PKEXEC)
        return NULL;
      row->skipped = g_strdup_printf ("%s failed: %s", via_name (via), (*error)->message);
      g_strchomp (row->skipped);
      g_clear_error (error);
      return row;
    }
  bench_summarize (res.samples, res.wall_ns, &row->summary);
  row->busy = res.busy;
  bench_load_result_clear (&res);
  progress ("%-60s c=%-2u median %.3f ms", row->label, clients, row->summary.median_ms);
  return row;
}

/* ---------------------------------------------------------------- cold rows */

typedef gboolean (*ColdOnce) (Bench *b, GError **error);

static gboolean
cold_get (Bench *b, GError **error)
{
  return bench_sdbus_get_api_version (b->bus, error);
}

static gboolean
cold_self_check (Bench *b, GError **error)
{
  return bench_sdbus_self_check (b->bus, error);
}

static gboolean
cold_kill (Bench *b, GError **error)
{
  return bench_sdbus_kill (b->bus, "bench/none", NULL, error);
}

static gboolean
cold_acquire (Bench *b, GError **error)
{
  g_autoptr (LocaldPrivileged) cap = acquire (TRUE, error);
  return cap != NULL;
}

/* Rows interleaved sample by sample, so a drift of the host over the run
 * hits every row alike. */
static gboolean
run_cold (Bench *b, guint samples, GError **error)
{
  static const struct
  {
    const char *id, *label, *checked;
    ColdOnce once;
  } rows[] = {
    { "cold/get-api-version", "activation + Properties.Get ApiVersion (sd-bus)", "bus", cold_get },
    { "cold/self-check", "activation + SelfCheck (sd-bus)", "polkit", cold_self_check },
    { "cold/kill", "activation + KillCgroup, first authorized call (sd-bus)", "polkit", cold_kill },
    { "cold/acquire", "activation + library acquire (GetAll + SelfCheck)", "polkit", cold_acquire },
  };
  GArray *series[G_N_ELEMENTS (rows)];

  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    series[r] = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < samples; i++)
    for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
      {
        gint64 t0;
        double ms;

        if (!stop_broker (b, error))
          return FALSE;
        t0 = bench_now_ns ();
        if (!rows[r].once (b, error))
          return FALSE;
        ms = (bench_now_ns () - t0) / 1e6;
        g_array_append_val (series[r], ms);
      }
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    {
      BenchRow *row = bench_row_new ("cold", rows[r].id, 1, rows[r].label, rows[r].checked);
      bench_summarize (series[r], 0, &row->summary);
      g_array_unref (series[r]);
      g_ptr_array_add (b->rows, row);
    }
  return TRUE;
}

/* ---------------------------------------------------------------- sized rows */

/* The raw kernel cost: what any tool does, here by the owner itself. */
static gboolean
raw_kill (const char *dir, GError **error)
{
  g_autofree char *kill_path = g_build_filename (dir, "cgroup.kill", NULL);
  g_autofree char *events_path = g_build_filename (dir, "cgroup.events", NULL);
  int events = open (events_path, O_RDONLY | O_CLOEXEC);
  int kill_fd = open (kill_path, O_WRONLY | O_CLOEXEC);

  if (events < 0 || kill_fd < 0 || write (kill_fd, "1", 1) != 1)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cgroup.kill of %s: %s", dir,
                   g_strerror (e));
      if (events >= 0)
        close (events);
      if (kill_fd >= 0)
        close (kill_fd);
      return FALSE;
    }
  close (kill_fd);
  for (;;)
    {
      char buf[256];
      ssize_t n = pread (events, buf, sizeof buf - 1, 0);
      struct pollfd p = { .fd = events, .events = POLLPRI };

      if (n < 0)
        break;
      buf[n] = '\0';
      if (strstr (buf, "populated 0"))
        break;
      (void) poll (&p, 1, 100);
    }
  close (events);
  if (rmdir (dir) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "rmdir %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* One timed sample of method m on a fresh fixture of the given size. */
typedef gboolean (*SizedOnce) (
    Bench *b, LocaldPrivileged *fast_cap, guint size, guint m, double *ret_ms, GError **error);

typedef struct
{
  const char *section, *prefix; /* rows "<prefix>-<size>/<id>" */
  const char *unit;             /* "processes", "entries" */
  guint n_methods;
  const char *const *labels, *const *ids, *const *checked;
  SizedOnce once;
} SizedRows;

/* Sizes by rows of methods; within a size the methods take turns sample by
 * sample, so a drift of the host hits each of them alike. */
static gboolean
run_sized (Bench *b,
           LocaldPrivileged *fast_cap,
           const SizedRows *spec,
           const guint *sizes,
           const guint *samples,
           gsize n_sizes,
           GError **error)
{
  for (gsize s = 0; s < n_sizes; s++)
    {
      g_autoptr (GPtrArray) series = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
      BenchRow *rows[8];

      g_assert (spec->n_methods <= G_N_ELEMENTS (rows));
      for (guint m = 0; m < spec->n_methods; m++)
        {
          g_autofree char *id = g_strdup_printf ("%s-%u/%s", spec->prefix, sizes[s], spec->ids[m]);
          g_autofree char *label = g_strdup_printf ("%s, %u %s", spec->labels[m], sizes[s], spec->unit);

          rows[m] = bench_row_new (spec->section, id, 1, label, spec->checked[m]);
          g_ptr_array_add (b->rows, rows[m]);
          g_ptr_array_add (series, g_array_new (FALSE, FALSE, sizeof (double)));
        }
      for (guint i = 0; i < samples[s]; i++)
        for (guint m = 0; m < spec->n_methods; m++)
          {
            double ms;

            if (!spec->once (b, fast_cap, sizes[s], m, &ms, error))
              return FALSE;
            g_array_append_val (series->pdata[m], ms);
          }
      for (guint m = 0; m < spec->n_methods; m++)
        {
          bench_summarize (series->pdata[m], 0, &rows[m]->summary);
          progress ("%-60s median %.1f ms", rows[m]->label, rows[m]->summary.median_ms);
        }
    }
  return TRUE;
}

/* m: 0 KillCgroup over sd-bus (the broker), 1 the library's fast path,
 * 2 raw cgroup.kill + wait + rmdir in-process. */
static gboolean
kill_once (Bench *b, LocaldPrivileged *fast_cap, guint procs, guint m, double *ret_ms, GError **error)
{
  g_autofree char *name = g_strdup_printf ("bench/big-%u", ++b->seq);
  g_autofree char *dir = g_strdup_printf ("%s/%s", b->subtree, name);
  gint64 t0;
  gboolean ok;

  if (mkdir (dir, 0755) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "mkdir %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  if (!root_request (b, NULL, error, "procs %s %u", dir, procs))
    return FALSE;
  t0 = bench_now_ns ();
  if (m == 0)
    {
      guint32 killed = 0;
      ok = bench_sdbus_kill (b->bus, name, &killed, error)
           && expect_count (killed, procs, "KillCgroup", error);
    }
  else if (m == 1)
    {
      guint killed = 0;
      ok = locald_privileged_kill_cgroup (fast_cap, name, &killed, NULL, error)
           && expect_count (killed, procs, "kill_cgroup", error);
    }
  else
    ok = raw_kill (dir, error);
  *ret_ms = (bench_now_ns () - t0) / 1e6;
  return ok;
}

static gboolean
run_kill_sizes (Bench *b, LocaldPrivileged *fast_cap, GError **error)
{
  static const guint sizes[] = { 10, 1000, 10000 }, samples[] = { 5, 3, 3 };
  static const char *const labels[] = { "KillCgroup: sd-bus (broker)", "KillCgroup: library, fast path",
                                        "raw cgroup.kill + wait + rmdir (in-process)" };
  static const char *const ids[] = { "sd-bus", "lib-fast", "raw" };
  static const char *const checked[] = { "polkit", "kernel", "kernel" };
  const SizedRows spec = { "kill-size", "kill", "processes", 3, labels, ids, checked, kill_once };

  return run_sized (b, fast_cap, &spec, sizes, samples, G_N_ELEMENTS (sizes), error);
}

static gboolean
rm_rf_as_user (const char *path, GError **error)
{
  const char *argv[] = { "/bin/rm", "-rf", "--one-file-system", path, NULL };
  return bench_exec (argv, NULL, error);
}

/* m: 0 CleanupPath of a root-owned tree (the broker), 1 rm -rf of one as
 * root (timed by root, without the request's trip), 2 the library's fast
 * path on a tree of the user's, 3 rm -rf of one as the user. */
static gboolean
cleanup_once (Bench *b, LocaldPrivileged *fast_cap, guint entries, guint m, double *ret_ms, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/big-%u", b->locald, ++b->seq);
  g_autofree char *ns = NULL;
  guint64 removed = 0;
  gint64 t0;
  gboolean ok;

  if (m < 2)
    ok = root_request (b, NULL, error, "tree %s %u", path, entries);
  else
    {
      int r = bench_tree_make (path, entries);
      ok = r == 0;
      if (!ok)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "tree %s: %s", path, g_strerror (-r));
    }
  if (!ok)
    return FALSE;
  t0 = bench_now_ns ();
  if (m == 0)
    ok = bench_sdbus_cleanup (b->bus, path, &removed, error)
         && expect_count (removed, entries, "CleanupPath", error);
  else if (m == 1)
    ok = root_request (b, &ns, error, "rmrf %s", path);
  else if (m == 2)
    ok = locald_privileged_cleanup_path (fast_cap, path, &removed, NULL, error)
         && expect_count (removed, entries, "cleanup_path", error);
  else
    ok = rm_rf_as_user (path, error);
  *ret_ms = ns ? g_ascii_strtoull (ns, NULL, 10) / 1e6 : (bench_now_ns () - t0) / 1e6;
  return ok;
}

static gboolean
run_cleanup_sizes (Bench *b, LocaldPrivileged *fast_cap, GError **error)
{
  static const guint sizes[] = { 1000, 100000 }, samples[] = { 3, 3 };
  static const char *const labels[]
      = { "CleanupPath, root-owned tree: sd-bus (broker)", "rm -rf as root, root-owned tree",
          "CleanupPath, user's tree: library, fast path", "rm -rf as the user, user's tree" };
  static const char *const ids[] = { "sd-bus", "rm-root", "lib-fast", "rm-user" };
  static const char *const checked[] = { "polkit", "nothing", "kernel", "kernel" };
  const SizedRows spec = { "cleanup-size", "cleanup", "entries", 4, labels, ids, checked, cleanup_once };

  return run_sized (b, fast_cap, &spec, sizes, samples, G_N_ELEMENTS (sizes), error);
}

/* ---------------------------------------------------------------- targets */

static const BenchRow *
find_row (Bench *b, const char *id)
{
  for (guint i = 0; i < b->rows->len; i++)
    {
      const BenchRow *row = b->rows->pdata[i];
      if (g_str_equal (row->id, id) && !row->skipped && row->summary.n > 0)
        return row;
    }
  return NULL;
}

static double
median_of (Bench *b, const char *id)
{
  const BenchRow *row = find_row (b, id);
  return row ? row->summary.median_ms : -1;
}

static void target (GPtrArray *out, gboolean have, gboolean met, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

static void
target (GPtrArray *out, gboolean have, gboolean met, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_ptr_array_add (out, g_strdup_printf ("%-7s %s", !have ? "n/a:" : met ? "met:" : "missed:", text));
}

static void
ratio_target (
    GPtrArray *out, Bench *b, const char *slow_id, const char *fast_id, double want, const char *what)
{
  double slow = median_of (b, slow_id), fast = median_of (b, fast_id);
  gboolean have = slow > 0 && fast > 0;

  target (out, have, have && slow / fast >= want, "%s: %.2fx (want >= %.1fx; %.3f vs %.3f ms)", what,
          have ? slow / fast : 0, want, fast, slow);
}

static void
at_most_target (GPtrArray *out,
                Bench *b,
                const char *id,
                const char *base_id,
                double base_extra,
                double want,
                const char *what)
{
  double v = median_of (b, id), base = median_of (b, base_id);
  gboolean have = v > 0 && base > 0;

  base += base_extra;
  target (out, have, have && v / base <= want, "%s: %.2fx (want <= %.2fx; %.3f vs %.3f ms)", what,
          have ? v / base : 0, want, v, base);
}

static GPtrArray *
compute_targets (Bench *b, const BenchResults *r, double fresh_anon, double after_anon, double peak_anon)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  double polkit = median_of (b, "polkit/sd-bus/c1");
  double cold = median_of (b, "cold/kill/c1");

  ratio_target (out, b, "kill-empty/setuid/c1", "kill-empty/lib-fast/c1", 5,
                "fast-path kill vs setuid helper exec");
  ratio_target (out, b, "cleanup-small/setuid/c1", "cleanup-small/lib-fast/c1", 5,
                "fast-path cleanup vs setuid helper exec");
  at_most_target (out, b, "kill-empty/sd-bus/c1", "ping/sd-bus/c1", polkit > 0 ? polkit : 0, 1.3,
                  "broker path KillCgroup vs floor (ping + polkit check)");
  at_most_target (out, b, "cleanup-small/sd-bus/c1", "ping/sd-bus/c1", polkit > 0 ? polkit : 0, 1.3,
                  "broker path CleanupPath vs floor (ping + polkit check)");
  ratio_target (out, b, "kill-empty/sudo/c1", "kill-empty/sd-bus/c1", 2.5,
                "broker path KillCgroup vs sudo -n helper");
  ratio_target (out, b, "kill-empty/pkexec/c1", "kill-empty/sd-bus/c1", 7,
                "broker path KillCgroup vs pkexec helper");
  target (out, cold > 0, cold > 0 && cold <= 10,
          "cold first authorized call (KillCgroup) p50: %.3f ms (want <= 10)", cold);
  at_most_target (out, b, "kill-10000/sd-bus/c1", "kill-10000/raw/c1", 0, 1.1,
                  "KillCgroup (broker) at 10,000 processes vs raw");
  at_most_target (out, b, "kill-10000/lib-fast/c1", "kill-10000/raw/c1", 0, 1.1,
                  "KillCgroup (fast path) at 10,000 processes vs raw");
  at_most_target (out, b, "cleanup-100000/sd-bus/c1", "cleanup-100000/rm-root/c1", 0, 1.1,
                  "CleanupPath (broker) at 100,000 entries vs rm -rf as root");
  at_most_target (out, b, "cleanup-100000/lib-fast/c1", "cleanup-100000/rm-user/c1", 0, 1.1,
                  "CleanupPath (fast path) at 100,000 entries vs rm -rf as the user");
  target (out, r->have_idle_cpu, r->have_idle_cpu && r->idle_cpu_ms == 0,
          "broker CPU time while idle: %.0f ms in %.1f s (want 0)", r->idle_cpu_ms, r->idle_cpu_window_s);
  target (out, fresh_anon > 0 && after_anon > 0, fresh_anon <= 1024 && after_anon <= 1024,
          "broker RssAnon idle: %.0f kB fresh, %.0f kB idle after the load (want <= 1024)", fresh_anon,
          after_anon);
  target (out, fresh_anon > 0 && after_anon > 0, after_anon <= fresh_anon * 1.1 + 64,
          "no growth under load: %.0f kB idle after vs %.0f kB fresh (peak under load %.0f kB)", after_anon,
          fresh_anon, peak_anon);
  return out;
}

/* ---------------------------------------------------------------- main */

static gboolean
parse_fd_pair (const char *text, int *ret_a, int *ret_b)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", 3);
  guint64 a, b;

  if (g_strv_length (parts) != 2 || !g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXINT, &a, NULL)
      || !g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT, &b, NULL))
    return FALSE;
  *ret_a = (int) a;
  *ret_b = (int) b;
  return TRUE;
}

G_NORETURN static void
fail (const char *what, const GError *error)
{
  g_printerr ("bench-broker: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

static void
read_memory (Bench *b, BenchResults *r, const char *what, BenchMemory *ret)
{
  GError *error = NULL;
  guint32 pid = bench_sdbus_broker_pid (b->bus, &error);
  BenchMemoryReading *m = g_new0 (BenchMemoryReading, 1);

  if (!pid || !bench_memory_read (pid, &m->memory, &error))
    {
      g_printerr ("bench-broker: warning: broker memory (%s): %s\n", what, error ? error->message : "?");
      g_clear_error (&error);
      g_free (m);
      return;
    }
  m->what = g_strdup (what);
  if (ret)
    *ret = m->memory;
  g_ptr_array_add (r->memory, m);
}

/* The broker's CPU time over a window in which nobody calls it. */
static gboolean
idle_cpu (Bench *b, double window_s, double *ret_ms)
{
  guint32 pid = bench_sdbus_broker_pid (b->bus, NULL);
  double before, after;

  if (!pid || !bench_cpu_read (pid, &before, NULL))
    return FALSE;
  g_usleep ((gulong) (window_s * G_USEC_PER_SEC));
  if (bench_sdbus_broker_pid (b->bus, NULL) != pid || !bench_cpu_read (pid, &after, NULL))
    return FALSE;
  *ret_ms = after - before;
  return TRUE;
}

static char *
find_usable (const char *name)
{
  return g_find_program_in_path (name);
}

int
main (int argc, char **argv)
{
  g_autofree char *stop_fds = NULL, *helper = NULL, *json_path = NULL, *text_path = NULL, *plot_path = NULL;
  g_autofree char *project = NULL, *mount = NULL;
  g_auto (GStrv) meta = NULL;
  gint calls = 400, cold = 10;
  gboolean no_sudo = FALSE, no_pkexec = FALSE;
  g_autoptr (GOptionContext) octx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) meta_list = g_ptr_array_new ();
  g_autoptr (LocaldPrivileged) fast_cap = NULL;
  BenchResults results = { 0 };
  Bench b = { .stop_request_fd = -1, .stop_done_fd = -1 };
  BenchMemory fresh = { 0 }, after = { 0 }, peak = { 0 };
  guint32 pid_before, pid_after;

  const GOptionEntry entries[] = {
    { "calls", 'n', 0, G_OPTION_ARG_INT, &calls, "Timed calls per warm row (default 400)", "N" },
    { "cold", 0, 0, G_OPTION_ARG_INT, &cold, "Samples per cold row (default 10)", "N" },
    { "stop-fds", 0, 0, G_OPTION_ARG_STRING, &stop_fds, "Requests to root on fd W, answers on fd R", "W,R" },
    { "setuid-helper", 0, 0, G_OPTION_ARG_FILENAME, &helper, "The setuid-root helper to exec for comparison",
      "PATH" },
    { "project", 0, 0, G_OPTION_ARG_FILENAME, &project, "A directory of the bench user for the .locald trees",
      "DIR" },
    { "no-sudo", 0, 0, G_OPTION_ARG_NONE, &no_sudo, "Skip the sudo rows", NULL },
    { "no-pkexec", 0, 0, G_OPTION_ARG_NONE, &no_pkexec, "Skip the pkexec rows", NULL },
    { "meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &meta, "Recorded in the results as is", "KEY=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Write the figures as JSON to FILE", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_FILENAME, &text_path, "Write the table to FILE", "FILE" },
    { "plot-data", 0, 0, G_OPTION_ARG_FILENAME, &plot_path,
      "Write latency against concurrency (gnuplot) to FILE", "FILE" },
    { NULL },
  };

  setlocale (LC_ALL, "C"); /* '.' as the decimal point in table and JSON */
  run_start_ns = bench_now_ns ();

  octx = g_option_context_new ("- time locald-brokerd against the setuid helper it replaces");
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    fail ("options", error);
  if (calls < 1 || cold < 1 || !stop_fds || !parse_fd_pair (stop_fds, &b.stop_request_fd, &b.stop_done_fd)
      || !helper || !project)
    {
      g_printerr (
          "bench-broker: needs --stop-fds W,R, --setuid-helper and --project (bench/run passes them), "
          "positive --calls and --cold\n");
      return 2;
    }
  for (char **m = meta; m && *m; m++)
    g_ptr_array_add (meta_list, *m);
  b.calls = (guint) calls;
  b.helper = helper;
  b.sudo = no_sudo ? NULL : find_usable ("sudo");
  b.pkexec = no_pkexec ? NULL : find_usable ("pkexec");
  b.rows = g_ptr_array_new_with_free_func ((GDestroyNotify) bench_row_free);
  b.locald = g_build_filename (project, ".locald", NULL);
  results.memory = g_ptr_array_new_with_free_func ((GDestroyNotify) bench_memory_reading_free);

  if (!(b.bus = bench_sdbus_open (&error)))
    fail ("connecting to the bus", error);
  {
    g_autofree char *root = NULL;
    if (!bench_sdbus_get_cgroup_root (b.bus, &root, &error) || !bench_sdbus_setup (b.bus, NULL, &error))
      fail ("setting up the bench user's cgroup subtree", error);
    b.cgroup_root = g_strdup (root + strspn (root, "/"));
  }
  if (!cgroup_find_v2_mount ("/proc/self/mountinfo", &mount, &error))
    fail ("finding cgroup2", error);
  b.subtree = g_strdup_printf ("%s/%s/user-%u", mount, b.cgroup_root, (unsigned) getuid ());
  {
    g_autofree char *bench_cg = g_build_filename (b.subtree, "bench", NULL);
    if ((mkdir (bench_cg, 0755) < 0 && errno != EEXIST) || (mkdir (b.locald, 0755) < 0 && errno != EEXIST))
      {
        g_printerr ("bench-broker: cannot create %s or %s: %s\n", bench_cg, b.locald, g_strerror (errno));
        return 1;
      }
  }

  /* Cold first: each sample stops the broker. */
  if (!run_cold (&b, (guint) cold, &error))
    fail ("cold rows", error);
  progress ("cold rows done");

  /* A fresh broker, activated by one Ping, for the idle readings. */
  if (!stop_broker (&b, &error) || !bench_sdbus_ping (b.bus, &error))
    fail ("activating the broker", error);
  g_usleep (300 * G_TIME_SPAN_MILLISECOND);
  read_memory (&b, &results, "just activated (one Ping)", &fresh);
  pid_before = bench_sdbus_broker_pid (b.bus, &error);
  if (!pid_before)
    fail ("finding the broker's pid", error);

  /* Warm rows against the broker, sampled for memory under load. */
  {
    static const struct
    {
      const char *section;
      Op op;
      Via via;
    } warm[] = {
      { "floor", OP_PING, VIA_SDBUS },
      { "floor", OP_POLKIT, VIA_SDBUS },
      { "floor", OP_KILL_EMPTY, VIA_RAW },
      { "floor", OP_CLEANUP_SMALL, VIA_RAW },
      { "warm", OP_SELF_CHECK, VIA_SDBUS },
      { "warm", OP_SELF_CHECK, VIA_LIB_BROKER },
      { "warm", OP_KILL_EMPTY, VIA_SDBUS },
      { "warm", OP_KILL_EMPTY, VIA_LIB_BROKER },
      { "warm", OP_KILL_EMPTY, VIA_LIB_FAST },
      { "warm", OP_CLEANUP_SMALL, VIA_SDBUS },
      { "warm", OP_CLEANUP_SMALL, VIA_LIB_BROKER },
      { "warm", OP_CLEANUP_SMALL, VIA_LIB_FAST },
    };
    BenchSampler *sampler = bench_memory_sampler_start (pid_before);

    for (gsize i = 0; i < G_N_ELEMENTS (warm); i++)
      for (gsize c = 0; c < G_N_ELEMENTS (CLIENTS); c++)
        if (!run_warm (&b, warm[i].section, warm[i].op, warm[i].via, CLIENTS[c], b.calls, &error))
          fail (op_name (warm[i].op), error);
    if (bench_memory_sampler_stop (sampler, &peak))
      {
        BenchMemoryReading *m = g_new0 (BenchMemoryReading, 1);
        m->what = g_strdup ("peak during the warm rows (up to 64 clients)");
        m->memory = peak;
        g_ptr_array_add (results.memory, m);
      }
  }
  pid_after = bench_sdbus_broker_pid (b.bus, &error);
  if (!pid_after)
    fail ("finding the broker's pid after the warm rows", error);
  results.broker_reused = pid_after == pid_before;
  /* Idle after the load: the broker trims its heap a moment after its
   * last call; then nobody calls it for the CPU window. */
  g_usleep (2 * G_USEC_PER_SEC);
  read_memory (&b, &results, "idle after the warm rows", &after);
  results.idle_cpu_window_s = 3.0;
  results.have_idle_cpu = idle_cpu (&b, results.idle_cpu_window_s, &results.idle_cpu_ms);

  /* The helper it replaces. */
  for (gsize c = 0; c < G_N_ELEMENTS (CLIENTS); c++)
    if (!run_warm (&b, "exec", OP_KILL_EMPTY, VIA_SETUID, CLIENTS[c], b.calls, &error)
        || !run_warm (&b, "exec", OP_CLEANUP_SMALL, VIA_SETUID, CLIENTS[c], b.calls, &error))
      fail ("setuid helper", error);
  /* sudo and pkexec cost tens of ms a call: fewer calls, one client. */
  if (!run_warm (&b, "exec", OP_KILL_EMPTY, VIA_SUDO, 1, MAX (b.calls / 4, 20), &error)
      || !run_warm (&b, "exec", OP_CLEANUP_SMALL, VIA_SUDO, 1, MAX (b.calls / 4, 20), &error)
      || !run_warm (&b, "exec", OP_KILL_EMPTY, VIA_PKEXEC, 1, MAX (b.calls / 8, 20), &error)
      || !run_warm (&b, "exec", OP_CLEANUP_SMALL, VIA_PKEXEC, 1, MAX (b.calls / 8, 20), &error))
    fail ("sudo / pkexec", error);

  /* Sizes. */
  if (!(fast_cap = acquire (TRUE, &error)))
    fail ("acquiring a capability", error);
  if (!run_kill_sizes (&b, fast_cap, &error))
    fail ("KillCgroup sizes", error);
  if (!run_cleanup_sizes (&b, fast_cap, &error))
    fail ("CleanupPath sizes", error);

  results.meta = meta_list;
  results.sections = SECTIONS;
  results.n_sections = G_N_ELEMENTS (SECTIONS);
  results.rows = b.rows;
  results.targets = compute_targets (&b, &results, fresh.rss_anon_kb, after.rss_anon_kb, peak.rss_anon_kb);

  {
    g_autofree char *text = bench_report_text (&results);
    g_autofree char *json = bench_report_json (&results);
    g_autoptr (GPtrArray) titles = NULL;
    g_autofree char *plot = bench_report_plot_data (&results, &titles);

    if ((text_path && !g_file_set_contents (text_path, text, -1, &error))
        || (json_path && !g_file_set_contents (json_path, json, -1, &error))
        || (plot_path && !g_file_set_contents (plot_path, plot, -1, &error)))
      fail ("writing the results", error);
    fputs (text, stdout);
  }
  return 0;
}
