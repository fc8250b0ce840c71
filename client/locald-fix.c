/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LocaldFix: one consolidated remediation, and the catalogue of fix keys. */
#include "config.h"

#include "client/locald-broker.h"
#include "client/locald-report-private.h"

struct _LocaldFix
{
  gatomicrefcount ref_count;
  char *key;
  char *severity;
  char *text;
  GStrv problem_ids;
};

G_DEFINE_BOXED_TYPE (LocaldFix, locald_fix, locald_fix_ref, locald_fix_unref)

/* The priority order of fixes with equal worst severity, and their texts.
 * The order puts first what makes the others moot: on an unsupported host
 * nothing else helps; without a (compatible) broker nothing can be asked;
 * while host policy blocks the broker, setup cannot succeed; setup comes
 * after those. Keys not listed sort after these, alphabetically. */
static const struct
{
  const char *key;
  const char *text;
} fix_catalogue[] = {
  { LOCALD_FIX_UNSUPPORTED_ENVIRONMENT,
    "This host cannot run locald's privileged features (for example no cgroup v2, or an "
    "unprivileged container). Run locald on a host with a cgroup2 hierarchy, or use it "
    "without privileged features." },
  { LOCALD_FIX_INSTALL_BROKER,
    "Install locald-broker (locald-brokerd, its D-Bus activation file and bus policy) and "
    "make sure the system bus is running." },
  { LOCALD_FIX_UPGRADE_BROKER,
    "The installed broker speaks a different API version than this client. Install matching "
    "versions of locald-broker and its client." },
  { LOCALD_FIX_HOST_POLICY,
    "Host policy keeps the broker from working for you (polkit rules, bus policy, or a "
    "security module). Ask an administrator to allow the dev.locald.broker.* actions." },
  { LOCALD_FIX_RUN_ADMIN_SETUP,
    "Run 'localdctl setup' once (it asks for administrator authentication) to create the "
    "locald cgroup root and your delegated subtree." },
  { LOCALD_FIX_INSPECT_BROKER,
    "The broker did not answer as expected. Check its log entries (journalctl -t "
    "locald-brokerd) and that polkit is running (systemctl status polkit), and try again." },
};

int
_locald_fix_rank (const char *fix_key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (fix_catalogue); i++)
    if (g_strcmp0 (fix_catalogue[i].key, fix_key) == 0)
      return (int) i;
  return (int) G_N_ELEMENTS (fix_catalogue);
}

/**
 * locald_fix_describe:
 * @fix_key: a fix key
 *
 * Returns: (transfer none) (nullable): the human text for a known fix key,
 *   %NULL for keys this client does not know
 */
const char *
locald_fix_describe (const char *fix_key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (fix_catalogue); i++)
    if (g_strcmp0 (fix_catalogue[i].key, fix_key) == 0)
      return fix_catalogue[i].text;
  return NULL;
}

LocaldFix *
_locald_fix_new (const char *key, const char *severity, const char *const *problem_ids)
{
  LocaldFix *fix = g_new0 (LocaldFix, 1);
  const char *text = locald_fix_describe (key);

  g_atomic_ref_count_init (&fix->ref_count);
  fix->key = g_strdup (key);
  fix->severity = g_strdup (severity);
  fix->text
      = text != NULL ? g_strdup (text) : g_strdup_printf ("Resolve the problems listed for fix '%s'.", key);
  fix->problem_ids = g_strdupv ((char **) problem_ids);
  return fix;
}

/**
 * locald_fix_ref:
 * @fix: a #LocaldFix
 *
 * Returns: (transfer full): @fix
 */
LocaldFix *
locald_fix_ref (LocaldFix *fix)
{
  g_return_val_if_fail (fix != NULL, NULL);
  g_atomic_ref_count_inc (&fix->ref_count);
  return fix;
}

void
locald_fix_unref (LocaldFix *fix)
{
  g_return_if_fail (fix != NULL);
  if (!g_atomic_ref_count_dec (&fix->ref_count))
    return;
  g_free (fix->key);
  g_free (fix->severity);
  g_free (fix->text);
  g_strfreev (fix->problem_ids);
  g_free (fix);
}

const char *
locald_fix_get_key (LocaldFix *fix)
{
  g_return_val_if_fail (fix != NULL, NULL);
  return fix->key;
}

const char *
locald_fix_get_severity (LocaldFix *fix)
{
  g_return_val_if_fail (fix != NULL, NULL);
  return fix->severity;
}

const char *
locald_fix_get_text (LocaldFix *fix)
{
  g_return_val_if_fail (fix != NULL, NULL);
  return fix->text;
}

/**
 * locald_fix_get_problem_ids:
 * @fix: a #LocaldFix
 *
 * Returns: (transfer none) (array zero-terminated=1): ids of the problems
 *   this fix resolves, in report order
 */
const char *const *
locald_fix_get_problem_ids (LocaldFix *fix)
{
  g_return_val_if_fail (fix != NULL, NULL);
  return (const char *const *) fix->problem_ids;
}
