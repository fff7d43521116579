"""Build script for altgc's C extensions.

Metadata lives in pyproject.toml; this file only describes the extensions.
Set ALTGC_DEBUG=1 in the environment to build with assertions on and the
registry validated after every collection (used by CI's debug run).
Set ALTGC_SANITIZE=address,undefined to build with sanitizers (clang).
"""

import os

from setuptools import Extension, setup

# The layers, bottom first (tools/check_layers.py checks the includes).
SOURCES = [
    "src/kinds.c",
    "src/frames.c",
    "src/registry.c",
    "src/graph.c",
    "src/watch.c",
    "src/events.c",
    "src/hooks.c",
    "src/heapindex.c",
    "src/collector.c",
    "src/install.c",
    "src/trace.c",
    "src/module.c",
]

HEADERS = [
    "src/compat.h",
    "src/kinds.h",
    "src/frames.h",
    "src/registry.h",
    "src/graph.h",
    "src/watch.h",
    "src/events.h",
    "src/hooks.h",
    "src/heapindex.h",
    "src/lookup.h",
    "src/collector.h",
    "src/install.h",
]

# -fvisibility=hidden: only PyInit_* (PyMODINIT_FUNC) is exported, so the
# death hooks reach the collector's globals directly rather than through
# the global offset table.
compile_args = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-fno-strict-aliasing",
    "-fvisibility=hidden",
]
link_args = []
macros = []

if os.environ.get("ALTGC_DEBUG"):
    macros.append(("ALTGC_DEBUG", "1"))
    compile_args += ["-UNDEBUG", "-O1", "-g"]
else:
    compile_args += ["-O2"]

sanitize = os.environ.get("ALTGC_SANITIZE")
if sanitize:
    compile_args += ["-fsanitize=" + sanitize, "-fno-omit-frame-pointer", "-g"]
    link_args += ["-fsanitize=" + sanitize]

if os.name == "nt":  # MSVC does not take GCC flags
    compile_args, link_args = [], []

setup(
    ext_modules=[
        Extension(
            "altgc._core",
            sources=SOURCES,
            depends=HEADERS,
            define_macros=macros,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        ),
        Extension(
            "altgc._testobjs",
            sources=["src/testobjs.c"],
            define_macros=macros,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        ),
    ],
)
