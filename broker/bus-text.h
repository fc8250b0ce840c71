/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Text the daemon sends over the bus. sd-bus refuses to send a string that
 * is not valid UTF-8 or that holds a Unicode noncharacter (U+FDD0..U+FDEF,
 * U+xFFFE, U+xFFFF), and a refused error reply means no reply at all: the
 * caller waits for its timeout. Error texts quote what callers sent and names
 * found in the file system, so every text goes through broker_bus_text()
 * before it is sent.
 */

#include <glib.h>

G_BEGIN_DECLS

/* A copy of text (NULL: "") that sd-bus accepts and a terminal shows as it
 * is: each byte that is not part of a valid UTF-8 character, each byte of a
 * noncharacter, and each control character (U+0000..U+001F, U+007F) becomes
 * "\xNN" (upper-case hex). Everything else, backslashes included, is kept. */
char *broker_bus_text (const char *text);

G_END_DECLS
