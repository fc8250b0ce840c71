/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "options.h"

#include "cgroup.h"
#include "client/locald-names.h"
#include "hosts-block.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void
broker_options_clear (BrokerOptions *options)
{
  g_clear_pointer (&options->cgroup_root, g_free);
  g_clear_pointer (&options->config_path, g_free);
  g_clear_pointer (&options->hosts_file, g_free);
  g_clear_pointer (&options->hosts_suffixes, g_strfreev);
}

/* The default suffixes, then the configured and the given ones (each
 * validated, a leading dot dropped, duplicates dropped). */
static gboolean
set_hosts_suffixes (BrokerOptions *options, char **configured, char **given, GError **error)
{
  static const char *const defaults[] = { HOSTS_DEFAULT_SUFFIXES, NULL };
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_free);

  for (const char *const *d = defaults; *d != NULL; d++)
    g_ptr_array_add (all, g_strdup (*d));
  for (char **e = configured; e != NULL && *e != NULL; e++)
    g_ptr_array_add (all, g_strdup (*e));
  for (char **e = given; e != NULL && *e != NULL; e++)
    g_ptr_array_add (all, g_strdup (*e));
  for (guint k = G_N_ELEMENTS (defaults) - 1; k < all->len; k++)
    {
      char **e = (char **) &all->pdata[k];
      const char *suffix = (*e)[0] == '.' ? *e + 1 : *e;
      gboolean seen = FALSE;
      if (!hosts_validate_suffix (suffix, error))
        return FALSE;
      for (guint i = 0; i < k; i++)
        seen = seen || g_str_equal (all->pdata[i], suffix);
      if (seen)
        g_ptr_array_remove_index (all, k--);
      else if (suffix != *e)
        {
          char *copy = g_strdup (suffix);
          g_free (*e);
          *e = copy;
        }
    }
  g_ptr_array_add (all, NULL);
  g_strfreev (options->hosts_suffixes);
  options->hosts_suffixes = (char **) g_ptr_array_free (g_steal_pointer (&all), FALSE);
  return TRUE;
}

const char *
broker_strategy_choice_to_string (BrokerStrategyChoice choice)
{
  switch (choice)
    {
    case BROKER_STRATEGY_DIRECT:
      return "direct";
    case BROKER_STRATEGY_SYSTEMD:
      return "systemd";
    case BROKER_STRATEGY_AUTO:
    default:
      return "auto";
    }
}

static gboolean
parse_strategy (const char *value, BrokerStrategyChoice *ret, GError **error)
{
  if (g_str_equal (value, "auto"))
    *ret = BROKER_STRATEGY_AUTO;
  else if (g_str_equal (value, "direct"))
    *ret = BROKER_STRATEGY_DIRECT;
  else if (g_str_equal (value, "systemd"))
    *ret = BROKER_STRATEGY_SYSTEMD;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Unknown strategy '%s': use auto, direct or systemd", value);
      return FALSE;
    }
  return TRUE;
}

/* The key file must be a regular file owned by root and writable by nobody
 * else; it is read through the descriptor that was checked. */
static gboolean
load_key_file (const char *path, gboolean required, GKeyFile **ret_key_file, GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

  *ret_key_file = NULL;
  if (fd < 0)
    {
      if (errno == ENOENT && !required)
        return TRUE;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "Cannot open configuration %s: %s",
                   path, g_strerror (errno));
      return FALSE;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != 0
      || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      close (fd);
      g_set_error (
          error, G_FILE_ERROR, G_FILE_ERROR_PERM,
          "Refusing configuration %s: it must be a regular file owned by root and not writable by group "
          "or others",
          path);
      return FALSE;
    }

  g_autoptr (GIOChannel) channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_autofree char *contents = NULL;
  gsize length = 0;
  if (g_io_channel_read_to_end (channel, &contents, &length, error) != G_IO_STATUS_NORMAL)
    return FALSE;

  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  if (!g_key_file_load_from_data (key_file, contents, length, G_KEY_FILE_NONE, error))
    return FALSE;
  *ret_key_file = g_steal_pointer (&key_file);
  return TRUE;
}

