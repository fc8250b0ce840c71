# tests/unit: the cgroup operations (direct strategy and systemd strategy).
# The sources under test are compiled into each program so that
# --enable-sanitizers builds them with ASan/UBSan too.

cgroup_test_cflags = $(AM_CFLAGS) $(GLIB_CFLAGS) $(SANITIZER_CFLAGS) -I$(top_srcdir)/broker -I$(top_srcdir)/tests/unit

check_PROGRAMS += tests/unit/test-cgroup
TESTS += tests/unit/test-cgroup
tests_unit_test_cgroup_SOURCES = \
	tests/unit/test-cgroup.c \
	tests/unit/test-cgroup-scratch.c tests/unit/test-cgroup-scratch.h \
	tests/unit/test-privileged.h \
	broker/cgroup.c broker/cgroup.h broker/cgroup-private.h broker/fd-util.h \
	broker/cgroup-join.c broker/cgroup-join.h \
	broker/cleanup-fs.c broker/cleanup-fs.h \
	broker/broker-error.c broker/broker-error.h
tests_unit_test_cgroup_CFLAGS = $(cgroup_test_cflags)
tests_unit_test_cgroup_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_cgroup_LDADD = $(GLIB_LIBS)

check_PROGRAMS += tests/unit/test-cgroup-systemd
TESTS += tests/unit/test-cgroup-systemd
tests_unit_test_cgroup_systemd_SOURCES = \
	tests/unit/test-cgroup-systemd.c \
	tests/unit/test-cgroup-scratch.c tests/unit/test-cgroup-scratch.h \
	tests/unit/test-privileged.h \
	broker/cgroup-systemd.c broker/cgroup-systemd.h \
	broker/cgroup.c broker/cgroup.h broker/cgroup-private.h broker/fd-util.h \
	broker/cgroup-join.c broker/cgroup-join.h \
	broker/cleanup-fs.c broker/cleanup-fs.h \
	broker/broker-error.c broker/broker-error.h
tests_unit_test_cgroup_systemd_CFLAGS = $(cgroup_test_cflags) $(SYSTEMD_CFLAGS) \
	-DPYTHON3=\"$(PYTHON3)\" -DSYSTEMD_MOCK=\"$(abs_top_srcdir)/tests/unit/systemd-manager-mock.py\"
tests_unit_test_cgroup_systemd_LDFLAGS = $(SANITIZER_CFLAGS)
tests_unit_test_cgroup_systemd_LDADD = $(GLIB_LIBS) $(SYSTEMD_LIBS)

EXTRA_DIST += tests/unit/systemd-manager-mock.py
