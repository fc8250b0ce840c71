/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The fast path of LocaldPrivileged's kill and cleanup: the calling process
 * does the work itself when the kernel lets it, with the broker's own code
 * (broker/libbroker-core: the same validation, the same fd-relative walks),
 * and says what is left for the broker. Only locald-privileged.c calls
 * this, after the capability's own checks: nothing outside an acquired
 * capability reaches either path.
 */

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  FASTPATH_DONE,     /* finished: the result (or error) is final */
  FASTPATH_DELEGATE, /* the rest needs privilege: call the broker */
} FastpathOutcome;

/* What the fast path needs to know about the broker, from its properties:
 * the strategy ("systemd" or "direct") and the cgroup root ("/locald", ""
 * when the broker found no cgroup2). The cgroup2 mount is looked up once in
 * the caller's /proc/self/mountinfo. Thread-safe. */
typedef struct _Fastpath Fastpath;

Fastpath *_locald_fastpath_new (const char *strategy, const char *cgroup_root);
void _locald_fastpath_free (Fastpath *fp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fastpath, _locald_fastpath_free)

/* KillCgroup as the caller. DONE: *ret_killed, or @error (a LOCALD_ERROR
 * the broker would have answered with, same name and message). DELEGATE:
 * *ret_killed processes were killed already (0 unless only the removal is
 * left), @error untouched. */
FastpathOutcome _locald_fastpath_kill (Fastpath *fp, const char *cgroup, guint *ret_killed, GError **error);

/* CleanupPath as the caller, likewise; on DELEGATE *ret_removed entries are
 * gone and the broker removes the rest. */
FastpathOutcome
_locald_fastpath_cleanup (Fastpath *fp, const char *path, guint64 *ret_removed, GError **error);

G_END_DECLS
