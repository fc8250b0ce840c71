#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""liblocald-broker through GObject Introspection, from the build tree.

Loads LocaldBroker-1.typelib and the library from $top_builddir/client, builds
a report by hand, and acquires against a bus address where nothing listens.
Prints TAP.
"""
import os
import sys

TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
CLIENT_DIR = os.path.join(TOP_BUILDDIR, "client")
LIB_DIR = os.path.join(CLIENT_DIR, ".libs")


def reexec_if_needed():
    """The dynamic loader reads LD_LIBRARY_PATH only at start-up, and the
    configured python3 may lack the gi module (a python3 outside the system
    one): set the environment and run again, with a python that has gi."""
    if os.environ.get("LOCALD_GI_TEST_CHILD") == "1":
        return
    env = dict(os.environ)
    env["LOCALD_GI_TEST_CHILD"] = "1"
    env["GI_TYPELIB_PATH"] = os.pathsep.join(filter(None, [CLIENT_DIR, env.get("GI_TYPELIB_PATH")]))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [LIB_DIR, env.get("LD_LIBRARY_PATH")]))
    env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/locald-test-bus"
    python = sys.executable
    try:
        import gi  # noqa: F401
    except ImportError:
        python = "/usr/bin/python3"
        if not os.access(python, os.X_OK):
            print("1..0 # SKIP no python3 with the gi module")
            sys.exit(0)
    os.execve(python, [python, os.path.abspath(__file__)], env)


reexec_if_needed()

import gi  # noqa: E402

gi.require_version("LocaldBroker", "1")
from gi.repository import GLib, LocaldBroker  # noqa: E402

results = []


def check(name, fn):
    try:
        fn()
        results.append((True, name, None))
    except Exception as e:  # report, do not stop: TAP wants every result
        results.append((False, name, repr(e)))


def test_report_by_hand():
    report = LocaldBroker.Report.new("direct", "cgroup2 found", "enabled")
    for pid, sev, fix in [("cgroup.root_ready", "critical", "run_admin_setup"),
                          ("cgroup.user_delegated", "critical", "run_admin_setup"),
                          ("cgroup.v2", "critical", "unsupported_environment")]:
        p = LocaldBroker.Problem.new(pid, sev, "summary", fix)
        p.add_evidence("k", "v")
        report.add_problem(p)
    assert report.get_mode() == "degraded"
    assert report.has_critical()
    fixes = report.get_fixes()
    assert [f.get_key() for f in fixes] == ["unsupported_environment", "run_admin_setup"], fixes
    assert list(fixes[1].get_problem_ids()) == ["cgroup.root_ready", "cgroup.user_delegated"]
    assert report.find_problem("cgroup.v2").get_evidence()["k"] == "v"


def test_acquire_not_ready():
    try:
        LocaldBroker.Privileged.acquire(LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)
    except GLib.Error as e:
        assert e.domain == "locald-error-quark", e.domain
        assert e.code == LocaldBroker.Error.NOT_READY, e.code
    else:
        raise AssertionError("acquire succeeded without a bus")


def test_acquire_report():
    # The (out) report is returned alongside; on failure pygobject raises, so
    # use the async form whose finish we can call ourselves.
    loop = GLib.MainLoop()
    seen = {}

    def done(_source, result):
        try:
            LocaldBroker.Privileged.acquire_finish(result)
        except GLib.Error as e:
            seen["error"] = e
        loop.quit()

    LocaldBroker.Privileged.acquire_async(LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None, done)
    loop.run()
    assert seen["error"].code == LocaldBroker.Error.NOT_READY


def test_try_acquire_report():
    cap, report = LocaldBroker.Privileged.try_acquire(
        LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)
    assert cap is None
    assert report.get_mode() == "degraded"
    problem = report.find_problem("broker.installed")
    assert problem is not None, [p.get_id() for p in report.get_problems()]
    assert problem.get_severity() == "critical"
    assert problem.get_fix() == "install_broker"
    assert [f.get_key() for f in report.get_fixes()] == ["install_broker"]
    assert report.get_broker_version() is None


def test_unacquired_not_ready():
    cap = LocaldBroker.Privileged()
    for call in (lambda: cap.kill_cgroup("svc/web", None),
                 lambda: cap.cleanup_path("/tmp/.locald/x", None),
                 lambda: cap.setup_cgroup_root(None),
                 lambda: cap.bind_port("127.0.0.1", 80, None),
                 lambda: cap.sync_hosts(["web.localhost"], None)):
        try:
            call()
        except GLib.Error as e:
            assert e.matches(LocaldBroker.error_quark(), LocaldBroker.Error.NOT_READY), e
        else:
            raise AssertionError("a capability not made by acquisition made a call")


def test_fast_path_api():
    cap = LocaldBroker.Privileged()
    assert cap.get_fast_path() is True and cap.props.fast_path is True
    cap.set_fast_path(False)
    assert cap.props.fast_path is False
    cap.props.fast_path = True
    assert cap.get_fast_path() is True
    assert cap.get_last_path() == LocaldBroker.OperationPath.NONE
    assert cap.props.last_path == LocaldBroker.OperationPath.NONE
    # Refused before either path: the last path stays NONE, async included.
    for call in (lambda: cap.kill_cgroup("svc", None), lambda: cap.cleanup_path("/x/.locald/y", None)):
        try:
            call()
            raise AssertionError("a capability not made by acquisition ran an operation")
        except GLib.Error as e:
            assert e.matches(LocaldBroker.error_quark(), LocaldBroker.Error.NOT_READY), e
        assert cap.get_last_path() == LocaldBroker.OperationPath.NONE
    loop = GLib.MainLoop()
    seen = {}

    def done(source, result, _):
        seen["path"] = cap.get_operation_path(result)
        try:
            cap.kill_cgroup_finish(result)
        except GLib.Error as e:
            seen["code"] = e.code
        loop.quit()
    cap.kill_cgroup_async("svc", None, done, None)
    loop.run()
    assert seen == {"path": LocaldBroker.OperationPath.NONE, "code": LocaldBroker.Error.NOT_READY}, seen
    assert [v.value_nick for v in (LocaldBroker.OperationPath.NONE, LocaldBroker.OperationPath.FAST,
                                   LocaldBroker.OperationPath.BROKER, LocaldBroker.OperationPath.MIXED)] \
        == ["none", "fast", "broker", "mixed"]


check("report built by hand consolidates its fixes", test_report_by_hand)
check("acquire without a bus raises NOT_READY", test_acquire_not_ready)
check("try_acquire without a bus returns the report", test_try_acquire_report)
check("acquire_async without a bus finishes with NOT_READY", test_acquire_report)
check("a capability not made by acquisition raises NOT_READY at once", test_unacquired_not_ready)
check("fast-path and last-path properties, LocaldOperationPath through GI", test_fast_path_api)

print("1..%d" % len(results))
for i, (ok, name, err) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if err:
        print("# " + err)
sys.exit(0 if all(r[0] for r in results) else 1)
