/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* A textual polkit agent (pkttyagent) for this process, started on demand
 * when a call needs a password prompt and we run in a terminal. */
typedef struct _LocaldctlAgent LocaldctlAgent;

gboolean localdctl_agent_can_prompt (gboolean no_ask_password);
LocaldctlAgent *localdctl_agent_start (GError **error);
void localdctl_agent_stop (LocaldctlAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LocaldctlAgent, localdctl_agent_stop)
