#!/usr/bin/env bash
# Run a command inside the Debian unstable chroot made by tools/sid-chroot.sh,
# with the source tree bind-mounted at its own path (so that file names in
# caches and tracebacks are the same inside and out) and at /src, and /proc,
# /dev, /sys and a fresh /tmp mounted; the mounts are undone when the
# command ends.
#
#   bash tools/in-chroot.sh COMMAND [ARG...]     # runs in the tree
#
# ALTGC_SID_ROOT names the chroot (default: .sid/ in the tree).  pip inside
# finds the package index through the CA bundle sid-chroot.sh copied in.
# Variables passed in: CI, PYTEST_ADDOPTS, HYPOTHESIS_*, ALTGC_* and
# TOX_* from the caller; PATH and HOME are the chroot's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${ALTGC_SID_ROOT:-$ROOT/.sid}
if [ ! -e "$DIR/.altgc-ready" ]; then
    echo "in-chroot: no chroot at $DIR (run tools/sid-chroot.sh first)" >&2
    exit 2
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Several commands may use the chroot at once (each its own in-chroot.sh):
# the mounts are shared, made by whichever comes first and undone by the
# last to leave.  $DIR/.sessions holds one file per running session;
# `flock` serialises the bookkeeping.
SESS=$DIR/.sessions
as_root mkdir -p "$SESS"
exec 9>"$DIR/.sessions.lock"

unmount_all() {
    local t
    for t in "$DIR$ROOT" "$DIR/src" "$DIR/tmp" "$DIR/dev" "$DIR/sys" "$DIR/proc"; do
        if mountpoint -q "$t"; then
            as_root umount -l "$t" 2>/dev/null || true
        fi
    done
}
cleanup() {
    flock 9
    as_root rm -f "$SESS/$$"
    local f live=0
    for f in "$SESS"/*; do
        [ -e "$f" ] || continue
        if kill -0 "$(basename "$f")" 2>/dev/null; then
            live=1
        else
            as_root rm -f "$f"
        fi
    done
    [ "$live" -eq 1 ] || unmount_all
    flock -u 9
}
trap cleanup EXIT

mount_once() {   # mount_once TARGET MOUNT-ARGS...
    local target=$1
    shift
    as_root mkdir -p "$target"
    if ! mountpoint -q "$target"; then
        as_root mount "$@" "$target"
    fi
}

flock 9
as_root touch "$SESS/$$"
mount_once "$DIR/proc" -t proc proc
mount_once "$DIR/sys" --rbind /sys
mount_once "$DIR/dev" --rbind /dev
mount_once "$DIR/tmp" -t tmpfs -o size=8g tmpfs
mount_once "$DIR/src" --bind "$ROOT"
mount_once "$DIR$ROOT" --bind "$ROOT"
flock -u 9

declare -a envs=(
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOME=/root" "LANG=C.UTF-8" "TERM=${TERM:-dumb}"
    "SSL_CERT_FILE=/etc/altgc-ca.crt" "PIP_CERT=/etc/altgc-ca.crt"
    "REQUESTS_CA_BUNDLE=/etc/altgc-ca.crt"
    "PIP_DISABLE_PIP_VERSION_CHECK=1" "PYTHONUNBUFFERED=1"
)
while IFS='=' read -r name _; do
    case $name in
        CI|PYTEST_ADDOPTS|HYPOTHESIS_*|ALTGC_*|TOX_*|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL)
            envs+=("$name=${!name}") ;;
    esac
done < <(env)

as_root chroot "$DIR" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$ROOT" "$@"
