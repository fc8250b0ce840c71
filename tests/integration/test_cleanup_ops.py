#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CleanupPath as real unprivileged users on a real file system: root-owned
leftovers beneath the caller's own .locald go, and nothing else does - not
another user's tree, not a symlink's target (also while an attacker swaps
directories for symlinks), not a mounted file system."""

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import brokertest as bt

E_NOT_OWNER = "dev.locald.Broker1.Error.NotOwner"
E_UNSAFE_PATH = "dev.locald.Broker1.Error.UnsafePath"
E_CROSSES_MOUNT = "dev.locald.Broker1.Error.CrossesMount"
E_NOT_FOUND = "dev.locald.Broker1.Error.NotFound"

PATH_MAX = 4096


# ------------------------------------------------------------ helpers

def chown_to(path, user):
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def write(path, text="x\n"):
    with open(path, "w") as f:
        f.write(text)


def snapshot(top):
    """Every entry below TOP (relative paths) with its type and, for files,
    content; the ground truth for "nothing changed"."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", os.lstat(p).st_uid)
            elif stat.S_ISREG(os.lstat(p).st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", os.lstat(p).st_uid, f.read())
            else:
                out[rel] = ("other", os.lstat(p).st_mode, os.lstat(p).st_uid)
    return out


def count_entries(top):
    """Entries a removal of TOP takes away, TOP included."""
    if not os.path.isdir(top) or os.path.islink(top):
        return 1
    n = 1
    for dirpath, dirnames, filenames in os.walk(top):
        n += len(dirnames) + len(filenames)
    return n


def is_mount_point(path):
    """True when PATH is a mount point of this mount namespace (also a bind
    mount from the same file system, which os.path.ismount misses)."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mp)
            if mp == real:
                return True
    return False


def path_of_length(prefix, n):
    """PREFIX extended by valid components to exactly N bytes."""
    s = prefix
    while n - len(s) > 201:
        s += "/" + "c" * 200
    rest = n - len(s)
    if rest == 1:
        s, rest = s[:-1], 2
    s += "/" + "d" * (rest - 1)
    assert len(s) == n
    return s


def make_root_tree(top, depth=3, width=2):
    """A root-owned tree at TOP: files, nested directories, a fifo, a symlink
    to a relative name, a read-only directory. Returns TOP."""
    os.makedirs(top)
    d = top
    for level in range(depth):
        for i in range(width):
            write(os.path.join(d, "file%d" % i), "level %d\n" % level)
        os.makedirs(os.path.join(d, "empty%d" % level))
        nxt = os.path.join(d, "sub%d" % level)
        os.makedirs(nxt)
        d = nxt
    os.mkfifo(os.path.join(top, "fifo"))
    os.symlink("file0", os.path.join(top, "rel-link"))
    ro = os.path.join(top, "readonly")
    os.makedirs(ro)
    write(os.path.join(ro, "inside"))
    os.chmod(ro, 0o500)
    return top


def make_sentinel(name):
    """A root-owned directory with files, outside every user's home."""
    d = tempfile.mkdtemp(prefix=name + ".", dir=bt.env("LOCALD_SANDBOX_DIR"))
    os.chmod(d, 0o755)
    write(os.path.join(d, "f"), "sentinel\n")
    os.makedirs(os.path.join(d, "sub"))
    write(os.path.join(d, "sub", "f"), "sentinel\n")
    write(os.path.join(d, "precious"), "do not remove\n")
    return d


class Base(unittest.TestCase):
    user = bt.ALICE

    def setUp(self):
        self.home = bt.home_of(self.user)
        self.proj = tempfile.mkdtemp(prefix="proj.", dir=self.home)
        chown_to(self.proj, self.user)
        os.chmod(self.proj, 0o755)
        self.locald = os.path.join(self.proj, ".locald")
        os.mkdir(self.locald)
        chown_to(self.locald, self.user)
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            fn()
        for d in [self.proj] + getattr(self, "extra_dirs", []):
            if os.path.lexists(d):
                subprocess.run(["chmod", "-R", "u+rwx", d], stderr=subprocess.DEVNULL)
                shutil.rmtree(d, ignore_errors=True)

    def sentinel(self, name="sentinel"):
        d = make_sentinel(name)
        self.extra_dirs = getattr(self, "extra_dirs", []) + [d]
        return d, snapshot(d)

    def assert_error(self, r, name):
        self.assertFalse(r.ok, "expected %s, got %r" % (name, r))
        self.assertEqual(r.error, name, r)
        self.assertTrue(r.message, "%s without a message" % name)

    def cleanup_ok(self, path, user=None):
        r = bt.call(user or self.user, "CleanupPath", path)
        self.assertTrue(r.ok, r)
        return r.value[0]


# ------------------------------------------------------------ happy paths

class Cleanup(Base):
    def test_root_owned_tree_is_removed(self):
        tree = make_root_tree(os.path.join(self.locald, "tmp", "build"))
        sibling_file = os.path.join(self.locald, "tmp", "keep.txt")
        write(sibling_file)
        sibling_dir = os.path.join(self.locald, "state")
        os.makedirs(os.path.join(sibling_dir, "inner"))
        before_sibling = snapshot(sibling_dir)
        expected = count_entries(tree)
        self.assertEqual(self.cleanup_ok(tree), expected)
        self.assertFalse(os.path.lexists(tree))
        self.assertTrue(os.path.isdir(self.locald), ".locald itself was removed")
        self.assertEqual(os.stat(self.locald).st_uid, bt.uid_of(self.user))
        self.assertTrue(os.path.isfile(sibling_file), "a sibling file was removed")
        self.assertEqual(snapshot(sibling_dir), before_sibling)

    def test_single_entries(self):
        f = os.path.join(self.locald, "file")
        write(f)
        self.assertEqual(self.cleanup_ok(f), 1)
        self.assertFalse(os.path.lexists(f))
        d = os.path.join(self.locald, "emptydir")
        os.mkdir(d)
        self.assertEqual(self.cleanup_ok(d), 1)
        self.assertFalse(os.path.lexists(d))
        deep = os.path.join(self.locald, "a", "b", "c")
        os.makedirs(deep)
        write(os.path.join(deep, "x"))
        self.assertEqual(self.cleanup_ok(os.path.join(self.locald, "a", "b")), 3)
        self.assertTrue(os.path.isdir(os.path.join(self.locald, "a")))

    def test_missing_target_is_zero(self):
        self.assertEqual(self.cleanup_ok(os.path.join(self.locald, "not-there")), 0)
        self.assertEqual(self.cleanup_ok(os.path.join(self.locald, "not", "there", "at-all")), 0)
        self.assertTrue(os.path.isdir(self.locald))

    def test_missing_locald_is_not_found(self):
        os.rmdir(self.locald)
        r = bt.call(self.user, "CleanupPath", os.path.join(self.locald, "x"))
        self.assert_error(r, E_NOT_FOUND)

    def test_caller_own_files_too(self):
        # Leftovers are usually root's, but the caller's own entries go as well.
        d = os.path.join(self.locald, "mixed")
        os.makedirs(os.path.join(d, "mine"))
        write(os.path.join(d, "mine", "f"))
        write(os.path.join(d, "roots"))
        for p in (d, os.path.join(d, "mine"), os.path.join(d, "mine", "f")):
            chown_to(p, self.user)
        self.assertEqual(self.cleanup_ok(d), 4)
        self.assertFalse(os.path.lexists(d))

    def test_root_owned_prefix_symlink_is_followed(self):
        # /home -> /var/home style: a root-owned link before .locald is fine.
        link = os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "homelink-%d" % os.getpid())
        os.symlink(self.home, link)
        self.cleanups.append(lambda: os.unlink(link))
        tree = make_root_tree(os.path.join(self.locald, "via-link"), depth=1)
        n = count_entries(tree)
        self.assertEqual(self.cleanup_ok(os.path.join(link, os.path.basename(self.proj),
                                                      ".locald", "via-link")), n)
        self.assertFalse(os.path.lexists(tree))

    def test_user_owned_prefix_symlink_is_refused(self):
        link = os.path.join(self.home, "mylink")
        os.symlink(self.proj, link)
        os.lchown(link, bt.uid_of(self.user), -1)
        self.cleanups.append(lambda: os.unlink(link))
        tree = make_root_tree(os.path.join(self.locald, "t"), depth=1)
        before = snapshot(tree)
        r = bt.call(self.user, "CleanupPath", os.path.join(link, ".locald", "t"))
        self.assert_error(r, E_UNSAFE_PATH)
        self.assertEqual(snapshot(tree), before)

    def test_default_policy_user_can_clean_own(self):
        # carol has only the policy defaults: cleanup is allowed for anyone.
        home = bt.home_of(bt.CAROL)
        locald = os.path.join(home, "cproj", ".locald")
        os.makedirs(locald)
        chown_to(os.path.dirname(locald), bt.CAROL)
        chown_to(locald, bt.CAROL)
        self.extra_dirs = [os.path.dirname(locald)]
        tree = make_root_tree(os.path.join(locald, "t"), depth=1)
        n = count_entries(tree)
        self.assertEqual(self.cleanup_ok(tree, user=bt.CAROL), n)
        self.assertTrue(os.path.isdir(locald))


