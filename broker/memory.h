/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the daemon holds at rest. It is idle nearly all of its life, so
 * memory taken for a burst of calls is given back once the burst is over.
 * What this cannot give back - GLib's slice caches, glibc's per-thread
 * malloc caches and its cache of exited threads' stacks - only the
 * environment the daemon starts with can switch off (G_SLICE,
 * GLIBC_TUNABLES: read before main(); the systemd unit sets them).
 */

#include <glib.h>

G_BEGIN_DECLS

/* At start-up: one malloc arena for every thread. Worker threads would each
 * get an arena of their own (64 MiB reserved, some of it touched and kept)
 * for the few small allocations a call makes. */
void broker_memory_init (void);

/* The daemon went idle: a moment later, unless a call comes first (it
 * re-arms this), stop the worker threads left waiting for work and return
 * free heap pages to the kernel. One timer, so idle stays idle. */
void broker_memory_release_later (void);

G_END_DECLS
