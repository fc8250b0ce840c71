/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-load.h"

#include "bench-stats.h"

/* A Busy answer (the broker's per-caller limit) is retried after this long,
 * as a client following the error's advice would. */
#define BUSY_RETRY_US 200

typedef struct
{
  const BenchOp *op;
  guint clients, warmup, calls;
  GMutex lock;
  GCond cond;
  guint ready; /* clients done with set-up and warm-up */
  gboolean go; /* timing started */
  gboolean failed;
  GError *error;   /* the first failure */
  gint next_warm;  /* next warm-up index */
  gint next_timed; /* next timed call, 0 .. calls-1 */
  gint64 start_ns;
  gint64 end_ns;
  guint busy;
} Load;

typedef struct
{
  Load *load;
  guint index;
  GArray *samples;
  GThread *thread;
} Client;

static void
load_fail (Load *l, GError *error)
{
  g_mutex_lock (&l->lock);
  if (!l->failed)
    l->error = error;
  else
    g_error_free (error);
  l->failed = TRUE;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
}

static gboolean
one_call (Load *l, gpointer state, guint index, GError **error)
{
  for (;;)
    {
      gboolean busy = FALSE;

      if (l->op->call (state, l->op->shared, index, &busy, error))
        return TRUE;
      if (!busy)
        return FALSE;
      g_clear_error (error);
      g_atomic_int_inc ((gint *) &l->busy);
      g_usleep (BUSY_RETRY_US);
    }
}

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  Load *l = c->load;
  GError *error = NULL;
  gpointer state = NULL;

  if (l->op->client_new && !(state = l->op->client_new (l->op->shared, c->index, &error)))
    goto out;
  for (guint i = 0; i < l->warmup; i++)
    if (!one_call (l, state, (guint) g_atomic_int_add (&l->next_warm, 1), &error))
      goto out;

  g_mutex_lock (&l->lock);
  l->ready++;
  g_cond_broadcast (&l->cond);
  while (!l->go && !l->failed)
    g_cond_wait (&l->cond, &l->lock);
  g_mutex_unlock (&l->lock);

  while (!l->failed)
    {
      gint n = g_atomic_int_add (&l->next_timed, 1);
      gint64 t0;
      double ms;

      if (n >= (gint) l->calls)
        break;
      t0 = bench_now_ns ();
      if (!one_call (l, state, l->clients * l->warmup + (guint) n, &error))
        break;
      ms = (bench_now_ns () - t0) / 1e6;
      g_array_append_val (c->samples, ms);
    }

out:
  if (error)
    load_fail (l, error);
  if (state && l->op->client_free)
    l->op->client_free (state);
  g_mutex_lock (&l->lock);
  l->end_ns = MAX (l->end_ns, bench_now_ns ());
  g_mutex_unlock (&l->lock);
  return NULL;
}

gboolean
bench_load_run (
    const BenchOp *op, guint clients, guint warmup, guint calls, BenchLoadResult *ret, GError **error)
{
  Load l = { .op = op, .clients = clients, .warmup = warmup, .calls = calls };
  g_autofree Client *cs = g_new0 (Client, clients);

  g_return_val_if_fail (op != NULL && op->call != NULL && clients > 0 && ret != NULL, FALSE);

  g_mutex_init (&l.lock);
  g_cond_init (&l.cond);
  for (guint i = 0; i < clients; i++)
    {
      cs[i] = (Client){ .load = &l, .index = i, .samples = g_array_new (FALSE, FALSE, sizeof (double)) };
      cs[i].thread = g_thread_new ("bench-client", client_thread, &cs[i]);
    }

  g_mutex_lock (&l.lock);
  while (l.ready < clients && !l.failed)
    g_cond_wait (&l.cond, &l.lock);
  l.start_ns = bench_now_ns ();
  l.go = TRUE;
  g_cond_broadcast (&l.cond);
  g_mutex_unlock (&l.lock);

  ret->samples = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < clients; i++)
    {
      g_thread_join (cs[i].thread);
      g_array_append_vals (ret->samples, cs[i].samples->data, cs[i].samples->len);
      g_array_unref (cs[i].samples);
    }
  ret->wall_ns = l.end_ns - l.start_ns;
  ret->busy = l.busy;
  g_mutex_clear (&l.lock);
  g_cond_clear (&l.cond);
  if (l.failed)
    {
      g_propagate_error (error, l.error);
      return FALSE;
    }
  return TRUE;
}

void
bench_load_result_clear (BenchLoadResult *r)
{
  g_clear_pointer (&r->samples, g_array_unref);
}
