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
  g_autofree char *uid_text
      = uid == (uid_t) -1 ? g_strdup ("unknown") : g_strdup_printf ("%u", (unsigned) uid);
  int priority = result == BROKER_AUDIT_OK ? LOG_INFO : LOG_NOTICE;

  g_autofree char *shown_argument = NULL;
  if (argument != NULL && strlen (argument) > AUDIT_ARGUMENT_MAX)
    {
      const char *end = argument + AUDIT_ARGUMENT_MAX;
      /* Cut on a character boundary: the journal wants valid UTF-8. */
      while (end > argument && ((guchar) *end & 0xC0) == 0x80)
        end--;
      shown_argument
          = g_strdup_printf ("%.*s... (%zu bytes)", (int) (end - argument), argument, strlen (argument));
      argument = shown_argument;
    }

  /* Caller-controlled text is escaped so it cannot inject lines or fields. */
  g_autofree char *arg_escaped = g_strescape (argument ? argument : "", NULL);
  g_autofree char *detail_escaped = g_strescape (detail ? detail : "", NULL);

  if (journal_available ())
    {
      sd_journal_send ("MESSAGE=%s by uid %s (%s): %s%s%s", method, uid_text, sender ? sender : "?",
                       result_text, detail && *detail ? ": " : "", detail_escaped, BROKER_AUDIT_MESSAGE_ID,
                       "PRIORITY=%d", priority, "LOCALD_METHOD=%s", method, "LOCALD_CALLER_UID=%s", uid_text,
                       "LOCALD_SENDER=%s", sender ? sender : "", "LOCALD_ARGUMENT=%s",
                       argument ? argument : "", "LOCALD_RESULT=%s", result_text, "LOCALD_DETAIL=%s",
                       detail ? detail : "", NULL);
      return;
    }

  fprintf (stderr,
           "locald-brokerd: AUDIT method=%s uid=%s sender=%s argument=\"%s\" result=%s detail=\"%s\"\n",
           method, uid_text, sender ? sender : "?", arg_escaped, result_text, detail_escaped);
  fflush (stderr);
}

/* ---- per-uid limit on entries for calls that did no work ---- */

typedef struct
{
  uid_t uid;
  guint written;
  guint suppressed[BROKER_AUDIT_ERROR + 1];
  guint source; /* ends the window */
} AuditWindow;

static GHashTable *audit_windows; /* GUINT_TO_POINTER (uid) -> AuditWindow */

static gboolean
on_audit_window_end (gpointer user_data)
{
  AuditWindow *w = user_data;

  for (int result = 0; result <= BROKER_AUDIT_ERROR; result++)
    if (w->suppressed[result] > 0)
      {
        g_autofree char *detail = g_strdup_printf (
            "%u more call(s) of this uid with this result in the last %d s were not "
            "logged one by one (at most %d entries per uid per %d s)",
            w->suppressed[result], BROKER_AUDIT_WINDOW_S, BROKER_AUDIT_PER_WINDOW, BROKER_AUDIT_WINDOW_S);
        broker_audit ("*", w->uid, NULL, NULL, (BrokerAuditResult) result, detail);
      }
  w->source = 0;
  g_hash_table_remove (audit_windows, GUINT_TO_POINTER ((guint) w->uid));
  return G_SOURCE_REMOVE;
}

void
broker_audit_refusal (const char *method,
                      uid_t uid,
                      const char *sender,
                      const char *argument,
                      BrokerAuditResult result,
                      const char *detail)
{
  AuditWindow *w;

  g_return_if_fail (method != NULL);
  g_return_if_fail (result != BROKER_AUDIT_OK && result <= BROKER_AUDIT_ERROR);

  if (audit_windows == NULL)
    audit_windows = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  w = g_hash_table_lookup (audit_windows, GUINT_TO_POINTER ((guint) uid));
  if (w == NULL)
    {
      w = g_new0 (AuditWindow, 1);
      w->uid = uid;
      w->source = g_timeout_add_seconds (BROKER_AUDIT_WINDOW_S, on_audit_window_end, w);
      g_hash_table_insert (audit_windows, GUINT_TO_POINTER ((guint) uid), w);
    }
  if (w->written < BROKER_AUDIT_PER_WINDOW)
    {
      w->written++;
      broker_audit (method, uid, sender, argument, result, detail);
    }
  else
    w->suppressed[result]++;
}

void
broker_audit_flush (void)
{
  g_autoptr (GList) windows = NULL;

  if (audit_windows == NULL)
    return;
  windows = g_hash_table_get_values (audit_windows);
  for (GList *l = windows; l != NULL; l = l->next)
    {
      AuditWindow *w = l->data;
      g_source_remove (w->source);
      on_audit_window_end (w);
    }
}
