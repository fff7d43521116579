#!/usr/bin/env bash
# Make (once) a Debian unstable chroot holding CPython 3.14 and 3.15, for
# building and testing altgc on the interpreters users run now.
#
#   bash tools/sid-chroot.sh [DIR]      # DIR defaults to $ALTGC_SID_ROOT or .sid/ in the tree
#
# What goes in: gcc, python3.X{,-dev,-venv,-dbg} and libpython3.X-testsuite
# (CPython's own Lib/test) for 3.14 and 3.15, and the machine's CA bundle
# (SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt) as
# /etc/altgc-ca.crt so that pip inside the chroot reaches the package index.
# The mirror is the one the host's apt already uses (read from its sources).
# A finished chroot is marked by DIR/.altgc-ready and is never rebuilt; a half
# made one (interrupted debootstrap) is removed and made again.
#
# tools/in-chroot.sh runs a command inside it with /proc, /dev and the tree
# mounted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-${ALTGC_SID_ROOT:-$ROOT/.sid}}
VERSIONS="3.14 3.15"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ -e "$DIR/.altgc-ready" ]; then
    echo "sid chroot: $DIR is ready"
    exit 0
fi

# The host's Debian mirror: first URIs: line of a deb822 source, else the
# first "deb URL" line of sources.list.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror=$(awk '/^URIs:/ {print $2; exit}' "$f")
    [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
mirror=${mirror%/debian-security}
if [ -z "$mirror" ]; then
    echo "sid chroot: no Debian mirror found in the host's apt sources" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "+ apt-get install debootstrap"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

pkgs=gcc,libc6-dev,ca-certificates,valgrind
for v in $VERSIONS; do
    pkgs="$pkgs,python$v,python$v-dev,python$v-venv,python$v-dbg,libpython$v-testsuite"
done

as_root rm -rf "$DIR"
mkdir -p "$DIR"
echo "+ debootstrap --variant=minbase --include=$pkgs sid $DIR <host mirror>"
t0=$SECONDS
as_root debootstrap --variant=minbase --include="$pkgs" sid "$DIR" "$mirror" \
    > "$DIR.debootstrap.log" 2>&1 || {
    echo "sid chroot: debootstrap failed; the end of its log:" >&2
    tail -40 "$DIR.debootstrap.log" >&2
    exit 1
}
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
as_root cp "$ca" "$DIR/etc/altgc-ca.crt"
as_root mkdir -p "$DIR/work"
for v in $VERSIONS; do
    as_root chroot "$DIR" "python$v" -c 'import sys; print(sys.version)'
done
touch "$DIR/.altgc-ready"
echo "sid chroot: made $DIR in $((SECONDS - t0))s ($(du -sh "$DIR" | cut -f1))"
