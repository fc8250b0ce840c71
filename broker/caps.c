/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "caps.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/prctl.h>

const cap_value_t broker_kept_caps[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_KILL,
};
const gsize broker_n_kept_caps = G_N_ELEMENTS (broker_kept_caps);

static gboolean
is_kept (cap_value_t cap, const cap_value_t *keep, gsize n_keep)
{
  for (gsize i = 0; i < n_keep; i++)
    if (keep[i] == cap)
      return TRUE;
  return FALSE;
}

typedef struct _cap_struct CapState;

static void
cap_state_free (CapState *caps)
{
  if (caps)
    cap_free (caps);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CapState, cap_state_free)

gboolean
broker_caps_drop (GError **error)
{
  return broker_caps_drop_to (broker_kept_caps, broker_n_kept_caps, error);
}

gboolean
broker_caps_drop_to (const cap_value_t *keep, gsize n_keep, GError **error)
{
  /* The bounding set goes first: dropping from it needs CAP_SETPCAP, which is
   * itself dropped below. Under the hardened unit systemd has already cut the
   * bounding set to the kept ones and withheld CAP_SETPCAP, and the kernel
   * refuses even a drop of an absent capability without it: only what is
   * still there is dropped. What cannot be dropped fails the start (closed). */
  for (cap_value_t cap = 0; cap <= (cap_value_t) cap_max_bits () - 1; cap++)
    {
      if (is_kept (cap, keep, n_keep) || !CAP_IS_SUPPORTED (cap) || cap_get_bound (cap) == 0)
        continue;
      if (cap_drop_bound (cap) < 0 && errno != EINVAL)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "Cannot drop capability %d from the bounding set: %s", (int) cap, g_strerror (errno));
          return FALSE;
        }
    }

  g_autoptr (CapState) caps = cap_init ();
  if (caps == NULL || (n_keep > 0 && cap_set_flag (caps, CAP_PERMITTED, (int) n_keep, keep, CAP_SET) < 0)
      || (n_keep > 0 && cap_set_flag (caps, CAP_EFFECTIVE, (int) n_keep, keep, CAP_SET) < 0)
      || cap_set_proc (caps) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "Cannot reduce capabilities: %s",
                   g_strerror (errno));
      return FALSE;
    }
  if (cap_reset_ambient () < 0 && errno != EINVAL)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "Cannot clear ambient capabilities: %s",
                   g_strerror (errno));
      return FALSE;
    }
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "Cannot set no_new_privs: %s",
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

char *
broker_caps_missing (void)
{
  g_autoptr (CapState) caps = cap_get_proc ();
  g_autoptr (GString) missing = g_string_new (NULL);

  for (gsize i = 0; i < broker_n_kept_caps; i++)
    {
      cap_flag_value_t value = CAP_CLEAR;
      if (caps == NULL || cap_get_flag (caps, broker_kept_caps[i], CAP_EFFECTIVE, &value) < 0
          || value != CAP_SET)
        {
          char *name = cap_to_name (broker_kept_caps[i]);
          if (missing->len > 0)
            g_string_append_c (missing, ',');
          g_string_append (missing, name ? name : "?");
          cap_free (name);
        }
    }
  return g_string_free (g_steal_pointer (&missing), FALSE);
}

char *
broker_caps_describe (void)
{
  g_autoptr (CapState) caps = cap_get_proc ();
  char *text = caps ? cap_to_text (caps, NULL) : NULL;
  char *copy = g_strdup (text ? text : "unknown");
  cap_free (text);
  return copy;
}
