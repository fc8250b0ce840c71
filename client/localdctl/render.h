/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <locald-broker.h>

/* The one place that turns reports and errors into text: human or JSON. */

JsonNode *localdctl_report_to_json (LocaldReport *report);
JsonNode *localdctl_error_to_json (const GError *error);
char *localdctl_json_to_string (JsonNode *node);
void localdctl_render_report (GString *out, LocaldReport *report, gboolean verbose);
char *localdctl_error_message (const GError *error);