gboolean
broker_options_parse (BrokerOptions *options, int *argc, char ***argv, gboolean *ret_exit, GError **error)
{
  gint idle_timeout = -1, kill_timeout = -1, hosts_max_names = -1;
  g_autofree char *cgroup_root = NULL, *strategy = NULL, *config = NULL, *hosts_file = NULL;
  g_auto (GStrv) hosts_suffixes = NULL, key_suffixes = NULL;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Exit after SECONDS without calls (0: never; default 30)", "SECONDS" },
    { "cgroup-root", 0, 0, G_OPTION_ARG_STRING, &cgroup_root,
      "locald cgroup root, relative to the cgroup2 mount (default: locald)", "PATH" },
    { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy,
      "cgroup strategy: auto, direct or systemd (default: auto)", "STRATEGY" },
    { "kill-timeout", 0, 0, G_OPTION_ARG_INT, &kill_timeout,
      "Wait at most MS for a killed cgroup to empty (default 10000)", "MS" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Root-owned configuration file", "FILE" },
    { "hosts-file", 0, 0, G_OPTION_ARG_FILENAME, &hosts_file,
      "Hosts file SyncHosts rewrites (default: " LOCALD_DEFAULT_HOSTS_FILE "; for tests)", "FILE" },
    { "hosts-suffix", 0, 0, G_OPTION_ARG_STRING_ARRAY, &hosts_suffixes,
      "Also allow host names ending in .SUFFIX (besides .localhost and .test; repeatable)", "SUFFIX" },
    { "hosts-max-names", 0, 0, G_OPTION_ARG_INT, &hosts_max_names,
      "At most N host names per user (default 64)", "N" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("- locald privileged broker (D-Bus system service)");
  g_autoptr (GKeyFile) key_file = NULL;

  *ret_exit = FALSE;
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "Unexpected argument '%s'", (*argv)[1]);
      return FALSE;
    }
  if (version)
    {
      g_print ("locald-brokerd %s (API %u)\n", PACKAGE_VERSION, (unsigned) LOCALD_BROKER_API_VERSION);
      *ret_exit = TRUE;
      return TRUE;
    }

  options->config_path = g_strdup (config ? config : BROKER_DEFAULT_CONFIG_PATH);
  if (!load_key_file (options->config_path, config != NULL, &key_file, error))
    return FALSE;

  /* Defaults, then the key file, then the command line. */
  options->idle_timeout_s = BROKER_DEFAULT_IDLE_TIMEOUT_S;
  options->kill_timeout_ms = BROKER_DEFAULT_KILL_TIMEOUT_MS;
  options->strategy = BROKER_STRATEGY_AUTO;
  options->cgroup_root = g_strdup (BROKER_DEFAULT_CGROUP_ROOT);
  options->hosts_file = g_strdup (LOCALD_DEFAULT_HOSTS_FILE);
  options->hosts_max_names = HOSTS_DEFAULT_MAX_NAMES;

  if (key_file != NULL)
    {
      g_autoptr (GError) local_error = NULL;
      gint v;
      g_autofree char *s = NULL;

      v = g_key_file_get_integer (key_file, "Broker", "IdleTimeout", &local_error);
      if (local_error == NULL && v >= 0)
        options->idle_timeout_s = (guint) v;
      g_clear_error (&local_error);
      v = g_key_file_get_integer (key_file, "Broker", "KillTimeout", &local_error);
      if (local_error == NULL && v > 0)
        options->kill_timeout_ms = (guint) v;
      g_clear_error (&local_error);
      s = g_key_file_get_string (key_file, "Broker", "CgroupRoot", NULL);
      if (s != NULL)
        {
          g_free (options->cgroup_root);
          options->cgroup_root = g_strdup (s);
          options->cgroup_root_set = TRUE;
        }
      g_clear_pointer (&s, g_free);
      s = g_key_file_get_string (key_file, "Broker", "Strategy", NULL);
      if (s != NULL && !parse_strategy (s, &options->strategy, error))
        return FALSE;
      g_clear_pointer (&s, g_free);
      s = g_key_file_get_string (key_file, "Broker", "HostsFile", NULL);
      if (s != NULL)
        {
          g_free (options->hosts_file);
          options->hosts_file = g_steal_pointer (&s);
        }
      key_suffixes = g_key_file_get_string_list (key_file, "Broker", "HostsSuffixes", NULL, NULL);
      v = g_key_file_get_integer (key_file, "Broker", "HostsMaxNames", &local_error);
      if (local_error == NULL && v > 0)
        options->hosts_max_names = (guint) v;
      g_clear_error (&local_error);
    }

  if (idle_timeout >= 0)
    options->idle_timeout_s = (guint) idle_timeout;
  if (kill_timeout > 0)
    options->kill_timeout_ms = (guint) kill_timeout;
  if (cgroup_root != NULL)
    {
      g_free (options->cgroup_root);
      options->cgroup_root = g_strdup (cgroup_root);
      options->cgroup_root_set = TRUE;
    }
  if (strategy != NULL && !parse_strategy (strategy, &options->strategy, error))
    return FALSE;
  if (hosts_file != NULL)
    {
      g_free (options->hosts_file);
      options->hosts_file = g_steal_pointer (&hosts_file);
    }
  if (hosts_max_names > 0)
    options->hosts_max_names = (guint) hosts_max_names;
  /* The configuration's suffixes and the command line's add up. */
  if (!set_hosts_suffixes (options, key_suffixes, hosts_suffixes, error))
    return FALSE;
  if (!g_path_is_absolute (options->hosts_file))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "The hosts file must be an absolute path: %s", options->hosts_file);
      return FALSE;
    }

  return cgroup_validate_root (options->cgroup_root, error);
}
