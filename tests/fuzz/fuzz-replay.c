/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a fuzz target without libFuzzer, as a GLib test: every file of the
 * seed corpus, then a fixed number of deterministic mutations of them. A
 * regression net for `make check`; real exploration is the libFuzzer build.
 */
#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MUTATIONS_PER_SEED 400

static GPtrArray *
load_corpus (void)
{
  const char *srcdir = g_getenv ("top_srcdir");
  g_autofree char *dir_path = g_build_filename (srcdir ? srcdir : ".", "tests", "fuzz", "corpus", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  GPtrArray *seeds = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;
      g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
      g_ptr_array_add (seeds, g_bytes_new_take (g_steal_pointer (&contents), length));
    }
  g_assert_cmpuint (seeds->len, >, 0);
  return seeds;
}

static void
test_corpus (void)
{
  g_autoptr (GPtrArray) seeds = load_corpus ();
  for (guint i = 0; i < seeds->len; i++)
    {
      gsize size = 0;
      const uint8_t *data = g_bytes_get_data (seeds->pdata[i], &size);
      LLVMFuzzerTestOneInput (data, size);
    }
}

/* Byte flips, inserted '/', '.', NUL-free control bytes and truncations:
 * the edits that matter to path validators. */
static void
test_mutations (void)
{
  g_autoptr (GPtrArray) seeds = load_corpus ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x10ca1d);
  static const char interesting[] = { '/', '.', '\n', '\t', 0x7f, '\\', 'a', (char) 0xff, ' ' };

  for (guint i = 0; i < seeds->len; i++)
    for (guint m = 0; m < MUTATIONS_PER_SEED; m++)
      {
        gsize size = 0;
        const uint8_t *data = g_bytes_get_data (seeds->pdata[i], &size);
        g_autoptr (GByteArray) buf = g_byte_array_new ();
        g_byte_array_append (buf, data, (guint) size);
        guint edits = (guint) g_rand_int_range (rand, 1, 5);
        for (guint e = 0; e < edits && buf->len > 1; e++)
          {
            guint pos = (guint) g_rand_int_range (rand, 1, (gint32) buf->len);
            switch (g_rand_int_range (rand, 0, 3))
              {
              case 0:
                buf->data[pos] = (guint8) interesting[g_rand_int_range (rand, 0, G_N_ELEMENTS (interesting))];
                break;
              case 1:
                g_byte_array_set_size (buf, pos);
                break;
              default:
                {
                  guint8 c = (guint8) interesting[g_rand_int_range (rand, 0, G_N_ELEMENTS (interesting))];
                  g_byte_array_append (buf, &c, 1);
                  memmove (buf->data + pos + 1, buf->data + pos, buf->len - pos - 1);
                  buf->data[pos] = c;
                }
                break;
              }
          }
        LLVMFuzzerTestOneInput (buf->data, buf->len);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fuzz/validators/corpus", test_corpus);
  g_test_add_func ("/fuzz/validators/mutations", test_mutations);
  return g_test_run ();
}
