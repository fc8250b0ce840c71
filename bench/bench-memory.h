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

/* CPU time (user + system) the process has used so far, in ms. */
gboolean bench_cpu_read (guint32 pid, double *ret_ms, GError **error);

/* Reads /proc/PID/status every 20 ms in a thread until stopped and keeps
 * the reading with the largest RssAnon: the broker's memory under load. */
typedef struct _BenchSampler BenchSampler;

BenchSampler *bench_memory_sampler_start (guint32 pid);
/* FALSE when no reading succeeded. */
gboolean bench_memory_sampler_stop (BenchSampler *sampler, BenchMemory *ret_peak);
