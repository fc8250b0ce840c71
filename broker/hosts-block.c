/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hosts-block.h"

#include "broker-error.h"

#include <string.h>

#define MARK_BEGIN "# BEGIN locald uid="
#define MARK_END "# END locald uid="
/* What a line must start with to be taken for a marker at all: a line that
 * looks like one but does not parse is an error, never silently ordinary. */
#define MARK_BEGIN_LOOSE "# BEGIN locald"
#define MARK_END_LOOSE "# END locald"

/* A name as shown in an error: escaped (no control character reaches a log
 * or a terminal) and bounded. The input is a D-Bus string, so valid UTF-8;
 * g_strescape() keeps it so. */
static char *
shown_name (const char *name)
{
  g_autofree char *escaped = g_strescape (name, NULL);
  if (strlen (escaped) <= 80)
    return g_steal_pointer (&escaped);
  /* Cut at a character boundary. */
  const char *end = escaped + 80;
  while (end > escaped && ((guchar) *end & 0xC0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s...", (int) (end - escaped), escaped);
}

/* Checks the labels of s (lowercase letters, digits, inner hyphens, 1 to 63
 * bytes each, separated by single dots). Returns NULL or what is wrong. */
static const char *
labels_problem (const char *s)
{
  gsize label = 0;
  char prev = '.';

  if (*s == '\0')
    return "it is empty";
  for (const char *p = s; *p != '\0'; p++)
    {
      char c = *p;
      if (c == '.')
        {
          if (prev == '.')
            return "it has an empty label (a leading dot or two dots in a row)";
          if (prev == '-')
            return "a label ends with '-'";
          label = 0;
        }
      else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
        {
          if (c == '-' && prev == '.')
            return "a label starts with '-'";
          if (++label > HOSTS_LABEL_MAX)
            return "a label is longer than 63 bytes";
        }
      else if (c >= 'A' && c <= 'Z')
        return "it has upper-case letters (host names here are lowercase)";
      else
        return "it has a character other than a-z, 0-9, '-' and '.' (no spaces, '#', control characters or "
               "non-ASCII)";
      prev = c;
    }
  if (prev == '.')
    return "it ends with a dot";
  if (prev == '-')
    return "a label ends with '-'";
  return NULL;
}

gboolean
hosts_validate_suffix (const char *suffix, GError **error)
{
  g_return_val_if_fail (suffix != NULL, FALSE);

  const char *problem
      = strlen (suffix) > HOSTS_NAME_MAX ? "it is longer than 253 bytes" : labels_problem (suffix);
  if (problem == NULL)
    return TRUE;
  g_autofree char *shown = shown_name (suffix);
  g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS, "Host name suffix \"%s\" is not valid: %s.",
               shown, problem);
  return FALSE;
}

static gboolean
has_allowed_suffix (const char *name, const char *const *suffixes)
{
  gsize n = strlen (name);
  for (const char *const *s = suffixes; s != NULL && *s != NULL; s++)
    {
      gsize k = strlen (*s);
      if (n > k + 1 && name[n - k - 1] == '.' && strcmp (name + n - k, *s) == 0)
        return TRUE;
    }
  return FALSE;
}

gboolean
hosts_validate_name (const char *name, const char *const *suffixes, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  const char *problem
      = strlen (name) > HOSTS_NAME_MAX ? "it is longer than 253 bytes" : labels_problem (name);
  if (problem == NULL && !has_allowed_suffix (name, suffixes))
    problem = "it does not end in an allowed suffix";
  if (problem == NULL)
    return TRUE;

  g_autofree char *shown = shown_name (name);
  g_autofree char *allowed = g_strjoinv (", .", (char **) suffixes);
  g_set_error (
      error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
      "Host name \"%s\" is refused: %s. Use lowercase names ending in .%s (an administrator can allow "
      "more suffixes in the broker's configuration); nothing was changed.",
      shown, problem, allowed);
  return FALSE;
}

char **
hosts_validate_names (const char *const *names, const char *const *suffixes, guint max_names, GError **error)
{
  g_return_val_if_fail (names != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (const char *const *n = names; *n != NULL; n++)
    {
      if (!hosts_validate_name (*n, suffixes, error))
        return NULL;
      if (g_hash_table_contains (seen, *n))
        continue;
      if (out->len >= max_names)
        {
          g_set_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS,
                       "Too many host names: at most %u per user; nothing was changed.", max_names);
          return NULL;
        }
      g_hash_table_add (seen, (gpointer) *n);
      g_ptr_array_add (out, g_strdup (*n));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

/* ---- parsing ---- */

typedef struct
{
  uid_t uid;
  gsize start;      /* offset of the BEGIN line */
  gsize end;        /* offset just past the END line (and its newline) */
  GPtrArray *names; /* char * (owned), from the 127.0.0.1 lines */
} Block;

static void
block_free (Block *b)
{
  g_ptr_array_unref (b->names);
  g_free (b);
}

static gboolean
parse_uid (const char *text, gsize len, uid_t *ret)
{
  g_autofree char *copy = g_strndup (text, len);
  guint64 v = 0;

  /* Decimal, no sign, no leading zeros: one spelling per uid. */
  if (len == 0 || len > 10 || (copy[0] == '0' && len > 1))
    return FALSE;
  if (!g_ascii_string_to_unsigned (copy, 10, 0, G_MAXUINT32 - 1, &v, NULL))
    return FALSE;
  *ret = (uid_t) v;
  return TRUE;
}

/* line/len: one line without its newline. Returns 1 for a marker (uid in
 * *ret_uid), 0 for an ordinary line, -1 for a line that starts like a
 * marker but is not one. */
static int
parse_marker (const char *line, gsize len, const char *mark, const char *loose, uid_t *ret_uid)
{
  gsize m = strlen (mark);
  if (len >= m && memcmp (line, mark, m) == 0 && parse_uid (line + m, len - m, ret_uid))
    return 1;
  if (len >= strlen (loose) && memcmp (line, loose, strlen (loose)) == 0)
    return -1;
  return 0;
}

static void
collect_names (Block *b, const char *line, gsize len)
{
  static const char prefix[] = "127.0.0.1 ";
  if (len <= sizeof prefix - 1 || memcmp (line, prefix, sizeof prefix - 1) != 0)
    return;
  g_autofree char *rest = g_strndup (line + sizeof prefix - 1, len - (sizeof prefix - 1));
  g_auto (GStrv) fields = g_strsplit_set (rest, " \t", -1);
  for (char **f = fields; *f != NULL; f++)
    if (**f != '\0')
      g_ptr_array_add (b->names, g_strdup (*f));
}

static GPtrArray *
parse_blocks (const char *contents, gsize length, GError **error)
{
  g_autoptr (GPtrArray) blocks = g_ptr_array_new_with_free_func ((GDestroyNotify) block_free);
  Block *open = NULL;
  guint lineno = 0;
  gsize pos = 0;

  while (pos < length)
    {
      const char *line = contents + pos;
      const char *nl = memchr (line, '\n', length - pos);
      gsize len = nl ? (gsize) (nl - line) : length - pos;
      gsize next = nl ? pos + len + 1 : length;
      uid_t uid = 0;
      int r;

      lineno++;
      if ((r = parse_marker (line, len, MARK_BEGIN, MARK_BEGIN_LOOSE, &uid)) != 0)
        {
          if (r < 0 || open != NULL)
            goto malformed;
          for (guint i = 0; i < blocks->len; i++)
            if (((Block *) blocks->pdata[i])->uid == uid)
              goto malformed;
          open = g_new0 (Block, 1);
          open->uid = uid;
          open->start = pos;
          open->names = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (blocks, open);
        }
      else if ((r = parse_marker (line, len, MARK_END, MARK_END_LOOSE, &uid)) != 0)
        {
          if (r < 0 || open == NULL || open->uid != uid)
            goto malformed;
          open->end = next;
          open = NULL;
        }
      else if (open != NULL)
        collect_names (open, line, len);
      pos = next;
      continue;

    malformed:
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_FAILED,
          "The hosts file has a malformed locald block at line %u (a marker that does not parse, a block "
          "opened twice or inside another, or an END without its BEGIN); nothing was changed. An "
          "administrator must repair the file by hand.",
          lineno);
      return NULL;
    }
  if (open != NULL)
    {
      g_set_error (
          error, BROKER_ERROR, BROKER_ERROR_FAILED,
          "The hosts file has a locald block for uid %u that is never closed; nothing was changed. An "
          "administrator must repair the file by hand.",
          (unsigned) open->uid);
      return NULL;
    }
  return g_steal_pointer (&blocks);
}

static Block *
find_block (GPtrArray *blocks, uid_t uid)
{
  for (guint i = 0; i < blocks->len; i++)
    if (((Block *) blocks->pdata[i])->uid == uid)
      return blocks->pdata[i];
  return NULL;
}

char **
hosts_block_names (const char *contents, gsize length, uid_t uid, GError **error)
{
  g_return_val_if_fail (contents != NULL || length == 0, NULL);

  g_autoptr (GPtrArray) blocks = parse_blocks (contents, length, error);
  if (blocks == NULL)
    return NULL;
  Block *b = find_block (blocks, uid);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; b != NULL && i < b->names->len; i++)
    g_ptr_array_add (out, g_strdup (b->names->pdata[i]));
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

char *
hosts_rewrite (const char *contents,
               gsize length,
               uid_t uid,
               const char *const *names,
               gsize *ret_length,
               GError **error)
{
  g_return_val_if_fail (contents != NULL || length == 0, NULL);
  g_return_val_if_fail (names != NULL && ret_length != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GPtrArray) blocks = parse_blocks (contents, length, error);
  if (blocks == NULL)
    return NULL;

  /* First claim wins: a name in another uid's block stays theirs. */
  for (const char *const *n = names; *n != NULL; n++)
    for (guint i = 0; i < blocks->len; i++)
      {
        Block *b = blocks->pdata[i];
        if (b->uid == uid)
          continue;
        for (guint j = 0; j < b->names->len; j++)
          if (g_str_equal (b->names->pdata[j], *n))
            {
              g_set_error (
                  error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER,
                  "Host name \"%s\" is already claimed by uid %u in the hosts file (first claim wins); "
                  "pick another name. Nothing was changed.",
                  *n, (unsigned) b->uid);
              return NULL;
            }
      }

  g_autoptr (GString) block = g_string_new (NULL);
  if (names[0] != NULL)
    {
      g_string_append_printf (block, MARK_BEGIN "%u\n", (unsigned) uid);
      for (const char *const *n = names; *n != NULL; n++)
        g_string_append_printf (block, "127.0.0.1 %s\n::1 %s\n", *n, *n);
      g_string_append_printf (block, MARK_END "%u\n", (unsigned) uid);
    }

  g_autoptr (GString) out = g_string_sized_new (length + block->len + 1);
  Block *mine = find_block (blocks, uid);
  if (mine != NULL)
    {
      g_string_append_len (out, contents, (gssize) mine->start);
      g_string_append_len (out, block->str, (gssize) block->len);
      g_string_append_len (out, contents + mine->end, (gssize) (length - mine->end));
    }
  else
    {
      g_string_append_len (out, contents, (gssize) length);
      if (block->len > 0 && length > 0 && contents[length - 1] != '\n')
        g_string_append_c (out, '\n');
      g_string_append_len (out, block->str, (gssize) block->len);
    }
  *ret_length = out->len;
  return g_string_free (g_steal_pointer (&out), FALSE);
}
