/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A scratch cgroup per test run, "<mount>/<name>", and its teardown. The
 * tests run in a forked child while the parent only waits and then tears the
 * scratch cgroup down, so it is removed even when an assertion aborts the
 * child.
 */

#include <glib.h>

/* Creates <mount>/<name> (a leftover of an earlier run is torn down first)
 * and returns its absolute path. Aborts on failure. */
char *scratch_cgroup_create (const char *mount, const char *name);

/* Kills everything in the cgroup (any owner), waits until it is empty and
 * removes it and every cgroup below it. Returns FALSE if something stayed. */
gboolean scratch_cgroup_destroy (const char *path);

/* Runs the GLib tests (g_test_run) in a child process; afterwards the parent
 * destroys `scratch_path`. Returns the exit code for main(). */
int scratch_cgroup_run_guarded (const char *scratch_path);

/* Forks a child that moves itself into the cgroup `cgroup_dir` (absolute
 * path), drops to `uid` (and gid, no supplementary groups) unless uid is 0,
 * and execs "sleep 1000". Returns its pid once it runs `sleep` inside the
 * cgroup. */
pid_t scratch_spawn_sleep (const char *cgroup_dir, uid_t uid);

/* TRUE when `pid` appears in <cgroup_dir>/cgroup.procs. */
gboolean scratch_cgroup_has_pid (const char *cgroup_dir, pid_t pid);
