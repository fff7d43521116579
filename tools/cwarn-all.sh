#!/bin/bash
# src/ compiled with warnings as errors (tools/cwarn.sh) by gcc and clang
# against the headers of every supported CPython:
#   3.11-3.13  pyenv's interpreters (tools/pyenv-path.sh), host gcc and clang;
#   3.14-3.15  Debian unstable's headers in the chroot (ALTGC_SID_ROOT,
#              default .sid/): host clang, and the chroot's own gcc (a newer
#              gcc than the host's, with its own warnings).
# Without the chroot the 3.14/3.15 checks are reported as skipped unless
# ALTGC_CWARN_REQUIRE_SID=1, which makes a missing chroot a failure (CI).
# Exits 1 if any compilation warns.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
status=0
runs=0

check() {   # check CC INCLUDE_DIR [extra cflags]
    runs=$((runs + 1))
    CWARN_CFLAGS="${3:-}" bash tools/cwarn.sh "$1" "$2" || status=1
}

# shellcheck disable=SC1091
. tools/pyenv-path.sh
for v in 3.11 3.12 3.13; do
    if ! command -v "python$v" >/dev/null 2>&1; then
        echo "cwarn-all: python$v not found" >&2
        status=1
        continue
    fi
    inc=$("python$v" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    for cc in gcc clang; do
        check "$cc" "$inc"
    done
done

SID=${ALTGC_SID_ROOT:-$ROOT/.sid}
if [ -d "$SID/usr/include/python3.14" ]; then
    shim=$(mktemp -d)
    trap 'rm -rf "$shim"' EXIT
    multiarch=x86_64-linux-gnu
    mkdir -p "$shim/$multiarch"
    for v in 3.14 3.15; do
        # Debian's pyconfig.h includes <MULTIARCH/pythonX.Y/pyconfig.h>:
        # point just that path into the chroot, not its libc headers.
        ln -sfn "$SID/usr/include/$multiarch/python$v" "$shim/$multiarch/python$v"
        check clang "$SID/usr/include/python$v" "-I$shim"
        runs=$((runs + 1))
        bash tools/in-chroot.sh bash tools/cwarn.sh gcc "/usr/include/python$v" || status=1
    done
elif [ "${ALTGC_CWARN_REQUIRE_SID:-0}" = 1 ]; then
    echo "cwarn-all: no chroot at $SID (tools/sid-chroot.sh makes it)" >&2
    status=1
else
    echo "cwarn-all: 3.14/3.15 skipped: no chroot at $SID (tools/sid-chroot.sh makes it)"
fi
echo "cwarn-all: $runs compiler x CPython combinations, $([ $status -eq 0 ] && echo clean || echo 'WARNINGS')"
exit $status
