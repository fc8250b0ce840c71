/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The polkit gate, spoken directly on the daemon's own sd-bus connection:
 * org.freedesktop.PolicyKit1.Authority.CheckAuthorization, the documented
 * D-Bus API of polkitd (what libpolkit-gobject wraps).
 *
 * Why not libpolkit-gobject: its authority opens a second (GDBus)
 * connection to the system bus with a worker thread, and its set-up costs
 * six round trips before the first check (Hello, matches, GetNameOwner,
 * properties). That was about 7 ms of every cold start and two threads and
 * their memory for the daemon's whole life; this costs one call per check on
 * a connection that is open anyway.
 */
#include "config.h"

#include "authz.h"

#include "broker-error.h"
#include "client/locald-names.h"

#include <errno.h>

#define POLKIT_BUS_NAME    LOCALD_POLKIT_BUS_NAME
#define POLKIT_OBJECT_PATH LOCALD_POLKIT_AUTHORITY_PATH
#define POLKIT_INTERFACE   LOCALD_POLKIT_AUTHORITY_INTERFACE
/* CheckAuthorization flag AllowUserInteraction. */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1u

/* Bounds on one check, so a hung polkitd cannot pin a caller forever. A
 * prompt gets as long as a human plausibly needs to type a password. */
#define AUTHZ_TIMEOUT_NONINTERACTIVE_S 25
#define AUTHZ_TIMEOUT_INTERACTIVE_S 300

static sd_bus *the_bus;

typedef struct {
  GTask *task;          /* owned while the check is pending */
  sd_bus_slot *slot;    /* the pending CheckAuthorization */
  char *action_id;
  char *cancellation_id;
  gboolean allow_interaction;
  GCancellable *cancellable;
  gulong cancelled_handler;
  guint cancel_idle;
} AuthzCheck;

static void
authz_check_free (AuthzCheck *check)
{
  check->slot = sd_bus_slot_unref (check->slot);
  if (check->cancelled_handler != 0)
    g_cancellable_disconnect (check->cancellable, check->cancelled_handler);
  g_clear_handle_id (&check->cancel_idle, g_source_remove);
  g_clear_object (&check->cancellable);
  g_free (check->action_id);
  g_free (check->cancellation_id);
  g_free (check);
}

void
broker_authz_set_bus (sd_bus *bus)
{
  the_bus = bus;
}

static int
timeout_s (const AuthzCheck *check)
{
  return check->allow_interaction ? AUTHZ_TIMEOUT_INTERACTIVE_S : AUTHZ_TIMEOUT_NONINTERACTIVE_S;
}

/* Ends the check: hands the result to the caller's callback, once. */
static void
complete (AuthzCheck *check, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&check->task);

  check->slot = sd_bus_slot_unref (check->slot);
  if (error == NULL)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Reads "polkit.dismissed" from the result's details (a{ss}). */
static gboolean
details_say_dismissed (sd_bus_message *reply)
{
  const char *key, *value;
  gboolean dismissed = FALSE;

  if (sd_bus_message_enter_container (reply, 'a', "{ss}") < 0)
    return FALSE;
  while (sd_bus_message_read (reply, "{ss}", &key, &value) > 0)
    if (g_str_equal (key, "polkit.dismissed") && g_str_equal (value, "true"))
      dismissed = TRUE;
  return dismissed;
}

static int
on_check_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  AuthzCheck *check = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  int authorized = 0, challenge = 0;

  if (e != NULL)
    {
      if (sd_bus_error_has_names (e, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_NO_REPLY))
        complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                                      "polkit did not answer the authorization check for %s within %d seconds; the "
                                      "call was refused. Check that polkitd is running and responsive.",
                                      check->action_id, timeout_s (check)));
      else
        complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                                      "Could not check authorization for %s with polkit (%s); the call was refused. "
                                      "Make sure polkitd is installed and running.",
                                      check->action_id, e->message != NULL ? e->message : e->name));
      return 0;
    }

  /* (bba{ss}): is_authorized, is_challenge, details. Anything unreadable
   * is a refusal. */
  if (sd_bus_message_enter_container (reply, 'r', "bba{ss}") < 0
      || sd_bus_message_read (reply, "bb", &authorized, &challenge) < 0)
    {
      complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                                    "polkit answered the authorization check for %s with a malformed reply; the "
                                    "call was refused.",
                                    check->action_id));
      return 0;
    }

  if (authorized)
    complete (check, NULL);
  else if (challenge && !check->allow_interaction)
    complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_INTERACTIVE_REQUIRED,
                                  "Action %s needs authentication, but the call did not allow interactive "
                                  "authorization. Run it from a terminal where you can answer a password prompt "
                                  "(e.g. localdctl), or ask an administrator to grant it with a polkit rule.",
                                  check->action_id));
  else if (details_say_dismissed (reply))
    complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                  "Authentication for %s was dismissed; nothing was done.", check->action_id));
  else
    complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                                  "Not authorized for %s by polkit. An administrator can allow it with a polkit rule "
                                  "(see the locald-broker polkit rules guide).",
                                  check->action_id));
  return 0;
}

