/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: calls dev.locald.Broker1.BindPort on the system bus from a
 * connection that did NOT negotiate Unix fd passing, and prints "ok" or
 * the D-Bus error name and message on one line. Exit 0 on a reply of any
 * kind, 1 when no reply came (the call timed out). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

int
main (int argc, char **argv)
{
  sd_bus *bus = NULL;
  sd_bus_message *reply = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *address = getenv ("DBUS_SYSTEM_BUS_ADDRESS");
  int r;

  if (argc != 3 || address == NULL)
    {
      fprintf (stderr, "usage: DBUS_SYSTEM_BUS_ADDRESS=... nofd-call ADDRESS PORT\n");
      return 2;
    }
  if ((r = sd_bus_new (&bus)) < 0 || (r = sd_bus_set_address (bus, address)) < 0
      || (r = sd_bus_set_bus_client (bus, 1)) < 0 || (r = sd_bus_negotiate_fds (bus, 0)) < 0
      || (r = sd_bus_start (bus)) < 0 || (r = sd_bus_set_method_call_timeout (bus, 10 * 1000 * 1000)) < 0)
    {
      fprintf (stderr, "nofd-call: cannot connect: %d\n", r);
      return 2;
    }
  r = sd_bus_call_method (bus, "dev.locald.Broker1", "/dev/locald/Broker1", "dev.locald.Broker1", "BindPort",
                          &error, &reply, "sq", argv[1], (uint16_t) atoi (argv[2]));
  if (r >= 0)
    printf ("ok\n");
  else if (sd_bus_error_has_name (&error, SD_BUS_ERROR_NO_REPLY) || r == -ETIMEDOUT)
    {
      printf ("noreply\n");
      return 1;
    }
  else
    printf ("%s %s\n", error.name ? error.name : "?", error.message ? error.message : "");
  sd_bus_error_free (&error);
  sd_bus_message_unref (reply);
  sd_bus_flush_close_unref (bus);
  return 0;
}
