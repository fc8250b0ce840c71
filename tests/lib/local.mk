# tests/lib/: helpers shared by the sandbox and systemd box suites (sourced
# shell, the Python TAP runner); distributed, never installed.
EXTRA_DIST += \
	tests/lib/common.sh \
	tests/lib/taprun.py