/* The caller went away: drop the pending reply, tell polkitd to stop
 * (an agent may be showing a prompt) and refuse. Runs from an idle so that
 * it never completes the task from inside g_cancellable_connect() or the
 * code that cancelled. */
static gboolean
on_cancel_idle (gpointer user_data)
{
  AuthzCheck *check = user_data;

  check->cancel_idle = 0;
  if (check->task == NULL)
    return G_SOURCE_REMOVE;
  (void) sd_bus_call_method_async (the_bus, NULL, POLKIT_BUS_NAME, POLKIT_OBJECT_PATH, POLKIT_INTERFACE,
                                   "CancelCheckAuthorization", NULL, NULL, "s", check->cancellation_id);
  complete (check, g_error_new (BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                                "The authorization check for %s was abandoned because the caller disconnected; "
                                "nothing was done.",
                                check->action_id));
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  AuthzCheck *check = user_data;

  if (check->cancel_idle == 0)
    check->cancel_idle = g_idle_add (on_cancel_idle, check);
}

/* CheckAuthorization((sa{sv}) subject, s action, a{ss} details, u flags,
 * s cancellation_id), subject = ("system-bus-name", {"name": <sender>}). */
static int
send_check (AuthzCheck *check, const char *sender, const char *argument)
{
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *m = NULL;
  int r;

  r = sd_bus_message_new_method_call (the_bus, &m, POLKIT_BUS_NAME, POLKIT_OBJECT_PATH, POLKIT_INTERFACE,
                                      "CheckAuthorization");
  if (r < 0)
    return r;
  r = sd_bus_message_append (m, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, check->action_id);
  if (r < 0)
    return r;
  if (argument != NULL)
    r = sd_bus_message_append (m, "a{ss}", 1, "argument", argument);
  else
    r = sd_bus_message_append (m, "a{ss}", 0);
  if (r < 0)
    return r;
  r = sd_bus_message_append (m, "us", check->allow_interaction ? POLKIT_FLAG_ALLOW_USER_INTERACTION : 0u,
                             check->cancellation_id);
  if (r < 0)
    return r;
  /* An interactive check waits for a human: its bound is the prompt's. */
  return sd_bus_call_async (the_bus, &check->slot, m, on_check_reply, check,
                            (uint64_t) timeout_s (check) * G_USEC_PER_SEC);
}

void
broker_authz_check_async (const char *sender,
                          const char *action_id,
                          const char *argument,
                          gboolean allow_interaction,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  static guint64 n_checks;
  g_autoptr (GTask) task = NULL;
  AuthzCheck *check;
  int r;

  g_return_if_fail (sender != NULL && *sender == ':');
  g_return_if_fail (action_id != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, broker_authz_check_async);
  check = g_new0 (AuthzCheck, 1);
  check->action_id = g_strdup (action_id);
  check->cancellation_id = g_strdup_printf ("locald-brokerd-%" G_GUINT64_FORMAT, ++n_checks);
  check->allow_interaction = allow_interaction;
  g_task_set_task_data (task, check, (GDestroyNotify) authz_check_free);

  if (the_bus == NULL)
    {
      g_task_return_new_error (task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                               "The broker has no bus connection to reach polkit; the call was refused.");
      return;
    }
  r = send_check (check, sender, argument);
  if (r < 0)
    {
      g_task_return_new_error (task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
                               "Could not ask polkit about %s (%s); the call was refused. Make sure polkitd is "
                               "installed and running.",
                               action_id, g_strerror (-r));
      return;
    }
  /* The task is referenced by the check until it completes; the check
   * lives as long as the task (its task data). */
  check->task = g_object_ref (task);
  if (cancellable != NULL)
    {
      check->cancellable = g_object_ref (cancellable);
      check->cancelled_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), check, NULL);
    }
}

gboolean
broker_authz_check_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
