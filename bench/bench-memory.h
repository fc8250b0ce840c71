/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* A process's memory as /proc/PID/status reports it, in kB. */
typedef struct
{
  guint32 pid;
  guint64 vm_rss_kb;   /* resident: anonymous + file-backed + shmem */
  guint64 rss_anon_kb; /* private heap and stacks: what the process really costs */
  guint64 rss_file_kb; /* mapped files, mostly shared libraries (shared with others) */
  guint64 vm_hwm_kb;   /* peak resident size */
  guint64 threads;
} BenchMemory;

gboolean bench_memory_read (guint32 pid, BenchMemory *ret, GError **error);
