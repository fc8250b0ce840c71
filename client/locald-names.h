/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Every name that crosses a process boundary between locald-brokerd and its
 * clients: the bus name and object, the polkit actions, the D-Bus error
 * names, and the problem ids and fix keys of the readiness report. The
 * daemon, the client library, localdctl and the benchmarks all use these;
 * the interface XML (dbus/dev.locald.Broker1.xml), the polkit policy and
 * docs/api.md spell the same names, and the tests check them against each
 * other. Plain macros, so the daemon can include this without GLib types.
 */

/* The bus name, object and interface. */
#define LOCALD_BROKER_BUS_NAME "dev.locald.Broker1"
#define LOCALD_BROKER_OBJECT_PATH "/dev/locald/Broker1"
#define LOCALD_BROKER_INTERFACE "dev.locald.Broker1"

/* polkit actions, one per method (polkit/dev.locald.broker.policy). */
#define LOCALD_ACTION_PREFIX "dev.locald.broker."
#define LOCALD_ACTION_SELF_CHECK LOCALD_ACTION_PREFIX "self-check"
#define LOCALD_ACTION_SETUP_CGROUP LOCALD_ACTION_PREFIX "setup-cgroup"
#define LOCALD_ACTION_KILL_CGROUP LOCALD_ACTION_PREFIX "kill-cgroup"
#define LOCALD_ACTION_CLEANUP_PATH LOCALD_ACTION_PREFIX "cleanup-path"
#define LOCALD_ACTION_JOIN_CGROUP LOCALD_ACTION_PREFIX "join-cgroup"
#define LOCALD_ACTION_BIND_PORT LOCALD_ACTION_PREFIX "bind-port"
#define LOCALD_ACTION_BIND_PORT_PUBLIC LOCALD_ACTION_PREFIX "bind-port-public"
#define LOCALD_ACTION_SYNC_HOSTS LOCALD_ACTION_PREFIX "sync-hosts"

/* polkitd's authority: the broker asks it on every call (and the benchmarks
 * ask it directly, for the floor). */
#define LOCALD_POLKIT_BUS_NAME "org.freedesktop.PolicyKit1"
#define LOCALD_POLKIT_AUTHORITY_PATH "/org/freedesktop/PolicyKit1/Authority"
#define LOCALD_POLKIT_AUTHORITY_INTERFACE "org.freedesktop.PolicyKit1.Authority"

/* D-Bus error names the broker answers with (docs/api.md, "Errors"). */
#define LOCALD_DBUS_ERROR_PREFIX LOCALD_BROKER_INTERFACE ".Error."
#define LOCALD_DBUS_ERROR_FAILED LOCALD_DBUS_ERROR_PREFIX "Failed"
#define LOCALD_DBUS_ERROR_AUTHORIZATION_UNAVAILABLE LOCALD_DBUS_ERROR_PREFIX "AuthorizationUnavailable"
#define LOCALD_DBUS_ERROR_NOT_OWNER LOCALD_DBUS_ERROR_PREFIX "NotOwner"
#define LOCALD_DBUS_ERROR_UNSAFE_PATH LOCALD_DBUS_ERROR_PREFIX "UnsafePath"
#define LOCALD_DBUS_ERROR_CROSSES_MOUNT LOCALD_DBUS_ERROR_PREFIX "CrossesMount"
#define LOCALD_DBUS_ERROR_NOT_FOUND LOCALD_DBUS_ERROR_PREFIX "NotFound"
#define LOCALD_DBUS_ERROR_NOT_SET_UP LOCALD_DBUS_ERROR_PREFIX "NotSetUp"
#define LOCALD_DBUS_ERROR_UNSUPPORTED LOCALD_DBUS_ERROR_PREFIX "Unsupported"
#define LOCALD_DBUS_ERROR_BUSY LOCALD_DBUS_ERROR_PREFIX "Busy"
#define LOCALD_DBUS_ERROR_ADDRESS_IN_USE LOCALD_DBUS_ERROR_PREFIX "AddressInUse"
/* The standard ones the broker uses. */
#define LOCALD_DBUS_ERROR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define LOCALD_DBUS_ERROR_INTERACTIVE_REQUIRED "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
#define LOCALD_DBUS_ERROR_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"

