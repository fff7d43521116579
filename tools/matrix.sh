#!/usr/bin/env bash
# The test matrix: every supported CPython, each building a wheel from this
# tree and running the whole suite on the installed package (tox.ini).
#
#   bash tools/matrix.sh                 # 3.11 3.12 3.13 3.14 3.15
#   bash tools/matrix.sh 3.14 3.15       # a subset
#
# 3.11-3.13 come from pyenv (tools/pyenv-path.sh) and run on this machine;
# 3.14 and 3.15 come from Debian's unstable suite, in a chroot that
# tools/sid-chroot.sh makes once (root: debootstrap, mount, chroot), where
# tox runs with its own virtualenv and work directory.  Extra arguments for
# pytest: PYTEST_ADDOPTS.  Exit status: non-zero if any version failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.11 3.12 3.13 3.14 3.15)
TOX_SPEC='tox>=4.11,<5'

host_envs=() sid_envs=()
for v in "${VERSIONS[@]}"; do
    case $v in
        3.11|3.12|3.13) host_envs+=("py${v/./}") ;;
        3.14|3.15) sid_envs+=("py${v/./}") ;;
        *) echo "matrix: altgc does not support CPython $v" >&2; exit 2 ;;
    esac
done

rc=0
if [ ${#host_envs[@]} -gt 0 ]; then
    # shellcheck disable=SC1091
    . tools/pyenv-path.sh
    if [ ! -x "$ROOT/venv-ci/bin/python" ]; then
        "$(readlink -f "$(command -v python3.11)")" -m venv "$ROOT/venv-ci"
    fi
    "$ROOT/venv-ci/bin/python" -m pip install -q "$TOX_SPEC"
    envs=$(IFS=,; echo "${host_envs[*]}")
    echo "+ tox -e $envs"
    "$ROOT/venv-ci/bin/python" -m tox -e "$envs" || rc=1
fi
if [ ${#sid_envs[@]} -gt 0 ]; then
    bash tools/sid-chroot.sh
    envs=$(IFS=,; echo "${sid_envs[*]}")
    echo "+ (in the sid chroot) tox -e $envs"
    bash tools/in-chroot.sh sh -ec "
        [ -x /root/venv-tox/bin/python ] || python3.14 -m venv /root/venv-tox
        /root/venv-tox/bin/python -m pip install -q '$TOX_SPEC'
        /root/venv-tox/bin/python -m tox --workdir /root/tox-work -e $envs
    " || rc=1
fi
exit $rc
