# tests/systemd-box/: suites that run against a real systemd host, booted by
# tests/systemd-box/locald-systemd-box (systemd as PID 1 of a container, the
# real system bus from dbus.socket, logind, polkitd, the project installed
# with make install). Each test file boots its own box (tests/systemd-box/
# boxtest.py), prints TAP and skips with "1..0 # SKIP" when the host cannot
# boot one (a failure under LOCALD_E2E_FORCE_PRIVILEGED=1). Boxes and
# sandboxes share one lock, so "make check -j" is safe.
#
# They need a build tree configured for the system's directories
# (--prefix=/usr --sysconfdir=/etc --libexecdir=/usr/libexec
# --localstatedir=/var, as ci/build does); distcheck's
# --disable-integration-tests leaves them out.

systemd_box_tests = \
	tests/systemd-box/test_systemd_box.py \
	tests/systemd-box/test_uninstall.py \
	tests/systemd-box/test_flow.py \
	tests/systemd-box/test_net_hosts.py \
	tests/systemd-box/test_unit_methods.py

dist_check_SCRIPTS += \
	tests/systemd-box/locald-systemd-box \
	$(systemd_box_tests)

EXTRA_DIST += \
	tests/systemd-box/boxtest.py \
	tests/systemd-box/README.md

if ENABLE_INTEGRATION_TESTS
TESTS += $(systemd_box_tests)
endif
