/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-memory.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/status is world-readable even for a root daemon that dropped
 * its dumpable flag, so the unprivileged bench user can read it. */
gboolean
bench_memory_read (guint32 pid, BenchMemory *ret, GError **error)
{
  static const struct
  {
    const char *key;
    gsize offset;
  } fields[] = {
    { "VmRSS:", G_STRUCT_OFFSET (BenchMemory, vm_rss_kb) },
    { "RssAnon:", G_STRUCT_OFFSET (BenchMemory, rss_anon_kb) },
    { "RssFile:", G_STRUCT_OFFSET (BenchMemory, rss_file_kb) },
    { "VmHWM:", G_STRUCT_OFFSET (BenchMemory, vm_hwm_kb) },
    { "Threads:", G_STRUCT_OFFSET (BenchMemory, threads) },
  };
  g_autofree char *path = g_strdup_printf ("/proc/%u/status", (unsigned) pid);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  g_return_val_if_fail (ret != NULL, FALSE);

  *ret = (BenchMemory){ .pid = pid };
  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;

  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
      if (g_str_has_prefix (*l, fields[i].key))
        G_STRUCT_MEMBER (guint64, ret, fields[i].offset)
            = g_ascii_strtoull (*l + strlen (fields[i].key), NULL, 10);

  if (ret->vm_rss_kb == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s has no VmRSS line", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
bench_cpu_read (guint32 pid, double *ret_ms, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/stat", (unsigned) pid);
  g_autofree char *contents = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  /* The command name may hold spaces: fields start after its ')'. */
  after = strrchr (contents, ')');
  fields = g_strsplit (after ? after + 2 : "", " ", -1);
  /* utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3. */
  if (g_strv_length (fields) < 13)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is too short", path);
      return FALSE;
    }
  *ret_ms = (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) * 1000.0
            / sysconf (_SC_CLK_TCK);
  return TRUE;
}

struct _BenchSampler
{
  guint32 pid;
  gint stop;
  gboolean have_peak;
  BenchMemory peak;
  GThread *thread;
};

static gpointer
sampler_thread (gpointer data)
{
  BenchSampler *s = data;

  while (!g_atomic_int_get (&s->stop))
    {
      BenchMemory m;

      if (bench_memory_read (s->pid, &m, NULL) && (!s->have_peak || m.rss_anon_kb > s->peak.rss_anon_kb))
        {
          s->peak = m;
          s->have_peak = TRUE;
        }
      g_usleep (20 * G_TIME_SPAN_MILLISECOND);
    }
  return NULL;
}

BenchSampler *
bench_memory_sampler_start (guint32 pid)
{
  BenchSampler *s = g_new0 (BenchSampler, 1);

  s->pid = pid;
  s->thread = g_thread_new ("bench-sampler", sampler_thread, s);
  return s;
}

gboolean
bench_memory_sampler_stop (BenchSampler *s, BenchMemory *ret_peak)
{
  gboolean ok;

  g_atomic_int_set (&s->stop, 1);
  g_thread_join (s->thread);
  ok = s->have_peak;
  if (ok)
    *ret_peak = s->peak;
  g_free (s);
  return ok;
}
