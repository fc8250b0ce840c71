/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "authz.h"

#include "broker-error.h"

#include <polkit/polkit.h>
#include <stdarg.h>

/* Bounds on one check, so a hung polkitd cannot pin a caller forever. A
 * prompt gets as long as a human plausibly needs to type a password. */
#define AUTHZ_TIMEOUT_NONINTERACTIVE_S 25
#define AUTHZ_TIMEOUT_INTERACTIVE_S 300

/* The check of a caller who left is cancelled only once it has been pending
 * this long. Cancelling is for a check waiting at a password prompt (which
 * should close); any other check is answered in milliseconds, and cancelling
 * it costs polkitd a second message. Cancelling every check at once let a
 * storm of departing callers pile up cancellations faster than polkitd
 * answered them, up to the bus's limit of 128 pending calls on the daemon's
 * polkit connection, after which every caller's checks failed. Nothing is
 * done for a caller who left either way (see bus.c). */
#define AUTHZ_CANCEL_GRACE_MS 2000

typedef struct
{
  char *sender;
  char *action_id;
  char **details; /* key, value, key, value, ..., NULL */
  gboolean allow_interaction;
  GCancellable *check_cancellable; /* cancelled by the caller's cancellable or the timeout */
  gulong cancelled_handler;
  GCancellable *outer_cancellable;
  guint timeout_source;
  guint cancel_source; /* the grace before cancelling for a caller who left */
  gint64 started_us;
  gboolean timed_out;
} AuthzCheck;

static void
authz_check_free (AuthzCheck *check)
{
  if (check->timeout_source)
    g_source_remove (check->timeout_source);
  if (check->cancel_source)
    g_source_remove (check->cancel_source);
  if (check->outer_cancellable && check->cancelled_handler)
    g_cancellable_disconnect (check->outer_cancellable, check->cancelled_handler);
  g_clear_object (&check->outer_cancellable);
  g_clear_object (&check->check_cancellable);
  g_free (check->sender);
  g_free (check->action_id);
  g_strfreev (check->details);
  g_free (check);
}

static gboolean
on_check_timeout (gpointer user_data)
{
  AuthzCheck *check = user_data;
  check->timeout_source = 0;
  check->timed_out = TRUE;
  g_cancellable_cancel (check->check_cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancel_grace_over (gpointer user_data)
{
  AuthzCheck *check = user_data;
  check->cancel_source = 0;
  g_cancellable_cancel (check->check_cancellable);
  return G_SOURCE_REMOVE;
}

/* The caller left (main thread). */
static void
on_outer_cancelled (GCancellable *cancellable, gpointer user_data)
{
  AuthzCheck *check = user_data;
  gint64 pending_ms = (g_get_monotonic_time () - check->started_us) / 1000;

  if (pending_ms >= AUTHZ_CANCEL_GRACE_MS)
    g_cancellable_cancel (check->check_cancellable);
  else if (check->cancel_source == 0)
    check->cancel_source
        = g_timeout_add ((guint) (AUTHZ_CANCEL_GRACE_MS - pending_ms), on_cancel_grace_over, check);
}

static void
on_check_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AuthzCheck *check = g_task_get_task_data (task);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (PolkitAuthorizationResult) result
      = polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), res, &local_error);

  if (result == NULL)
    {
      if (check->timed_out)
        g_task_return_new_error (
            task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
            "polkit did not answer the authorization check for %s within %d seconds; the call "
            "was refused. Check that polkitd is running and responsive.",
            check->action_id,
            check->allow_interaction ? AUTHZ_TIMEOUT_INTERACTIVE_S : AUTHZ_TIMEOUT_NONINTERACTIVE_S);
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_new_error (
            task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
            "The authorization check for %s was abandoned because the caller disconnected; "
            "nothing was done.",
            check->action_id);
      else
        g_task_return_new_error (
            task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
            "Could not check authorization for %s with polkit (%s); the call was refused. "
            "Make sure polkitd is installed and running.",
            check->action_id, local_error->message);
      return;
    }

  if (polkit_authorization_result_get_is_authorized (result))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (polkit_authorization_result_get_is_challenge (result) && !check->allow_interaction)
    g_task_return_new_error (task, BROKER_ERROR, BROKER_ERROR_INTERACTIVE_REQUIRED,
                             "Action %s needs authentication, but the call did not allow interactive "
                             "authorization. Run it from a terminal where you can answer a password prompt "
                             "(e.g. localdctl), or ask an administrator to grant it with a polkit rule.",
                             check->action_id);
  else if (polkit_authorization_result_get_dismissed (result))
    g_task_return_new_error (task, BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
                             "Authentication for %s was dismissed; nothing was done.", check->action_id);
  else
    g_task_return_new_error (
        task, BROKER_ERROR, BROKER_ERROR_ACCESS_DENIED,
        "Not authorized for %s by polkit. An administrator can allow it with a polkit rule "
        "(see the locald-broker polkit rules guide).",
        check->action_id);
}

