#!/usr/bin/env bash
# ASan + UBSan run of altgc's tests (CI stage `sanitize`; by hand: `bash tools/sanitize.sh`).
#
#   bash tools/sanitize.sh                     # the whole suite (SAN_TESTS below)
#   bash tools/sanitize.sh tests/test_api.py   # anything else: arguments go to pytest
#
# What it does:
#  1. copies the source tree (git's tracked + untracked-not-ignored files, as they are
#     in the work tree) into a fresh temporary directory, so the sanitized .so files
#     never land in the checkout where another stage or a developer could import them;
#  2. builds altgc._core and altgc._testobjs there in place with clang and
#     ALTGC_SANITIZE=address,undefined (setup.py adds -fsanitize=... -g
#     -fno-omit-frame-pointer);
#  3. runs pytest from that copy with PYTHONPATH=. under pyenv's CPython 3.12 from a venv
#     (venv-san/ under the checkout; pytest and hypothesis from PyPI), with
#       PYTHONMALLOC=malloc      every object allocation goes through malloc/free, which
#                                ASan intercepts: a read of a freed object is caught
#       LD_PRELOAD=<asan rt>     python itself is not instrumented, so the runtime must be
#                                loaded first (it also carries the UBSan handlers)
#       ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:...
#                                detect_leaks=0 because CPython deliberately leaks at exit
#                                (interned strings, static types, arenas are not freed
#                                by Py_Finalize), which LeakSanitizer would report on
#                                every run; refleaks are the refleak stage's business
#       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
#     Both runtimes write their reports to files (log_path=<dir>/report.PID; the UBSan
#     handlers live in the ASan runtime and share its log), so a report from inside
#     pytest's fd capture or from a test's subprocess (the env is inherited) is never lost;
#  4. fails if pytest failed, if any report file exists, or if the log contains
#     "ERROR: AddressSanitizer" or "runtime error:". Reports are printed in full.
#
# Knobs: ALTGC_SAN_PYTHON (interpreter, default pyenv's newest 3.12), ALTGC_SAN_VENV
# (default <checkout>/venv-san), ALTGC_SAN_KEEP=1 (keep the temporary tree), CC (clang).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CC=${CC:-clang}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

# The whole suite: under ASan it takes ~2-5 minutes on the 2-core CI machine,
# the 10**6-object scenarios (-m slow, children that inherit the LD_PRELOAD) ~30 s
# of it. The Hypothesis state machine runs with its default (ci) profile.
SAN_TESTS=(tests)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pyenv_python() {
    local root
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    ls -d "$root"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1
}

PY=${ALTGC_SAN_PYTHON:-$(pyenv_python)}
[ -x "$PY" ] || { echo "sanitize: no CPython 3.12 (set ALTGC_SAN_PYTHON)" >&2; exit 2; }

# clang and its sanitizer runtimes (Debian: clang-14 + libclang-rt-14-dev).
asan_rt() { "$CC" -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null || true; }
if ! command -v "$CC" >/dev/null 2>&1 || [ ! -f "$(asan_rt)" ]; then
    echo "+ apt-get install clang libclang-rt-14-dev"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        clang libclang-rt-14-dev
fi
ASAN_RT=$(asan_rt)
[ -f "$ASAN_RT" ] || { echo "sanitize: ASan runtime not found ($CC -print-file-name)" >&2; exit 2; }

VENV=${ALTGC_SAN_VENV:-$ROOT/venv-san}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pytest, hypothesis, setuptools, xdist' 2>/dev/null; then
    echo "+ $PY -m venv $VENV && pip install pytest hypothesis pytest-xdist setuptools"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "pytest>=7" "hypothesis>=6" "pytest-xdist>=3" "setuptools>=61"
fi
VPY=$VENV/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/altgc-san.XXXXXX")
cleanup() { if [ "${ALTGC_SAN_KEEP:-0}" = 1 ]; then echo "sanitize: kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# 1. a copy of the tree
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$WORK"
else
    (cd "$ROOT" && tar --exclude=./build --exclude='./venv*' --exclude=./.tox --exclude='*.so' -cf - .) \
        | tar -xf - -C "$WORK"
fi
mkdir -p "$WORK/san-reports"
REPORTS=$WORK/san-reports

# 2. the sanitized in-place build
cd "$WORK"
"$VPY" -c 'import sys, pytest, hypothesis; print("python", sys.version.split()[0], "pytest", pytest.__version__, "hypothesis", hypothesis.__version__)'
"$CC" --version | sed -n 1p
echo "+ CC=$CC ALTGC_SANITIZE=address,undefined $VPY setup.py build_ext --inplace"
CC=$CC ALTGC_SANITIZE=address,undefined "$VPY" -W ignore setup.py -q build_ext --inplace
ls altgc/_core*.so altgc/_testobjs*.so >/dev/null
syms=$(nm -D altgc/_core*.so)
case "$syms" in
    *__asan_report*__ubsan_handle*|*__ubsan_handle*__asan_report*) echo "altgc/_core: ASan+UBSan-instrumented" ;;
    *) echo "sanitize: altgc/_core*.so is not instrumented" >&2; exit 2 ;;
esac

# 3. the tests
if [ "$#" -eq 0 ]; then set -- "${SAN_TESTS[@]}"; fi
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:log_path=$REPORTS/report:${ALTGC_SAN_ASAN_EXTRA:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/report"
export HYPOTHESIS_STORAGE_DIRECTORY=$WORK/.hypothesis
echo "+ PYTHONMALLOC=$PYTHONMALLOC LD_PRELOAD=$ASAN_RT ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
echo "+ PYTHONPATH=. python -m pytest -p no:cacheprovider -n auto $*"
set +e
LD_PRELOAD=$ASAN_RT PYTHONPATH=. "$VPY" -m pytest -p no:cacheprovider -n auto --durations=15 "$@" 2>&1 \
    | tee "$WORK/pytest.log"
rc=${PIPESTATUS[0]}
set -e

# 4. the verdict
nrep=0
for f in "$REPORTS"/*; do
    [ -e "$f" ] || continue
    nrep=$((nrep + 1))
    echo "---------------- sanitizer report $(basename "$f") ----------------"
    cat "$f"
done
# reports in files, and any that reached a terminal (a child that reset its env, a
# runtime that could not open log_path)
nasan=$(cat "$REPORTS"/* "$WORK/pytest.log" 2>/dev/null | grep -c 'ERROR: AddressSanitizer' || true)
nub=$(cat "$REPORTS"/* "$WORK/pytest.log" 2>/dev/null | grep -c 'runtime error:' || true)
echo "sanitize: pytest exit $rc; sanitizer report files: $nrep (AddressSanitizer errors: $nasan, UBSan runtime errors: $nub)"
if [ "$rc" -ne 0 ] || [ "$nrep" -ne 0 ] || [ "$nasan" -ne 0 ] || [ "$nub" -ne 0 ]; then
    echo "sanitize: FAILED" >&2
    exit $(( rc != 0 ? rc : 1 ))
fi
echo "sanitize: ok, 0 sanitizer reports"
