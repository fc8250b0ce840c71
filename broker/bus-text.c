/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bus-text.h"

#include <string.h>

/* What sd-bus refuses besides invalid UTF-8 (its unichar_is_valid()). */
static gboolean
is_noncharacter (gunichar c)
{
  return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

static void
append_escaped (GString *out, const char *bytes, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_string_append_printf (out, "\\x%02X", (unsigned) (guchar) bytes[i]);
}

char *
broker_bus_text (const char *text)
{
  const char *p = text != NULL ? text : "";
  const char *end = p + strlen (p);
  GString *out = g_string_sized_new ((gsize) (end - p));

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* Not the start of a whole, valid character: this one byte. */
          append_escaped (out, p, 1);
          p++;
          continue;
        }

      const char *next = g_utf8_next_char (p);
      if (c < 0x20 || c == 0x7F || is_noncharacter (c))
        append_escaped (out, p, (gsize) (next - p));
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
  return g_string_free (out, FALSE);
}
