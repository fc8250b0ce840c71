/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* localdctl's exit codes; docs/man/localdctl.1 documents the same list. */
enum
{
  LOCALDCTL_EXIT_OK = 0,             /* done; doctor: no critical problem */
  LOCALDCTL_EXIT_FAILURE = 1,        /* the operation failed; doctor: a critical problem */
  LOCALDCTL_EXIT_USAGE = 2,          /* bad command line */
  LOCALDCTL_EXIT_NOT_AUTHORIZED = 3, /* polkit (or the bus policy) said no */
  LOCALDCTL_EXIT_NOT_READY = 4,      /* the broker is not ready; run 'localdctl doctor' */
  LOCALDCTL_EXIT_CANNOT_EXEC = 126,  /* run: the command exists but cannot be executed (as shells do) */
  LOCALDCTL_EXIT_NOT_FOUND = 127,    /* run: the command was not found (as shells do) */
};
