# tests/memcheck/: the integration suite once more against a memory-checked
# broker (docs/ci.md says what each run covers and costs):
#
#   make check-asan      the sandbox suites against tests/memcheck/asan/locald-brokerd,
#                        the broker built from the same sources with ASan+UBSan
#                        (needs --enable-sanitizers, which CI's ci/build uses)
#   make check-valgrind  the sandbox suites against the normal broker under
#                        valgrind memcheck (--leak-check=full, definite leaks are errors)
#
# The sandbox activates tests/memcheck/brokerd-memcheck instead of the broker
# ($LOCALD_BROKERD); every test file ends with one more TAP result
# (tests/integration/memcheck.py): each broker process it started was stopped
# and its checker reported no error and no definite leak. Each run writes its
# own suite log (test-suite-asan.log, test-suite-valgrind.log); the logs of
# single files are tests/integration/NAME.asan.log and NAME.vg.log.
# MEMCHECK_TESTS=tests/integration/NAME.asan (or .vg) runs only those.

EXTRA_DIST += \
	tests/memcheck/brokerd-memcheck \
	tests/memcheck/valgrind.supp \
	tests/memcheck/lsan.supp \
	tests/integration/memcheck.py

if ENABLE_SANITIZERS
# Not installed: a test copy of the daemon, every source instrumented
# (the operations library included, rather than linking libbroker-ops).
check_PROGRAMS += tests/memcheck/asan/locald-brokerd
tests_memcheck_asan_locald_brokerd_SOURCES = $(broker_locald_brokerd_SOURCES) $(broker_libbroker_ops_la_SOURCES) \
	$(broker_libbroker_core_la_SOURCES)
tests_memcheck_asan_locald_brokerd_CFLAGS = $(broker_locald_brokerd_CFLAGS) $(LIBACL_CFLAGS) $(SANITIZER_CFLAGS)
tests_memcheck_asan_locald_brokerd_LDFLAGS = $(SANITIZER_CFLAGS)
tests_memcheck_asan_locald_brokerd_LDADD = $(GLIB_LIBS) $(POLKIT_LIBS) $(SYSTEMD_LIBS) $(LIBCAP_LIBS) $(LIBACL_LIBS)
endif

# Every sandbox suite runs in both. valgrind 3.19 (Debian 12) implements
# neither pidfd_open() nor openat2(): under it the broker's walks take their
# ENOSYS fallback, and JoinCgroup, which must pin the caller with a pidfd,
# cannot work, so the two suites that join run in the ASan run only.
# test_startup_signal.py runs the broker under strace (ptrace), where
# LeakSanitizer cannot run and valgrind's own system calls would be traced:
# it checks an order of system calls, which a checker does not change.
memcheck_skip = tests/integration/test_startup_signal.py
memcheck_suites = $(filter-out $(memcheck_skip),$(integration_tests) $(integration_ops_tests) \
	$(integration_security_tests) $(integration_proof_tests))
memcheck_valgrind_skip = tests/integration/test_join.py tests/integration/test_locald_flow.py
# The runs live in directories of their own: a log is named after the test
# without its extension, so tests/integration/test_x.asan would share
# test_x.log with the plain run of test_x.py (and make would pick either).
memcheck_asan_tests = $(patsubst tests/integration/%.py,tests/memcheck/asan-runs/%.asan,$(memcheck_suites))
memcheck_valgrind_tests = $(patsubst tests/integration/%.py,tests/memcheck/valgrind-runs/%.vg,\
	$(filter-out $(memcheck_valgrind_skip),$(memcheck_suites)))

# A run's "test" is a symlink to the suite file (python finds brokertest.py
# next to the file the link points to); the extension picks the run.
TEST_EXTENSIONS += .asan .vg
# The broker's helpers (locald-broker-helper net|hosts, short-lived
# processes of their own) are the plain build's: the sandbox would look for
# them next to $LOCALD_BROKERD otherwise.
# The load test's 64 clients make 250 calls each here (100 under valgrind)
# instead of 1,000: what a checker looks for shows in any stretch of
# concurrent calls, and its figures (throughput, RSS) mean nothing under a
# checker anyway.
memcheck_env = \
	LOCALD_BROKERD='$(abs_top_srcdir)/tests/memcheck/brokerd-memcheck' \
	LOCALD_BROKER_HELPER='$(abs_top_builddir)/broker/locald-broker-helper'
ASAN_LOG_DRIVER = $(LOG_DRIVER)
ASAN_LOG_COMPILER = env $(memcheck_env) LOCALD_LOAD_CALLS=250 LOCALD_BROKER_MEMCHECK=asan \
	LOCALD_BROKER_MEMCHECK_BINARY='$(abs_top_builddir)/tests/memcheck/asan/locald-brokerd' $(PYTHON3)
VG_LOG_DRIVER = $(LOG_DRIVER)
VG_LOG_COMPILER = env $(memcheck_env) LOCALD_LOAD_CALLS=100 LOCALD_BROKER_MEMCHECK=valgrind \
	LOCALD_BROKER_MEMCHECK_BINARY='$(abs_top_builddir)/broker/locald-brokerd' $(PYTHON3)

$(memcheck_asan_tests) $(memcheck_valgrind_tests):
	$(AM_V_GEN)$(MKDIR_P) $(@D) && rm -f $@ && ln -s '$(abs_top_srcdir)/tests/integration/$(notdir $(basename $@)).py' $@
CLEANFILES += $(memcheck_asan_tests) $(memcheck_valgrind_tests)

check-asan: $(check_PROGRAMS) $(memcheck_asan_tests)
	@test -x tests/memcheck/asan/locald-brokerd || \
	  { echo "check-asan: configure with --enable-sanitizers to build the ASan broker" >&2; exit 1; }
	$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(or $(MEMCHECK_TESTS),$(memcheck_asan_tests))' TEST_SUITE_LOG=test-suite-asan.log

check-valgrind: $(check_PROGRAMS) $(memcheck_valgrind_tests)
	@command -v valgrind >/dev/null || { echo "check-valgrind: valgrind is not installed" >&2; exit 1; }
	$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(or $(MEMCHECK_TESTS),$(memcheck_valgrind_tests))' TEST_SUITE_LOG=test-suite-valgrind.log

.PHONY: check-asan check-valgrind
