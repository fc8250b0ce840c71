/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Linux capabilities the daemon keeps after start-up, and the drop.
 * The list must match CapabilityBoundingSet= in dbus/locald-brokerd.service.in.
 */

#include <glib.h>
#include <sys/capability.h>

G_BEGIN_DECLS

/* CAP_CHOWN: delegate cgroups to a uid. CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH: write cgroup files and walk users' directories.
 * CAP_FOWNER: remove entries in directories and files the daemon does not own.
 * CAP_KILL: the SIGKILL fallback when cgroup.kill is missing. */
extern const cap_value_t broker_kept_caps[];
extern const gsize broker_n_kept_caps;

/* Reduces the bounding, permitted, effective and inheritable sets to
 * broker_kept_caps, clears the ambient set and sets no_new_privs. */
gboolean broker_caps_drop (GError **error);

/* The same for another set (the helpers keep their own, see
 * broker/helper-main.c); n_keep may be 0. */
gboolean broker_caps_drop_to (const cap_value_t *keep, gsize n_keep, GError **error);

/* Names of kept capabilities that are not effective now ("" when all are). */
char *broker_caps_missing (void);

/* The process's current capability text (cap_to_text). */
char *broker_caps_describe (void);

G_END_DECLS
