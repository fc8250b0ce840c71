# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP for the privileged Python test files (stdlib unittest only).

Shared by tests/integration/brokertest.py (the sandbox suites) and
tests/systemd-box/boxtest.py (the systemd box suites). A test file re-runs
itself inside its throw-away world with enter_world(), then run_module()
prints one TAP line per test method plus one per final check.
"""

import os
import signal
import subprocess
import sys
import time
import unittest


def force_privileged():
    """LOCALD_E2E_FORCE_PRIVILEGED=1: a skip for missing privileges is a failure."""
    return os.environ.get("LOCALD_E2E_FORCE_PRIVILEGED") == "1"


def skip_all(reason):
    """Skips the whole file (or fails it under LOCALD_E2E_FORCE_PRIVILEGED=1)."""
    if force_privileged():
        sys.stderr.write("LOCALD_E2E_FORCE_PRIVILEGED=1 but this test cannot run: %s\n" % reason)
        print("1..1\nnot ok 1 - privileged prerequisites: %s" % reason)
        sys.exit(1)
    print("1..0 # SKIP %s" % reason)
    sys.exit(0)


def reexec(argv, skip_reason):
    """Runs ARGV (a world's `run -- python3 FILE ...`) and exits with its
    status; 77 (the world cannot run here) becomes skip_all(SKIP_REASON).
    TERM, HUP and Ctrl-C are passed on so the world can tear itself down."""
    sys.stdout.flush()
    proc = subprocess.Popen(argv)

    def forward(signum, frame):
        try:
            proc.send_signal(signum)
        except OSError:
            pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:
            forward(signal.SIGINT, None)
    if rc == 77:
        skip_all(skip_reason)
    sys.exit(rc)


def enter_world(inside_var, why_not_runnable, world_run, skip_reason):
    """Returns the test file's module, re-running the file first under
    WORLD_RUN (a world's `run --` command) unless INSIDE_VAR is set, which
    means it already runs there. why_not_runnable() says why the host cannot
    have that world (then the file skips), or None."""
    main_mod = sys.modules["__main__"]
    if not os.environ.get(inside_var):
        reason = why_not_runnable()
        if reason:
            skip_all(reason)
        main_file = os.path.abspath(main_mod.__file__)
        reexec(world_run + [sys.executable, main_file] + sys.argv[1:], skip_reason)
    return main_mod


def log_problems(lines):
    """Lines of a daemon's log that show a bug even when every call worked:
    GLib warnings and criticals, sanitizer reports."""
    return [line for line in lines
            if "-CRITICAL **" in line or "-WARNING **" in line or "** (locald-brokerd" in line
            or "Sanitizer" in line or "runtime error:" in line]


class TapResult(unittest.TestResult):
    """Prints a TAP line per test; after a failure, the lines that
    failure_context() returns as (title, lines)."""

    def __init__(self, failure_context=None):
        super().__init__()
        self.n = 0
        self.any_failed = False
        self._cur = None
        self._failure_context = failure_context

    @staticmethod
    def _name(test):
        name = test.id()
        if name.startswith("__main__."):
            name = name[len("__main__."):]
        return name

    def startTest(self, test):
        super().startTest(test)
        self._cur = {"ok": True, "notes": [], "skip": None}

    def _fail(self, test, err):
        text = self._exc_info_to_string(err, test)
        if self._cur is None:   # class/module fixture errors come without startTest
            self._emit(self._name(test), False, [text], None)
            return
        self._cur["ok"] = False
        self._cur["notes"].append(text)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._cur["ok"] = False
            self._cur["notes"].append("%s\n%s" % (subtest, self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._cur["skip"] = reason

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._cur["ok"] = False
        self._cur["notes"].append("unexpected success")

    def stopTest(self, test):
        super().stopTest(test)
        cur, self._cur = self._cur, None
        if cur is not None:
            self._emit(self._name(test), cur["ok"], cur["notes"], cur["skip"])

    def _emit(self, name, ok, notes, skip):
        self.n += 1
        if skip is not None:
            print("ok %d - %s # SKIP %s" % (self.n, name, skip))
        elif ok:
            print("ok %d - %s" % (self.n, name))
        else:
            self.any_failed = True
            print("not ok %d - %s" % (self.n, name))
            for note in notes:
                for line in note.rstrip().splitlines():
                    print("# " + line)
            if self._failure_context:
                title, lines = self._failure_context()
                if lines:
                    print("# --- %s:" % title)
                    for line in lines:
                        print("#   " + line)
        sys.stdout.flush()

    def check(self, name, problems):
        """One more TAP line: ok when PROBLEMS (lines) is empty."""
        self.n += 1
        if problems:
            self.any_failed = True
            print("not ok %d - %s" % (self.n, name))
            for line in problems[:400]:
                print("#   " + line)
        else:
            print("ok %d - %s" % (self.n, name))
        sys.stdout.flush()


def run_module(main_mod, argv, failure_context=None, final_checks=(), cleanup=None):
    """Runs the tests of MAIN_MOD (those named in ARGV, else all) and exits.

    final_checks: (name, function returning problem lines) pairs, one TAP
    line each after the tests; cleanup() runs right after the tests."""
    names = [a for a in argv if not a.startswith("-")]
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names, main_mod)
    else:
        suite = loader.loadTestsFromModule(main_mod)
    print("1..%d" % (suite.countTestCases() + len(final_checks)))
    sys.stdout.flush()
    started = time.monotonic()
    result = TapResult(failure_context)
    try:
        suite.run(result)
    finally:
        if cleanup:
            cleanup()
    if result.n < suite.countTestCases():
        print("# only %d of %d tests reported" % (result.n, suite.countTestCases()))
        sys.exit(1)
    for name, check in final_checks:
        result.check(name, check())
    # The time inside the world, without the wait for its lock: what the
    # CI budget (docs/ci.md) is made of.
    print("# ran in %.1f s" % (time.monotonic() - started))
    sys.exit(1 if result.any_failed else 0)
