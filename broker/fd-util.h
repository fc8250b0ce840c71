/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A file descriptor that closes itself: g_auto(BrokerFd) fd = -1; closes fd
 * (keeping errno) when it goes out of scope, unless it was handed over with
 * broker_fd_steal().
 */

#include <glib.h>
#include <errno.h>
#include <unistd.h>

G_BEGIN_DECLS

typedef int BrokerFd;

/* Closes *fd if it is open (errno is kept) and leaves -1 behind. */
static inline void
broker_fd_clear (BrokerFd *fd)
{
  if (*fd >= 0)
    {
      int saved_errno = errno;
      close (*fd);
      errno = saved_errno;
      *fd = -1;
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BrokerFd, broker_fd_clear)

/* Hands the fd over to the caller, leaving -1 behind. */
static inline int
broker_fd_steal (BrokerFd *fd)
{
  int ret = *fd;
  *fd = -1;
  return ret;
}

G_END_DECLS
