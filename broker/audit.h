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

typedef enum
{
  BROKER_AUDIT_OK,
  BROKER_AUDIT_DENIED,  /* refused by authorization */
  BROKER_AUDIT_REFUSED, /* refused before authorization: malformed input */
  BROKER_AUDIT_ERROR,   /* authorized, but the operation failed */
} BrokerAuditResult;

/* uid is (uid_t) -1 when the caller's uid could not be learned. */
void broker_audit (const char *method,
                   uid_t uid,
                   const char *sender,
                   const char *argument,
                   BrokerAuditResult result,
                   const char *detail);

/* The same for a call that did no work (denied, refused, failed), limited
 * per uid so one user's flood cannot bury the journal: in each window of
 * BROKER_AUDIT_WINDOW_S seconds the first BROKER_AUDIT_PER_WINDOW such
 * entries of a uid are written one by one; the rest are counted, and when the
 * window ends one entry per result (method "*", no sender) says how many of
 * that uid's calls were not logged one by one. Calls of an unknown uid share
 * one count. Main thread only (the window ends on a main-loop timeout). Work
 * done always goes through broker_audit(). */
#define BROKER_AUDIT_WINDOW_S 10
#define BROKER_AUDIT_PER_WINDOW 20
void broker_audit_refusal (const char *method,
                           uid_t uid,
                           const char *sender,
                           const char *argument,
                           BrokerAuditResult result,
                           const char *detail);

/* Writes the counts of windows that have not ended yet (before exiting). */
void broker_audit_flush (void);

const char *broker_audit_result_to_string (BrokerAuditResult result);

G_END_DECLS
