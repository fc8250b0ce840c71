# tests/unit/: CleanupPath (path validation, fd-relative tree removal).
# Unprivileged cases always run; the ones that need root (chown to a test
# uid, root-owned symlinks, bind mounts, the race against a hostile uid) skip
# per case without it and fail under LOCALD_E2E_FORCE_PRIVILEGED=1.

check_PROGRAMS += tests/unit/test-cleanup
TESTS += tests/unit/test-cleanup

tests_unit_test_cleanup_SOURCES = \
	tests/unit/test-cleanup.c \
	tests/unit/test-privileged.h \
	broker/cleanup.c broker/cleanup.h \
	broker/cleanup-fs.c broker/cleanup-fs.h broker/fd-util.h \
	broker/cleanup-tree.c broker/cleanup-tree.h \
	broker/broker-error.c broker/broker-error.h
tests_unit_test_cleanup_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBACL_CFLAGS) $(SANITIZER_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_cleanup_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_cleanup_LDADD = $(GLIB_LIBS) $(LIBACL_LIBS)
