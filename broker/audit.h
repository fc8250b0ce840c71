/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One structured journal entry per privileged action and per refusal: who
 * (uid, bus name), what (method, argument) and the result. Without a journal
 * (no /run/systemd/journal/socket) the same fields go to stderr as one
 * escaped line, so they are never lost and never forge extra lines.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
  BROKER_AUDIT_OK,
  BROKER_AUDIT_DENIED, /* refused by authorization */
  BROKER_AUDIT_REFUSED, /* refused before authorization: malformed input */
  BROKER_AUDIT_ERROR,  /* authorized, but the operation failed */
} BrokerAuditResult;

/* uid is (uid_t) -1 when the caller's uid could not be learned. */
void broker_audit (const char *method,
                   uid_t uid,
                   const char *sender,
                   const char *argument,
                   BrokerAuditResult result,
                   const char *detail);

const char *broker_audit_result_to_string (BrokerAuditResult result);

G_END_DECLS
