# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shell functions shared by the throw-away test worlds
# (tests/sandbox/locald-sandbox, tests/systemd-box/locald-systemd-box).
# Sourced, never run; the sourcing script sets PROG first.

# Both worlds change what the host's root looks like to the tests (the
# sandbox creates the ldt-* users in the host's /etc/passwd, the box overlays
# the host's root), so they take the same lock: one world at a time.
WORLD_LOCK_FILE=/run/lock/locald-sandbox.lock

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { msg "error: $*"; exit 1; }

# The host cannot run the world: skip (77), or fail when privileged tests
# are forced.
cannot_run() {
    if [[ ${LOCALD_E2E_FORCE_PRIVILEGED:-} == 1 ]]; then
        msg "error: LOCALD_E2E_FORCE_PRIVILEGED=1 but $PROG cannot run: $*"
        exit 1
    fi
    msg "skipping: $*"
    exit 77
}

# Takes the world lock on fd 9, waiting (bounded) for a running world.
take_world_lock() {
    mkdir -p "$(dirname "$WORLD_LOCK_FILE")"
    exec 9>>"$WORLD_LOCK_FILE"
    if ! flock -n 9; then
        msg "waiting for another sandbox or box to finish (lock $WORLD_LOCK_FILE)"
        flock -w "${LOCALD_SANDBOX_LOCK_TIMEOUT:-900}" 9 || die "timed out waiting for $WORLD_LOCK_FILE"
    fi
}

cgroup2_mount() {
    # First cgroup2 mount of this mount namespace, from mountinfo (field 5 is
    # the mount point; the fstype follows the " - " separator).
    local line mp fstype rest
    while IFS= read -r line; do
        rest=${line#* - }
        fstype=${rest%% *}
        if [[ $fstype == cgroup2 ]]; then
            mp=$(printf '%s' "$line" | cut -d' ' -f5)
            printf '%b\n' "$mp"
            return 0
        fi
    done </proc/self/mountinfo
    return 1
}

# Waits until "$@" succeeds, polling every 50 ms, at most $1 tenths of a second.
wait_for() {
    local tenths=$1; shift
    local i
    for ((i = 0; i < tenths * 2; i++)); do
        if "$@"; then return 0; fi
        sleep 0.05
    done
    "$@"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

cgroup_empty() { grep -qx 'populated 0' "$1/cgroup.events" 2>/dev/null || [[ ! -d $1 ]]; }

# Kills every process below cgroup $1, waits until it is empty, removes it
# bottom-up. cgroupfs directories cannot be unlinked recursively: rmdir only.
cgroup_destroy() {
    local cg=$1 pid d
    [[ -d $cg ]] || return 0
    if [[ -e $cg/cgroup.kill ]]; then
        echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
    else
        while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done \
            < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
    fi
    wait_for 100 cgroup_empty "$cg" || msg "warning: $cg still populated"
    while IFS= read -r d; do
        rmdir "$d" 2>/dev/null || msg "warning: cannot rmdir $d"
    done < <(find "$cg" -depth -type d 2>/dev/null)
}

# The `cleanup` subcommand: what a killed run left, removed now rather than
# at the next run; waits for a running world. remove_stale MOUNT is the
# sourcing script's.
cmd_cleanup() {
    [[ $(id -u) == 0 ]] || die "cleanup needs root"
    local mnt
    mnt=$(cgroup2_mount) || die "no cgroup2 hierarchy mounted"
    take_world_lock
    remove_stale "$mnt"
}

# Destroys the cgroups "$1/$2"* (a world's cgroup left by a killed run).
remove_stale_cgroups() {
    local mnt=$1 prefix=$2 cg
    for cg in "$mnt/$prefix"*; do
        [[ -d $cg ]] || continue
        msg "removing stale cgroup $cg"
        cgroup_destroy "$cg"
    done
}

# Removes the directories "$1".* under $TMPDIR that carry the marker file $2
# (a world's temporary directory left by a killed run).
remove_stale_dirs() {
    local prefix=$1 marker=$2 d
    for d in "${TMPDIR:-/tmp}/$prefix".*; do
        [[ -d $d && -f $d/$marker ]] || continue
        msg "removing stale directory $d"
        rm -rf --one-file-system "$d"
    done
}
