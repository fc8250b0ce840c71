# tests/unit/: bus-free tests of the daemon's own pieces, built with the
# sanitizers CI enables (--enable-sanitizers).
check_PROGRAMS += tests/unit/test-broker-core
TESTS += tests/unit/test-broker-core tests/unit/test-unit-file
tests_unit_test_broker_core_SOURCES = \
	tests/unit/test-broker-core.c \
	broker/options.c broker/selfcheck.c broker/caps.c \
	broker/cgroup.c broker/cleanup-fs.c broker/broker-error.c broker/bus-text.c broker/hosts-block.c
tests_unit_test_broker_core_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBCAP_CFLAGS) $(SANITIZER_CFLAGS) \
	-I$(top_srcdir)/broker -DSYSCONFDIR=\"$(sysconfdir)\"
tests_unit_test_broker_core_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_broker_core_LDADD = $(GLIB_LIBS) $(LIBCAP_LIBS)
dist_check_SCRIPTS += tests/unit/test-unit-file
EXTRA_DIST += tests/unit/test-privileged.h

# SyncHosts and BindPort without a bus (names, blocks, the file, addresses).
check_PROGRAMS += tests/unit/test-hosts
TESTS += tests/unit/test-hosts
tests_unit_test_hosts_SOURCES = \
	tests/unit/test-hosts.c \
	broker/hosts-block.c broker/hosts-block.h \
	broker/hosts-file.c broker/hosts-file.h \
	broker/bindport.c broker/bindport.h \
	broker/broker-error.c broker/broker-error.h broker/fd-util.h
tests_unit_test_hosts_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(SANITIZER_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_hosts_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_hosts_LDADD = $(GLIB_LIBS)