/* The broker's private helpers (locald-broker-helper): root-only bus names
 * that only root may call; the broker calls them after polkit said yes.
 * "net" binds privileged ports, "hosts" rewrites the hosts file. */
#define LOCALD_HELPER_NET_BUS_NAME LOCALD_BROKER_BUS_NAME ".Net"
#define LOCALD_HELPER_NET_OBJECT_PATH LOCALD_BROKER_OBJECT_PATH "/Net"
#define LOCALD_HELPER_NET_INTERFACE LOCALD_BROKER_INTERFACE ".Net"
#define LOCALD_HELPER_HOSTS_BUS_NAME LOCALD_BROKER_BUS_NAME ".Hosts"
#define LOCALD_HELPER_HOSTS_OBJECT_PATH LOCALD_BROKER_OBJECT_PATH "/Hosts"
#define LOCALD_HELPER_HOSTS_INTERFACE LOCALD_BROKER_INTERFACE ".Hosts"

/* The unicast signal BindPort sends its caller, carrying one file
 * descriptor, before anything else: the bus refuses it with
 * org.freedesktop.DBus.Error.NotSupported when the caller's connection did
 * not negotiate Unix fd passing, so the broker learns that before it binds
 * anything. Callers may ignore it (it is not part of dev.locald.Broker1). */
#define LOCALD_FD_PROBE_INTERFACE LOCALD_BROKER_INTERFACE ".FdProbe"
#define LOCALD_FD_PROBE_MEMBER "Probe"
#define LOCALD_DBUS_ERROR_NOT_SUPPORTED "org.freedesktop.DBus.Error.NotSupported"

/* The default hosts file of SyncHosts (the broker's --hosts-file). */
#define LOCALD_DEFAULT_HOSTS_FILE "/etc/hosts"

/* Problem ids of the broker's SelfCheck. */
#define LOCALD_PROBLEM_CGROUP_V2 "cgroup.v2"
#define LOCALD_PROBLEM_CGROUP_ROOT_READY "cgroup.root_ready"
#define LOCALD_PROBLEM_CGROUP_ROOT_WRITABLE "cgroup.root_writable"
#define LOCALD_PROBLEM_CGROUP_USER_DELEGATED "cgroup.user_delegated"
#define LOCALD_PROBLEM_PRIVILEGE_CAPABILITIES "privilege.capabilities"

/* Problem ids the client itself reports, for failures that happen before
 * the broker's SelfCheck can answer. */
#define LOCALD_PROBLEM_BROKER_INSTALLED "broker.installed"
#define LOCALD_PROBLEM_BROKER_AUTHORIZED "broker.authorized"
#define LOCALD_PROBLEM_BROKER_API_VERSION "broker.api_version"
#define LOCALD_PROBLEM_BROKER_RESPONDING "broker.responding"
/* The broker could not ask polkit (polkitd not running or not answering). */
#define LOCALD_PROBLEM_BROKER_POLKIT "broker.polkit"

/* Fix keys: stable names of consolidatable remediations. */
#define LOCALD_FIX_UNSUPPORTED_ENVIRONMENT "unsupported_environment"
#define LOCALD_FIX_INSTALL_BROKER "install_broker"
#define LOCALD_FIX_UPGRADE_BROKER "upgrade_broker"
#define LOCALD_FIX_HOST_POLICY "host_policy_blocks_privileged_helper"
#define LOCALD_FIX_RUN_ADMIN_SETUP "run_admin_setup"
#define LOCALD_FIX_INSPECT_BROKER "inspect_broker"