# ------------------------------------------------------------ refusals

class Refusals(Base):
    def test_invalid_paths(self):
        tree = make_root_tree(os.path.join(self.locald, "t"), depth=1)
        before = snapshot(self.proj)
        rel_proj = os.path.relpath(self.proj, "/")
        bad = [
            "",
            "/",
            rel_proj + "/.locald/t",                        # relative
            ".locald/t",
            self.locald + "/t/../t",                        # '..'
            self.locald + "/../.locald/t",
            self.proj + "/x/../.locald/t",
            self.locald + "/..",
            self.locald + "/t/..",
            self.locald,                                    # .locald itself
            self.locald + "/",
            self.locald + "/.",
            self.locald + "/./t",
            self.locald + "//t",
            self.locald + "/t/",
            self.proj + "/t",                               # no .locald at all
            self.proj,
            "/tmp",
            self.proj + "/.localdx/t",
            self.proj + "/.LOCALD/t",
            self.locald + "/t\n/x",                         # control character
            self.locald + "/" + "n" * 256,                  # component > NAME_MAX
        ]
        for path in bad:
            with self.subTest(path=path[-80:]):
                self.assert_error(bt.call(self.user, "CleanupPath", path), bt.E_INVALID_ARGS)
        self.assertEqual(snapshot(self.proj), before, "a refused call changed something")
        self.assertTrue(os.path.isdir(tree))

    def test_locald_owned_by_someone_else(self):
        # root's .locald inside alice's own project ...
        other = os.path.join(self.proj, "sub")
        os.makedirs(os.path.join(other, ".locald", "t"))
        chown_to(other, self.user)
        write(os.path.join(other, ".locald", "t", "f"))
        # ... and bob's .locald
        bob_proj = tempfile.mkdtemp(prefix="bobproj.", dir=bt.home_of(bt.BOB))
        self.extra_dirs = [bob_proj]
        os.makedirs(os.path.join(bob_proj, ".locald", "t"))
        chown_to(bob_proj, bt.BOB)
        # Searchable by alice: behind a directory she cannot search the
        # answer is NotFound, whatever lies there (test_no_oracle_...).
        os.chmod(bob_proj, 0o755)
        chown_to(os.path.join(bob_proj, ".locald"), bt.BOB)
        write(os.path.join(bob_proj, ".locald", "t", "f"))
        # ... and a plain file named .locald owned by alice.
        fileproj = os.path.join(self.proj, "fileproj")
        os.makedirs(fileproj)
        write(os.path.join(fileproj, ".locald"))
        chown_to(os.path.join(fileproj, ".locald"), self.user)
        before_self, before_bob = snapshot(self.proj), snapshot(bob_proj)
        for path in (os.path.join(other, ".locald", "t"),
                     os.path.join(other, ".locald", "t", "f"),
                     os.path.join(bob_proj, ".locald", "t"),
                     os.path.join(fileproj, ".locald", "t")):
            with self.subTest(path=path):
                r = bt.call(self.user, "CleanupPath", path)
                self.assert_error(r, E_NOT_OWNER)
        self.assertEqual(snapshot(self.proj), before_self)
        self.assertEqual(snapshot(bob_proj), before_bob)

    def test_no_oracle_through_unsearchable_dirs(self):
        """The walk to .locald runs as root, but tells alice nothing about
        what lies in a directory she cannot search: not whether entries
        exist, not their type, not who owns a .locald there."""
        bob_proj = tempfile.mkdtemp(prefix="bobsecret.", dir=bt.home_of(bt.BOB))
        self.extra_dirs = [bob_proj]
        write(os.path.join(bob_proj, "id_ed25519"))
        os.makedirs(os.path.join(bob_proj, "dir", ".locald", "t"))
        os.makedirs(os.path.join(bob_proj, ".locald", "t"))
        for p in ("", "id_ed25519", "dir", ".locald"):
            chown_to(os.path.join(bob_proj, p), bt.BOB)
        # alice's own .locald in there (root could have made it for her).
        chown_to(os.path.join(bob_proj, "dir", ".locald"), self.user)
        os.chmod(bob_proj, 0o700)
        paths = {
            "locald": os.path.join(bob_proj, ".locald", "t"),
            "file": os.path.join(bob_proj, "id_ed25519", ".locald", "t"),
            "own": os.path.join(bob_proj, "dir", ".locald", "t"),
            "missing": os.path.join(bob_proj, "nope", ".locald", "t"),
        }
        before = snapshot(bob_proj)
        for what, path in paths.items():
            with self.subTest(what=what):
                r = bt.call(self.user, "CleanupPath", path)
                self.assert_error(r, E_NOT_FOUND)
                # The whole text past the error name is this, nothing else.
                self.assertEqual(
                    r.message.split(E_NOT_FOUND + ": ", 1)[-1],
                    "no .locald directory owned by you is reachable at %s; check the path" % path)
        self.assertEqual(snapshot(bob_proj), before)
        # Searchable: the precise answers come back.
        os.chmod(bob_proj, 0o711)
        self.assert_error(bt.call(self.user, "CleanupPath", paths["locald"]), E_NOT_OWNER)
        r = bt.call(self.user, "CleanupPath", paths["file"])
        self.assert_error(r, E_NOT_FOUND)
        self.assertIn("is not a directory", r.message)
        self.assertEqual(self.cleanup_ok(paths["own"]), 1)
        self.assertFalse(os.path.lexists(paths["own"]))

    def test_no_oracle_through_acl_denied_dirs(self):
        """A directory whose POSIX ACL denies alice search hides what lies in
        it as a 0700 directory does, although its mode bits alone would let
        her in: a named-user entry for her without x while "other" has x, and
        the owning group's entry without x while the mask and "other" have
        it (she is in that group). carol, whom no entry names, still gets the
        precise answers. An ACL that grants alice search on a 0700 directory
        gives them back to her, as the kernel lets her in."""
        if shutil.which("setfacl") is None:
            self.skipTest("setfacl is not installed (package acl)")
        bob_proj = tempfile.mkdtemp(prefix="bobacl.", dir=bt.home_of(bt.BOB))
        self.extra_dirs = [bob_proj]
        write(os.path.join(bob_proj, "id_ed25519"))
        os.makedirs(os.path.join(bob_proj, "dir", ".locald"))
        os.makedirs(os.path.join(bob_proj, ".locald", "t"))
        for p in ("id_ed25519", "dir", ".locald", os.path.join(".locald", "t")):
            chown_to(os.path.join(bob_proj, p), bt.BOB)
        chown_to(os.path.join(bob_proj, "dir", ".locald"), self.user)
        own = os.path.join(bob_proj, "dir", ".locald", "t")
        write(own)
        chown_to(own, self.user)
        # bob's, in a group alice is in (and carol is not).
        group = grp.getgrnam("ldt-granted")
        self.assertIn(self.user, group.gr_mem)
        self.assertNotIn(bt.CAROL, group.gr_mem)
        os.chown(bob_proj, bt.uid_of(bt.BOB), group.gr_gid)
        paths = {
            "locald": os.path.join(bob_proj, ".locald", "t"),
            "file": os.path.join(bob_proj, "id_ed25519", ".locald", "t"),
            "own": own,
            "missing": os.path.join(bob_proj, "nope", ".locald", "t"),
        }

        def set_acl(spec):
            r = subprocess.run(["setfacl", "--set", spec, bob_proj], capture_output=True, text=True)
            if r.returncode != 0 and "not supported" in r.stderr:
                self.skipTest("no POSIX ACLs on the file system of %s" % bob_proj)
            self.assertEqual(r.returncode, 0, r.stderr)

        denials = {
            "named user without x": "u::rwx,u:%s:---,g::r-x,m::r-x,o::r-x" % self.user,
            "owning group without x": "u::rwx,g::r--,m::r-x,o::r-x",
        }
        before = snapshot(bob_proj)
        for what, spec in denials.items():
            set_acl(spec)
            self.assertTrue(os.stat(bob_proj).st_mode & stat.S_IXOTH)
            for name, path in paths.items():
                with self.subTest(acl=what, path=name):
                    r = bt.call(self.user, "CleanupPath", path)
                    self.assert_error(r, E_NOT_FOUND)
                    self.assertEqual(
                        r.message.split(E_NOT_FOUND + ": ", 1)[-1],
                        "no .locald directory owned by you is reachable at %s; check the path" % path)
            with self.subTest(acl=what, user=bt.CAROL):
                self.assert_error(bt.call(bt.CAROL, "CleanupPath", paths["locald"]), E_NOT_OWNER)
        self.assertEqual(snapshot(bob_proj), before)

        os.chmod(bob_proj, 0o700)
        set_acl("u::rwx,u:%s:--x,g::---,m::--x,o::---" % self.user)
        self.assert_error(bt.call(self.user, "CleanupPath", paths["locald"]), E_NOT_OWNER)
        r = bt.call(self.user, "CleanupPath", paths["file"])
        self.assert_error(r, E_NOT_FOUND)
        self.assertIn("is not a directory", r.message)
        self.assertEqual(self.cleanup_ok(own), 1)
        self.assertFalse(os.path.lexists(own))

    def test_bob_cannot_clean_alices_tree(self):
        tree = make_root_tree(os.path.join(self.locald, "t"), depth=2)
        before = snapshot(self.proj)
        for path in (tree, os.path.join(tree, "file0"), os.path.join(tree, "sub0")):
            with self.subTest(path=path):
                self.assert_error(bt.call(bt.BOB, "CleanupPath", path), E_NOT_OWNER)
        self.assertEqual(snapshot(self.proj), before)

    def test_mallory_denied(self):
        home = bt.home_of(bt.MALLORY)
        mproj = tempfile.mkdtemp(prefix="mproj.", dir=home)
        self.extra_dirs = [mproj]
        chown_to(mproj, bt.MALLORY)
        os.mkdir(os.path.join(mproj, ".locald"))
        chown_to(os.path.join(mproj, ".locald"), bt.MALLORY)
        mtree = make_root_tree(os.path.join(mproj, ".locald", "t"), depth=2)
        atree = make_root_tree(os.path.join(self.locald, "t"), depth=1)
        before_m, before_a = snapshot(mproj), snapshot(self.proj)
        for path in (mtree, os.path.join(mtree, "file0"), atree):
            with self.subTest(path=path):
                self.assert_error(bt.call(bt.MALLORY, "CleanupPath", path), bt.E_ACCESS_DENIED)
        self.assertEqual(snapshot(mproj), before_m)
        self.assertEqual(snapshot(self.proj), before_a)

    def test_overlong_paths(self):
        tree = make_root_tree(os.path.join(self.locald, "t"), depth=1)
        before = snapshot(self.proj)
        pid = bt.broker_pid()
        too_long = self.locald + "/" + "/".join(["abcdefgh"] * ((PATH_MAX // 9) + 2))
        self.assertGreater(len(too_long), PATH_MAX)
        cases = {
            "PATH_MAX+": too_long,
            "PATH_MAX": path_of_length(self.locald, PATH_MAX),
            "1MiB-components": self.locald + "/" + "/".join(["x"] * (1 << 19)),
            "1MiB-name": self.locald + "/" + "y" * (1 << 20),
        }
        self.assertEqual(len(cases["PATH_MAX"]), PATH_MAX)
        for name, path in cases.items():
            with self.subTest(case=name, length=len(path)):
                self.assert_error(bt.call(self.user, "CleanupPath", path), bt.E_INVALID_ARGS)
        # One byte less is a valid (missing) path.
        r = bt.call(self.user, "CleanupPath", path_of_length(self.locald, PATH_MAX - 1))
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], 0)
        self.assertEqual(snapshot(self.proj), before)
        # The broker survived all of it and still works.
        if pid is not None:
            self.assertEqual(bt.broker_pid(), pid, "the broker died or restarted")
        n = count_entries(tree)
        self.assertEqual(self.cleanup_ok(tree), n)
        self.assertTrue(bt.call(self.user, "SelfCheck").ok)


# ------------------------------------------------------------ symlinks

class Symlinks(Base):
    def test_symlinks_in_tree_are_removed_not_followed(self):
        sentinel, before = self.sentinel()
        tree = os.path.join(self.locald, "t")
        os.makedirs(os.path.join(tree, "d"))
        os.symlink(sentinel, os.path.join(tree, "to-dir"))
        os.symlink(os.path.join(sentinel, "f"), os.path.join(tree, "to-file"))
        os.symlink(sentinel, os.path.join(tree, "d", "nested-to-dir"))
        os.symlink("../../../../../../../../../../" + sentinel.lstrip("/"),
                   os.path.join(tree, "d", "relative-escape"))
        os.symlink("/", os.path.join(tree, "d", "to-root"))
        # A symlink owned by alice herself, as she could plant one.
        os.symlink(sentinel, os.path.join(tree, "alices"))
        os.lchown(os.path.join(tree, "alices"), bt.uid_of(self.user), -1)
        n = count_entries(tree)
        self.assertEqual(n, 8)
        self.assertEqual(self.cleanup_ok(tree), n)
        self.assertFalse(os.path.lexists(tree))
        self.assertEqual(snapshot(sentinel), before, "the sentinel changed")

    def test_symlink_as_target_removes_the_link(self):
        sentinel, before = self.sentinel()
        link = os.path.join(self.locald, "link")
        os.symlink(sentinel, link)
        self.assertEqual(self.cleanup_ok(link), 1)
        self.assertFalse(os.path.lexists(link))
        self.assertEqual(snapshot(sentinel), before)

    def test_symlink_in_path_is_refused(self):
        sentinel, before = self.sentinel()
        link = os.path.join(self.locald, "link")
        os.symlink(sentinel, link)
        for rest in ("f", "sub", "sub/f"):
            with self.subTest(rest=rest):
                r = bt.call(self.user, "CleanupPath", os.path.join(link, rest))
                self.assert_error(r, E_UNSAFE_PATH)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(snapshot(sentinel), before)

    def test_locald_symlink_is_refused(self):
        # .locald itself a symlink (to a directory alice owns, and to root's).
        sentinel, before = self.sentinel()
        real = os.path.join(self.proj, "real")
        os.makedirs(os.path.join(real, "t"))
        chown_to(real, self.user)
        write(os.path.join(real, "t", "f"))
        os.rmdir(self.locald)
        for target in (real, sentinel):
            with self.subTest(target=target):
                os.symlink(target, self.locald)
                os.lchown(self.locald, bt.uid_of(self.user), -1)
                try:
                    for rest in ("t", "f", "sub"):
                        r = bt.call(self.user, "CleanupPath", os.path.join(self.locald, rest))
                        self.assertFalse(r.ok, r)
                        self.assertIn(r.error, (E_UNSAFE_PATH, E_NOT_OWNER), r)
                finally:
                    os.unlink(self.locald)
        self.assertTrue(os.path.isfile(os.path.join(real, "t", "f")))
        self.assertEqual(snapshot(sentinel), before)

    def test_swap_race_never_reaches_sentinel(self):
        """An attacker (alice) keeps exchanging a directory of the tree with
        a symlink to a root-owned sentinel while CleanupPath runs."""
        rounds = int(os.environ.get("LOCALD_RACE_ROUNDS", "200"))
        sentinel, before = self.sentinel("race-sentinel")
        base = os.path.join(self.locald, "race")
        os.mkdir(base)
        chown_to(base, self.user)
        attacker_src = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
base, sentinel = sys.argv[1], sys.argv[2]
t = os.path.join(base, "t")
d, l = os.path.join(t, "d"), os.path.join(t, "l")
bd, bl = os.fsencode(d), os.fsencode(l)
sys.stdout.write("ready\n"); sys.stdout.flush()
while True:
    try:
        os.makedirs(os.path.join(d, "sub"), exist_ok=True)
        for f in ("f", "precious", "sub/f"):
            open(os.path.join(d, f), "w").close()
    except OSError:
        pass
    try:
        if not os.path.lexists(l):
            os.symlink(sentinel, l)
    except OSError:
        pass
    for _ in range(64):
        libc.renameat2(AT_FDCWD, bd, AT_FDCWD, bl, RENAME_EXCHANGE)
'''
        attacker = subprocess.Popen(
            ["runuser", "-u", self.user, "--", "/usr/bin/python3",
             "-c", attacker_src, base, sentinel],
            stdout=subprocess.PIPE, text=True, cwd=self.home)
        self.cleanups.append(lambda: (attacker.kill(), attacker.wait()))
        self.assertEqual(attacker.stdout.readline().strip(), "ready")
        t = os.path.join(base, "t")
        bt.wait_until(lambda: os.path.lexists(os.path.join(t, "l")), what="the attacker")
        targets = [t, os.path.join(t, "d"), os.path.join(t, "d", "sub"),
                   os.path.join(t, "d", "f"), os.path.join(t, "l")]
        outcomes = {}
        removed = 0
        t0 = time.monotonic()
        for i in range(rounds):
            target = targets[i % len(targets)]
            r = bt.call(self.user, "CleanupPath", target)
            key = "ok" if r.ok else r.error
            outcomes[key] = outcomes.get(key, 0) + 1
            if r.ok:
                removed += r.value[0]
            else:
                self.assertIn(r.error, (E_UNSAFE_PATH, "dev.locald.Broker1.Error.Failed",
                                        "dev.locald.Broker1.Error.Busy"),
                              "round %d, %s: %r" % (i, target, r))
            if snapshot(sentinel) != before:
                self.fail("round %d (%s, %r): the sentinel changed: %r"
                          % (i, target, r, snapshot(sentinel)))
            self.assertIsNone(attacker.poll(), "the attacker died")
        elapsed = time.monotonic() - t0
        sys.stderr.write("race: %d rounds in %.1f s, outcomes %r, %d entries removed\n"
                         % (rounds, elapsed, outcomes, removed))
        self.assertGreater(outcomes.get("ok", 0), 0, "no round succeeded: %r" % outcomes)
        self.assertGreater(removed, 0, "the race never removed anything: %r" % outcomes)
        attacker.kill()
        attacker.wait()
        self.assertEqual(snapshot(sentinel), before)
        self.assertTrue(os.path.isdir(self.locald))


# ------------------------------------------------------------ mounts

class Mounts(Base):
    def mount_bind(self, src, dst):
        subprocess.run(["mount", "--bind", src, dst], check=True, timeout=bt.NO_HANG)
        self.cleanups.append(lambda: subprocess.run(["umount", "-l", dst], stderr=subprocess.DEVNULL))
        self.assertTrue(is_mount_point(dst))

    def test_bind_mount_in_tree(self):
        src, before = self.sentinel("mounted")
        tree = os.path.join(self.locald, "t")
        mnt = os.path.join(tree, "z-mnt")
        os.makedirs(mnt)
        os.makedirs(os.path.join(tree, "a-dir"))
        write(os.path.join(tree, "a-file"))
        self.mount_bind(src, mnt)
        for path, name in ((tree, "tree"), (mnt, "mount point"),
                           (os.path.join(mnt, "f"), "file in mount"),
                           (os.path.join(mnt, "sub"), "dir in mount")):
            with self.subTest(target=name):
                r = bt.call(self.user, "CleanupPath", path)
                self.assert_error(r, E_CROSSES_MOUNT)
                self.assertTrue(is_mount_point(mnt), "the mount point went away")
                self.assertEqual(snapshot(src), before, "mounted content changed")
        # Once unmounted, the same call cleans up.
        subprocess.run(["umount", mnt], check=True, timeout=bt.NO_HANG)
        self.cleanups.pop()
        n = count_entries(tree)
        self.assertEqual(self.cleanup_ok(tree), n)
        self.assertFalse(os.path.lexists(tree))
        self.assertEqual(snapshot(src), before)

    def test_mount_over_locald_subdir_of_same_fs(self):
        # A bind mount of a directory of the same file system (same st_dev)
        # is still a mount point.
        src, before = self.sentinel("samefs")
        tree = os.path.join(self.locald, "t", "deep")
        os.makedirs(tree)
        self.mount_bind(src, tree)
        self.assertEqual(os.stat(src).st_dev, os.stat(self.locald).st_dev)
        r = bt.call(self.user, "CleanupPath", os.path.join(self.locald, "t"))
        self.assert_error(r, E_CROSSES_MOUNT)
        self.assertTrue(is_mount_point(tree))
        self.assertEqual(snapshot(src), before)


if __name__ == "__main__":
    bt.main()
