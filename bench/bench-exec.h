/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Runs argv[0] (a path, no PATH search) the way a client of a setuid helper
 * does: fork+exec, read its stdout to EOF, wait for it. stdout is returned in
 * *ret_stdout (may be NULL); TRUE only when the program exited with 0. */
gboolean bench_exec (const char *const *argv, char **ret_stdout, GError **error);
