/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Trees for the CleanupPath rows, made the same way by the driver (as the
 * bench user) and by bench-fixture (as root, for root-owned leftovers). */

/* Creates the directory top and, below it, directories of up to 100 files
 * until the tree holds `entries` entries, top included. 0 or -errno. */
int bench_tree_make (const char *top, unsigned entries);

/* Removes the tree at top, never following symlinks, the plainest way (a
 * recursive unlinkat walk): the kernel's own cost of a cleanup. Adds what it
 * removed to *count. 0 or -errno. */
int bench_tree_remove (const char *top, unsigned long *count);
