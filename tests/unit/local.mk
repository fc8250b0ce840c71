# tests/unit/: bus-free tests of the daemon's own pieces, built with the
# sanitizers CI enables (--enable-sanitizers).
check_PROGRAMS += tests/unit/test-broker-core
TESTS += tests/unit/test-broker-core tests/unit/test-unit-file
tests_unit_test_broker_core_SOURCES = \
	tests/unit/test-broker-core.c \
	broker/options.c broker/selfcheck.c broker/caps.c \
	broker/cgroup.c broker/cleanup-fs.c broker/broker-error.c broker/bus-text.c
tests_unit_test_broker_core_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBCAP_CFLAGS) $(SANITIZER_CFLAGS) \
	-I$(top_srcdir)/broker -DSYSCONFDIR=\"$(sysconfdir)\"
tests_unit_test_broker_core_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_broker_core_LDADD = $(GLIB_LIBS) $(LIBCAP_LIBS)
dist_check_SCRIPTS += tests/unit/test-unit-file
EXTRA_DIST += tests/unit/test-privileged.h
