/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's configuration. It comes only from its own command line and a
 * root-owned key file; nothing a caller sends can change it.
 */

#include <glib.h>

#include "cgroup.h"

G_BEGIN_DECLS

typedef enum
{
  BROKER_STRATEGY_AUTO,
  BROKER_STRATEGY_DIRECT,
  BROKER_STRATEGY_SYSTEMD,
} BrokerStrategyChoice;

typedef struct
{
  guint idle_timeout_s;     /* 0 = never exit when idle */
  char *cgroup_root;        /* locald root relative to the cgroup2 mount */
  gboolean cgroup_root_set; /* given on the command line or in the key file */
  BrokerStrategyChoice strategy;
  guint kill_timeout_ms; /* bound on waiting for a killed cgroup to empty */
  char *config_path;
  /* SyncHosts */
  char *hosts_file;      /* default /etc/hosts */
  char **hosts_suffixes; /* "localhost", "test", then the configured ones */
  guint hosts_max_names; /* names one uid may hold */
} BrokerOptions;

#define BROKER_DEFAULT_IDLE_TIMEOUT_S 30
#define BROKER_DEFAULT_CGROUP_ROOT "locald"
#define BROKER_DEFAULT_KILL_TIMEOUT_MS CGROUP_KILL_DEFAULT_TIMEOUT_MS
#define BROKER_DEFAULT_CONFIG_PATH SYSCONFDIR "/locald-broker/brokerd.conf"

void broker_options_clear (BrokerOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BrokerOptions, broker_options_clear)

/* Parses argv (GOptionContext) and then the key file (--config, or the
 * default path when it exists). Command-line values win. *ret_exit is set
 * when the program should stop successfully (e.g. --version). */
gboolean
broker_options_parse (BrokerOptions *options, int *argc, char ***argv, gboolean *ret_exit, GError **error);

const char *broker_strategy_choice_to_string (BrokerStrategyChoice choice);

G_END_DECLS
