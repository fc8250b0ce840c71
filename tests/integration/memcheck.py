# SPDX-License-Identifier: LGPL-2.1-or-later
"""The end-of-file check of the memory-checked runs (make check-asan,
make check-valgrind): every broker process the sandbox started under
tests/memcheck/brokerd-memcheck left its checker's report in
$LOCALD_SANDBOX_DIR/memcheck/; this stops those still running (a checker
writes its summary, and LeakSanitizer and valgrind look for leaks, only at
exit), then asserts that no report shows an error or a definite leak.

Outside those runs (LOCALD_BROKER_MEMCHECK unset) there is no check."""

import glob
import os
import re
import signal
import time

# A broker under valgrind needs a few seconds to run its leak search.
STOP_TIMEOUT = 120.0


def mode():
    return os.environ.get("LOCALD_BROKER_MEMCHECK") or None


def report_dir():
    return os.path.join(os.environ["LOCALD_SANDBOX_DIR"], "memcheck")


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def runs():
    """pids of every broker process started through the wrapper."""
    return sorted(int(p.rsplit(".", 1)[1]) for p in glob.glob(os.path.join(report_dir(), "run.*")))


def stop_all():
    """SIGTERM to every broker run still alive (the idle exit path: drain,
    then leave main() normally), then waits for each to exit."""
    pids = [p for p in runs() if _alive(p)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    stuck = []
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            stuck.append(pid)
    return stuck


_ERRORS = re.compile(r"ERROR SUMMARY: (\d+) errors")
_DEFINITE = re.compile(r"definitely lost: ([\d,]+) bytes")


def _valgrind_records(text):
    """The error and definite-leak records of a valgrind log, without its
    banner and summaries (which say nothing about what went wrong)."""
    out, keep = [], False
    for line in text.splitlines():
        if not line.startswith("=="):
            continue
        body = line.split("==", 2)[-1].strip()
        if body == "":
            keep = False
        elif not line.split("==", 2)[-1].startswith("    ") and not body.startswith(("at ", "by ")):
            # A record's first line: keep errors and definite leaks only.
            keep = ("definitely lost" in body and "in loss record" in body) or (
                "lost in loss record" not in body and not body.startswith(
                    ("Memcheck", "Copyright", "Using", "Command", "Parent", "HEAP", "in use", "total heap",
                     "LEAK", "definitely lost:", "indirectly lost:", "possibly lost:", "still reachable:",
                     "suppressed:", "Reachable", "To see", "Rerun", "For lists", "For counts", "ERROR SUMMARY",
                     "Use --")))
        if keep:
            out.append(line)
    return out


def _valgrind_problems(lines_out):
    problems = []
    killed = 0
    logs = sorted(glob.glob(os.path.join(report_dir(), "valgrind.*.log")))
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        name = os.path.basename(path)
        m = _ERRORS.search(text)
        if m is None:
            # No summary: the process was SIGKILLed (tests do that on
            # purpose); valgrind prints one for every other ending, crashes
            # included.
            killed += 1
            continue
        lost = [int(x.replace(",", "")) for x in _DEFINITE.findall(text)]
        if int(m.group(1)) != 0 or any(lost):
            problems.append("%s: %s errors, definitely lost %s bytes" % (name, m.group(1), sum(lost)))
            problems += ["  " + l for l in _valgrind_records(text)][:400]
    lines_out.append("valgrind: %d broker runs, %d reports, %d without summary (SIGKILLed)"
                     % (len(runs()), len(logs), killed))
    if len(logs) < len(runs()):
        problems.append("%d broker runs left no valgrind log" % (len(runs()) - len(logs)))
    return problems


def _asan_problems(lines_out):
    problems = []
    reports = sorted(glob.glob(os.path.join(report_dir(), "asan.*"))
                     + glob.glob(os.path.join(report_dir(), "ubsan.*")))
    for path in reports:
        with open(path, errors="replace") as f:
            text = f.read()
        problems.append("%s:" % os.path.basename(path))
        problems += ["  " + l for l in text.splitlines()][:80]
    lines_out.append("asan: %d broker runs, %d sanitizer reports" % (len(runs()), len(reports)))
    return problems


def problems():
    """Problem lines of this test file's broker runs ([] when clean)."""
    if mode() is None:
        return []
    notes = []
    stuck = stop_all()
    out = ["broker %d did not exit within %.0f s of SIGTERM" % (p, STOP_TIMEOUT) for p in stuck]
    if not os.environ.get("LOCALD_SANDBOX_BROKERD", "").endswith("brokerd-memcheck"):
        out.append("the sandbox does not start the broker through tests/memcheck/brokerd-memcheck")
    if mode() == "valgrind":
        out += _valgrind_problems(notes)
    elif mode() == "asan":
        out += _asan_problems(notes)
    else:
        out.append("unknown LOCALD_BROKER_MEMCHECK=%r" % mode())
    for n in notes:
        print("# memcheck: " + n)
    return out


def final_checks():
    """The (name, check) pair for taprun.run_module, in memory-checked runs."""
    if mode() is None:
        return []
    return [("broker runs under %s: no errors, no definite leaks" % mode(), problems)]
