/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "memory.h"

#include <malloc.h>

/* Long enough that a burst of calls is one burst, short against the idle
 * timeout after which the daemon exits anyway. */
#define RELEASE_DELAY_MS 1000

static guint release_source;

void
broker_memory_init (void)
{
  (void) mallopt (M_ARENA_MAX, 1);
  /* Fixed at glibc's defaults, which turns off their adjustment: once a
   * large block (a call carrying a megabyte of text) has been freed, glibc
   * would raise the mmap threshold to its size and the trim threshold to
   * twice that, so that later large blocks came from the heap and the top
   * of the heap that held them stayed until the next malloc_trim(). Large
   * blocks are rare here; they are mapped and unmapped instead. */
  (void) mallopt (M_MMAP_THRESHOLD, 128 * 1024);
  (void) mallopt (M_TRIM_THRESHOLD, 128 * 1024);
}

static gboolean
on_release (gpointer user_data)
{
  release_source = 0;
  /* GTask's worker threads wait a while for more work before they end;
   * idle, they are only stacks. */
  g_thread_pool_stop_unused_threads ();
  (void) malloc_trim (0);
  return G_SOURCE_REMOVE;
}

void
broker_memory_release_later (void)
{
  g_clear_handle_id (&release_source, g_source_remove);
  release_source = g_timeout_add (RELEASE_DELAY_MS, on_release, NULL);
}
