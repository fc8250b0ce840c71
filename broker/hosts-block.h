/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SyncHosts, the text part: validating host names and rewriting the
 * per-user blocks of a hosts file. Pure functions over memory, no file
 * system access, so the unit tests and the fuzz target can drive them.
 *
 * A user's block is exactly
 *
 *   # BEGIN locald uid=<uid>
 *   127.0.0.1 <name>
 *   ::1 <name>
 *   ...
 *   # END locald uid=<uid>
 *
 * and everything outside the caller's own block is kept byte for byte.
 */

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* RFC 1123: a host name is at most 253 bytes, a label 1 to 63. */
#define HOSTS_NAME_MAX 253
#define HOSTS_LABEL_MAX 63
/* The suffixes every broker allows; more only through its configuration. */
#define HOSTS_DEFAULT_SUFFIXES "localhost", "test"
/* Names one uid may hold unless the configuration says otherwise. */
#define HOSTS_DEFAULT_MAX_NAMES 64
/* A hosts file larger than this is refused rather than read into memory. */
#define HOSTS_FILE_MAX_BYTES (4 * 1024 * 1024)

/* A suffix as the configuration may name it ("localhost", "dev.example"):
 * lowercase RFC 1123 labels, no leading or trailing dot. */
gboolean hosts_validate_suffix (const char *suffix, GError **error);

/* Whether name is a lowercase RFC 1123 host name of at most HOSTS_NAME_MAX
 * bytes that ends in ".<suffix>" for one of suffixes (NULL-terminated; a
 * name equal to a suffix is refused). Anything else, in particular control
 * characters, spaces, '#', newlines, upper case and non-ASCII, is
 * BROKER_ERROR_INVALID_ARGS with the offending name (escaped) in the
 * message. */
gboolean hosts_validate_name (const char *name, const char *const *suffixes, GError **error);

/* Validates every name (hosts_validate_name()) and at most max_names
 * distinct ones. Returns the names without duplicates, in their first
 * order (a new NULL-terminated array), or NULL with the first error. */
char **
hosts_validate_names (const char *const *names, const char *const *suffixes, guint max_names, GError **error);

/* The names of uid's block in contents (the 127.0.0.1 lines, in order), or
 * an empty array when it has none. A malformed file (a marker that does
 * not parse, a block that is never closed, nested or repeated blocks) is
 * BROKER_ERROR_FAILED naming the line: nothing is rewritten from a file
 * this code does not understand. */
char **hosts_block_names (const char *contents, gsize length, uid_t uid, GError **error);

/* Rewrites contents so that uid's block holds exactly names (already
 * validated; an empty array removes the block). An existing block is
 * replaced where it is; a new one is appended (after a newline, if the file
 * did not end in one). A name that another uid's block holds is
 * BROKER_ERROR_NOT_OWNER (first claim wins). Returns the new contents
 * (NUL-terminated, length in *ret_length). */
char *hosts_rewrite (const char *contents,
                     gsize length,
                     uid_t uid,
                     const char *const *names,
                     gsize *ret_length,
                     GError **error);

G_END_DECLS
