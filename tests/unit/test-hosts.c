/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SyncHosts and BindPort without a bus: host name validation, the block
 * parser and rewriter, the hosts file transaction (rename and in place),
 * and address/port validation. */
#include "config.h"

#include "bindport.h"
#include "broker-error.h"
#include "hosts-block.h"
#include "hosts-file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const suffixes[] = { "localhost", "test", NULL };

static void
test_names_valid (void)
{
  static const char *const good[] = {
    "a.localhost",
    "web.test",
    "a-b.c-d.test",
    "x1.localhost",
    "0.test",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", /* 63-byte label */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (hosts_validate_name (good[i], suffixes, &error));
      g_assert_no_error (error);
    }
}

static void
test_names_invalid (void)
{
  g_autofree char *label = g_strnfill (64, 'a');
  g_autofree char *long_label = g_strdup_printf ("%s.test", label);
  g_autofree char *long_name = NULL;
  {
    g_autoptr (GString) s = g_string_new (NULL);
    while (s->len < 250)
      g_string_append (s, "abcdefghi.");
    g_string_append (s, "test");
    long_name = g_string_free (g_steal_pointer (&s), FALSE);
  }
  const char *const bad[] = {
    "",        "test",     "localhost",       ".test",    "a..test",       "a.test.",
    "-a.test", "a-.test",  "A.test",          "a_b.test", "a b.test",      "a\n127.0.0.1 evil.test",
    "#.test",  "a#b.test", "a\t.test",        "a\r.test", "\xc3\xbc.test", "a.example",
    "a.testx", "atest",    "a.localhost.com", long_label, long_name,
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (hosts_validate_name (bad[i], suffixes, &error));
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
      /* The message shows the name escaped: one line, valid UTF-8. */
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_names_list (void)
{
  const char *const dup[] = { "a.test", "b.test", "a.test", NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) out = hosts_validate_names (dup, suffixes, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (out), ==, 2);
  g_assert_cmpstr (out[0], ==, "a.test");
  g_assert_cmpstr (out[1], ==, "b.test");

  const char *const three[] = { "a.test", "b.test", "c.test", NULL };
  g_auto (GStrv) none = hosts_validate_names (three, suffixes, 2, &error);
  g_assert_null (none);
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  const char *const empty[] = { NULL };
  g_auto (GStrv) zero = hosts_validate_names (empty, suffixes, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (zero), ==, 0);
}

static void
test_suffixes (void)
{
  const char *const extra[] = { "localhost", "test", "dev.example", NULL };
  g_autoptr (GError) error = NULL;

  g_assert_true (hosts_validate_suffix ("dev.example", NULL));
  g_assert_false (hosts_validate_suffix ("", NULL));
  g_assert_false (hosts_validate_suffix (".x", NULL));
  g_assert_false (hosts_validate_suffix ("a b", NULL));
  g_assert_true (hosts_validate_name ("app.dev.example", extra, &error));
  g_assert_false (hosts_validate_name ("app.dev.example", suffixes, NULL));
  g_assert_false (hosts_validate_name ("dev.example", extra, NULL));
}

#define OTHER "127.0.0.1 localhost\n# keep me \t\n\n10.1.2.3 box # x\n"

static char *
rewrite (const char *in, uid_t uid, const char *const *names, GError **error)
{
  gsize len = 0;
  char *out = hosts_rewrite (in, strlen (in), uid, names, &len, error);
  if (out != NULL)
    g_assert_cmpuint (len, ==, strlen (out));
  return out;
}

static void
test_rewrite_add_replace_remove (void)
{
  const char *const ab[] = { "a.test", "b.localhost", NULL };
  const char *const c[] = { "c.test", NULL };
  const char *const none[] = { NULL };
  g_autoptr (GError) error = NULL;

  g_autofree char *one = rewrite (OTHER, 1000, ab, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (one, ==,
                   OTHER "# BEGIN locald uid=1000\n127.0.0.1 a.test\n::1 a.test\n127.0.0.1 b.localhost\n"
                         "::1 b.localhost\n# END locald uid=1000\n");
  g_autofree char *two = rewrite (one, 1001, c, &error);
  g_assert_no_error (error);
  const char *const d[] = { "d.test", NULL };
  g_autofree char *three = rewrite (two, 1000, d, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (three, ==,
                   OTHER "# BEGIN locald uid=1000\n127.0.0.1 d.test\n::1 d.test\n# END locald uid=1000\n"
                         "# BEGIN locald uid=1001\n127.0.0.1 c.test\n::1 c.test\n# END locald uid=1001\n");
  g_autofree char *four = rewrite (three, 1000, none, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (four, ==,
                   OTHER "# BEGIN locald uid=1001\n127.0.0.1 c.test\n::1 c.test\n# END locald uid=1001\n");
  g_autofree char *five = rewrite (four, 1001, none, &error);
  g_assert_cmpstr (five, ==, OTHER);

  g_auto (GStrv) names = hosts_block_names (three, strlen (three), 1001, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "c.test");
}

static void
test_rewrite_no_trailing_newline (void)
{
  const char *const a[] = { "a.test", NULL };
  const char *const none[] = { NULL };
  g_autofree char *out = rewrite ("127.0.0.1 localhost", 5, a, NULL);
  g_assert_cmpstr (
      out, ==,
      "127.0.0.1 localhost\n# BEGIN locald uid=5\n127.0.0.1 a.test\n::1 a.test\n# END locald uid=5\n");
  g_autofree char *empty = rewrite ("", 5, a, NULL);
  g_assert_true (g_str_has_prefix (empty, "# BEGIN locald uid=5\n"));
  g_autofree char *same = rewrite ("x", 5, none, NULL);
  g_assert_cmpstr (same, ==, "x");
}

static void
test_rewrite_claims (void)
{
  const char *const a[] = { "a.test", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *one = rewrite (OTHER, 1000, a, &error);
  g_autofree char *two = rewrite (one, 1001, a, &error);
  g_assert_null (two);
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_OWNER);
  g_assert_nonnull (strstr (error->message, "uid 1000"));
  g_clear_error (&error);
  /* The owner may keep it. */
  g_autofree char *three = rewrite (one, 1000, a, &error);
  g_assert_cmpstr (three, ==, one);
}

static void
test_rewrite_malformed (void)
{
  static const char *const bad[] = {
    "# BEGIN locald uid=1\n",                                                               /* never closed */
    "# END locald uid=1\n",                                                                 /* no BEGIN */
    "# BEGIN locald uid=1\n# BEGIN locald uid=2\n# END locald uid=2\n# END locald uid=1\n", /* nested */
    "# BEGIN locald uid=1\n# END locald uid=2\n",                                           /* mismatched */
    "# BEGIN locald uid=1\n# END locald uid=1\n# BEGIN locald uid=1\n# END locald uid=1\n", /* repeated */
    "# BEGIN locald uid=x\n# END locald uid=x\n",                                           /* not a uid */
    "# BEGIN locald uid=01\n# END locald uid=01\n",                 /* not the one spelling */
    "# BEGIN locald uid=4294967295\n# END locald uid=4294967295\n", /* (uid_t) -1 */
    "# BEGIN locald uid=1 \n# END locald uid=1 \n",                 /* trailing space */
  };
  const char *const a[] = { "a.test", NULL };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *out = rewrite (bad[i], 7, a, &error);
      g_assert_null (out);
      g_assert_error (error, BROKER_ERROR, BROKER_ERROR_FAILED);
    }
  /* Lines that merely mention locald are ordinary. */
  g_autofree char *ok = rewrite ("# managed by locald\n#BEGIN locald uid=1\n", 7, a, NULL);
  g_assert_nonnull (ok);
}

/* ---- the file ---- */

typedef struct
{
  char *dir;
  char *path;
} Scratch;

static void
scratch_setup (Scratch *s, gconstpointer data)
{
  s->dir = g_dir_make_tmp ("locald-hosts-XXXXXX", NULL);
  g_assert_nonnull (s->dir);
  s->path = g_build_filename (s->dir, "hosts", NULL);
  g_assert_true (g_file_set_contents (s->path, OTHER, -1, NULL));
  g_assert_cmpint (g_chmod (s->path, 0640), ==, 0);
}

static void
scratch_teardown (Scratch *s, gconstpointer data)
{
  g_autoptr (GDir) d = g_dir_open (s->dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (s->dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (s->dir);
  g_free (s->path);
  g_free (s->dir);
}

static char *
read_file (const char *path)
{
  char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

static void
test_file_sync (Scratch *s, gconstpointer data)
{
  HostsWriteMode mode = GPOINTER_TO_INT (data);
  const char *const ab[] = { "a.test", "b.test", NULL };
  const char *const a[] = { "a.test", NULL };
  const char *const none[] = { NULL };
  g_autoptr (GError) error = NULL;
  gboolean in_place = FALSE;
  guint count = 0;
  struct stat before, after;

  g_assert_cmpint (stat (s->path, &before), ==, 0);
  g_assert_true (hosts_file_sync (s->path, 42, ab, mode, &count, &in_place, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count, ==, 2);
  g_assert_cmpint (in_place, ==, mode == HOSTS_WRITE_IN_PLACE);
  g_autofree char *c1 = read_file (s->path);
  g_assert_cmpstr (c1, ==,
                   OTHER "# BEGIN locald uid=42\n127.0.0.1 a.test\n::1 a.test\n127.0.0.1 b.test\n::1 b.test\n"
                         "# END locald uid=42\n");
  g_assert_cmpint (stat (s->path, &after), ==, 0);
  g_assert_cmpuint (after.st_mode & 07777, ==, 0640);
  g_assert_cmpuint (after.st_uid, ==, before.st_uid);
  if (mode == HOSTS_WRITE_IN_PLACE)
    g_assert_cmpuint (after.st_ino, ==, before.st_ino);

  /* Shrinking leaves nothing of the old tail, in place too. */
  g_assert_true (hosts_file_sync (s->path, 42, a, mode, &count, NULL, &error));
  g_autofree char *c2 = read_file (s->path);
  g_assert_cmpstr (c2, ==,
                   OTHER "# BEGIN locald uid=42\n127.0.0.1 a.test\n::1 a.test\n# END locald uid=42\n");

  g_auto (GStrv) listed = hosts_file_list (s->path, 42, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (listed), ==, 1);

  g_assert_true (hosts_file_sync (s->path, 42, none, mode, &count, NULL, &error));
  g_assert_cmpuint (count, ==, 0);
  g_autofree char *c3 = read_file (s->path);
  g_assert_cmpstr (c3, ==, OTHER);

  /* No temporary file is left; the lock file stays (it is never replaced). */
  g_autofree char *tmp = g_build_filename (s->dir, ".hosts.locald-new", NULL);
  g_autofree char *lock = g_build_filename (s->dir, ".hosts.locald-lock", NULL);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (lock, G_FILE_TEST_EXISTS));
}

static void
test_file_refusals (Scratch *s, gconstpointer data)
{
  const char *const a[] = { "a.test", NULL };
  g_autoptr (GError) error = NULL;
  guint count = 0;

  g_autofree char *missing = g_build_filename (s->dir, "nope", NULL);
  g_assert_false (hosts_file_sync (missing, 1, a, HOSTS_WRITE_AUTO, &count, NULL, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autofree char *link = g_build_filename (s->dir, "link", NULL);
  g_assert_cmpint (symlink (s->path, link), ==, 0);
  g_assert_false (hosts_file_sync (link, 1, a, HOSTS_WRITE_AUTO, &count, NULL, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
  g_clear_error (&error);

  g_assert_false (hosts_file_sync ("relative/hosts", 1, a, HOSTS_WRITE_AUTO, &count, NULL, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_FAILED);
  g_clear_error (&error);

  /* A malformed file is left as it is. */
  g_assert_true (g_file_set_contents (s->path, "# BEGIN locald uid=9\n", -1, NULL));
  g_assert_false (hosts_file_sync (s->path, 1, a, HOSTS_WRITE_AUTO, &count, NULL, &error));
  g_autofree char *c = read_file (s->path);
  g_assert_cmpstr (c, ==, "# BEGIN locald uid=9\n");
}

/* Threads of one process are serialized: every update lands. */
typedef struct
{
  const char *path;
  uid_t uid;
} Writer;

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  g_autofree char *mine = g_strdup_printf ("u%u.test", (unsigned) w->uid);
  const char *const names[] = { mine, NULL };
  const char *const none[] = { NULL };
  for (int i = 0; i < 200; i++)
    {
      guint count = 0;
      g_assert_true (
          hosts_file_sync (w->path, w->uid, i % 2 ? none : names, HOSTS_WRITE_AUTO, &count, NULL, NULL));
    }
  g_assert_true (hosts_file_sync (w->path, w->uid, names, HOSTS_WRITE_AUTO, &(guint){ 0 }, NULL, NULL));
  return NULL;
}

static void
test_file_threads (Scratch *s, gconstpointer data)
{
  Writer w[4];
  GThread *t[4];
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      w[i] = (Writer){ s->path, 100 + i };
      t[i] = g_thread_new ("writer", writer_thread, &w[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      g_auto (GStrv) names = hosts_file_list (s->path, w[i].uid, NULL);
      g_assert_cmpuint (g_strv_length (names), ==, 1);
    }
}

/* ---- BindPort validation ---- */

static void
test_bindport_parse (void)
{
  BindPortTarget t;
  g_autoptr (GError) error = NULL;

  g_assert_true (bindport_parse ("127.0.0.1", 80, &t, &error));
  g_assert_true (t.loopback && t.family == AF_INET && t.port == 80);
  g_assert_cmpstr (t.text, ==, "127.0.0.1");
  g_assert_true (bindport_parse ("127.255.0.9", 443, &t, NULL) && t.loopback);
  g_assert_true (bindport_parse ("::1", 443, &t, NULL) && t.loopback && t.family == AF_INET6);
  g_assert_true (bindport_parse ("0:0:0:0:0:0:0:1", 443, &t, NULL) && t.loopback);
  g_assert_cmpstr (t.text, ==, "::1");
  g_assert_true (bindport_parse ("0.0.0.0", 80, &t, NULL) && !t.loopback);
  g_assert_true (bindport_parse ("::", 80, &t, NULL) && !t.loopback);
  g_assert_true (bindport_parse ("192.0.2.1", 80, &t, NULL) && !t.loopback);
  g_assert_true (bindport_parse ("2001:db8::1", 80, &t, NULL) && !t.loopback);
  g_assert_true (bindport_parse ("128.0.0.1", 80, &t, NULL) && !t.loopback);

  static const char *const bad[] = {
    "localhost",   "127.1", "127.0.0.1.", "01.2.3.4",  "0x7f.0.0.1",   " 127.0.0.1",
    "127.0.0.1 ",  "[::1]", "::1%lo",     "fe80::1",   "ff02::1",      "::ffff:127.0.0.1",
    "::127.0.0.2", "",      "1.2.3.4.5",  "256.0.0.1", "127.0.0.1:80",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      g_assert_false (bindport_parse (bad[i], 80, &t, &e));
      g_assert_error (e, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
      g_assert_true (g_utf8_validate (e->message, -1, NULL));
    }
  g_assert_false (bindport_parse ("127.0.0.1", 0, &t, NULL));
  g_assert_false (bindport_parse ("127.0.0.1", 65536, &t, NULL));
}

static void
test_bindport_privileged (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (bindport_check_privileged (80, 1024, NULL));
  g_assert_true (bindport_check_privileged (1023, 1024, NULL));
  g_assert_false (bindport_check_privileged (1024, 1024, &error));
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "bind it yourself"));
  g_assert_false (bindport_check_privileged (1, 0, NULL)); /* every port free */
}

static void
test_bindport_read_limit (void)
{
  g_autofree char *dir = g_dir_make_tmp ("locald-port-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "start", NULL);
  guint start = 0;

  g_assert_true (g_file_set_contents (path, "1024\n", -1, NULL));
  g_assert_cmpint (bindport_read_unprivileged_start (path, &start), ==, 0);
  g_assert_cmpuint (start, ==, 1024);
  g_assert_true (g_file_set_contents (path, "junk\n", -1, NULL));
  g_assert_cmpint (bindport_read_unprivileged_start (path, &start), ==, -EINVAL);
  g_unlink (path);
  g_assert_cmpint (bindport_read_unprivileged_start (path, &start), ==, -ENOENT);
  g_rmdir (dir);
}

/* An unprivileged port on loopback: the socket comes back bound, not
 * listening, close-on-exec, with SO_REUSEADDR. */
static void
test_bindport_open (void)
{
  BindPortTarget t, t2;
  g_autoptr (GError) error = NULL;
  int one = 0;
  socklen_t len = sizeof one;

  /* Find a free port the kernel picks, then bind it through the code. */
  int probe = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t salen = sizeof sa;
  g_assert_cmpint (bind (probe, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (getsockname (probe, (struct sockaddr *) &sa, &salen), ==, 0);
  close (probe);

  g_assert_true (bindport_parse ("127.0.0.1", ntohs (sa.sin_port), &t, NULL));
  int fd = bindport_open (&t, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, &len), ==, 0);
  g_assert_cmpint (one, ==, 1);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &one, &len), ==, 0);
  g_assert_cmpint (one, ==, 0);

  /* In use once something listens there. */
  g_assert_cmpint (listen (fd, 1), ==, 0);
  t2 = t;
  g_assert_cmpint (bindport_open (&t2, &error), ==, -1);
  g_assert_error (error, BROKER_ERROR, BROKER_ERROR_ADDRESS_IN_USE);
  close (fd);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hosts/names/valid", test_names_valid);
  g_test_add_func ("/hosts/names/invalid", test_names_invalid);
  g_test_add_func ("/hosts/names/list", test_names_list);
  g_test_add_func ("/hosts/names/suffixes", test_suffixes);
  g_test_add_func ("/hosts/rewrite/add-replace-remove", test_rewrite_add_replace_remove);
  g_test_add_func ("/hosts/rewrite/no-trailing-newline", test_rewrite_no_trailing_newline);
  g_test_add_func ("/hosts/rewrite/claims", test_rewrite_claims);
  g_test_add_func ("/hosts/rewrite/malformed", test_rewrite_malformed);
  g_test_add ("/hosts/file/sync-rename", Scratch, GINT_TO_POINTER (HOSTS_WRITE_AUTO), scratch_setup,
              test_file_sync, scratch_teardown);
  g_test_add ("/hosts/file/sync-in-place", Scratch, GINT_TO_POINTER (HOSTS_WRITE_IN_PLACE), scratch_setup,
              test_file_sync, scratch_teardown);
  g_test_add ("/hosts/file/refusals", Scratch, NULL, scratch_setup, test_file_refusals, scratch_teardown);
  g_test_add ("/hosts/file/threads", Scratch, NULL, scratch_setup, test_file_threads, scratch_teardown);
  g_test_add_func ("/bindport/parse", test_bindport_parse);
  g_test_add_func ("/bindport/privileged", test_bindport_privileged);
  g_test_add_func ("/bindport/read-limit", test_bindport_read_limit);
  g_test_add_func ("/bindport/open", test_bindport_open);
  return g_test_run ();
}
