/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bench-memory.h"

#include <gio/gio.h>
#include <string.h>

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
  g_autofree char *path = g_strdup_printf ("/proc/%u/status", (unsigned)pid);
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
