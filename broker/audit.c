/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "audit.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* Caller-supplied arguments can be up to the bus's message size; the audit
 * trail keeps the start and the length, not megabytes per line. */
#define AUDIT_ARGUMENT_MAX 1024

/* MESSAGE_ID of every audit entry: `journalctl MESSAGE_ID=...` lists them all. */
#define BROKER_AUDIT_MESSAGE_ID "MESSAGE_ID=8c4f6c3e2d6b4a1f9b7e0a5d3c2b1e4f"

const char *
broker_audit_result_to_string (BrokerAuditResult result)
{
  switch (result)
    {
    case BROKER_AUDIT_OK:
      return "ok";
    case BROKER_AUDIT_DENIED:
      return "denied";
    case BROKER_AUDIT_REFUSED:
      return "refused";
    case BROKER_AUDIT_ERROR:
    default:
      return "error";
    }
}

static gboolean
journal_available (void)
{
  static gsize checked = 0;
  static gboolean available = FALSE;

  if (g_once_init_enter (&checked))
    {
      available = access ("/run/systemd/journal/socket", W_OK) == 0;
      g_once_init_leave (&checked, 1);
    }
  return available;
}

void
broker_audit (const char *method,
              uid_t uid,
              const char *sender,
              const char *argument,
              BrokerAuditResult result,
              const char *detail)
{
  g_return_if_fail (method != NULL);

  const char *result_text = broker_audit_result_to_string (result);
  g_autofree char *uid_text = uid == (uid_t) -1 ? g_strdup ("unknown") : g_strdup_printf ("%u", (unsigned) uid);
  int priority = result == BROKER_AUDIT_OK ? LOG_INFO : LOG_NOTICE;

  g_autofree char *shown_argument = NULL;
  if (argument != NULL && strlen (argument) > AUDIT_ARGUMENT_MAX)
    {
      const char *end = argument + AUDIT_ARGUMENT_MAX;
      /* Cut on a character boundary: the journal wants valid UTF-8. */
      while (end > argument && ((guchar) *end & 0xC0) == 0x80)
        end--;
      shown_argument = g_strdup_printf ("%.*s... (%zu bytes)", (int) (end - argument), argument, strlen (argument));
      argument = shown_argument;
    }

  /* Caller-controlled text is escaped so it cannot inject lines or fields. */
  g_autofree char *arg_escaped = g_strescape (argument ? argument : "", NULL);
  g_autofree char *detail_escaped = g_strescape (detail ? detail : "", NULL);

  if (journal_available ())
    {
      sd_journal_send ("MESSAGE=%s by uid %s (%s): %s%s%s", method, uid_text, sender ? sender : "?", result_text,
                       detail && *detail ? ": " : "", detail_escaped,
                       BROKER_AUDIT_MESSAGE_ID,
                       "PRIORITY=%d", priority,
                       "LOCALD_METHOD=%s", method,
                       "LOCALD_CALLER_UID=%s", uid_text,
                       "LOCALD_SENDER=%s", sender ? sender : "",
                       "LOCALD_ARGUMENT=%s", argument ? argument : "",
                       "LOCALD_RESULT=%s", result_text,
                       "LOCALD_DETAIL=%s", detail ? detail : "",
                       NULL);
      return;
    }

  fprintf (stderr, "locald-brokerd: AUDIT method=%s uid=%s sender=%s argument=\"%s\" result=%s detail=\"%s\"\n", method,
           uid_text, sender ? sender : "?", arg_escaped, result_text, detail_escaped);
  fflush (stderr);
}
