# tests/integration/ops.mk: integration suites of the privileged operations
# (issue 3), run as real unprivileged users against the broker inside
# tests/sandbox/locald-sandbox. See tests/integration/local.mk for how the
# suites skip or fail when the host cannot run the sandbox.
#
#   test_cgroup_ops.py   SetupCgroupRoot delegation, KillCgroup (nested trees,
#                        root-owned processes, other users, Busy on refill)
#   test_cleanup_ops.py  CleanupPath (root-owned trees, ownership, invalid and
#                        overlong paths, symlinks, a swap race, bind mounts)

#   test_join.py         JoinCgroup (delegated directories, refusals, pinning)
#   test_bindport.py     BindPort (a server on a privileged port through the
#                        returned socket, refusals, fd passing, polkit details)
#   test_hosts.py        SyncHosts (exact blocks, refusals change nothing,
#                        concurrency, SIGKILL mid-write, a bind-mounted file)
#   test_locald_flow.py  locald's lane end to end as a user (tests/flow/)

integration_ops_tests = \
	tests/integration/test_cgroup_ops.py \
	tests/integration/test_cleanup_ops.py \
	tests/integration/test_join.py \
	tests/integration/test_bindport.py \
	tests/integration/test_hosts.py \
	tests/integration/test_locald_flow.py

EXTRA_DIST += tests/flow/locald-flow.py tests/flow/flowdriver.py

EXTRA_DIST += $(integration_ops_tests)

if ENABLE_INTEGRATION_TESTS
TESTS += $(integration_ops_tests)
endif

# Helper of test_bindport.py: a caller whose connection refuses fd passing.
check_PROGRAMS += tests/integration/nofd-call
tests_integration_nofd_call_SOURCES = tests/integration/nofd-call.c
tests_integration_nofd_call_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
tests_integration_nofd_call_LDADD = $(SYSTEMD_LIBS)