/* The daemon keeps the authority for its whole life: one connection to
 * polkitd, reused by every check, and alive while any check is pending
 * (polkit-gobject's cancellation path needs it). */
static PolkitAuthority *the_authority;

static void
on_authority_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  AuthzCheck *check = g_task_get_task_data (task);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (PolkitAuthority) authority = polkit_authority_get_finish (res, &local_error);

  if (authority != NULL && the_authority == NULL)
    the_authority = g_object_ref (authority);
  if (authority == NULL)
    {
      g_task_return_new_error (
          task, BROKER_ERROR, BROKER_ERROR_AUTHORIZATION_UNAVAILABLE,
          "The polkit authority is not available (%s); the call was refused. Make sure polkitd "
          "is installed and running.",
          local_error->message);
      return;
    }

  g_autoptr (PolkitSubject) subject = polkit_system_bus_name_new (check->sender);
  g_autoptr (PolkitDetails) details = polkit_details_new ();
  for (char **d = check->details; d != NULL && d[0] != NULL && d[1] != NULL; d += 2)
    polkit_details_insert (details, d[0], d[1]);

  PolkitCheckAuthorizationFlags flags = check->allow_interaction
                                            ? POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION
                                            : POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;
  check->timeout_source = g_timeout_add_seconds (check->allow_interaction ? AUTHZ_TIMEOUT_INTERACTIVE_S
                                                                          : AUTHZ_TIMEOUT_NONINTERACTIVE_S,
                                                 on_check_timeout, check);

  polkit_authority_check_authorization (authority, subject, check->action_id, details, flags,
                                        check->check_cancellable, on_check_done, g_steal_pointer (&task));
}

static void
on_prepared (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (PolkitAuthority) authority = polkit_authority_get_finish (res, &local_error);

  if (authority != NULL && the_authority == NULL)
    the_authority = g_object_ref (authority);
  /* The first check asks again, and refuses its call if this still fails. */
  if (authority == NULL)
    g_debug ("Could not connect to polkit ahead of the first call: %s", local_error->message);
}

/* polkit-gobject-1 makes one authority for the process: checks that ask
 * while this is on its way get the same one when it is ready. */
void
broker_authz_prepare (void)
{
  if (the_authority == NULL)
    polkit_authority_get_async (NULL, on_prepared, NULL);
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
  const char *const details[] = { "argument", argument, NULL };

  broker_authz_check_details_async (sender, action_id, argument != NULL ? details : NULL, allow_interaction,
                                    cancellable, callback, user_data);
}

char **
broker_authz_details_new (const char *first_key, ...)
{
  /* GStrvBuilder would do, but it needs GLib 2.68 and configure asks for 2.64. */
  g_autoptr (GPtrArray) d = g_ptr_array_new_with_free_func (g_free);
  va_list ap;

  va_start (ap, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);
      /* The check stops at the first NULL value anyway (on_authority_ready);
       * stopping here too keeps the array a plain NULL-terminated GStrv. */
      if (value == NULL)
        break;
      g_ptr_array_add (d, g_strdup (key));
      g_ptr_array_add (d, g_strdup (value));
    }
  va_end (ap);
  g_ptr_array_add (d, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&d), FALSE);
}

void
broker_authz_check_details_async (const char *sender,
                                  const char *action_id,
                                  const char *const *details,
                                  gboolean allow_interaction,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_return_if_fail (sender != NULL && *sender == ':');
  g_return_if_fail (action_id != NULL);

  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  AuthzCheck *check = g_new0 (AuthzCheck, 1);

  g_task_set_source_tag (task, broker_authz_check_async);
  check->sender = g_strdup (sender);
  check->action_id = g_strdup (action_id);
  check->details = g_strdupv ((char **) details);
  check->allow_interaction = allow_interaction;
  check->check_cancellable = g_cancellable_new ();
  check->started_us = g_get_monotonic_time ();
  if (cancellable != NULL)
    {
      check->outer_cancellable = g_object_ref (cancellable);
      check->cancelled_handler
          = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled), check, NULL);
    }
  g_task_set_task_data (task, check, (GDestroyNotify) authz_check_free);

  /* The first check connects; later ones reuse the_authority at once. */
  polkit_authority_get_async (check->check_cancellable, on_authority_ready, g_steal_pointer (&task));
}

gboolean
broker_authz_check_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
