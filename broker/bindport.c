/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bindport.h"

#include "broker-error.h"
#include "fd-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

gboolean
bindport_parse (const char *address, guint port, BindPortTarget *ret, GError **error)
{
  g_return_val_if_fail (address != NULL && ret != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (ret, 0, sizeof *ret);
  if (port == 0 || port > 65535)
    {
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                   "Port %u is not a port to bind: use 1 to 65535 (the broker does not pick ports).", port);
      return FALSE;
    }
  ret->port = (guint16) port;

  /* inet_pton takes only numeric forms: no names, no "1.2.3" shorthands,
   * no octal, no brackets, no zone index. The length check keeps a huge
   * string out of the error message too. */
  if (strlen (address) < INET6_ADDRSTRLEN && inet_pton (AF_INET, address, &ret->sa.v4.sin_addr) == 1)
    {
      ret->family = AF_INET;
      ret->sa.v4.sin_family = AF_INET;
      ret->sa.v4.sin_port = htons (ret->port);
      ret->loopback = (ntohl (ret->sa.v4.sin_addr.s_addr) >> 24) == 127;
      inet_ntop (AF_INET, &ret->sa.v4.sin_addr, ret->text, sizeof ret->text);
      return TRUE;
    }
  if (strlen (address) < INET6_ADDRSTRLEN && inet_pton (AF_INET6, address, &ret->sa.v6.sin6_addr) == 1)
    {
      const struct in6_addr *a = &ret->sa.v6.sin6_addr;
      /* glibc's V4COMPAT leaves out :: and ::1. */
      if (IN6_IS_ADDR_V4MAPPED (a) || IN6_IS_ADDR_V4COMPAT (a))
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "Address %s embeds an IPv4 address; give the IPv4 address itself.", address);
          return FALSE;
        }
      if (IN6_IS_ADDR_LINKLOCAL (a) || IN6_IS_ADDR_MULTICAST (a))
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "Address %s is link-local or multicast; the broker binds only addresses that need no "
                       "interface (zone) index.",
                       address);
          return FALSE;
        }
      ret->family = AF_INET6;
      ret->sa.v6.sin6_family = AF_INET6;
      ret->sa.v6.sin6_port = htons (ret->port);
      ret->loopback = IN6_IS_ADDR_LOOPBACK (a);
      inet_ntop (AF_INET6, a, ret->text, sizeof ret->text);
      return TRUE;
    }

  g_autofree char *shown = g_strescape (address, NULL);
  if (strlen (shown) > 64)
    shown[64] = '\0';
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
               "\"%s\" is not a numeric IPv4 or IPv6 address (e.g. 127.0.0.1 or ::1; no host names, brackets "
               "or zone indexes).",
               shown);
  return FALSE;
}

int
bindport_read_unprivileged_start (const char *path, guint *ret_start)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  guint64 v = 0;

  g_return_val_if_fail (path != NULL && ret_start != NULL, -EINVAL);

  if (!g_file_get_contents (path, &text, NULL, &error))
    return error->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
  g_strstrip (text);
  if (!g_ascii_string_to_unsigned (text, 10, 0, 65536, &v, NULL))
    return -EINVAL;
  *ret_start = (guint) v;
  return 0;
}

gboolean
bindport_check_privileged (guint port, guint start, GError **error)
{
  if (port < start)
    return TRUE;
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
               "Port %u needs no privilege on this host (ports from %u up are free to bind, see "
               "net.ipv4.ip_unprivileged_port_start): bind it yourself.",
               port, start);
  return FALSE;
}

int
bindport_open (const BindPortTarget *target, GError **error)
{
  g_auto (BrokerFd) fd = -1;
  const int one = 1;
  socklen_t len;

  g_return_val_if_fail (target != NULL, -1);
  g_return_val_if_fail (target->family == AF_INET || target->family == AF_INET6, -1);

  fd = socket (target->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot create a TCP socket: %s",
                   g_strerror (e));
      return -1;
    }
  if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || (target->family == AF_INET6 && setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0))
    {
      int e = errno;
      g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot set socket options: %s", g_strerror (e));
      return -1;
    }
  len = target->family == AF_INET ? sizeof target->sa.v4 : sizeof target->sa.v6;
  if (bind (fd, (const struct sockaddr *) &target->sa, len) < 0)
    {
      int e = errno;
      g_autofree char *where = target->family == AF_INET6
                                   ? g_strdup_printf ("[%s]:%u", target->text, (unsigned) target->port)
                                   : g_strdup_printf ("%s:%u", target->text, (unsigned) target->port);
      if (e == EADDRINUSE)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_ADDRESS_IN_USE,
                     "%s is already in use; stop whatever listens there or pick another port.", where);
      else if (e == EADDRNOTAVAIL)
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND,
                     "No network interface of this host has the address of %s.", where);
      else
        g_set_error (error, BROKER_ERROR, BROKER_ERROR_FAILED, "Cannot bind %s: %s", where, g_strerror (e));
      return -1;
    }
  return broker_fd_steal (&fd);
}
