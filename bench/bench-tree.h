/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Trees for the CleanupPath rows, made the same way by the driver (as the
 * bench user) and by bench-fixture (as root, for root-owned leftovers). */

/* Creates the directory top and, below it, directories of up to 100 files
 * until the tree holds `entries` entries, top included. 0 or -errno. */
int bench_tree_make (const char *top, unsigned entries);
