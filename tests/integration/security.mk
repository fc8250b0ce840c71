# tests/integration/security.mk: one suite per attack found in review and
# closed (docs/security.md, "Attacks found in review"), run as real
# unprivileged users against the broker inside tests/sandbox/locald-sandbox.
# See tests/integration/local.mk for how the suites skip or fail when the
# host cannot run the sandbox.
#
#   test_disconnect_storm.py  callers leaving mid-authorization cannot abort
#                             the broker
#   test_forged_signals.py    a forged NameOwnerChanged cancels nobody's call
#   test_systemd_forged_job.py  a forged JobRemoved fails no systemd-strategy
#                             setup (against the systemd manager mock)
#   test_cleanup_foreign.py   CleanupPath leaves other users' entries alone
#   test_reply_text.py        errors quoting bad text are still sent, escaped
#   test_startup_signal.py    SIGTERM right after the name is owned drains
#                             (uses strace; skips without it)
#   test_noncharacter_args.py arguments sd-bus cannot read: audited InvalidArgs
#   test_fairness.py          one uid's flood or slow calls do not slow others;
#                             refusal audit entries are aggregated per uid

integration_security_tests = \
	tests/integration/test_disconnect_storm.py \
	tests/integration/test_forged_signals.py \
	tests/integration/test_systemd_forged_job.py \
	tests/integration/test_cleanup_foreign.py \
	tests/integration/test_reply_text.py \
	tests/integration/test_startup_signal.py \
	tests/integration/test_noncharacter_args.py \
	tests/integration/test_fairness.py

EXTRA_DIST += $(integration_security_tests)

if ENABLE_INTEGRATION_TESTS
TESTS += $(integration_security_tests)
endif
