# tests/integration/: integration suites that run against the real broker
# inside tests/sandbox/locald-sandbox (private system bus, real polkitd, test
# users, scratch cgroup). Each test file re-executes itself in the sandbox
# (tests/integration/brokertest.py), prints TAP and skips with "1..0 # SKIP"
# when not root or without cgroup2 (a failure under
# LOCALD_E2E_FORCE_PRIVILEGED=1). Sandboxes serialize on a lock, so
# "make check -j" is safe.

# The broker-core suite (issue 2).
integration_core_tests = \
	tests/integration/test_activation.py \
	tests/integration/test_introspection.py \
	tests/integration/test_selfcheck.py \
	tests/integration/test_denied.py \
	tests/integration/test_interactive.py \
	tests/integration/test_polkit_down.py \
	tests/integration/test_idle.py \
	tests/integration/test_bus_policy.py \
	tests/integration/test_journal.py \
	tests/integration/test_flood.py \
	tests/integration/test_systemd_strategy.py \
	tests/integration/test_at_rest.py

# Suites of other areas (client, cgroup, cleanup, localdctl) go here.
integration_area_tests =

integration_tests = $(integration_core_tests) $(integration_area_tests)

dist_check_SCRIPTS += \
	tests/sandbox/locald-sandbox \
	$(integration_tests)

EXTRA_DIST += \
	tests/integration/brokertest.py \
	tests/integration/brokercall.py \
	tests/sandbox/README.md \
	tests/sandbox/systemd-mock.conf

if ENABLE_INTEGRATION_TESTS
TESTS += $(integration_tests)
endif

# Helper of the KillCgroup "will not empty" test: a process no signal ends.
check_PROGRAMS += tests/integration/stuck-process
tests_integration_stuck_process_SOURCES = tests/integration/stuck-process.c
