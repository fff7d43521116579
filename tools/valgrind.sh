#!/usr/bin/env bash
# Valgrind memcheck run of altgc's core tests (CI stage `valgrind`; by hand: `bash tools/valgrind.sh`).
#
#   bash tools/valgrind.sh                          # the default selection (VG_TESTS below)
#   bash tools/valgrind.sh tests/test_api.py -x     # anything else: arguments go to pytest
#
# What it does:
#  1. copies the source tree (git's tracked + untracked-not-ignored files, as they are
#     in the work tree) into a fresh temporary directory and builds the extensions there
#     in place with the interpreter's compiler and flags plus -g (the shipped -O2 build,
#     with line numbers in the traces); the checkout never sees these .so files;
#  2. runs pytest from that copy (PYTHONPATH=.) under pyenv's CPython 3.12 (venv-san/
#     under the checkout, shared with tools/sanitize.sh: pytest, hypothesis from PyPI)
#     inside `valgrind --tool=memcheck` with PYTHONMALLOC=malloc, so that every object
#     is a malloc block memcheck tracks: a read of a dead object, a write past an
#     array, a branch on uninitialised memory is reported where it happens;
#     --suppressions=tools/valgrind-python.supp (interpreter/libc noise only),
#     --leak-check=no (CPython does not free everything at exit; refleaks are the
#     refleak stage's business), --error-exitcode=99, --num-callers=40,
#     --fullpath-after=<copy>/ (altgc's frames read src/FILE.c:LINE); reports go to
#     one log file per process (children spawned by tests run natively, untraced);
#  3. fails if pytest failed, or valgrind exited 99, or any log has a nonzero
#     ERROR SUMMARY; prints every error context and says which ones have a frame in
#     altgc's own objects (_core*.so, _testobjs*.so).
#
# Knobs: ALTGC_VG_PYTHON (default pyenv's newest 3.12), ALTGC_SAN_VENV (venv, default
# <checkout>/venv-san), ALTGC_VG_ARGS (extra valgrind options, e.g. --track-origins=yes),
# ALTGC_VG_KEEP=1 (keep the temporary tree and logs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

# The API surface, the collector, the death hooks and the hostile/finalizer
# scenarios: track, collect, find_unreachable, argument checks, stats,
# referrers, deaths by refcount and by collection, the death queue, free-list
# reuse, trashcan, __del__/resurrection/weakref callbacks, objects whose
# tp_traverse lies or mutates the graph, re-entrant collections. Not here: the
# 10**6-object scenarios (-m slow), too slow under valgrind (~20-50x), and files
# whose tests all run in a child interpreter (test_tracemalloc.py): children run untraced
# (the sanitize stage covers them, its LD_PRELOAD is inherited).
VG_TESTS=(tests/test_api.py tests/test_collect.py tests/test_deaths.py tests/test_death_queue.py tests/test_hostile.py tests/test_install_inprocess.py tests/test_interposition.py tests/test_collector_paths.py tests/test_stackrefs.py -m "not slow")

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pyenv_python() {
    local root
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    ls -d "$root"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1
}

PY=${ALTGC_VG_PYTHON:-$(pyenv_python)}
[ -x "$PY" ] || { echo "valgrind: no CPython 3.12 (set ALTGC_VG_PYTHON)" >&2; exit 2; }

if ! command -v valgrind >/dev/null 2>&1; then
    echo "+ apt-get install valgrind"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind
fi

VENV=${ALTGC_SAN_VENV:-$ROOT/venv-san}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pytest, hypothesis, setuptools' 2>/dev/null; then
    echo "+ $PY -m venv $VENV && pip install pytest hypothesis setuptools"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "pytest>=7" "hypothesis>=6" "setuptools>=61"
fi
VPY=$VENV/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/altgc-vg.XXXXXX")
cleanup() { if [ "${ALTGC_VG_KEEP:-0}" = 1 ]; then echo "valgrind: kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# 1. a copy of the tree, built in place
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$WORK"
else
    (cd "$ROOT" && tar --exclude=./build --exclude='./venv*' --exclude=./.tox --exclude='./.sid*' --exclude='*.so' -cf - .) \
        | tar -xf - -C "$WORK"
fi
LOGS=$WORK/vg-logs
mkdir -p "$LOGS"
SUPP=$ROOT/tools/valgrind-python.supp
cd "$WORK"
"$VPY" -c 'import sys, pytest, hypothesis; print("python", sys.version.split()[0], "pytest", pytest.__version__, "hypothesis", hypothesis.__version__)'
valgrind --version
echo "+ CFLAGS=-g $VPY setup.py build_ext --inplace"
CFLAGS="-g ${CFLAGS:-}" "$VPY" -W ignore setup.py -q build_ext --inplace
ls altgc/_core*.so altgc/_testobjs*.so

# 2. the tests under memcheck
if [ "$#" -eq 0 ]; then set -- "${VG_TESTS[@]}"; fi
export PYTHONMALLOC=malloc
export HYPOTHESIS_STORAGE_DIRECTORY=$WORK/.hypothesis
# shellcheck disable=SC2206
VG=(valgrind --tool=memcheck --suppressions="$SUPP" --error-exitcode=99
    --leak-check=no --errors-for-leak-kinds=none --num-callers=40
    --trace-children=no --fullpath-after="$WORK/" --log-file="$LOGS/vg.%p.log" ${ALTGC_VG_ARGS:-})
echo "+ PYTHONMALLOC=malloc PYTHONPATH=. ${VG[*]} python -m pytest -p no:cacheprovider $*"
set +e
PYTHONPATH=. "${VG[@]}" "$VPY" -m pytest -p no:cacheprovider --durations=10 "$@"
rc=$?
set -e

# 3. the verdict
errors=0 ctx_altgc=0
for f in "$LOGS"/vg.*.log; do
    [ -e "$f" ] || continue
    n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
    n=${n:-0}
    errors=$((errors + n))
    if [ "$n" -ne 0 ]; then
        echo "---------------- valgrind errors in $(basename "$f") ----------------"
        # error contexts: from a report's first line to the blank line after it
        awk '/^==[0-9]+== [A-Z][a-z]/ && !/(Memcheck|Copyright|Using Valgrind|Command:|HEAP SUMMARY|in use at exit|total heap usage|For a detailed|For lists|ERROR SUMMARY|Parent PID)/ {p=1}
             p {print} /^==[0-9]+== $/ {p=0}' "$f"
        ctx_altgc=$((ctx_altgc + $(awk '/^==[0-9]+== [A-Z][a-z]/ && !/(Memcheck|Copyright|Using Valgrind|Command:|HEAP|in use at|total heap|For a|For lists|ERROR SUMMARY|Parent PID)/ {inctx=1; hit=0}
             inctx && /_core\.cpython|_testobjs\.cpython|src\/[a-z]+\.c:/ {hit=1}
             /^==[0-9]+== $/ && inctx {c+=hit; inctx=0} END {print c+0}' "$f")))
    fi
done
echo "valgrind: pytest/valgrind exit $rc; memcheck errors: $errors (error contexts with a frame in altgc: $ctx_altgc); logs: $(ls "$LOGS" | wc -l) process(es)"
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
    [ "$rc" -eq 99 ] && echo "valgrind: exit 99 = memcheck found errors (see above)" >&2
    echo "valgrind: FAILED" >&2
    exit $(( rc != 0 ? rc : 1 ))
fi
echo "valgrind: ok, 0 memcheck errors"
