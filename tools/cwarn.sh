#!/bin/bash
# Compiles every src/*.c with warnings as errors, for one compiler and one
# CPython include directory, in both builds (release, and ALTGC_DEBUG's).
# Nothing is written: -c -o /dev/null.
#
#   bash tools/cwarn.sh CC PYTHON_INCLUDE_DIR
#   e.g. bash tools/cwarn.sh clang-14 ~/.pyenv/versions/3.12.1/include/python3.12
#        bash tools/cwarn.sh gcc "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
#
# The flags are setup.py's (compile_args) plus -Werror; setup.py itself
# never passes -Werror (a user's newer compiler must not fail the build).
# CWARN_CFLAGS (environment) adds flags, e.g. another include directory.
# Exits 1 if any file warns, 0 when all compile cleanly.
set -u
if [ $# -ne 2 ]; then
    sed -n '2,14p' "$0" >&2
    exit 2
fi
CC=$1
INC=$2
SRC=$(cd "$(dirname "$0")/../src" && pwd)
FLAGS=(-std=c11 -Wall -Wextra -Wno-unused-parameter
       -Wno-missing-field-initializers -fno-strict-aliasing
       -fvisibility=hidden -fPIC -Werror -I"$INC")
# shellcheck disable=SC2206
EXTRA=(${CWARN_CFLAGS:-})
status=0
n=0
for f in "$SRC"/*.c; do
    for build in "-O2" "-DALTGC_DEBUG=1 -UNDEBUG -O1 -g"; do
        # shellcheck disable=SC2086
        if ! "$CC" "${FLAGS[@]}" "${EXTRA[@]}" $build -c "$f" -o /dev/null; then
            echo "cwarn: $(basename "$f") warns with $CC ($build)" >&2
            status=1
        fi
        n=$((n + 1))
    done
done
if [ $status -eq 0 ]; then
    echo "cwarn: $n compilations of src/*.c clean with $CC -Werror ($INC)"
fi
exit $status
