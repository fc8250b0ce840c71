/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * BindPort, bus-free: checking an address and port, and making the bound
 * socket. The main broker validates with it before asking polkit; the
 * network helper (locald-broker-helper net) validates again and binds.
 */

#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define BINDPORT_UNPRIVILEGED_START_PATH "/proc/sys/net/ipv4/ip_unprivileged_port_start"

typedef struct
{
  int family; /* AF_INET or AF_INET6 */
  union
  {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } sa;
  guint16 port;
  gboolean loopback;           /* 127.0.0.0/8 or ::1 */
  char text[INET6_ADDRSTRLEN]; /* the address, canonical (inet_ntop) */
} BindPortTarget;

/* A numeric IPv4 address (dotted quad, as inet_pton takes it) or IPv6
 * address without brackets, zone index ('%') or IPv4-mapped form, and a
 * port from 1 to 65535. No name is ever resolved. BROKER_ERROR_INVALID_ARGS
 * otherwise. */
gboolean bindport_parse (const char *address, guint port, BindPortTarget *ret, GError **error);

/* Reads the first port unprivileged processes may bind (in this network
 * namespace) from path (BINDPORT_UNPRIVILEGED_START_PATH). 0 or a negative
 * errno. */
int bindport_read_unprivileged_start (const char *path, guint *ret_start);

/* Whether port needs privilege: port < start. Otherwise
 * BROKER_ERROR_INVALID_ARGS saying the caller can bind it itself. */
gboolean bindport_check_privileged (guint port, guint start, GError **error);

/* A TCP socket bound to the target, not listening: close-on-exec,
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6 (so "::" never takes the IPv4
 * port as well). Returns the fd, or -1 with BROKER_ERROR_ADDRESS_IN_USE,
 * BROKER_ERROR_NOT_FOUND (no interface has the address) or
 * BROKER_ERROR_FAILED. */
int bindport_open (const BindPortTarget *target, GError **error);

G_END_DECLS
